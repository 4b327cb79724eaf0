"""Metric learning: distances between embeddings, contrastive and triplet losses, batch-hard mining, ROC and AUC."""
from __future__ import annotations

import torch
from torch import Tensor


def _check_matrix(name: str, X: Tensor) -> None:
    if not isinstance(X, Tensor) or X.dim() != 2 or not X.is_floating_point():
        raise ValueError(f"{name} must be a float tensor of shape (N, dim), got "
                         f"{tuple(X.shape) if isinstance(X, Tensor) else type(X).__name__}")


def pairwise_distances(X: Tensor, Y: Tensor | None = None, *, squared: bool = False) -> Tensor:
    """Euclidean distances between rows: X (N, dim), Y (M, dim) -> (N, M); Y defaults to X."""
    Y = X if Y is None else Y
    _check_matrix("X", X)
    _check_matrix("Y", Y)
    if X.shape[1] != Y.shape[1]:
        raise ValueError(f"X and Y must have the same dim, got {X.shape[1]} and {Y.shape[1]}")
    # ||x - y||^2 = ||x||^2 - 2 x.y + ||y||^2, clamped at 0 against rounding
    d2 = (X.pow(2).sum(1, keepdim=True) - 2 * X @ Y.T + Y.pow(2).sum(1)).clamp_min(0.0)  # (N, M)
    if squared:
        return d2
    return d2.clamp_min(1e-12).sqrt()  # the clamp keeps the gradient finite at distance 0


def contrastive_loss(distance: Tensor, same: Tensor, *, margin: float = 1.0) -> Tensor:
    """Hadsell et al. 2006: mean of same * d^2 / 2 + (1 - same) * max(0, margin - d)^2 / 2; distance, same (P,)."""
    if not isinstance(distance, Tensor) or distance.dim() != 1:
        raise ValueError(f"distance must be a 1-D tensor of pair distances, got {getattr(distance, 'shape', distance)}")
    if not isinstance(same, Tensor) or same.shape != distance.shape:
        raise ValueError(f"same must be a tensor of shape {tuple(distance.shape)}, got {getattr(same, 'shape', same)}")
    if margin <= 0:
        raise ValueError(f"margin must be positive, got {margin}")
    same = same.to(distance.dtype)
    pull = same * distance.pow(2)                                   # positive pairs: pulled together
    push = (1 - same) * (margin - distance).clamp_min(0.0).pow(2)   # negative pairs: pushed beyond the margin
    return 0.5 * (pull + push).mean()


def triplet_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *, margin: float = 1.0) -> Tensor:
    """Schroff et al. 2015: mean of max(0, ||a - p|| - ||a - n|| + margin); each input (T, dim)."""
    for name, X in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        _check_matrix(name, X)
    if not anchor.shape == positive.shape == negative.shape:
        raise ValueError(f"anchor, positive and negative must have the same shape, got "
                         f"{tuple(anchor.shape)}, {tuple(positive.shape)}, {tuple(negative.shape)}")
    if margin <= 0:
        raise ValueError(f"margin must be positive, got {margin}")
    d_ap = (anchor - positive).norm(dim=1)  # (T,)
    d_an = (anchor - negative).norm(dim=1)  # (T,)
    return (d_ap - d_an + margin).clamp_min(0.0).mean()


def hardest_triplets(embeddings: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Per anchor, the distance to its farthest positive and nearest negative: (d_ap, d_an, valid), each (N,)."""
    _check_matrix("embeddings", embeddings)
    if not isinstance(labels, Tensor) or labels.shape != embeddings.shape[:1] or labels.is_floating_point():
        raise ValueError(f"labels must be an integer tensor of shape ({embeddings.shape[0]},), got "
                         f"{getattr(labels, 'shape', labels)}")
    D = pairwise_distances(embeddings)                               # (N, N)
    same = labels[:, None] == labels[None, :]                        # (N, N)
    self_ = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    pos = same & ~self_
    d_ap = D.masked_fill(~pos, float("-inf")).amax(dim=1)            # hardest positive: the farthest
    d_an = D.masked_fill(same, float("inf")).amin(dim=1)             # hardest negative: the nearest
    valid = pos.any(dim=1) & (~same).any(dim=1)                      # anchors that have both
    return d_ap, d_an, valid


def batch_hard_triplet_loss(embeddings: Tensor, labels: Tensor, *, margin: float = 1.0) -> Tensor:
    """Hermans et al. 2017: mean over anchors of max(0, hardest d_ap - hardest d_an + margin); (N, dim), (N,)."""
    if margin <= 0:
        raise ValueError(f"margin must be positive, got {margin}")
    d_ap, d_an, valid = hardest_triplets(embeddings, labels)
    if not valid.any():
        raise ValueError("the batch needs at least one anchor with both a positive and a negative")
    return (d_ap - d_an + margin)[valid].clamp_min(0.0).mean()


def roc_curve(scores: Tensor, same: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """ROC of the rule "same if score >= t": (fpr, tpr, thresholds), thresholds decreasing, starting at (0, 0)."""
    if not isinstance(scores, Tensor) or scores.dim() != 1:
        raise ValueError(f"scores must be a 1-D tensor, got {getattr(scores, 'shape', scores)}")
    if not isinstance(same, Tensor) or same.shape != scores.shape:
        raise ValueError(f"same must have the shape of scores {tuple(scores.shape)}, got {getattr(same, 'shape', same)}")
    same = same.bool()
    n_pos, n_neg = int(same.sum()), int((~same).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"need both positive and negative pairs, got {n_pos} positive and {n_neg} negative")
    order = torch.argsort(scores.double(), descending=True)
    s, y = scores.double()[order], same[order]
    tp = torch.cumsum(y, 0).double()                                 # true positives above each cut
    fp = torch.cumsum(~y, 0).double()                                # false positives above each cut
    last = torch.ones_like(y)                                        # cut only after the last of tied scores
    last[:-1] = s[1:] != s[:-1]
    zero = torch.zeros(1, dtype=torch.float64)
    fpr = torch.cat([zero, fp[last] / n_neg])
    tpr = torch.cat([zero, tp[last] / n_pos])
    thresholds = torch.cat([torch.tensor([float("inf")], dtype=torch.float64), s[last]])
    return fpr, tpr, thresholds


def auc(fpr: Tensor, tpr: Tensor) -> float:
    """Area under a curve by the trapezoid rule; fpr (K,) non-decreasing, tpr (K,)."""
    if fpr.dim() != 1 or fpr.shape != tpr.shape or len(fpr) < 2:
        raise ValueError(f"fpr and tpr must be 1-D of the same length >= 2, got {tuple(fpr.shape)}, {tuple(tpr.shape)}")
    if (fpr[1:] < fpr[:-1]).any():
        raise ValueError("fpr must be non-decreasing")
    return float(((fpr[1:] - fpr[:-1]) * (tpr[1:] + tpr[:-1]) / 2).sum())
