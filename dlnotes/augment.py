"""Data augmentation on whole batches: flips, affine and colour jitter, noise, cutout, mixup, cutmix, mosaic.

Every function takes a batch of images (B, C, H, W), float in [0, 1], and an optional
``torch.Generator``, so a seeded run is repeatable and leaves the global RNG alone. Boxes are
(x1, y1, x2, y2) in continuous pixel coordinates (pixel edges, as torchvision.transforms.v2 treats
them): a box around the pixels with indices x1..x2 spans [x1, x2 + 1).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

GRAY_WEIGHTS = (0.2989, 0.587, 0.114)  # ITU-R 601 luma, the weights torchvision uses for grayscale


# --------------------------------------------------------------------------- checks and random draws
def _check_images(fn: str, images: Tensor) -> None:
    if not isinstance(images, Tensor) or images.ndim != 4 or not images.is_floating_point():
        got = f"shape {tuple(images.shape)}, dtype {images.dtype}" if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"{fn} expects a float batch of images (B, C, H, W), got {got}")


def _check_labels(fn: str, images: Tensor, labels: Tensor, num_classes: int) -> None:
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"{fn}: num_classes must be a positive int, got {num_classes!r}")
    if labels.shape != (images.shape[0],) or labels.is_floating_point():
        raise ValueError(f"{fn} expects integer labels of shape ({images.shape[0]},), got shape "
                         f"{tuple(labels.shape)}, dtype {labels.dtype}")
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"{fn}: labels must lie in [0, {num_classes}), got values outside that range")


def _uniform(n: int, low: float, high: float, generator: torch.Generator | None) -> Tensor:
    """(n,) float32 uniform in [low, high)."""
    return low + (high - low) * torch.rand(n, generator=generator)


def _beta(alpha: float, generator: torch.Generator | None) -> float:
    """One draw of Beta(alpha, alpha), seeded from `generator` (torch's Beta sampler takes no generator)."""
    if not alpha > 0:
        raise ValueError(f"alpha must be positive (Beta(alpha, alpha) parameter), got {alpha!r}")
    seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
    return float(np.random.default_rng(seed).beta(alpha, alpha))


# --------------------------------------------------------------------------- geometric and photometric jitter
def check_probability(name: str, p: float) -> None:
    """ValueError unless p lies in [0, 1]; shared by the random transforms here and in dlnotes.ssl.views."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {p!r}")


def random_hflip(images: Tensor, *, p: float = 0.5, generator: torch.Generator | None = None) -> Tensor:
    """Flip each image left-right with probability p: (B, C, H, W) -> (B, C, H, W)."""
    _check_images("random_hflip", images)
    check_probability("p", p)
    flip = torch.rand(images.shape[0], generator=generator) < p  # (B,)
    return torch.where(flip[:, None, None, None].to(images.device), images.flip(-1), images)


def affine(images: Tensor, *, angle: Tensor, shift: Tensor, zoom: Tensor, padding_mode: str = "border") -> Tensor:
    """Rotate each image by angle (B,) degrees counter-clockwise, zoom by zoom (B,), shift by shift (B, 2) pixels (x, y).

    (B, C, H, W) -> (B, C, H, W), bilinear, about the image centre; zoom > 1 enlarges (a centre crop).
    One affine_grid + grid_sample call for the whole batch.
    """
    _check_images("affine", images)
    b, _, h, w = images.shape
    if angle.shape != (b,) or zoom.shape != (b,) or shift.shape != (b, 2):
        raise ValueError(f"affine expects angle ({b},), shift ({b}, 2) and zoom ({b},), got "
                         f"{tuple(angle.shape)}, {tuple(shift.shape)} and {tuple(zoom.shape)}")
    if not bool((zoom > 0).all()):
        raise ValueError("zoom factors must be positive")
    rad = torch.deg2rad(angle.double())
    cos, sin = torch.cos(rad), torch.sin(rad)
    z = zoom.double()
    # theta maps each output location to where it samples the input, in grid units ([-1, 1] spans the
    # image): the inverse of "rotate (counter-clockwise on screen), zoom, then shift"
    tx, ty = 2 * shift[:, 0].double() / w, 2 * shift[:, 1].double() / h
    a11, a12, a21, a22 = cos / z, -sin * h / (w * z), sin * w / (h * z), cos / z
    theta = torch.stack([torch.stack([a11, a12, -(a11 * tx + a12 * ty)], 1),
                         torch.stack([a21, a22, -(a21 * tx + a22 * ty)], 1)], 1).to(images)  # (B, 2, 3)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)


def random_affine(images: Tensor, *, degrees: float = 0.0, translate: float = 0.0,
                  scale: tuple[float, float] = (1.0, 1.0), padding_mode: str = "border",
                  generator: torch.Generator | None = None) -> Tensor:
    """Per-image random rotation (+-degrees), shift (+-translate * size) and zoom (scale > 1 zooms in, a crop)."""
    _check_images("random_affine", images)
    if degrees < 0 or not 0 <= translate <= 1 or not 0 < scale[0] <= scale[1]:
        raise ValueError(f"need degrees >= 0, 0 <= translate <= 1 and 0 < scale[0] <= scale[1], "
                         f"got degrees={degrees!r}, translate={translate!r}, scale={scale!r}")
    b, _, h, w = images.shape
    angle = _uniform(b, -degrees, degrees, generator)
    zoom = _uniform(b, scale[0], scale[1], generator)
    shift = _uniform(2 * b, -translate, translate, generator).reshape(b, 2) * torch.tensor([w, h])
    return affine(images, angle=angle, shift=shift, zoom=zoom, padding_mode=padding_mode)


def grayscale(images: Tensor) -> Tensor:
    """(B, 3, H, W) -> (B, 1, H, W) luma with the ITU-R 601 weights."""
    _check_images("grayscale", images)
    if images.shape[1] != 3:
        raise ValueError(f"grayscale expects 3 channels (RGB), got {images.shape[1]}")
    w = torch.tensor(GRAY_WEIGHTS, dtype=images.dtype, device=images.device)
    return (images * w[:, None, None]).sum(1, keepdim=True)


def adjust_color(images: Tensor, *, brightness: Tensor | float = 1.0, contrast: Tensor | float = 1.0,
                 saturation: Tensor | float = 1.0) -> Tensor:
    """Brightness, then contrast, then saturation factors (scalars or (B,)) as torchvision's adjust_*; clamped to [0, 1]."""
    _check_images("adjust_color", images)

    def per_image(f):
        return torch.as_tensor(f, dtype=images.dtype, device=images.device).reshape(-1, 1, 1, 1)

    x = (images * per_image(brightness)).clamp(0, 1)
    mean = grayscale(x).mean(dim=(1, 2, 3), keepdim=True)  # contrast pivots on the mean luma
    x = (mean + per_image(contrast) * (x - mean)).clamp(0, 1)
    gray = grayscale(x)
    return (gray + per_image(saturation) * (x - gray)).clamp(0, 1)


def random_color_jitter(images: Tensor, *, brightness: float = 0.0, contrast: float = 0.0,
                        saturation: float = 0.0, generator: torch.Generator | None = None) -> Tensor:
    """Per-image factors uniform in [1 - s, 1 + s] for each strength s: (B, 3, H, W) -> (B, 3, H, W)."""
    _check_images("random_color_jitter", images)
    if min(brightness, contrast, saturation) < 0:
        raise ValueError("colour jitter strengths must be >= 0, got "
                         f"brightness={brightness!r}, contrast={contrast!r}, saturation={saturation!r}")
    b = images.shape[0]
    factors = [_uniform(b, 1 - s, 1 + s, generator) for s in (brightness, contrast, saturation)]
    return adjust_color(images, brightness=factors[0], contrast=factors[1], saturation=factors[2])


def gaussian_noise(images: Tensor, *, std: float, generator: torch.Generator | None = None) -> Tensor:
    """Add N(0, std^2) to every pixel and clamp to [0, 1]: (B, C, H, W) -> (B, C, H, W)."""
    _check_images("gaussian_noise", images)
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std!r}")
    noise = torch.randn(images.shape, generator=generator).to(images)
    return (images + std * noise).clamp(0, 1)


# --------------------------------------------------------------------------- cutout, mixup, cutmix
def cutout(images: Tensor, *, size: int, value: float = 0.0,
           generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Cutout (DeVries & Taylor 2017): fill one size x size square per image, its centre anywhere in the image.

    Returns (images (B, C, H, W), boxes (B, 4) int64 x1, y1, x2, y2 of the filled region, x2/y2 exclusive;
    squares near a border are clipped, so they can be smaller).
    """
    _check_images("cutout", images)
    b, _, h, w = images.shape
    if not isinstance(size, int) or not 0 < size <= min(h, w):
        raise ValueError(f"size must be an int in [1, {min(h, w)}], got {size!r}")
    cy = torch.randint(h, (b,), generator=generator)
    cx = torch.randint(w, (b,), generator=generator)
    y1, x1 = (cy - size // 2).clamp(0, h), (cx - size // 2).clamp(0, w)
    y2, x2 = (cy - size // 2 + size).clamp(0, h), (cx - size // 2 + size).clamp(0, w)
    rows, cols = torch.arange(h)[None, :, None], torch.arange(w)[None, None, :]
    inside = ((rows >= y1[:, None, None]) & (rows < y2[:, None, None])
              & (cols >= x1[:, None, None]) & (cols < x2[:, None, None]))  # (B, H, W)
    out = images.masked_fill(inside[:, None].to(images.device), value)
    return out, torch.stack([x1, y1, x2, y2], dim=1)


def _pairing(fn: str, n: int, perm: Tensor | None, generator: torch.Generator | None) -> Tensor:
    """The partner of each sample: a given permutation, or a random one."""
    if perm is None:
        return torch.randperm(n, generator=generator)
    if sorted(perm.tolist()) != list(range(n)):
        raise ValueError(f"{fn}: perm must be a permutation of range({n})")
    return perm


def mixup(images: Tensor, labels: Tensor, *, num_classes: int, alpha: float = 1.0, lam: float | None = None,
          perm: Tensor | None = None, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Mixup (Zhang et al. 2018): lam * x + (1 - lam) * x[perm], same for one-hot labels; lam ~ Beta(alpha, alpha).

    Returns (images (B, C, H, W), soft labels (B, num_classes)).
    """
    _check_images("mixup", images)
    _check_labels("mixup", images, labels, num_classes)
    lam = _beta(alpha, generator) if lam is None else float(lam)
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must lie in [0, 1], got {lam!r}")
    perm = _pairing("mixup", len(labels), perm, generator).to(images.device)
    y = F.one_hot(labels, num_classes).to(images.dtype)
    return lam * images + (1 - lam) * images[perm], lam * y + (1 - lam) * y[perm]


def cutmix_box(height: int, width: int, *, lam: float, generator: torch.Generator | None = None
               ) -> tuple[int, int, int, int]:
    """CutMix's box (Yun et al. 2019): about (1 - lam) of the area, uniform centre, clipped; (x1, y1, x2, y2), ends exclusive."""
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must lie in [0, 1], got {lam!r}")
    r = math.sqrt(1.0 - lam)
    half_w, half_h = int(r * width / 2), int(r * height / 2)
    cx = int(torch.randint(width, (1,), generator=generator))
    cy = int(torch.randint(height, (1,), generator=generator))
    return max(cx - half_w, 0), max(cy - half_h, 0), min(cx + half_w, width), min(cy + half_h, height)


def cutmix(images: Tensor, labels: Tensor, *, num_classes: int, alpha: float = 1.0,
           box: tuple[int, int, int, int] | None = None, perm: Tensor | None = None,
           generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """CutMix: paste the box of x[perm] into x; the label weight of the partner is the pasted area fraction.

    Returns (images (B, C, H, W), soft labels (B, num_classes)); one box for the whole batch, as in the paper.
    """
    _check_images("cutmix", images)
    _check_labels("cutmix", images, labels, num_classes)
    h, w = images.shape[-2:]
    if box is None:
        box = cutmix_box(h, w, lam=_beta(alpha, generator), generator=generator)
    x1, y1, x2, y2 = box
    if not (0 <= x1 <= x2 <= w and 0 <= y1 <= y2 <= h):
        raise ValueError(f"box must satisfy 0 <= x1 <= x2 <= {w} and 0 <= y1 <= y2 <= {h}, got {box}")
    perm = _pairing("cutmix", len(labels), perm, generator).to(images.device)
    out = images.clone()
    out[..., y1:y2, x1:x2] = images[perm][..., y1:y2, x1:x2]
    lam = 1.0 - (x2 - x1) * (y2 - y1) / (h * w)  # the fraction of the image that stays
    y = F.one_hot(labels, num_classes).to(images.dtype)
    return out, lam * y + (1 - lam) * y[perm]


# --------------------------------------------------------------------------- mosaic
def mosaic(images: Tensor, boxes: list[Tensor], *, out_size: int, center: tuple[int, int] | None = None,
           masks: Tensor | None = None, generator: torch.Generator | None = None
           ) -> tuple[Tensor, Tensor, Tensor | None]:
    """Mosaic (YOLOv4, Bochkovskiy et al. 2020): 4 images resized into the 4 quadrants around a random centre.

    images (4, C, H, W); boxes: 4 tensors (k_i, 4) in pixel-edge coordinates; masks (4, H, W) bool or None.
    Returns (canvas (C, S, S), boxes (sum k_i, 4) moved with their image, masks (4, S, S) or None).
    Unlike YOLO's version nothing is cropped: every image is scaled to its quadrant, so every box survives whole.
    """
    _check_images("mosaic", images)
    if images.shape[0] != 4 or len(boxes) != 4:
        raise ValueError(f"mosaic expects 4 images and 4 box tensors, got {images.shape[0]} and {len(boxes)}")
    if masks is not None and (masks.shape[0] != 4 or masks.shape[-2:] != images.shape[-2:]):
        raise ValueError(f"masks must have shape (4, H, W) = (4, {images.shape[-2]}, {images.shape[-1]}), "
                         f"got {tuple(masks.shape)}")
    s = out_size
    if center is None:  # keep every quadrant at least a quarter of the side
        center = tuple(int(v) for v in torch.randint(s // 4, 3 * s // 4 + 1, (2,), generator=generator))
    cx, cy = center
    if not (0 < cx < s and 0 < cy < s):
        raise ValueError(f"center must lie strictly inside the {s} x {s} canvas, got {center}")
    _, c, h, w = images.shape
    canvas = images.new_zeros(c, s, s)
    out_masks = None if masks is None else torch.zeros(4, s, s, dtype=torch.bool, device=masks.device)
    out_boxes = []
    # quadrant (x0, y0, x1, y1) for the top-left, top-right, bottom-left and bottom-right image
    quadrants = [(0, 0, cx, cy), (cx, 0, s, cy), (0, cy, cx, s), (cx, cy, s, s)]
    for i, (x0, y0, x1, y1) in enumerate(quadrants):
        qw, qh = x1 - x0, y1 - y0
        canvas[:, y0:y1, x0:x1] = F.interpolate(images[i:i + 1], size=(qh, qw), mode="bilinear",
                                                antialias=True, align_corners=False)[0]
        if masks is not None:  # nearest-exact: an output pixel takes the source pixel under its centre
            m = F.interpolate(masks[i:i + 1, None].float(), size=(qh, qw), mode="nearest-exact")
            out_masks[i, y0:y1, x0:x1] = m[0, 0] > 0.5
        scale = torch.tensor([qw / w, qh / h, qw / w, qh / h], dtype=boxes[i].dtype)
        offset = torch.tensor([x0, y0, x0, y0], dtype=boxes[i].dtype)
        out_boxes.append(boxes[i].reshape(-1, 4) * scale + offset)
    return canvas, torch.cat(out_boxes), out_masks
