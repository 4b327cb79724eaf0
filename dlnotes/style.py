"""Texture synthesis and neural style transfer (Gatys et al. 2015, 2016): Gram matrices, features taken from
named layers, style and content losses, optimization of the pixels, procedural textures, random filters."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Channel co-occurrence of a feature map: (B, C, H, W) -> (B, C, C), G = F F^T / (H W)."""
    if not isinstance(features, torch.Tensor) or features.dim() != 4:
        shape = tuple(features.shape) if isinstance(features, torch.Tensor) else type(features).__name__
        raise ValueError(f"features must be a (B, C, H, W) feature map, got {shape}")
    B, C, H, W = features.shape
    flat = features.reshape(B, C, H * W)  # (B, C, HW): every position is one sample of the C channels
    return flat @ flat.transpose(1, 2) / (H * W)  # (B, C, C)


class _Stop(Exception):
    """Raised by the deepest hook: the layers after it are not needed."""


class FeatureExtractor(nn.Module):
    """Feature maps of the named submodules of a frozen model: (B, 3, H, W) -> {name: (B, C_l, H_l, W_l)}.

    Forward hooks, registered only during the call, record the outputs; the pass stops as soon as every
    requested layer has run, so a classifier's head is never computed. The model is put in eval mode and frozen."""

    def __init__(self, model: nn.Module, layers: Sequence[str]) -> None:
        super().__init__()
        layers = list(layers)
        if not layers:
            raise ValueError("layers is empty: name at least one submodule, e.g. ['stem', 'layer1']")
        modules = dict(model.named_modules())
        unknown = [name for name in layers if name not in modules or name == ""]
        if unknown:
            raise ValueError(f"unknown layers {unknown}; the model has e.g. {[n for n in modules if n][:8]}")
        self.model = model.eval().requires_grad_(False)
        self.layers = layers

    def forward(self, X: torch.Tensor) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        wanted = set(self.layers)

        def hook(name: str):
            def record(module, inputs, output):
                out[name] = output
                if set(out) == wanted:  # every requested layer has run: skip the rest of the network
                    raise _Stop
            return record

        modules = dict(self.model.named_modules())
        handles = [modules[name].register_forward_hook(hook(name)) for name in wanted]  # only during this call
        try:
            self.model(X)
        except _Stop:
            pass
        finally:
            for handle in handles:
                handle.remove()
        missing = [name for name in self.layers if name not in out]
        if missing:
            raise RuntimeError(f"layers {missing} did not run in the model's forward pass")
        return {name: out[name] for name in self.layers}


class RandomFilters(nn.Module):
    """One conv layer of random filters at several kernel sizes, each followed by ReLU (Ustyuzhaninov et al.
    2017): (B, 3, H, W) -> (B, channels * len(kernel_sizes), H, W); submodules "k3", "k5", ... for hooks."""

    def __init__(self, *, kernel_sizes: Sequence[int] = (3, 5, 7, 11), channels: int = 32, in_channels: int = 3,
                 seed: int = 0) -> None:
        super().__init__()
        if not kernel_sizes or any(k < 1 or k % 2 == 0 for k in kernel_sizes):
            raise ValueError(f"kernel_sizes must be odd positive sizes, got {tuple(kernel_sizes)}")
        g = torch.Generator().manual_seed(seed)
        self.scales = nn.ModuleDict()
        for k in kernel_sizes:
            conv = nn.Conv2d(in_channels, channels, kernel_size=k, padding=k // 2, bias=False)
            with torch.no_grad():  # N(0, 1/fan_in): every filter responds with unit-order outputs
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) / math.sqrt(in_channels * k * k))
            self.scales[f"k{k}"] = nn.Sequential(conv, nn.ReLU())

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        X = X - 0.5  # center the [0, 1] pixels so that ReLU sees both signs
        return torch.cat([scale(X) for scale in self.scales.values()], dim=1)  # (B, sum C, H, W)


def style_loss(features: Mapping[str, torch.Tensor], target_grams: Mapping[str, torch.Tensor], *,
               weights: Mapping[str, float] | None = None) -> torch.Tensor:
    """Sum over layers of w_l * mean((G(F_l) - G_l)^2); w_l = 1 / #layers by default (Gatys et al. 2015)."""
    if not target_grams:
        raise ValueError("target_grams is empty: give the Gram matrix of at least one layer")
    missing = [name for name in target_grams if name not in features]
    if missing:
        raise ValueError(f"no features for style layers {missing}; got {list(features)}")
    weights = weights or {name: 1.0 / len(target_grams) for name in target_grams}
    return sum(weights[name] * (gram_matrix(features[name]) - G).pow(2).mean() for name, G in target_grams.items())


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of two feature maps of the same shape (Gatys et al. 2016)."""
    if features.shape != target.shape:
        raise ValueError(f"content features {tuple(features.shape)} and target {tuple(target.shape)} differ in shape")
    return (features - target).pow(2).mean()


def _binomial_blur(z: torch.Tensor) -> torch.Tensor:
    """3x3 binomial blur [1, 2, 1]^T [1, 2, 1] / 16 per channel, wrapping around the borders: (B, C, H, W)."""
    k = torch.tensor([1.0, 2.0, 1.0], device=z.device)
    k = (k[:, None] * k[None, :] / 16).expand(z.shape[1], 1, 3, 3)
    return F.conv2d(F.pad(z, (1, 1, 1, 1), mode="circular"), k, groups=z.shape[1])


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of neighboring pixels, across and down: (B, C, H, W) -> scalar."""
    return (x[..., 1:, :] - x[..., :-1, :]).pow(2).mean() + (x[..., :, 1:] - x[..., :, :-1]).pow(2).mean()


def synthesize(extractor: nn.Module, init: torch.Tensor, *, style_grams: Mapping[str, torch.Tensor],
               content: tuple[str, torch.Tensor] | None = None, alpha: float = 1.0, beta: float = 1.0,
               tv: float = 0.0, smooth: bool = True, steps: int = 200, lr: float = 0.05
               ) -> tuple[torch.Tensor, dict[str, list[float]]]:
    """Minimise alpha * content + beta * style + tv * total_variation over the pixels with Adam, from `init`
    (B, 3, H, W) in [0, 1]. Pixels are x = sigmoid(z) (or sigmoid(blur(z)) with smooth=True), so they stay in
    (0, 1) without clamping. content = (layer, target features), or None for texture synthesis. -> (x, history)."""
    if init.dim() != 4 or init.shape[1] != 3:
        raise ValueError(f"init must be a (B, 3, H, W) image batch, got {tuple(init.shape)}")
    if init.min() < 0 or init.max() > 1:
        raise ValueError("init pixels must lie in [0, 1]")
    z = torch.logit(init.clamp(1e-3, 1 - 1e-3)).detach().requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=lr)
    history: dict[str, list[float]] = {"style": [], "content": [], "total": []}

    def pixels() -> torch.Tensor:
        return torch.sigmoid(_binomial_blur(z) if smooth else z)

    for step in range(steps + 1):
        x = pixels()
        feats = extractor(x)
        s = style_loss(feats, style_grams)
        c = content_loss(feats[content[0]], content[1]) if content is not None else torch.zeros(())
        loss = alpha * c + beta * s + (tv * total_variation(x) if tv else 0.0)
        history["style"].append(s.item())
        history["content"].append(c.item())
        history["total"].append(loss.item())
        if step == steps:  # the last pass only records the final losses
            break
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return pixels().detach(), history


def _two_colors(pattern: torch.Tensor, colors: Sequence[Sequence[float]]) -> torch.Tensor:
    """Blend two RGB colors by a (H, W) pattern in [0, 1]: -> (3, H, W)."""
    a, b = (torch.tensor(c, dtype=torch.float32)[:, None, None] for c in colors)
    return a + (b - a) * pattern


def stripes(size: int, *, cycles: tuple[int, int], sharpness: float = 4.0,
            colors: Sequence[Sequence[float]] = ((0.1, 0.15, 0.4), (0.95, 0.8, 0.3))) -> torch.Tensor:
    """Stripes with (kx, ky) whole cycles across a size x size image (so they tile): period size/|k|, angle
    atan2(ky, kx) of the wave vector. -> (3, size, size) in [0, 1]."""
    if size < 4 or cycles == (0, 0):
        raise ValueError(f"need size >= 4 and a non-zero wave vector, got size={size}, cycles={cycles}")
    y, x = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                          indexing="ij")
    phase = 2 * math.pi * (cycles[0] * x + cycles[1] * y) / size
    return _two_colors(0.5 + 0.5 * torch.tanh(sharpness * torch.sin(phase)), colors)


def checker(size: int, *, period: int, colors: Sequence[Sequence[float]] = ((0.9, 0.9, 0.85), (0.6, 0.1, 0.1))
            ) -> torch.Tensor:
    """Checkerboard whose pattern repeats every `period` pixels (squares of period/2). -> (3, size, size)."""
    if period < 2 or period > size:
        raise ValueError(f"period must lie in [2, size={size}], got {period}")
    idx = torch.arange(size)
    pattern = ((idx[:, None] % period < period / 2) ^ (idx[None, :] % period < period / 2)).float()
    return _two_colors(pattern, colors)


def dots(size: int, *, period: int, radius: float, jitter: float = 0.0, seed: int = 0,
         colors: Sequence[Sequence[float]] = ((0.2, 0.45, 0.25), (0.95, 0.95, 0.9))) -> torch.Tensor:
    """Round dots on a grid of `period` pixels, each moved by up to jitter * period at random (a seeded
    generator); distances wrap around, so the image tiles when period divides size. -> (3, size, size)."""
    if period < 2 or period > size or not 0 < radius < period / 2:
        raise ValueError(f"need 2 <= period <= size and 0 < radius < period / 2, got period={period}, radius={radius}")
    g = torch.Generator().manual_seed(seed)
    n = size // period
    grid = (torch.arange(n, dtype=torch.float32) + 0.5) * period
    cy, cx = torch.meshgrid(grid, grid, indexing="ij")
    centers = torch.stack([cy.flatten(), cx.flatten()], 1)
    centers = centers + jitter * period * (torch.rand(centers.shape, generator=g) - 0.5)  # (n^2, 2)
    pix = torch.stack(torch.meshgrid(torch.arange(size, dtype=torch.float32),
                                     torch.arange(size, dtype=torch.float32), indexing="ij"), -1).reshape(-1, 1, 2)
    d = (pix - centers).abs()
    d = torch.minimum(d, size - d)  # wrap around the borders
    dist = d.pow(2).sum(-1).sqrt().min(dim=1).values.reshape(size, size)
    pattern = torch.sigmoid(2.0 * (radius - dist))  # soft edge about one pixel wide
    return _two_colors(pattern, colors)
