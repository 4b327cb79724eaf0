"""Plotting helpers: one consistent, small style (applied only by an explicit call) and a few figures."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import torch

STYLE = {
    "figure.figsize": (5.0, 3.2),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "font.size": 9,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "lines.linewidth": 1.6,
    "image.cmap": "viridis",
}


# Fonts that draw Chinese, in order of preference (Debian/Ubuntu, macOS, Windows).
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Zen Hei",
             "WenQuanYi Micro Hei", "PingFang SC", "Heiti SC", "Microsoft YaHei", "SimHei")
_CJK_FILE = re.compile(r"NotoSans(CJK|SC)|SourceHanSans|wqy|PingFang|msyh|simhei", re.IGNORECASE)


def cjk_font() -> str | None:
    """Name of an installed font that draws Chinese, or None (e.g. on Colab without extra fonts)."""
    from matplotlib import font_manager

    def first_known() -> str | None:
        names = {f.name for f in font_manager.fontManager.ttflist}
        return next((name for name in CJK_FONTS if name in names), None)

    found = first_known()
    if found is None:  # installed after matplotlib cached its font list: register the files directly
        for path in font_manager.findSystemFonts():
            if _CJK_FILE.search(Path(path).name):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError):
                    continue
        found = first_known()
    return found


def use_style() -> None:
    """Apply the book's matplotlib style (small figures, light grid). Nothing is changed on import.

    If a CJK font is installed it is added as a fallback after DejaVu Sans, so figure text may mix
    Chinese and English (see ``bilingual``)."""
    mpl.rcParams.update(STYLE)
    font = cjk_font()
    if font is not None:
        # matplotlib falls back glyph by glyph along the font.family list (not along font.sans-serif)
        mpl.rcParams["font.family"] = ["DejaVu Sans", font]
        mpl.rcParams["font.sans-serif"] = ["DejaVu Sans", font]
    # Inline figures in notebooks: PNG at the style's dpi, so the stored notebooks stay light.
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats
        set_matplotlib_formats("png")
    except ImportError:  # not running under IPython
        pass


def bilingual(zh: str, en: str, *, sep: str = " · ") -> str:
    """Figure text in both languages, "zh · en"; English alone where no CJK font is installed (no tofu)."""
    cjk_in_use = any(name in CJK_FONTS for name in mpl.rcParams["font.sans-serif"])  # set by use_style()
    return f"{zh}{sep}{en}" if cjk_in_use else en


def _to_numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def plot_history(history: Mapping[str, Sequence[float]], *, keys: Sequence[str] | None = None,
                 ax: plt.Axes | None = None, title: str | None = None) -> plt.Axes:
    """Line plot of per-epoch values from ``fit()``'s history (loss keys on a log scale if all positive)."""
    keys = list(keys) if keys is not None else [k for k in history if k != "lr"]
    missing = [k for k in keys if k not in history]
    if missing:
        raise KeyError(f"history has no {missing}; it has {sorted(history)}")
    ax = ax or plt.subplots()[1]
    for key in keys:
        values = list(history[key])
        ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=key)
    ax.set_xlabel("epoch")
    ax.legend()
    if title:
        ax.set_title(title)
    return ax


def plot_lines(x, ys: Mapping[str, object], *, ax: plt.Axes | None = None, xlabel: str = "",
               ylabel: str = "", title: str | None = None, logy: bool = False) -> plt.Axes:
    """Several curves over the same ``x``, one per entry of ``ys`` (label -> values)."""
    ax = ax or plt.subplots()[1]
    x = _to_numpy(x)
    for label, y in ys.items():
        y = _to_numpy(y)
        if y.shape != x.shape:
            raise ValueError(f"curve {label!r} has shape {y.shape}, expected the shape of x {x.shape}")
        ax.plot(x, y, label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    if len(ys) > 1:
        ax.legend()
    return ax


def plot_contour(f: Callable[[torch.Tensor], torch.Tensor], *, xlim: tuple[float, float],
                 ylim: tuple[float, float], paths: Mapping[str, object] | None = None,
                 levels: int = 30, ax: plt.Axes | None = None, log_levels: bool = False,
                 resolution: int = 200) -> plt.Axes:
    """Contours of a 2-D function ``f`` ((M, 2) points -> (M,) values), with optional optimisation paths."""
    ax = ax or plt.subplots()[1]
    xs = torch.linspace(*xlim, resolution)
    ys = torch.linspace(*ylim, resolution)
    grid_x, grid_y = torch.meshgrid(xs, ys, indexing="xy")
    points = torch.stack([grid_x.reshape(-1), grid_y.reshape(-1)], dim=1)
    with torch.no_grad():
        z = f(points).reshape(resolution, resolution).numpy()
    if log_levels:
        z = np.log1p(z - z.min())
    ax.contour(grid_x.numpy(), grid_y.numpy(), z, levels=levels, linewidths=0.6, cmap="Greys")
    for label, path in (paths or {}).items():
        path = _to_numpy(path)
        if path.ndim != 2 or path.shape[1] != 2:
            raise ValueError(f"path {label!r} must have shape (steps, 2), got {path.shape}")
        ax.plot(path[:, 0], path[:, 1], marker="o", markersize=2, linewidth=1.0, label=label)
    ax.set(xlim=xlim, ylim=ylim)
    if paths:
        ax.legend()
    return ax


def show_images(images, *, labels: Sequence[str] | None = None, nrows: int | None = None,
                ncols: int = 8, scale: float = 1.1, cmap: str = "gray") -> plt.Figure:
    """Grid of images: (N, C, H, W) or (N, H, W) tensor/array in [0, 1], optional titles."""
    images = _to_numpy(images)
    if images.ndim == 4:
        if images.shape[1] not in (1, 3):
            raise ValueError(f"images must have 1 or 3 channels in dim 1, got shape {images.shape}")
        images = images.transpose(0, 2, 3, 1)
        if images.shape[-1] == 1:
            images = images[..., 0]
    elif images.ndim != 3:
        raise ValueError(f"images must be (N, C, H, W) or (N, H, W), got shape {images.shape}")
    n = len(images)
    if labels is not None and len(labels) != n:
        raise ValueError(f"got {len(labels)} labels for {n} images")
    ncols = min(ncols, n)
    nrows = nrows or -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(scale * ncols, scale * nrows + 0.2 * (labels is not None)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(np.clip(images[i], 0, 1), cmap=cmap if images[i].ndim == 2 else None)
            if labels is not None:
                ax.set_title(str(labels[i]), fontsize=7)
    fig.tight_layout()
    return fig
