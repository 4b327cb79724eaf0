"""Normalization layers written out from scratch: batch, layer, group and instance normalization.

Each one subtracts a mean and divides by a standard deviation computed over some of the axes of a
(N, C, *) tensor, then applies an optional learnable scale (gamma, ``weight``) and shift (beta,
``bias``). They differ only in the axes: BatchNorm over (N, *) per channel, LayerNorm over the
trailing ``normalized_shape``, GroupNorm over (channels of a group, *) per sample, InstanceNorm over
(*) per sample and channel. tests/test_norm.py checks each against its PyTorch twin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


# --------------------------------------------------------------------------- input checks
def _check_input(fn: str, x, *, min_dim: int = 2, what: str = "(N, C, *)") -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{fn}: expected a torch.Tensor of shape {what}, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"{fn}: expected a floating-point tensor, got dtype {x.dtype}; convert with x.float()")
    if x.dim() < min_dim:
        raise ValueError(f"{fn}: expected a tensor of shape {what} with at least {min_dim} dims, "
                         f"got shape {tuple(x.shape)}")


def _check_param(fn: str, name: str, p: torch.Tensor | None, shape: tuple[int, ...]) -> None:
    if p is not None and tuple(p.shape) != shape:
        raise ValueError(f"{fn}: {name} must have shape {shape}, got {tuple(p.shape)}")


def _affine(y: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None) -> torch.Tensor:
    """y * gamma + beta with per-channel (C,) parameters broadcast over (N, C, *)."""
    shape = (1, -1) + (1,) * (y.dim() - 2)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def _standardize(x: torch.Tensor, dims: tuple[int, ...], eps: float) -> torch.Tensor:
    """(x - mean) / sqrt(var + eps) with the biased variance over ``dims`` (kept for broadcasting)."""
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps)


# --------------------------------------------------------------------------- batch norm
def batch_norm(x: torch.Tensor, *, running_mean: torch.Tensor | None = None,
               running_var: torch.Tensor | None = None, weight: torch.Tensor | None = None,
               bias: torch.Tensor | None = None, training: bool = True, momentum: float = 0.1,
               eps: float = 1e-5) -> torch.Tensor:
    """Batch normalization (Ioffe & Szegedy 2015) of x (N, C, *) per channel; returns (N, C, *).

    Training: normalize with the batch mean and biased variance over (N, *), and update the running
    statistics in place as running <- (1 - momentum) * running + momentum * batch, using the
    *unbiased* variance for ``running_var`` (as torch.nn.functional.batch_norm does). Evaluation
    (``training=False``): normalize with the running statistics.
    """
    _check_input("batch_norm", x)
    C = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        _check_param("batch_norm", name, t, (C,))
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: give both running_mean and running_var, or neither")
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"batch_norm: momentum must lie in [0, 1], got {momentum!r}")
    dims = (0,) + tuple(range(2, x.dim()))  # every axis but the channel axis
    shape = (1, C) + (1,) * (x.dim() - 2)

    if training or running_mean is None:
        n = x.numel() // C  # values per channel
        if n < 2 and training:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                             f"got input of shape {tuple(x.shape)}")
        mean = x.mean(dim=dims)  # (C,)
        var = x.var(dim=dims, unbiased=False)  # (C,) biased: used to normalize
        if training and running_mean is not None:
            with torch.no_grad():
                running_mean.mul_(1 - momentum).add_(momentum * mean)
                running_var.mul_(1 - momentum).add_(momentum * var * n / (n - 1))  # unbiased
    else:
        mean, var = running_mean, running_var
    y = (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps)
    return _affine(y, weight, bias)


class BatchNorm2d(nn.Module):
    """Batch normalization of images (N, C, H, W) -> (N, C, H, W) with the state of nn.BatchNorm2d.

    Same parameters (``weight`` = gamma, ``bias`` = beta) and buffers (``running_mean``,
    ``running_var``, ``num_batches_tracked``), so state dicts load both ways. ``momentum=None``
    gives the cumulative average of all batches seen, as in PyTorch.
    """

    def __init__(self, num_features: int, *, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True) -> None:
        super().__init__()
        if not isinstance(num_features, int) or num_features < 1:
            raise ValueError(f"num_features must be a positive int, got {num_features!r}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must lie in [0, 1] or be None, got {momentum!r}")
        self.num_features, self.eps, self.momentum, self.affine = num_features, eps, momentum, affine
        self.weight = nn.Parameter(torch.ones(num_features)) if affine else None  # gamma
        self.bias = nn.Parameter(torch.zeros(num_features)) if affine else None  # beta
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input("BatchNorm2d", x, min_dim=4, what="(N, C, H, W)")
        if x.dim() != 4 or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm2d expects (N, {self.num_features}, H, W), got shape {tuple(x.shape)}")
        momentum = self.momentum
        if self.training:
            self.num_batches_tracked += 1
        if momentum is None:  # cumulative moving average of every batch seen so far
            momentum = 1.0 / float(self.num_batches_tracked) if self.training else 0.0
        return batch_norm(x, running_mean=self.running_mean, running_var=self.running_var,
                          weight=self.weight, bias=self.bias, training=self.training,
                          momentum=momentum, eps=self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"


# --------------------------------------------------------------------------- layer, group, instance norm
def layer_norm(x: torch.Tensor, normalized_shape: int | Sequence[int], *, weight: torch.Tensor | None = None,
               bias: torch.Tensor | None = None, eps: float = 1e-5) -> torch.Tensor:
    """Layer normalization (Ba et al. 2016) of x (*, *normalized_shape) over its trailing dims; same shape out.

    ``weight`` and ``bias`` have shape ``normalized_shape`` (one value per normalized element), as in
    nn.LayerNorm. In a transformer, normalized_shape = (dim,); for images, (C, H, W) normalizes a
    whole sample, and (C,) on channels-last (N, H, W, C) normalizes each position (ConvNeXt).
    """
    _check_input("layer_norm", x, min_dim=1, what="(*, *normalized_shape)")
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if not shape or len(shape) > x.dim() or tuple(x.shape[x.dim() - len(shape):]) != shape:
        raise ValueError(f"layer_norm: the trailing dims of x must equal normalized_shape {shape}, "
                         f"got x of shape {tuple(x.shape)}")
    _check_param("layer_norm", "weight", weight, shape)
    _check_param("layer_norm", "bias", bias, shape)
    y = _standardize(x, tuple(range(x.dim() - len(shape), x.dim())), eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def group_norm(x: torch.Tensor, num_groups: int, *, weight: torch.Tensor | None = None,
               bias: torch.Tensor | None = None, eps: float = 1e-5) -> torch.Tensor:
    """Group normalization (Wu & He 2018) of x (N, C, *): per sample, over each group of C // num_groups channels and *.

    ``weight`` and ``bias`` are per channel (C,). num_groups=1 normalizes a whole sample (like
    LayerNorm over (C, *)); num_groups=C normalizes each channel of each sample (InstanceNorm).
    """
    _check_input("group_norm", x)
    N, C = x.shape[:2]
    if not isinstance(num_groups, int) or num_groups < 1 or C % num_groups:
        raise ValueError(f"group_norm: num_groups must be a positive int dividing the {C} channels, got {num_groups!r}")
    _check_param("group_norm", "weight", weight, (C,))
    _check_param("group_norm", "bias", bias, (C,))
    grouped = x.reshape(N, num_groups, -1)  # (N, G, C // G * prod(*))
    y = _standardize(grouped, (2,), eps).reshape(x.shape)
    return _affine(y, weight, bias)


def instance_norm(x: torch.Tensor, *, weight: torch.Tensor | None = None, bias: torch.Tensor | None = None,
                  eps: float = 1e-5) -> torch.Tensor:
    """Instance normalization (Ulyanov et al. 2016) of x (N, C, *): per sample and channel, over *; same shape out.

    Like nn.InstanceNorm2d with its defaults (no running statistics); ``weight``/``bias`` are (C,).
    """
    _check_input("instance_norm", x, min_dim=3, what="(N, C, *spatial)")
    C = x.shape[1]
    if math.prod(x.shape[2:]) < 2:
        raise ValueError(f"instance_norm: expected more than 1 spatial element per channel, got shape {tuple(x.shape)}")
    _check_param("instance_norm", "weight", weight, (C,))
    _check_param("instance_norm", "bias", bias, (C,))
    y = _standardize(x, tuple(range(2, x.dim())), eps)
    return _affine(y, weight, bias)
