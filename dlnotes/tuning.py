"""Tuning helpers: the linear scaling rule, grid and random search samplers, and ensemble averaging.

The warm-up schedule lives in ``dlnotes.optim.warmup_cosine``; the notebook
chapters/07_beyond/07_batch_size_search_ensembles.ipynb explains when each of these helps.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import torch
from torch import nn


def _positive(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or not math.isfinite(value):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def scaled_lr(base_lr: float, base_batch: int, batch: int) -> float:
    """Linear scaling rule (Goyal et al. 2017): lr = base_lr * batch / base_batch."""
    _positive("base_lr", base_lr)
    for name, value in (("base_batch", base_batch), ("batch", batch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    return base_lr * batch / base_batch


def _check_space(space: Mapping[str, tuple[float, float, str]]) -> None:
    if not isinstance(space, Mapping) or not space:
        raise ValueError("space must be a non-empty dict name -> (low, high, 'log' or 'linear')")
    for name, spec in space.items():
        if not (isinstance(spec, tuple) and len(spec) == 3 and spec[2] in ("log", "linear")):
            raise ValueError(f"space[{name!r}] must be (low, high, 'log' or 'linear'), got {spec!r}")
        low, high, scale = spec
        if not low < high or (scale == "log" and low <= 0):
            raise ValueError(f"space[{name!r}] needs low < high (and low > 0 on a log scale), got {spec!r}")


def _from_unit(u: float, low: float, high: float, scale: str) -> float:
    """Map u in [0, 1] to [low, high], uniformly in value ('linear') or in its logarithm ('log')."""
    if scale == "log":
        return math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    return low + u * (high - low)


def grid_search(space: Mapping[str, tuple[float, float, str]], *, points_per_axis: int) -> list[dict[str, float]]:
    """All points_per_axis ** len(space) combinations, each axis evenly spaced from low to high (ends included)."""
    _check_space(space)
    if isinstance(points_per_axis, bool) or not isinstance(points_per_axis, int) or points_per_axis < 2:
        raise ValueError(f"points_per_axis must be an int >= 2, got {points_per_axis!r}")
    axes = [[_from_unit(i / (points_per_axis - 1), *spec) for i in range(points_per_axis)] for spec in space.values()]
    return [dict(zip(space, values)) for values in itertools.product(*axes)]


def random_search(space: Mapping[str, tuple[float, float, str]], *, trials: int, seed: int = 0) -> list[dict[str, float]]:
    """trials points drawn independently, each axis uniform (in log space for 'log'); the same for the same seed."""
    _check_space(space)
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ValueError(f"trials must be a positive int, got {trials!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    u = torch.rand(trials, len(space), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return [{name: _from_unit(u[t, j].item(), *spec) for j, (name, spec) in enumerate(space.items())}
            for t in range(trials)]


@torch.no_grad()
def ensemble_predict(models: Sequence[nn.Module], X: torch.Tensor) -> torch.Tensor:
    """Average of the members' softmax probabilities: X (N, ...) -> (N, num_classes); models are put in eval mode."""
    if isinstance(models, nn.Module) or not isinstance(models, Sequence) or len(models) == 0:
        raise ValueError("models must be a non-empty list of nn.Module")
    if not all(isinstance(m, nn.Module) for m in models):
        raise ValueError("every member of models must be an nn.Module")
    probs = []
    for model in models:
        model.eval()
        logits = model(X)  # (N, num_classes)
        if logits.dim() != 2:
            raise ValueError(f"each model must return logits of shape (N, num_classes), got {tuple(logits.shape)}")
        probs.append(logits.softmax(dim=1))
    if len({p.shape for p in probs}) != 1:
        raise ValueError(f"the models disagree on the output shape: {sorted({tuple(p.shape) for p in probs})}")
    return torch.stack(probs).mean(dim=0)  # (N, num_classes)
