"""Judging frozen features without fine-tuning: k-nearest-neighbour accuracy and a linear probe (and, for a ViT,
how much of its class token's attention falls on the object: `attention_on_object`).

k-NN (Wu et al. 2018, used by DINO): cosine similarity to every labelled reference, the k most similar vote
for their class. With ``weighting="exp"`` a neighbour at similarity s votes exp(s / temperature), so closer
neighbours count more (InstDisc / DINO's evaluation); with ``"uniform"`` every neighbour has one vote (ties go
to the smaller class index, as scikit-learn's KNeighborsClassifier). Both need no training, only features.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


@torch.no_grad()
def extract_features(encoder: nn.Module, images: Tensor, *, batch_size: int = 256) -> Tensor:
    """encoder(images) in eval mode, batch by batch, on the encoder's device: (N, 3, H, W) -> (N, D) on the CPU."""
    if not isinstance(images, Tensor) or images.dim() != 4:
        raise ValueError(f"images must be a batch (N, C, H, W), got {getattr(images, 'shape', type(images).__name__)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    param = next(encoder.parameters(), None)
    device = param.device if param is not None else images.device
    was_training = encoder.training
    encoder.eval()
    try:
        feats = [encoder(chunk.to(device)).cpu() for chunk in images.split(batch_size)]
    finally:
        encoder.train(was_training)
    return torch.cat(feats)


def _check_labelled(name: str, feats: Tensor, labels: Tensor) -> None:
    if not isinstance(feats, Tensor) or feats.dim() != 2 or not feats.is_floating_point():
        raise ValueError(f"{name}_feats must be float features (N, D), got {getattr(feats, 'shape', feats)}")
    if not isinstance(labels, Tensor) or labels.shape != feats.shape[:1] or labels.is_floating_point():
        raise ValueError(f"{name}_labels must be integer labels ({feats.shape[0]},), got "
                         f"{getattr(labels, 'shape', labels)}")


def knn_predict(train_feats: Tensor, train_labels: Tensor, test_feats: Tensor, *, k: int = 20,
                temperature: float = 0.07, weighting: str = "exp", num_classes: int | None = None) -> Tensor:
    """Predicted class of each test feature by a vote of its k most cosine-similar training features: (N_test,)."""
    if weighting not in ("exp", "uniform"):
        raise ValueError(f"weighting must be 'exp' or 'uniform', got {weighting!r}")
    if not isinstance(k, int) or not 1 <= k <= train_feats.shape[0]:
        raise ValueError(f"k must be an int in [1, {train_feats.shape[0]}] (the number of references), got {k!r}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    if train_feats.shape[1] != test_feats.shape[1]:
        raise ValueError(f"train and test features differ in dim: {train_feats.shape[1]} and {test_feats.shape[1]}")
    num_classes = int(train_labels.max()) + 1 if num_classes is None else num_classes
    ref = F.normalize(train_feats.float(), dim=1)
    preds = []
    for chunk in F.normalize(test_feats.float(), dim=1).split(1024):  # bounds the (chunk, N_train) matrix
        sim, idx = (chunk @ ref.T).topk(k, dim=1)  # (n, k) similarities and indices of the neighbours
        weight = (sim / temperature).exp() if weighting == "exp" else torch.ones_like(sim)
        votes = torch.zeros(len(chunk), num_classes).scatter_add_(1, train_labels[idx], weight)  # (n, C)
        preds.append(votes.argmax(dim=1))  # first maximum: the smaller class wins a tie
    return torch.cat(preds)


def knn_accuracy(train_feats: Tensor, train_labels: Tensor, test_feats: Tensor, test_labels: Tensor, *,
                 k: int = 20, temperature: float = 0.07, weighting: str = "exp") -> float:
    """Accuracy of k-NN classification of the test features by the labelled training features (cosine)."""
    _check_labelled("train", train_feats, train_labels)
    _check_labelled("test", test_feats, test_labels)
    num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    pred = knn_predict(train_feats, train_labels, test_feats, k=k, temperature=temperature, weighting=weighting,
                       num_classes=num_classes)
    return (pred == test_labels).float().mean().item()


def linear_probe(train_feats: Tensor, train_labels: Tensor, test_feats: Tensor, test_labels: Tensor, *,
                 steps: int = 200, weight_decay: float = 1e-4) -> float:
    """Test accuracy of a logistic regression trained on frozen, standardised features (full-batch L-BFGS).

    The weights start at zero, so the result is deterministic; weight_decay is an L2 penalty on the weights.
    """
    _check_labelled("train", train_feats, train_labels)
    _check_labelled("test", test_feats, test_labels)
    if train_feats.shape[1] != test_feats.shape[1]:
        raise ValueError(f"train and test features differ in dim: {train_feats.shape[1]} and {test_feats.shape[1]}")
    mean, std = train_feats.mean(0), train_feats.std(0).clamp_min(1e-6)  # statistics of the training set only
    X, X_test = (train_feats - mean) / std, (test_feats - mean) / std
    num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    linear = nn.Linear(X.shape[1], num_classes)
    nn.init.zeros_(linear.weight)
    nn.init.zeros_(linear.bias)
    optimizer = torch.optim.LBFGS(linear.parameters(), lr=1, max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(linear(X), train_labels) + weight_decay * linear.weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return (linear(X_test).argmax(1) == test_labels).float().mean().item()


# --------------------------------------------------------------------------- the chapter's evaluation set
EVAL_SEED = 12345  # shapes drawn from this seed are never used for training


def split_shapes(shapes, n_reference: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The first n_reference images of a Shapes batch as labelled references, the rest as the test set:
    (ref_x, ref_y, test_x, test_y)."""
    return (shapes.images[:n_reference], shapes.labels[:n_reference],
            shapes.images[n_reference:], shapes.labels[n_reference:])


def eval_split(n_reference: int = 2000, n_test: int = 1000, *, seed: int = EVAL_SEED
               ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Labelled references and test images of shapes from one seed: (ref_x, ref_y, test_x, test_y)."""
    from dlnotes.data.shapes import make_shapes

    return split_shapes(make_shapes(n_reference + n_test, seed=seed), n_reference)


def knn_eval(encoder: nn.Module | None, split: tuple[Tensor, Tensor, Tensor, Tensor], *, k: int = 20) -> float:
    """k-NN accuracy of an encoder's features on eval_split(); encoder None: the raw pixels (a baseline)."""
    ref_x, ref_y, test_x, test_y = split
    if encoder is None:
        ref_f, test_f = ref_x.flatten(1), test_x.flatten(1)
    else:
        ref_f, test_f = extract_features(encoder, ref_x), extract_features(encoder, test_x)
    return knn_accuracy(ref_f, ref_y, test_f, test_y, k=k)


def knn_with_baselines(encoder: nn.Module, random_init: nn.Module,
                       split: tuple[Tensor, Tensor, Tensor, Tensor], *, k: int = 20) -> dict[str, float]:
    """k-NN of a trained encoder beside the two baselines every self-supervised number is reported with:
    the raw pixels and the same network at its random initialisation."""
    return {"knn": knn_eval(encoder, split, k=k), "knn_raw_pixels": knn_eval(None, split, k=k),
            "knn_random_init": knn_eval(random_init, split, k=k)}


@torch.no_grad()
def attention_on_object(vit: nn.Module, images: Tensor, masks: Tensor) -> tuple[float, float]:
    """(share of the class token's last-block attention (mean over heads) on the object's mask, the mask's
    share of the image = that share for uniform attention), averaged over the images."""
    vit.eval()
    vit(images)
    att = vit.cls_attention().mean(1)  # (N, h, w)
    att = att / att.sum((1, 2), keepdim=True)
    patch_mask = F.adaptive_avg_pool2d(masks[:, None].float(), att.shape[-2:])[:, 0]  # fraction of each patch
    return (att * patch_mask).sum((1, 2)).mean().item(), patch_mask.mean().item()
