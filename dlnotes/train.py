"""A training loop you can read in one screen, and the evaluation helpers that go with it."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from contextlib import nullcontext

import torch
from torch import nn

with warnings.catch_warnings():  # tqdm.auto warns when ipywidgets is missing; it then uses a text bar
    warnings.simplefilter("ignore")
    from tqdm.auto import tqdm

Metric = Callable[[torch.Tensor, torch.Tensor], float]


def accuracy(y_hat: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of correct predictions. ``y_hat``: logits (N, C) or labels (N,); ``y``: labels (N,)."""
    if y_hat.ndim == 2:
        y_hat = y_hat.argmax(dim=1)
    if y_hat.shape != y.shape:
        raise ValueError(f"accuracy expects logits (N, C) or labels (N,) matching y {tuple(y.shape)}, "
                         f"got y_hat of shape {tuple(y_hat.shape)}")
    return (y_hat == y).float().mean().item()


def confusion_matrix(y_pred: torch.Tensor, y_true: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(num_classes, num_classes) counts; row = true class, column = predicted class."""
    if y_pred.shape != y_true.shape or y_pred.ndim != 1:
        raise ValueError(f"confusion_matrix expects two label vectors of the same shape (N,), "
                         f"got {tuple(y_pred.shape)} and {tuple(y_true.shape)}")
    if len(y_true) and (min(y_pred.min(), y_true.min()) < 0 or max(y_pred.max(), y_true.max()) >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got values outside that range")
    index = y_true.long() * num_classes + y_pred.long()
    return torch.bincount(index, minlength=num_classes**2).reshape(num_classes, num_classes)


def _quiet() -> bool:
    """Progress bars are off when DLNOTES_QUIET is set (the tests and the notebook runner set it)."""
    return os.environ.get("DLNOTES_QUIET", "") not in ("", "0")


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, *, loss_fn: Callable | None = None,
             metrics: Mapping[str, Metric] | None = None, device: torch.device | str | None = None) -> dict[str, float]:
    """Average loss and metrics of ``model`` over ``loader`` (in eval mode, without gradients)."""
    device = device or next(model.parameters()).device
    model.eval()
    sums: dict[str, float] = {}
    n = 0
    for X, y in loader:
        X, y = X.to(device), y.to(device)
        y_hat = model(X)
        for name, value in _batch_stats(y_hat, y, loss_fn, metrics).items():
            sums[name] = sums.get(name, 0.0) + value * len(X)
        n += len(X)
    if n == 0:
        raise ValueError("evaluate got an empty loader")
    return {name: total / n for name, total in sums.items()}


@torch.no_grad()
def predict(model: nn.Module, loader: Iterable, *, device: torch.device | str | None = None
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenated model outputs and targets over ``loader``: (y_hat (N, ...), y (N, ...))."""
    device = device or next(model.parameters()).device
    model.eval()
    outputs, targets = [], []
    for X, y in loader:
        outputs.append(model(X.to(device)).cpu())
        targets.append(y)
    return torch.cat(outputs), torch.cat(targets)


def _batch_stats(y_hat, y, loss_fn, metrics) -> dict[str, float]:
    stats = {}
    if loss_fn is not None:
        stats["loss"] = loss_fn(y_hat, y).item()
    for name, metric in (metrics or {}).items():
        stats[name] = metric(y_hat, y)
    return stats


def _grad_scaler(*, enabled: bool):
    """torch.amp.GradScaler for float16 on CUDA; with enabled=False every call passes straight through."""
    if hasattr(torch.amp, "GradScaler"):  # torch >= 2.3
        return torch.amp.GradScaler("cuda", enabled=enabled)
    return torch.cuda.amp.GradScaler(enabled=enabled)


def _as_channels_last(X: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> the same values stored as NHWC (torch.channels_last)."""
    if not isinstance(X, torch.Tensor) or X.ndim != 4:
        raise ValueError(f"channels_last expects image batches (N, C, H, W), got shape {tuple(getattr(X, 'shape', ()))}")
    return X.contiguous(memory_format=torch.channels_last)


def fit(model: nn.Module, train_loader: Iterable, *, loss_fn: Callable, optimizer: torch.optim.Optimizer,
        epochs: int = 1, val_loader: Iterable | None = None, metrics: Mapping[str, Metric] | None = None,
        scheduler=None, scheduler_step: str = "epoch", clip_grad_norm: float | None = None,
        device: torch.device | str | None = None, progress: bool | None = None,
        autocast_dtype: torch.dtype | None = None, channels_last: bool = False) -> dict[str, list[float]]:
    """Train ``model`` for ``epochs`` passes over ``train_loader``; return the per-epoch history.

    History keys: ``train_loss``, ``train_<metric>``, ``val_loss``, ``val_<metric>`` (with a
    ``val_loader``) and ``lr``. ``scheduler_step`` is ``"epoch"`` or ``"batch"`` (e.g. OneCycleLR);
    a ReduceLROnPlateau scheduler is stepped with the validation loss (training loss without one).
    ``autocast_dtype`` (torch.bfloat16, or torch.float16 on CUDA with a GradScaler) runs the forward
    pass and the loss under ``torch.autocast``; ``channels_last`` stores the model and the (N, C, H, W)
    inputs as NHWC. Validation runs in float32 and the default memory format.
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if scheduler_step not in ("epoch", "batch"):
        raise ValueError(f"scheduler_step must be 'epoch' or 'batch', got {scheduler_step!r}")
    if clip_grad_norm is not None and clip_grad_norm <= 0:
        raise ValueError(f"clip_grad_norm must be positive, got {clip_grad_norm!r}")
    if autocast_dtype not in (None, torch.bfloat16, torch.float16):
        raise ValueError(f"autocast_dtype must be None, torch.bfloat16 or torch.float16, got {autocast_dtype!r}")
    if not isinstance(channels_last, bool):
        raise ValueError(f"channels_last must be a bool, got {channels_last!r}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    if autocast_dtype is torch.float16 and device.type != "cuda":
        raise ValueError(f"float16 autocast needs a CUDA device (and a GradScaler); on {device.type} "
                         f"use autocast_dtype=torch.bfloat16")
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)  # 4-D weights stored as NHWC too
    scaler = _grad_scaler(enabled=autocast_dtype is torch.float16)  # a no-op unless float16 on CUDA
    metrics = dict(metrics or {})
    history: dict[str, list[float]] = {}
    show = (not _quiet()) if progress is None else progress
    bar = tqdm(range(epochs), desc="epochs", disable=not show)

    sampler = getattr(train_loader, "sampler", None)
    for epoch in bar:
        # ---- one pass over the training data ----
        if hasattr(sampler, "set_epoch"):  # e.g. DistributedSampler: a new shuffle every epoch
            sampler.set_epoch(epoch)
        model.train()
        sums, n = {}, 0
        for X, y in train_loader:
            X, y = X.to(device), y.to(device)
            if channels_last:
                X = _as_channels_last(X)
            with torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype else nullcontext():
                y_hat = model(X)
                loss = loss_fn(y_hat, y)
            optimizer.zero_grad()
            scaler.scale(loss).backward()     # without a scaler: loss.backward()
            if clip_grad_norm is not None:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
            scaler.step(optimizer)            # without a scaler: optimizer.step()
            scaler.update()
            if scheduler is not None and scheduler_step == "batch":
                scheduler.step()
            # bookkeeping: batch-size-weighted averages of the loss and metrics
            sums["loss"] = sums.get("loss", 0.0) + loss.item() * len(X)
            for name, metric in metrics.items():
                sums[name] = sums.get(name, 0.0) + metric(y_hat.detach(), y) * len(X)
            n += len(X)
        if n == 0:
            raise ValueError("fit got an empty train_loader")
        epoch_stats = {f"train_{name}": total / n for name, total in sums.items()}

        # ---- validation, learning-rate schedule, history ----
        if val_loader is not None:
            val = evaluate(model, val_loader, loss_fn=loss_fn, metrics=metrics, device=device)
            epoch_stats.update({f"val_{name}": value for name, value in val.items()})
        epoch_stats["lr"] = optimizer.param_groups[0]["lr"]
        if scheduler is not None and scheduler_step == "epoch":
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(epoch_stats.get("val_loss", epoch_stats["train_loss"]))
            else:
                scheduler.step()
        for key, value in epoch_stats.items():
            history.setdefault(key, []).append(value)
        bar.set_postfix({k: f"{v:.4g}" for k, v in epoch_stats.items() if k != "lr"})
    return history
