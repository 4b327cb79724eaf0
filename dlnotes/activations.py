"""Activation functions written out from scratch; tests/test_activations.py checks each against PyTorch.

Every function is elementwise: it takes a floating-point tensor of any shape and returns one of the
same shape. Hyperparameters are keyword arguments. ``derivative`` gives the elementwise slope of
any of them by autograd, and ``dead_units`` finds ReLU units that never fire.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

_GELU_APPROXIMATIONS = ("none", "tanh", "sigmoid")


# --------------------------------------------------------------------------- input checks
def _check_input(fn: str, x) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{fn}: expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"{fn}: expected a floating-point tensor, got dtype {x.dtype}; convert with x.float()")


def _check_positive(fn: str, name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{fn}: {name} must be a finite number > 0, got {value!r}")


def _split(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(x where x >= 0 else 0, x where x < 0 else 0): each branch of a two-sided formula sees only its own side.

    torch.where rather than clamp, because clamp passes no gradient at its boundary, x = 0.
    """
    zero = torch.zeros_like(x)
    return torch.where(x >= 0, x, zero), torch.where(x < 0, x, zero)


# --------------------------------------------------------------------------- saturating: sigmoid, tanh
def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """1 / (1 + exp(-x)) in (0, 1), computed without overflow: exp never sees a positive argument."""
    _check_input("sigmoid", x)
    # each branch sees only its own side of 0, so the branch torch.where discards never makes inf or nan
    pos, neg = _split(x)
    return torch.where(x >= 0, 1 / (1 + torch.exp(-pos)), torch.exp(neg) / (1 + torch.exp(neg)))


def sigmoid_derivative(x: torch.Tensor) -> torch.Tensor:
    """sigmoid'(x) = s (1 - s) with s = sigmoid(x); at most 1/4, reached at x = 0."""
    s = sigmoid(x)
    return s * (1 - s)


def tanh(x: torch.Tensor) -> torch.Tensor:
    """(e^x - e^-x) / (e^x + e^-x) in (-1, 1), written with e^(-2|x|) so that it never overflows."""
    _check_input("tanh", x)
    pos, neg = _split(x)
    # (1 - e^-2x) / (1 + e^-2x) for x >= 0 and its mirror image for x < 0; expm1 keeps small |x| accurate
    return torch.where(x >= 0, -torch.expm1(-2 * pos) / (1 + torch.exp(-2 * pos)),
                       torch.expm1(2 * neg) / (1 + torch.exp(2 * neg)))


def tanh_derivative(x: torch.Tensor) -> torch.Tensor:
    """tanh'(x) = 1 - tanh(x)^2; at most 1, reached at x = 0."""
    return 1 - tanh(x) ** 2


# --------------------------------------------------------------------------- the ReLU family
def relu(x: torch.Tensor) -> torch.Tensor:
    """max(0, x) (Nair & Hinton 2010); slope 1 for x > 0 and 0 for x <= 0, as in PyTorch."""
    _check_input("relu", x)
    return torch.where(x > 0, x, torch.zeros_like(x))


def relu6(x: torch.Tensor) -> torch.Tensor:
    """min(max(0, x), 6), the capped ReLU of MobileNet."""
    _check_input("relu6", x)
    return x.clamp(min=0, max=6)


def leaky_relu(x: torch.Tensor, *, negative_slope: float = 0.01) -> torch.Tensor:
    """x for x > 0, negative_slope * x otherwise (Maas et al. 2013): the negative side keeps a gradient."""
    _check_input("leaky_relu", x)
    if isinstance(negative_slope, bool) or not isinstance(negative_slope, (int, float)) \
            or not math.isfinite(negative_slope):
        raise ValueError(f"leaky_relu: negative_slope must be a finite number, got {negative_slope!r}")
    return torch.where(x > 0, x, negative_slope * x)


def prelu(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU with a learned slope (He et al. 2015): weight (1,) shared, or (C,) per channel of x (N, C, *)."""
    _check_input("prelu", x)
    _check_input("prelu", weight)
    if weight.ndim != 1 or weight.numel() < 1:
        raise ValueError(f"prelu: weight must have shape (1,) or (C,), got {tuple(weight.shape)}")
    if weight.numel() > 1:
        if x.ndim < 2 or x.shape[1] != weight.numel():
            raise ValueError(f"prelu: a per-channel weight of shape ({weight.numel()},) needs x of shape "
                             f"(N, {weight.numel()}, *), got {tuple(x.shape)}")
        weight = weight.reshape((1, -1) + (1,) * (x.ndim - 2))  # broadcast over (N, C, *)
    return torch.where(x > 0, x, weight * x)


class PReLU(nn.Module):
    """Module form of prelu with a learnable slope per channel (or one shared); input (N, C, *) or (N,)."""

    def __init__(self, num_parameters: int = 1, *, init: float = 0.25) -> None:
        super().__init__()
        if isinstance(num_parameters, bool) or not isinstance(num_parameters, int) or num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be a positive int, got {num_parameters!r}")
        self.weight = nn.Parameter(torch.full((num_parameters,), float(init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return prelu(x, self.weight)


# --------------------------------------------------------------------------- smooth gates: softplus, swish, GELU, mish
def softplus(x: torch.Tensor, *, beta: float = 1.0) -> torch.Tensor:
    """log(1 + exp(beta x)) / beta, a smooth ReLU (Dugas et al. 2001), computed without overflow."""
    _check_input("softplus", x)
    _check_positive("softplus", "beta", beta)
    bx = beta * x
    pos, neg = _split(bx)
    # u + log(1 + e^-u) for u >= 0, log(1 + e^u) otherwise: exp never sees a positive argument
    return torch.where(bx >= 0, pos + torch.log1p(torch.exp(-pos)), torch.log1p(torch.exp(neg))) / beta


def swish(x: torch.Tensor, *, beta: float = 1.0) -> torch.Tensor:
    """x * sigmoid(beta x) (Ramachandran et al. 2017); beta = 1 is SiLU (Elfwing et al. 2018)."""
    _check_input("swish", x)
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not math.isfinite(beta):
        raise ValueError(f"swish: beta must be a finite number, got {beta!r}")
    return x * sigmoid(beta * x)


def silu(x: torch.Tensor) -> torch.Tensor:
    """x * sigmoid(x), the same as swish(x, beta=1) and torch.nn.functional.silu."""
    return swish(x, beta=1.0)


def gelu(x: torch.Tensor, *, approximate: str = "none") -> torch.Tensor:
    """x * Phi(x), Phi the standard normal CDF (Hendrycks & Gimpel 2016).

    approximate="none": exact, 0.5 x (1 + erf(x / sqrt 2)); "tanh": the paper's
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) as in torch; "sigmoid": the paper's x * sigmoid(1.702 x).
    """
    _check_input("gelu", x)
    if approximate == "none":
        return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))
    if approximate == "tanh":
        return 0.5 * x * (1 + tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    if approximate == "sigmoid":
        return x * sigmoid(1.702 * x)
    raise ValueError(f"gelu: approximate must be one of {_GELU_APPROXIMATIONS}, got {approximate!r}")


def mish(x: torch.Tensor) -> torch.Tensor:
    """x * tanh(softplus(x)) (Misra 2019)."""
    _check_input("mish", x)
    return x * tanh(softplus(x))


# --------------------------------------------------------------------------- piecewise-linear gates
def hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """relu6(x + 3) / 6: a piecewise-linear sigmoid without exp, as torch.nn.functional.hardsigmoid."""
    _check_input("hard_sigmoid", x)
    # = relu6(x + 3) / 6, with the kinks tested on x itself: for x just below 3, x + 3 may round to 6.0
    inside = (x > -3) & (x < 3)
    return torch.where(inside, x / 6 + 0.5, (x >= 3).to(x.dtype))


def hard_swish(x: torch.Tensor) -> torch.Tensor:
    """x * relu6(x + 3) / 6 (MobileNetV3, Howard et al. 2019): swish built from ReLU6, no exp."""
    _check_input("hard_swish", x)
    return x * hard_sigmoid(x)


# --------------------------------------------------------------------------- tools
def derivative(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Elementwise slope fn'(x) of an elementwise fn by autograd; same shape as x, no graph kept."""
    _check_input("derivative", x)
    x = x.detach().requires_grad_(True)
    y = fn(x)
    if not isinstance(y, torch.Tensor) or y.shape != x.shape:
        raise ValueError("derivative: fn must be elementwise (return a tensor of the input's shape), "
                         f"got {tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__}")
    (grad,) = torch.autograd.grad(y.sum(), x)  # d(sum y)/dx_i = fn'(x_i) because y_i depends on x_i only
    return grad


def dead_units(pre_activations: torch.Tensor) -> torch.Tensor:
    """Bool mask (H,) of ReLU units whose input is <= 0 for every example of pre_activations (N, H).

    Such a unit outputs 0 and its own weights receive a zero gradient on all N examples. In the first
    layer, with no weight decay, nothing can move it back; deeper units can revive when the layers
    below them change, and an L2 penalty inside Adam can revive them too (01_fundamentals/03_activations).
    """
    _check_input("dead_units", pre_activations)
    if pre_activations.ndim != 2 or pre_activations.shape[0] < 1:
        raise ValueError(f"dead_units: expected pre-activations of shape (N, H) with N >= 1, "
                         f"got {tuple(pre_activations.shape)}")
    return (pre_activations <= 0).all(dim=0)
