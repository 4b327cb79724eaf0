"""Loss functions written out from scratch; tests/test_losses.py checks each against its PyTorch twin.

Conventions: every loss takes tensors first and hyperparameters as keyword arguments, and returns
a scalar for ``reduction="mean"`` / ``"sum"`` or one value per example for ``reduction="none"``.
"""

from __future__ import annotations

import math

import torch

_REDUCTIONS = ("mean", "sum", "none")


# --------------------------------------------------------------------------- input checks
def _check_tensor(fn: str, name: str, x, *, floating: bool = True) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{fn}: {name} must be a torch.Tensor, got {type(x).__name__}")
    if floating and not x.is_floating_point():
        raise ValueError(f"{fn}: {name} must be a floating-point tensor, got dtype {x.dtype}")


def _check_same_shape(fn: str, name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{fn}: {name_a} and {name_b} must have the same shape, "
                         f"got {tuple(a.shape)} and {tuple(b.shape)}")


def _check_in_unit_interval(fn: str, name: str, x: torch.Tensor, hint: str = "") -> None:
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"{fn}: {name} must lie in [0, 1], got values in "
                         f"[{x.min().item():.4g}, {x.max().item():.4g}]{hint}")


def _check_labels(fn: str, logits: torch.Tensor, target: torch.Tensor) -> None:
    """Integer labels (N,) in [0, C) for logits (N, C)."""
    if logits.ndim != 2:
        raise ValueError(f"{fn}: expected scores of shape (N, C), got {tuple(logits.shape)}")
    if target.dtype.is_floating_point or target.dtype == torch.bool or target.is_complex():
        raise ValueError(f"{fn}: expected integer class labels (dtype torch.long), got dtype {target.dtype}")
    if target.shape != logits.shape[:1]:
        raise ValueError(f"{fn}: expected labels of shape ({logits.shape[0]},) for scores "
                         f"{tuple(logits.shape)}, got {tuple(target.shape)}")
    num_classes = logits.shape[1]
    if target.numel() and (target.min() < 0 or target.max() >= num_classes):
        raise ValueError(f"{fn}: labels must lie in [0, {num_classes}), got values in "
                         f"[{target.min().item()}, {target.max().item()}]")


def _check_scalar(fn: str, name: str, value: float, *, low: float, high: float = math.inf,
                  low_open: bool = False) -> None:
    ok = (low < value if low_open else low <= value) and value <= high
    if not ok:
        bracket = "(" if low_open else "["
        raise ValueError(f"{fn}: {name} must be in {bracket}{low}, {high}], got {value!r}")


def _reduce(fn: str, loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{fn}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


# --------------------------------------------------------------------------- softmax
def _check_dim(fn: str, x: torch.Tensor, dim: int) -> None:
    nd = max(x.ndim, 1)
    if not -nd <= dim < nd:
        raise ValueError(f"{fn}: dim must be in [{-nd}, {nd}) for a tensor of shape "
                         f"{tuple(x.shape)}, got {dim}")


def naive_softmax(logits: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """exp(x) / sum(exp(x)) as in the textbook; overflows to nan for logits like [1000, 0]. Same shape as input."""
    _check_tensor("naive_softmax", "logits", logits)
    _check_dim("naive_softmax", logits, dim)
    e = torch.exp(logits)
    return e / e.sum(dim=dim, keepdim=True)


def softmax(logits: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Stable softmax: subtract the row maximum before exp (the result is unchanged). Same shape as input."""
    _check_tensor("softmax", "logits", logits)
    _check_dim("softmax", logits, dim)
    # The shift is a constant for each row, so it needs no gradient; the largest exponent becomes exp(0) = 1.
    shifted = logits - logits.amax(dim=dim, keepdim=True).detach()
    e = torch.exp(shifted)
    return e / e.sum(dim=dim, keepdim=True)


def logsumexp(x: torch.Tensor, dim: int = -1, keepdim: bool = False) -> torch.Tensor:
    """log(sum(exp(x))) along dim, computed as m + log(sum(exp(x - m))) with m the maximum."""
    _check_tensor("logsumexp", "x", x)
    _check_dim("logsumexp", x, dim)
    m = x.amax(dim=dim, keepdim=True).detach()
    out = m + torch.log(torch.exp(x - m).sum(dim=dim, keepdim=True))
    return out if keepdim else out.squeeze(dim)


def log_softmax(logits: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """log(softmax(x)) = x - logsumexp(x), never taking the log of an underflowed 0. Same shape as input."""
    _check_tensor("log_softmax", "logits", logits)
    _check_dim("log_softmax", logits, dim)
    # x - logsumexp(x), with the max shift applied first so that no large numbers cancel
    shifted = logits - logits.amax(dim=dim, keepdim=True).detach()
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))


# --------------------------------------------------------------------------- classification
def nll_loss(log_probs: torch.Tensor, target: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    """Negative log-likelihood: -log_probs[i, y_i]. log_probs (N, C), target (N,) integer labels."""
    _check_tensor("nll_loss", "log_probs", log_probs)
    _check_tensor("nll_loss", "target", target, floating=False)
    _check_labels("nll_loss", log_probs, target)
    picked = log_probs.gather(1, target.long().unsqueeze(1)).squeeze(1)  # (N,) = log p of the true class
    return _reduce("nll_loss", -picked, reduction)


def cross_entropy(logits: torch.Tensor, target: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    """Softmax cross-entropy. logits (N, C); target integer labels (N,) or one-hot / soft probabilities (N, C)."""
    _check_tensor("cross_entropy", "logits", logits)
    _check_tensor("cross_entropy", "target", target, floating=False)
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy: expected logits of shape (N, C), got {tuple(logits.shape)}")
    log_p = log_softmax(logits, dim=1)  # (N, C)
    if not target.is_floating_point():
        if target.shape == logits.shape and target.ndim == 2 and target.shape[1] > 1:
            raise ValueError(f"cross_entropy: one-hot targets {tuple(target.shape)} must be float "
                             f"(call .float() on them), got dtype {target.dtype}")
        # "sparse" categorical cross-entropy: the label picks one log-probability per row
        return nll_loss(log_p, target, reduction=reduction)
    if target.shape != logits.shape:
        raise ValueError(f"cross_entropy: expected integer labels ({logits.shape[0]},) or class "
                         f"probabilities {tuple(logits.shape)}, got a float tensor of shape "
                         f"{tuple(target.shape)}")
    _check_in_unit_interval("cross_entropy", "probability targets", target)
    # categorical cross-entropy: -sum_c q_c log p_c; a one-hot q reduces it to the integer-label case
    return _reduce("cross_entropy", -(target * log_p).sum(dim=1), reduction)


def binary_cross_entropy(probs: torch.Tensor, target: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    """-[y log p + (1-y) log(1-p)] on probabilities; logs clamped at -100 as PyTorch does. Any shape."""
    fn = "binary_cross_entropy"
    _check_tensor(fn, "probs", probs)
    _check_tensor(fn, "target", target)
    _check_same_shape(fn, "probs", probs, "target", target)
    _check_in_unit_interval(fn, "probs", probs, " (pass logits to binary_cross_entropy_with_logits instead)")
    _check_in_unit_interval(fn, "target", target)
    log_p = torch.log(probs).clamp(min=-100)  # log(0) = -inf would make the loss inf
    log_1mp = torch.log(1 - probs).clamp(min=-100)
    return _reduce(fn, -(target * log_p + (1 - target) * log_1mp), reduction)


def binary_cross_entropy_with_logits(logits: torch.Tensor, target: torch.Tensor, *,
                                     reduction: str = "mean") -> torch.Tensor:
    """Binary cross-entropy on logits x in the stable form log(1 + exp(x)) - x*y. Any shape."""
    fn = "binary_cross_entropy_with_logits"
    _check_tensor(fn, "logits", logits)
    _check_tensor(fn, "target", target)
    _check_same_shape(fn, "logits", logits, "target", target)
    _check_in_unit_interval(fn, "target", target)
    # equals -[y log s(x) + (1-y) log(1 - s(x))]. logaddexp(0, x) = log(1 + exp(x)) is computed without
    # overflow, and unlike max(x, 0) + log1p(exp(-|x|)) its gradient at x = 0 is the correct s(0) = 0.5.
    loss = torch.logaddexp(torch.zeros_like(logits), logits) - logits * target
    return _reduce(fn, loss, reduction)


# --------------------------------------------------------------------------- regression
def _regression_inputs(fn: str, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    _check_tensor(fn, "input", input)
    _check_tensor(fn, "target", target)
    _check_same_shape(fn, "input", input, "target", target)
    return input - target


def mse_loss(input: torch.Tensor, target: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    """Mean squared error (y_hat - y)^2, elementwise then reduced; input and target of one shape."""
    diff = _regression_inputs("mse_loss", input, target)
    return _reduce("mse_loss", diff ** 2, reduction)


def l1_loss(input: torch.Tensor, target: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    """Mean absolute error |y_hat - y| (MAE); input and target of one shape."""
    diff = _regression_inputs("l1_loss", input, target)
    return _reduce("l1_loss", diff.abs(), reduction)


def huber_loss(input: torch.Tensor, target: torch.Tensor, *, delta: float = 1.0,
               reduction: str = "mean") -> torch.Tensor:
    """Huber 1964: 0.5 d^2 for |d| <= delta, else delta (|d| - 0.5 delta); quadratic near 0, linear for outliers."""
    diff = _regression_inputs("huber_loss", input, target)
    _check_scalar("huber_loss", "delta", delta, low=0, low_open=True)
    a = diff.abs()
    loss = torch.where(a <= delta, 0.5 * diff ** 2, delta * (a - 0.5 * delta))
    return _reduce("huber_loss", loss, reduction)


def smooth_l1_loss(input: torch.Tensor, target: torch.Tensor, *, beta: float = 1.0,
                   reduction: str = "mean") -> torch.Tensor:
    """Smooth L1 (Fast R-CNN, Girshick 2015) = huber_loss(delta=beta) / beta; beta = 0 gives l1_loss."""
    diff = _regression_inputs("smooth_l1_loss", input, target)
    _check_scalar("smooth_l1_loss", "beta", beta, low=0)
    if beta == 0:
        return _reduce("smooth_l1_loss", diff.abs(), reduction)
    a = diff.abs()
    loss = torch.where(a < beta, 0.5 * diff ** 2 / beta, a - 0.5 * beta)
    return _reduce("smooth_l1_loss", loss, reduction)


# --------------------------------------------------------------------------- focal loss
def focal_weight(p_t: torch.Tensor, *, gamma: float) -> torch.Tensor:
    """Focal modulating factor (1 - p_t)^gamma (Lin et al. 2017); p_t = probability of the true class."""
    _check_tensor("focal_weight", "p_t", p_t)
    _check_scalar("focal_weight", "gamma", gamma, low=0)
    _check_in_unit_interval("focal_weight", "p_t", p_t)
    return (1 - p_t) ** gamma


def focal_loss(logits: torch.Tensor, target: torch.Tensor, *, gamma: float = 2.0,
               alpha: float | torch.Tensor | None = None, reduction: str = "mean") -> torch.Tensor:
    """Softmax focal loss -alpha_y (1 - p_t)^gamma log p_t (Lin et al. 2017). logits (N, C), target (N,) labels.

    ``alpha``: None, one float for every class, or per-class weights of shape (C,). gamma = 0 and
    alpha = None give plain cross-entropy.
    """
    fn = "focal_loss"
    _check_tensor(fn, "logits", logits)
    _check_tensor(fn, "target", target, floating=False)
    _check_labels(fn, logits, target)
    _check_scalar(fn, "gamma", gamma, low=0)
    log_p_t = log_softmax(logits, dim=1).gather(1, target.long().unsqueeze(1)).squeeze(1)  # (N,)
    p_t = log_p_t.exp()
    loss = -((1 - p_t) ** gamma) * log_p_t  # easy examples (p_t near 1) are scaled down
    if alpha is not None:
        if isinstance(alpha, torch.Tensor):
            if alpha.shape != (logits.shape[1],):
                raise ValueError(f"{fn}: per-class alpha must have shape ({logits.shape[1]},), "
                                 f"got {tuple(alpha.shape)}")
            if alpha.numel() and alpha.min() < 0:
                raise ValueError(f"{fn}: alpha weights must be non-negative")
            loss = alpha.to(loss.dtype)[target.long()] * loss
        else:
            _check_scalar(fn, "alpha", alpha, low=0)
            loss = alpha * loss
    return _reduce(fn, loss, reduction)


def sigmoid_focal_loss(logits: torch.Tensor, target: torch.Tensor, *, gamma: float = 2.0,
                       alpha: float | None = 0.25, reduction: str = "mean") -> torch.Tensor:
    """Binary (per-element sigmoid) focal loss of RetinaNet (Lin et al. 2017); logits and 0/1 target of any equal shape.

    Same values as torchvision.ops.sigmoid_focal_loss (whose alpha=-1 is our alpha=None), but the
    default reduction here is "mean" like every loss in this module (torchvision's is "none").
    """
    fn = "sigmoid_focal_loss"
    _check_tensor(fn, "logits", logits)
    _check_tensor(fn, "target", target)
    _check_same_shape(fn, "logits", logits, "target", target)
    _check_in_unit_interval(fn, "target", target)
    _check_scalar(fn, "gamma", gamma, low=0)
    if alpha is not None:
        _check_scalar(fn, "alpha", alpha, low=0, high=1)
    ce = binary_cross_entropy_with_logits(logits, target, reduction="none")  # = -log p_t
    p = torch.sigmoid(logits)
    p_t = p * target + (1 - p) * (1 - target)  # probability given to the true label
    loss = ce * (1 - p_t) ** gamma
    if alpha is not None:
        alpha_t = alpha * target + (1 - alpha) * (1 - target)  # alpha for positives, 1-alpha for negatives
        loss = alpha_t * loss
    return _reduce(fn, loss, reduction)


# --------------------------------------------------------------------------- segmentation
def _mask_pair(fn: str, probs: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Bring probs and target to (N, H*W), accepting (N, H, W) or (N, 1, H, W) for either."""
    _check_tensor(fn, "probs", probs)
    _check_tensor(fn, "target", target, floating=False)

    def squeeze(name: str, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 4 and x.shape[1] == 1:
            return x[:, 0]
        if x.ndim != 3:
            raise ValueError(f"{fn}: {name} must be a binary mask batch of shape (N, H, W) or "
                             f"(N, 1, H, W), got {tuple(x.shape)}")
        return x

    p, t = squeeze("probs", probs), squeeze("target", target)
    _check_same_shape(fn, "probs", p, "target", t)
    _check_in_unit_interval(fn, "probs", p, " (apply torch.sigmoid to logits first)")
    t = t.to(p.dtype)
    _check_in_unit_interval(fn, "target", t)
    return p.flatten(1), t.flatten(1)


def soft_dice(probs: torch.Tensor, target: torch.Tensor, *, eps: float = 1.0) -> torch.Tensor:
    """Soft Dice (2|P∩T| + eps) / (|P| + |T| + eps) per image (Milletari et al. 2016); probs in [0, 1] -> (N,)."""
    p, t = _mask_pair("soft_dice", probs, target)  # (N, H*W) each
    _check_scalar("soft_dice", "eps", eps, low=0)
    intersection = (p * t).sum(dim=1)
    return (2 * intersection + eps) / (p.sum(dim=1) + t.sum(dim=1) + eps)


def dice_loss(probs: torch.Tensor, target: torch.Tensor, *, eps: float = 1.0,
              reduction: str = "mean") -> torch.Tensor:
    """1 - soft_dice for binary masks; takes probabilities (N, H, W) or (N, 1, H, W), not logits."""
    return _reduce("dice_loss", 1 - soft_dice(probs, target, eps=eps), reduction)


# --------------------------------------------------------------------------- metric learning
def _embedding_pair(fn: str, names: tuple[str, ...], *tensors: torch.Tensor) -> None:
    for name, z in zip(names, tensors):
        _check_tensor(fn, name, z)
        if z.ndim != 2:
            raise ValueError(f"{fn}: {name} must be a batch of embeddings (N, D), got {tuple(z.shape)}")
    for name, z in zip(names[1:], tensors[1:]):
        _check_same_shape(fn, names[0], tensors[0], name, z)


def contrastive_loss(z1: torch.Tensor, z2: torch.Tensor, same: torch.Tensor, *, margin: float = 1.0,
                     reduction: str = "mean") -> torch.Tensor:
    """Pairwise contrastive loss (Hadsell et al. 2006); z1, z2 (N, D), same (N,): 1 similar, 0 not (paper: Y = 1 - same).

    Similar pairs pay 0.5 d^2, dissimilar pairs pay 0.5 max(0, margin - d)^2 with d the Euclidean distance.
    """
    fn = "contrastive_loss"
    _embedding_pair(fn, ("z1", "z2"), z1, z2)
    if not isinstance(same, torch.Tensor) or same.shape != z1.shape[:1]:
        shape = tuple(same.shape) if isinstance(same, torch.Tensor) else type(same).__name__
        raise ValueError(f"{fn}: same must be a tensor of shape ({z1.shape[0]},) with 1 for similar "
                         f"and 0 for dissimilar pairs, got {shape}")
    same = same.to(z1.dtype)
    if same.numel() and not torch.all((same == 0) | (same == 1)):
        raise ValueError(f"{fn}: same must contain only 0 and 1 (or False/True)")
    _check_scalar(fn, "margin", margin, low=0)
    d = torch.linalg.vector_norm(z1 - z2, dim=1)  # (N,)
    pull = 0.5 * d ** 2  # similar pairs are pulled together
    push = 0.5 * (margin - d).clamp(min=0) ** 2  # dissimilar pairs are pushed out to the margin
    return _reduce(fn, same * pull + (1 - same) * push, reduction)


def triplet_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, *,
                 margin: float = 1.0, eps: float = 1e-6, reduction: str = "mean") -> torch.Tensor:
    """max(0, d(a, p) - d(a, n) + margin) (Schroff et al. 2015, FaceNet). Each input (N, D).

    d(x, y) = ||x - y + eps||_2, the same small eps as torch.nn.functional.triplet_margin_loss.
    """
    fn = "triplet_loss"
    _embedding_pair(fn, ("anchor", "positive", "negative"), anchor, positive, negative)
    _check_scalar(fn, "margin", margin, low=0)
    d_pos = torch.linalg.vector_norm(anchor - positive + eps, dim=1)  # (N,)
    d_neg = torch.linalg.vector_norm(anchor - negative + eps, dim=1)  # (N,)
    return _reduce(fn, (d_pos - d_neg + margin).clamp(min=0), reduction)


def info_nce(z1: torch.Tensor, z2: torch.Tensor, *, temperature: float = 0.1,
             reduction: str = "mean") -> torch.Tensor:
    """Symmetric InfoNCE of CLIP (Radford et al. 2021; Oord et al. 2018); z1, z2 (N, D), row i a positive pair.

    Each z1[i] must pick z2[i] out of the N candidates in the batch, and each z2[i] must pick z1[i];
    the loss is the mean of both cross-entropies. "none" gives one value per pair (N,).
    """
    fn = "info_nce"
    _embedding_pair(fn, ("z1", "z2"), z1, z2)
    _check_scalar(fn, "temperature", temperature, low=0, low_open=True)
    z1 = z1 / torch.linalg.vector_norm(z1, dim=1, keepdim=True).clamp(min=1e-12)
    z2 = z2 / torch.linalg.vector_norm(z2, dim=1, keepdim=True).clamp(min=1e-12)
    logits = z1 @ z2.T / temperature  # (N, N) cosine similarities; the diagonal holds the positives
    labels = torch.arange(len(z1), device=z1.device)
    loss_1to2 = cross_entropy(logits, labels, reduction="none")  # (N,)
    loss_2to1 = cross_entropy(logits.T, labels, reduction="none")  # (N,)
    return _reduce(fn, (loss_1to2 + loss_2to1) / 2, reduction)
