"""Small synthetic data sets generated from a known rule, for the first chapters (linear regression)."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor


def make_regression(
    n: int,
    *,
    w: Sequence[float],
    b: float,
    noise: float = 0.1,
    seed: int = 0,
) -> tuple[Tensor, Tensor]:
    """X (n, len(w)) ~ N(0, 1) and y (n,) = X @ w + b + noise * N(0, 1), float32."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive int (number of examples), got {n!r}")
    try:
        if isinstance(w, (str, bytes)):
            raise TypeError
        w = torch.as_tensor(w, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"w must be a sequence of floats (one weight per feature), got {w!r}") from None
    if w.ndim != 1 or w.numel() == 0:
        raise ValueError(f"w must be a non-empty 1-D sequence of floats, got shape {tuple(w.shape)}")
    if not torch.isfinite(w).all():
        raise ValueError("w must contain only finite numbers")
    if isinstance(b, bool) or not isinstance(b, (int, float)) or not math.isfinite(b):
        raise ValueError(f"b must be a finite float (the bias), got {b!r}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not math.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite float >= 0 (std of the label noise), got {noise!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")

    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, w.numel(), generator=g)  # (n, d)
    y = X @ w + b + noise * torch.randn(n, generator=g)  # (n,)
    return X, y
