"""Input checks shared by the CNN architectures: a clear error instead of a stack trace from a conv."""

from __future__ import annotations

import torch


def check_images(X: torch.Tensor, *, in_channels: int, model: str, min_size: int = 1) -> None:
    """Raise a ValueError unless X is a float batch (B, in_channels, H, W) with H, W >= min_size."""
    if not isinstance(X, torch.Tensor):
        raise ValueError(f"{model} expects a torch.Tensor of shape (B, C, H, W), got {type(X).__name__}")
    shape = tuple(X.shape)
    if X.dim() != 4:
        hint = "; add the batch dimension with X.unsqueeze(0)" if X.dim() == 3 else ""
        raise ValueError(f"{model} expects a 4-D batch (B, C, H, W), got shape {shape}{hint}")
    if shape[1] != in_channels:
        hint = "; it looks channels-last, use X.permute(0, 3, 1, 2)" if shape[3] == in_channels else ""
        raise ValueError(f"{model} expects {in_channels} input channel(s), (B, {in_channels}, H, W), "
                         f"got shape {shape}{hint}")
    if not X.is_floating_point():
        raise ValueError(f"{model} expects a floating-point tensor, got {X.dtype}; convert with X.float()")
    if min(shape[2:]) < min_size:
        raise ValueError(f"{model} expects images of at least {min_size}x{min_size}, got {shape[2]}x{shape[3]}")
