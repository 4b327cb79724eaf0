"""Receptive fields: the recurrence over a stack of layers, and the field measured by back-propagation.

tests/test_conv.py checks that the two agree on chains of convolutions and poolings.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class Layer:
    """One sliding-window layer (convolution or pooling) as the recurrence sees it: square kernel, stride, dilation."""

    kernel: int
    stride: int = 1
    dilation: int = 1

    def __post_init__(self) -> None:
        for name in ("kernel", "stride", "dilation"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Layer: {name} must be a positive int, got {value!r}")


def receptive_field(layers: Sequence[Layer], *, input_size: int | None = None) -> int:
    """Side of the square input region one output pixel of ``layers`` depends on.

    R_0 = 1 and R_i = R_{i-1} + d_i (k_i - 1) * (s_1 * ... * s_{i-1}); capped at ``input_size`` if given.
    """
    if isinstance(layers, Layer) or not all(isinstance(layer, Layer) for layer in layers):
        raise ValueError("receptive_field: layers must be a sequence of Layer(kernel, stride, dilation)")
    if input_size is not None and (not isinstance(input_size, int) or input_size < 1):
        raise ValueError(f"receptive_field: input_size must be a positive int, got {input_size!r}")
    field, jump = 1, 1  # jump: distance on the input between neighbouring pixels of the current layer
    for layer in layers:
        field += layer.dilation * (layer.kernel - 1) * jump
        jump *= layer.stride
    return field if input_size is None else min(field, input_size)


def _square(module: nn.Module, name: str) -> int:
    value = getattr(module, name)
    if isinstance(value, tuple):
        if len(set(value)) != 1:
            raise ValueError(f"layers_of: only square {name}s are supported, {module} has {value}")
        value = value[0]
    return value


def layers_of(model: nn.Module) -> list[Layer]:
    """The Conv2d / MaxPool2d / AvgPool2d layers of a plain chain (e.g. nn.Sequential), in order."""
    layers = []
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            dilation = _square(module, "dilation") if hasattr(module, "dilation") else 1
            layers.append(Layer(_square(module, "kernel_size"), _square(module, "stride"), dilation))
    if not layers:
        raise ValueError("layers_of: the model has no Conv2d, MaxPool2d or AvgPool2d layer")
    return layers


class _Probe(nn.Module):
    """One channel standing in for all of a layer's channels: the layer's window with weights 1/(window size)."""

    def __init__(self, layer: nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d) -> None:
        super().__init__()
        self.kernel, self.stride = _square(layer, "kernel_size"), _square(layer, "stride")
        self.padding = _square(layer, "padding") if not isinstance(layer.padding, str) else layer.padding
        self.dilation = _square(layer, "dilation") if hasattr(layer, "dilation") else 1

    def forward(self, x: Tensor) -> Tensor:
        window = x.new_full((1, 1, self.kernel, self.kernel), 1.0 / self.kernel**2)
        x = x.mean(1, keepdim=True)  # (B, 1, H, W): every input channel feeds every output pixel
        return F.conv2d(x, window, stride=self.stride, padding=self.padding, dilation=self.dilation)


def _probe(model: nn.Module) -> nn.Module:
    """A copy of model in which every conv/pool is a positive averaging window and normalisation is dropped."""
    probe = copy.deepcopy(model).eval()
    for name, module in list(probe.named_modules()):
        if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            replacement = _Probe(module)
        elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm, nn.InstanceNorm2d)):
            replacement = nn.Identity()  # a per-channel affine map: it changes no dependency
        else:
            continue
        parent_name, _, child = name.rpartition(".")
        setattr(probe.get_submodule(parent_name), child, replacement)
    return probe


def input_gradient(model: nn.Module, *, input_size: int) -> Tensor:
    """Gradient (H, W) on the input of the centre output pixel of a probe copy of ``model`` (an input of ones).

    The probe keeps each layer's geometry but makes every path contribute positively, so the gradient is
    non-zero exactly on the receptive field: no cancellation, no ReLU cut-off, no max-pool winner.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"input_gradient: model must be an nn.Module, got {type(model).__name__}")
    if not isinstance(input_size, int) or isinstance(input_size, bool) or input_size < 1:
        raise ValueError(f"input_gradient: input_size must be a positive int, got {input_size!r}")
    probe = _probe(model).double()
    x = torch.ones(1, 1, input_size, input_size, dtype=torch.float64, requires_grad=True)
    y = probe(x)
    if y.ndim != 4:
        raise ValueError(f"input_gradient: the model must return (B, C, H, W) feature maps, got {tuple(y.shape)}")
    y[0, :, y.shape[2] // 2, y.shape[3] // 2].sum().backward()  # the centre output pixel
    return x.grad[0, 0]                                         # (H, W)


def empirical_receptive_field(model: nn.Module, *, input_size: int) -> tuple[int, int]:
    """(height, width) of the input region whose gradient from the centre output pixel is non-zero."""
    grad = input_gradient(model, input_size=input_size)
    rows = grad.abs().sum(1).nonzero()
    cols = grad.abs().sum(0).nonzero()
    if len(rows) == 0:
        raise ValueError("empirical_receptive_field: the centre output pixel does not depend on the input")
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
