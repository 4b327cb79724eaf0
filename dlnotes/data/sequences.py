"""Sequence tasks generated from a seed: noisy sine waves to forecast, and long-memory benchmarks:
the adding problem (Hochreiter & Schmidhuber 1997), the copy task and delayed recall."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def _check(name: str, value, low: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")


def sine_waves(n: int, length: int, *, noise: float = 0.05, seed: int = 0) -> Tensor:
    """(n, length) series sin(2π f t + φ) + noise, f ~ U(1/40, 1/10) cycles per step, φ ~ U(0, 2π)."""
    _check("n", n), _check("length", length), _check("seed", seed, 0)
    if not isinstance(noise, (int, float)) or isinstance(noise, bool) or noise < 0:
        raise ValueError(f"noise must be a float >= 0, got {noise!r}")
    g = torch.Generator().manual_seed(seed)
    freq = torch.empty(n, 1).uniform_(1 / 40, 1 / 10, generator=g)
    phase = torch.empty(n, 1).uniform_(0, 2 * math.pi, generator=g)
    t = torch.arange(length, dtype=torch.float32)
    return torch.sin(2 * math.pi * freq * t + phase) + noise * torch.randn(n, length, generator=g)


def adding_problem(n: int, length: int, *, seed: int = 0) -> tuple[Tensor, Tensor]:
    """X (n, length, 2): a value ~ U(0, 1) and a marker that is 1 at exactly two steps, one in each half;
    y (n,): the sum of the two marked values. Predicting the mean, 1.0, scores MSE 1/6 ≈ 0.167."""
    _check("n", n), _check("length", length, 2), _check("seed", seed, 0)
    g = torch.Generator().manual_seed(seed)
    values = torch.rand(n, length, generator=g)
    half = length // 2
    first = torch.randint(0, half, (n,), generator=g)
    second = torch.randint(half, length, (n,), generator=g)
    markers = torch.zeros(n, length)
    rows = torch.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    X = torch.stack([values, markers], dim=-1)            # (n, length, 2)
    y = values[rows, first] + values[rows, second]        # (n,)
    return X, y


def copy_task(n: int, num_symbols: int, *, delay: int, vocab: int = 8, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Remember a string over a gap. Tokens: 0 blank, 1 'go', 2.. symbols.
    X (n, num_symbols + delay + num_symbols): the symbols, `delay` blanks with 'go' at the last one, then blanks;
    y (same shape): blanks, then the symbols again in the last num_symbols steps. Guessing a random
    symbol at the end scores 1 / vocab accuracy there."""
    _check("n", n), _check("num_symbols", num_symbols), _check("delay", delay), _check("vocab", vocab, 2)
    _check("seed", seed, 0)
    g = torch.Generator().manual_seed(seed)
    symbols = torch.randint(2, 2 + vocab, (n, num_symbols), generator=g)
    total = 2 * num_symbols + delay
    X = torch.zeros(n, total, dtype=torch.long)
    y = torch.zeros(n, total, dtype=torch.long)
    X[:, :num_symbols] = symbols
    X[:, num_symbols + delay - 1] = 1                      # 'go': start writing after this step
    y[:, -num_symbols:] = symbols
    return X, y


def delayed_recall(n: int, length: int, *, delay: int, vocab: int = 4, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Echo every symbol `delay` steps later. X (n, length): symbols 0..vocab-1, uniform;
    y (n, length): y[:, t] = X[:, t - delay], and -100 (cross_entropy's ignore_index) for t < delay.
    Guessing scores 1 / vocab accuracy."""
    _check("n", n), _check("length", length, 2), _check("delay", delay), _check("vocab", vocab, 2)
    _check("seed", seed, 0)
    if delay >= length:
        raise ValueError(f"delay must be < length, got delay={delay}, length={length}")
    g = torch.Generator().manual_seed(seed)
    X = torch.randint(0, vocab, (n, length), generator=g)
    y = torch.full_like(X, -100)
    y[:, delay:] = X[:, :-delay]
    return X, y
