"""Contrastive losses written from their formulas (InfoNCE, SimCLR's NT-Xent) and the rotation pretext task.

InfoNCE (van den Oord et al. 2018) for a query q with one positive key k+ among keys k_1..k_M:

    loss(q) = -log( exp(sim(q, k+) / tau) / sum_j exp(sim(q, k_j) / tau) ),   sim = cosine similarity.

It is a cross-entropy over the keys whose "right class" is the positive: instance discrimination (Wu et
al. 2018) treats every image as its own class in exactly this way. NT-Xent (Chen et al. 2020) applies it to
2N views of N images: each view's positive is the other view of the same image, and its negatives are the
2N - 2 views of the other images (a view is never compared with itself).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F


def _check_features(name: str, X: Tensor) -> None:
    if not isinstance(X, Tensor) or X.dim() != 2 or not X.is_floating_point():
        got = tuple(X.shape) if isinstance(X, Tensor) else type(X).__name__
        raise ValueError(f"{name} must be a float tensor of features (N, dim), got {got}")


def _check_temperature(temperature: float) -> None:
    if not float(temperature) > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")


def info_nce(query: Tensor, keys: Tensor, positive_index: Tensor, *, temperature: float = 0.1) -> Tensor:
    """Mean InfoNCE loss: query (N, dim), keys (M, dim), positive_index (N,) = which key is each query's positive."""
    _check_features("query", query)
    _check_features("keys", keys)
    _check_temperature(temperature)
    if query.shape[1] != keys.shape[1]:
        raise ValueError(f"query and keys must have the same dim, got {query.shape[1]} and {keys.shape[1]}")
    if keys.shape[0] < 2:
        raise ValueError(f"InfoNCE needs at least 2 keys (a positive and a negative), got {keys.shape[0]}")
    if (not isinstance(positive_index, Tensor) or positive_index.shape != (query.shape[0],)
            or positive_index.is_floating_point()):
        raise ValueError(f"positive_index must be an integer tensor of shape ({query.shape[0]},), got "
                         f"{getattr(positive_index, 'shape', positive_index)}")
    if positive_index.min() < 0 or positive_index.max() >= keys.shape[0]:
        raise ValueError(f"positive_index must lie in [0, {keys.shape[0]}), got values outside that range")
    q, k = F.normalize(query, dim=1), F.normalize(keys, dim=1)
    logits = q @ k.T / temperature  # (N, M) cosine similarities / tau
    positive = logits.gather(1, positive_index[:, None].to(logits.device))[:, 0]  # (N,)
    return (torch.logsumexp(logits, dim=1) - positive).mean()  # -log softmax at the positive


def nt_xent(z1: Tensor, z2: Tensor, *, temperature: float = 0.2) -> Tensor:
    """SimCLR's NT-Xent over 2N views: z1, z2 (N, dim) are the projections of two views of the same N images."""
    _check_features("z1", z1)
    _check_features("z2", z2)
    _check_temperature(temperature)
    if z1.shape != z2.shape:
        raise ValueError(f"z1 and z2 must have the same shape (N, dim), got {tuple(z1.shape)} and {tuple(z2.shape)}")
    n = z1.shape[0]
    if n < 2:
        raise ValueError(f"NT-Xent needs a batch of at least 2 images (the others are the negatives), got {n}")
    z = F.normalize(torch.cat([z1, z2]), dim=1)  # (2N, dim), on the unit sphere
    logits = z @ z.T / temperature  # (2N, 2N)
    self_ = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_, float("-inf"))  # a view is not its own negative
    positive_index = torch.arange(2 * n, device=z.device).roll(n)  # view i of z1 <-> view i of z2
    positive = logits[torch.arange(2 * n, device=z.device), positive_index]  # (2N,)
    return (torch.logsumexp(logits, dim=1) - positive).mean()


def rotation_pretext(images: Tensor) -> tuple[Tensor, Tensor]:
    """Rotation prediction (Gidaris et al. 2018): every image rotated by 0, 90, 180, 270 degrees counter-clockwise.

    (N, C, H, W) with H == W -> (rotated (4N, C, H, W), labels (4N,) in 0..3); the first N are unrotated,
    the next N rotated by 90 degrees, and so on.
    """
    if not isinstance(images, Tensor) or images.dim() != 4 or images.shape[-1] != images.shape[-2]:
        raise ValueError(f"rotation_pretext expects square images (N, C, H, H), got "
                         f"{tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__}")
    rotated = torch.cat([torch.rot90(images, k, dims=(2, 3)) for k in range(4)])  # (4N, C, H, W)
    labels = torch.arange(4, device=images.device).repeat_interleave(images.shape[0])  # (4N,)
    return rotated, labels
