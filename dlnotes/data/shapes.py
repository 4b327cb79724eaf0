"""The "shapes" data set: one coloured geometric shape per image, with its label, box, mask and captions.

Everything is drawn procedurally and vectorized over the batch, so the data set needs no download,
is deterministic given a seed, and is fast enough to regenerate in every notebook.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Sequence

import torch
from torch import Tensor
from torch.nn import functional as F
from torch.utils.data import TensorDataset

SHAPE_CLASSES = ("circle", "square", "triangle", "cross", "star", "ring")
SHAPE_CLASSES_ZH = ("圆形", "正方形", "三角形", "十字", "星形", "圆环")

# colour name -> (RGB in [0, 1], Chinese name); bright and far apart, so a colour is easy to name
COLORS = MappingProxyType({
    "red": ((0.90, 0.10, 0.10), "红色"),
    "green": ((0.10, 0.80, 0.20), "绿色"),
    "blue": ((0.15, 0.35, 1.00), "蓝色"),
    "yellow": ((0.95, 0.90, 0.10), "黄色"),
    "purple": ((0.70, 0.25, 0.95), "紫色"),
    "orange": ((1.00, 0.55, 0.05), "橙色"),
    "cyan": ((0.10, 0.85, 0.90), "青色"),
})

# Size of the shape's circumscribed circle as a fraction of the image side. The two bands leave a
# gap between "small" and "large", so the size word in a caption is never a coin flip.
SIZE_BANDS = {"small": (0.30, 0.45), "large": (0.55, 0.70)}
_SIZE_ZH = {"small": "小", "large": "大"}

# 3x3 grid of positions, indexed [row][column], row 0 at the top of the image
_POSITIONS_EN = (
    ("in the top left", "at the top", "in the top right"),
    ("on the left", "in the centre", "on the right"),
    ("in the bottom left", "at the bottom", "in the bottom right"),
)
_POSITIONS_ZH = (
    ("左上方", "上方", "右上方"),
    ("左侧", "中央", "右侧"),
    ("左下方", "下方", "右下方"),
)

_BACKGROUND_MAX = 0.25  # background channels are uniform in [0, 0.25]: dark, so every colour stands out
_SUPERSAMPLE = 2  # draw at 2x resolution, then average 2x2 blocks (antialiasing)
_CHUNK_PIXELS = 2**22  # high-resolution pixels evaluated at once; bounds memory for large n


# ---------------------------------------------------------------------------------------------
# Shape geometry. (u, v) are coordinates in the shape's own rotated frame, in units of the radius
# of its circumscribed circle: every shape lies inside u^2 + v^2 <= 1, so it fits wherever that
# circle fits. Each function returns a bool tensor "this point is inside the shape".
# ---------------------------------------------------------------------------------------------

_RING_HOLE = 0.55  # inner radius of the ring
_CROSS_HALF_WIDTH = 0.28  # half the thickness of an arm of the cross
_STAR_INNER = 0.45  # radius of the star's inner (concave) corners


def _circle(u: Tensor, v: Tensor) -> Tensor:
    return u * u + v * v <= 1.0


def _ring(u: Tensor, v: Tensor) -> Tensor:
    r2 = u * u + v * v
    return (r2 <= 1.0) & (r2 >= _RING_HOLE**2)


def _square(u: Tensor, v: Tensor) -> Tensor:
    half_side = math.sqrt(0.5)  # corners on the unit circle
    return (u.abs() <= half_side) & (v.abs() <= half_side)


def _cross(u: Tensor, v: Tensor) -> Tensor:
    arm = math.sqrt(1.0 - _CROSS_HALF_WIDTH**2)  # the arm's outer corners on the unit circle
    au, av = u.abs(), v.abs()
    return ((au <= _CROSS_HALF_WIDTH) & (av <= arm)) | ((av <= _CROSS_HALF_WIDTH) & (au <= arm))


def _triangle(u: Tensor, v: Tensor) -> Tensor:
    # equilateral triangle = intersection of 3 half-planes at distance 0.5 (its inradius)
    inside = torch.ones_like(u, dtype=torch.bool)
    for k in range(3):
        a = -math.pi / 2 + 2 * math.pi * k / 3  # outward normal of edge k
        inside &= u * math.cos(a) + v * math.sin(a) <= 0.5
    return inside


def _star(u: Tensor, v: Tensor) -> Tensor:
    # Fold the plane into one wedge of 36 degrees between an outer tip O = (1, 0) and an inner
    # corner I; a point is inside when it is on the centre's side of the edge O -> I.
    wedge = 2 * math.pi / 5
    phi = torch.remainder(torch.atan2(v, u), wedge)
    phi = torch.minimum(phi, wedge - phi)  # angle to the nearest tip, in [0, 36 deg]
    r = torch.sqrt(u * u + v * v)
    px, py = r * torch.cos(phi), r * torch.sin(phi)
    dx, dy = _STAR_INNER * math.cos(wedge / 2) - 1.0, _STAR_INNER * math.sin(wedge / 2)
    return dx * py - dy * (px - 1.0) >= 0.0


_INSIDE: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "circle": _circle,
    "square": _square,
    "triangle": _triangle,
    "cross": _cross,
    "star": _star,
    "ring": _ring,
}


@dataclass(frozen=True, eq=False, repr=False)
class Shapes:
    """A batch of shape images: images (N, 3, H, W) in [0, 1], labels (N,), boxes (N, 4), masks (N, H, W)."""

    images: Tensor  # (N, 3, H, W) float32 in [0, 1]
    labels: Tensor  # (N,) int64, index into `classes`
    boxes: Tensor  # (N, 4) float32, (x1, y1, x2, y2) in pixels, as torchvision.ops.masks_to_boxes
    masks: Tensor  # (N, H, W) bool, the pixels that belong to the shape
    colors: tuple[str, ...]  # colour name (a key of COLORS) per image
    captions_en: tuple[str, ...]
    captions_zh: tuple[str, ...]
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return self.images.shape[0]

    def __repr__(self) -> str:
        n, _, h, w = self.images.shape
        return f"Shapes(n={n}, image_size={h}x{w}, classes={self.classes})"

    def dataset(self) -> TensorDataset:
        """A TensorDataset of (image (3, H, W), label) pairs."""
        return TensorDataset(self.images, self.labels)


def make_shapes(
    n: int,
    *,
    image_size: int = 32,
    seed: int = 0,
    classes: Sequence[str] = SHAPE_CLASSES,
    noise: float = 0.05,
    random_angle: bool = True,
) -> Shapes:
    """Draw n images (n, 3, image_size, image_size), one random shape each, balanced over `classes`.

    random_angle=False draws every shape at angle 0 (the same images otherwise: the angles are still drawn,
    then ignored), so that orientation carries information, e.g. for the rotation pretext task of chapter 6.
    """
    classes = _check_args(n, image_size, seed, classes, noise)
    size = image_size
    g = torch.Generator().manual_seed(seed)

    # --- random parameters of every image (the draw order is part of the seed's meaning) ---
    labels = (torch.arange(n) % len(classes))[torch.randperm(n, generator=g)]  # balanced, shuffled
    large = torch.rand(n, generator=g) < 0.5
    low = torch.where(large, SIZE_BANDS["large"][0], SIZE_BANDS["small"][0])
    band = SIZE_BANDS["small"][1] - SIZE_BANDS["small"][0]
    radius = (low + band * torch.rand(n, generator=g)) * size / 2  # circumscribed radius, pixels
    angle = 2 * math.pi * torch.rand(n, generator=g)
    if not random_angle:
        angle = torch.zeros_like(angle)
    cx = radius + torch.rand(n, generator=g) * (size - 2 * radius)  # whole shape inside the image
    cy = radius + torch.rand(n, generator=g) * (size - 2 * radius)
    color_idx = torch.randint(len(COLORS), (n,), generator=g)
    background = _BACKGROUND_MAX * torch.rand(n, 3, generator=g)

    # --- coverage: fraction of each pixel covered by the shape, (n, H, W) in [0, 1] ---
    coverage = _coverage(labels, classes, cx, cy, radius, angle, size)

    # --- paint: background, then the shape blended in by its coverage, then noise ---
    palette = torch.tensor([rgb for rgb, _ in COLORS.values()], dtype=torch.float32)
    fg = palette[color_idx][:, :, None, None]  # (n, 3, 1, 1)
    bg = background[:, :, None, None]  # (n, 3, 1, 1)
    alpha = coverage[:, None]  # (n, 1, H, W)
    shape = (n, 3, size, size)
    images = torch.randn(shape, generator=g).mul_(noise) if noise > 0 else torch.zeros(shape)
    images.add_(bg).addcmul_(fg - bg, alpha).clamp_(0.0, 1.0)  # noise + bg + (fg - bg) * alpha, in place

    # --- annotations derived from the drawing ---
    masks = coverage >= 0.5  # pixels at least half covered
    empty = ~masks.flatten(1).any(1)
    if empty.any():  # only tiny shapes at image_size 16 can miss every half-covered pixel
        peak = coverage[empty].flatten(1).amax(1)[:, None, None]
        masks[empty] = coverage[empty] >= peak
    boxes = _masks_to_boxes(masks)
    colors = tuple(list(COLORS)[i] for i in color_idx.tolist())
    captions_en, captions_zh = _captions(labels, classes, colors, large, cx, cy, size)

    return Shapes(
        images=images,
        labels=labels,
        boxes=boxes,
        masks=masks,
        colors=colors,
        captions_en=captions_en,
        captions_zh=captions_zh,
        classes=classes,
    )


def _coverage(
    labels: Tensor, classes: tuple[str, ...], cx: Tensor, cy: Tensor, radius: Tensor, angle: Tensor, size: int
) -> Tensor:
    """Antialiased coverage (n, size, size) in [0, 1], drawn at _SUPERSAMPLE x resolution."""
    s = _SUPERSAMPLE
    sub = (torch.arange(size * s, dtype=torch.float32) + 0.5) / s  # sub-pixel centres, in pixels
    coverage = torch.zeros(len(labels), size, size)
    chunk = max(1, _CHUNK_PIXELS // (size * s) ** 2)
    for c, name in enumerate(classes):
        members = (labels == c).nonzero().squeeze(1)
        for idx in members.split(chunk):
            # pixel offsets from the centre, rotated into the shape's frame, in units of its radius
            dx = sub[None, None, :] - cx[idx, None, None]  # (B, 1, W')
            dy = sub[None, :, None] - cy[idx, None, None]  # (B, H', 1)
            cos = (torch.cos(angle[idx]) / radius[idx])[:, None, None]  # (B, 1, 1)
            sin = (torch.sin(angle[idx]) / radius[idx])[:, None, None]
            u = dx * cos + dy * sin  # (B, H', W')
            v = dy * cos - dx * sin
            inside = _INSIDE[name](u, v).float()[:, None]  # (B, 1, H', W')
            coverage[idx] = F.avg_pool2d(inside, s)[:, 0]  # (B, H, W)
    return coverage


def _masks_to_boxes(masks: Tensor) -> Tensor:
    """(N, H, W) bool, each non-empty -> (N, 4) float32 (x1, y1, x2, y2), inclusive pixel indices."""
    cols = masks.any(dim=1)  # (N, W): columns that contain the shape
    rows = masks.any(dim=2)  # (N, H)
    w, h = cols.shape[1], rows.shape[1]
    x1 = cols.int().argmax(1)  # first True
    x2 = w - 1 - cols.flip(1).int().argmax(1)  # last True
    y1 = rows.int().argmax(1)
    y2 = h - 1 - rows.flip(1).int().argmax(1)
    return torch.stack([x1, y1, x2, y2], dim=1).float()


def _captions(
    labels: Tensor,
    classes: tuple[str, ...],
    colors: tuple[str, ...],
    large: Tensor,
    cx: Tensor,
    cy: Tensor,
    size: int,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """English and Chinese captions: size, colour, class and 3x3-grid position of each shape."""
    zh_name = dict(zip(SHAPE_CLASSES, SHAPE_CLASSES_ZH))
    col = (3 * cx / size).floor().clamp(0, 2).long().tolist()
    row = (3 * cy / size).floor().clamp(0, 2).long().tolist()
    en, zh = [], []
    for label, color, is_large, r, c in zip(labels.tolist(), colors, large.tolist(), row, col):
        name = classes[label]
        size_word = "large" if is_large else "small"
        en.append(f"a {size_word} {color} {name} {_POSITIONS_EN[r][c]}")
        zh.append(f"{_POSITIONS_ZH[r][c]}的一个{COLORS[color][1]}{_SIZE_ZH[size_word]}{zh_name[name]}")
    return tuple(en), tuple(zh)


def _check_args(n: int, image_size: int, seed: int, classes: Sequence[str], noise: float) -> tuple[str, ...]:
    """Validate make_shapes' arguments; return `classes` as a tuple."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive int (number of images), got {n!r}")
    if not isinstance(image_size, int) or isinstance(image_size, bool) or not 16 <= image_size <= 256:
        raise ValueError(f"image_size must be an int in [16, 256], got {image_size!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if isinstance(classes, str):
        raise ValueError(f"classes must be a sequence of class names such as ('circle', 'ring'), got the string {classes!r}")
    classes = tuple(classes)
    if not classes:
        raise ValueError(f"classes must name at least one class; valid classes are {SHAPE_CLASSES}")
    unknown = [c for c in classes if c not in SHAPE_CLASSES]
    if unknown:
        raise ValueError(f"unknown shape class(es) {unknown}; valid classes are {SHAPE_CLASSES}")
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes must not repeat a class, got {classes}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not math.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite float >= 0 (std of the pixel noise), got {noise!r}")
    return classes
