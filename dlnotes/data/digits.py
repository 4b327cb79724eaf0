"""scikit-learn's 8x8 hand-written digits as PyTorch tensors: small, offline, and quick to train on."""

from __future__ import annotations

import torch
from torch import Tensor


def digits_tensors(*, test_size: float = 0.25, seed: int = 0) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(X_train, y_train, X_test, y_test): X (N, 1, 8, 8) float32 in [0, 1], y (N,) int64; stratified split."""
    if isinstance(test_size, bool) or not isinstance(test_size, float) or not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be a float strictly between 0 and 1 (fraction of the data), got {test_size!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")

    # imported here so that `import dlnotes.data` stays cheap
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()  # ships with scikit-learn: 1797 images, pixel values 0..16
    X = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0  # (1797, 1, 8, 8)
    y = torch.tensor(digits.target, dtype=torch.int64)  # (1797,)
    train_idx, test_idx = train_test_split(
        torch.arange(len(y)).numpy(), test_size=test_size, random_state=seed, stratify=y.numpy()
    )
    train_idx, test_idx = torch.from_numpy(train_idx), torch.from_numpy(test_idx)
    return X[train_idx], y[train_idx], X[test_idx], y[test_idx]
