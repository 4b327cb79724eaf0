"""Random views of a batch of images for self-supervised learning: SimCLR's two views, DINO's multi-crop.

Every function takes images (N, 3, H, W), float in [0, 1], and an optional ``torch.Generator``: a seeded
generator gives the same views every time and leaves the global RNG alone. Each image gets its own random
parameters, but the work is done for the whole batch at once (one ``affine_grid`` + ``grid_sample`` for all
the crops, one grouped convolution for all the blurs). Flips and colour jitter come from `dlnotes.augment`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
from torch import Tensor
from torch.nn import functional as F

from dlnotes import augment

# the 6 orderings of (R, G, B): a random one recolours a shape without changing it
_PERMUTATIONS = torch.tensor([[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]])


def _check_rgb(fn: str, images: Tensor) -> None:
    augment._check_images(fn, images)
    if images.shape[1] != 3:
        raise ValueError(f"{fn} expects RGB images (N, 3, H, W), got shape {tuple(images.shape)}")


def _chosen(n: int, p: float, generator: torch.Generator | None) -> Tensor:
    """(n, 1, 1, 1) bool: which images get a transform applied with probability p."""
    return (torch.rand(n, generator=generator) < p)[:, None, None, None]


# --------------------------------------------------------------------------- geometry
def crop_and_resize(images: Tensor, boxes: Tensor, *, size: int) -> Tensor:
    """Crop box i of image i and resize it to size x size, bilinear: (N, C, H, W), boxes (N, 4) -> (N, C, size, size).

    Boxes are (x1, y1, x2, y2) in pixel-edge coordinates (the whole image is (0, 0, W, H)), need not be
    integers, and may not leave the image. One affine_grid + grid_sample for the whole batch.
    """
    augment._check_images("crop_and_resize", images)
    n, c, h, w = images.shape
    if not (isinstance(size, int) and size >= 1):
        raise ValueError(f"size must be a positive int, got {size!r}")
    if not isinstance(boxes, Tensor) or boxes.shape != (n, 4):
        raise ValueError(f"boxes must be a tensor ({n}, 4) of (x1, y1, x2, y2), got {getattr(boxes, 'shape', boxes)}")
    x1, y1, x2, y2 = boxes.double().unbind(1)
    eps = 1e-6
    if not bool(((x1 >= -eps) & (y1 >= -eps) & (x2 <= w + eps) & (y2 <= h + eps) & (x2 > x1) & (y2 > y1)).all()):
        raise ValueError(f"boxes must satisfy 0 <= x1 < x2 <= {w} and 0 <= y1 < y2 <= {h}")
    # theta maps output grid units to input grid units ([-1, 1] spans the image): scale by the box's
    # share of the image, shift to the box's centre
    zero = torch.zeros_like(x1)
    theta = torch.stack([torch.stack([(x2 - x1) / w, zero, (x1 + x2) / w - 1], 1),
                         torch.stack([zero, (y2 - y1) / h, (y1 + y2) / h - 1], 1)], 1)  # (N, 2, 3)
    grid = F.affine_grid(theta.to(images), [n, c, size, size], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def random_resized_crop(images: Tensor, *, size: int, scale: tuple[float, float] = (0.2, 1.0),
                        ratio: tuple[float, float] = (3 / 4, 4 / 3),
                        generator: torch.Generator | None = None) -> Tensor:
    """A random crop of each image, resized to size x size: (N, C, H, W) -> (N, C, size, size).

    Area fraction uniform in ``scale``, aspect ratio (width / height) log-uniform in ``ratio``, as in
    torchvision's RandomResizedCrop; a side longer than the image is clipped, and the crop lies inside it.
    """
    augment._check_images("random_resized_crop", images)
    if not 0 < scale[0] <= scale[1] <= 1 or not 0 < ratio[0] <= ratio[1]:
        raise ValueError(f"need 0 < scale[0] <= scale[1] <= 1 and 0 < ratio[0] <= ratio[1], "
                         f"got scale={scale!r}, ratio={ratio!r}")
    n, _, h, w = images.shape
    area = augment._uniform(n, scale[0], scale[1], generator)  # (N,) fraction of the image
    aspect = augment._uniform(n, math.log(ratio[0]), math.log(ratio[1]), generator).exp()
    crop_w = (area * aspect).sqrt().clamp(max=1.0) * w  # pixels
    crop_h = (area / aspect).sqrt().clamp(max=1.0) * h
    x1 = torch.rand(n, generator=generator) * (w - crop_w)  # anywhere that keeps the crop inside
    y1 = torch.rand(n, generator=generator) * (h - crop_h)
    boxes = torch.stack([x1, y1, x1 + crop_w, y1 + crop_h], 1)
    return crop_and_resize(images, boxes, size=size)


# --------------------------------------------------------------------------- colour
def random_channel_permutation(images: Tensor, *, p: float = 0.5, generator: torch.Generator | None = None) -> Tensor:
    """With probability p, reorder each image's (R, G, B) by one of the 6 permutations: (N, 3, H, W)."""
    _check_rgb("random_channel_permutation", images)
    augment.check_probability("p", p)
    n = images.shape[0]
    perm = _PERMUTATIONS[torch.randint(6, (n,), generator=generator)].to(images.device)  # (N, 3)
    permuted = images[torch.arange(n, device=images.device)[:, None], perm]  # (N, 3, H, W)
    return torch.where(_chosen(n, p, generator).to(images.device), permuted, images)


def random_grayscale(images: Tensor, *, p: float = 0.2, generator: torch.Generator | None = None) -> Tensor:
    """With probability p, replace an image by its luma, repeated on the 3 channels: (N, 3, H, W)."""
    _check_rgb("random_grayscale", images)
    augment.check_probability("p", p)
    gray = augment.grayscale(images).expand_as(images)
    return torch.where(_chosen(images.shape[0], p, generator).to(images.device), gray, images)


def random_color_jitter(images: Tensor, *, p: float = 0.8, brightness: float = 0.4, contrast: float = 0.4,
                        saturation: float = 0.4, generator: torch.Generator | None = None) -> Tensor:
    """With probability p, dlnotes.augment.random_color_jitter (brightness, contrast, saturation factors)."""
    _check_rgb("random_color_jitter", images)
    augment.check_probability("p", p)
    jittered = augment.random_color_jitter(images, brightness=brightness, contrast=contrast,
                                           saturation=saturation, generator=generator)
    return torch.where(_chosen(images.shape[0], p, generator).to(images.device), jittered, images)


def gaussian_blur(images: Tensor, sigma: Tensor, *, kernel_size: int = 5) -> Tensor:
    """Blur image i with a Gaussian of std sigma[i] pixels: (N, C, H, W), sigma (N,) -> (N, C, H, W).

    Separable (a row pass then a column pass) and reflect-padded, for all images in one grouped conv.
    """
    augment._check_images("gaussian_blur", images)
    n, c, h, w = images.shape
    if kernel_size < 1 or kernel_size % 2 == 0 or kernel_size // 2 >= min(h, w):
        raise ValueError(f"kernel_size must be odd, >= 1 and smaller than twice the image side, got {kernel_size}")
    if sigma.shape != (n,) or not bool((sigma > 0).all()):
        raise ValueError(f"sigma must be ({n},) positive standard deviations, got shape {tuple(sigma.shape)}")
    x = torch.arange(kernel_size, dtype=images.dtype, device=images.device) - kernel_size // 2
    kernel = torch.exp(-x[None] ** 2 / (2 * sigma.to(images)[:, None] ** 2))  # (N, k)
    kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (N * C, k)
    pad = kernel_size // 2
    x = F.pad(images.reshape(1, n * c, h, w), (pad, pad, pad, pad), mode="reflect")  # one image, N*C channels
    x = F.conv2d(x, kernel[:, None, None, :], groups=n * c)  # along rows
    x = F.conv2d(x, kernel[:, None, :, None], groups=n * c)  # along columns
    return x.reshape(n, c, h, w)


def random_gaussian_blur(images: Tensor, *, p: float = 0.5, sigma: tuple[float, float] = (0.1, 1.0),
                         kernel_size: int = 5, generator: torch.Generator | None = None) -> Tensor:
    """With probability p, blur with sigma uniform in ``sigma`` (pixels): (N, C, H, W)."""
    augment.check_probability("p", p)
    if not 0 < sigma[0] <= sigma[1]:
        raise ValueError(f"need 0 < sigma[0] <= sigma[1], got {sigma!r}")
    n = images.shape[0]
    chosen = _chosen(n, p, generator)  # drawn first, so the draw order does not depend on p
    s = augment._uniform(n, sigma[0], sigma[1], generator)
    if p == 0:
        return images
    return torch.where(chosen.to(images.device), gaussian_blur(images, s, kernel_size=kernel_size), images)


# --------------------------------------------------------------------------- the view pipeline
@dataclass(frozen=True)
class ViewConfig:
    """Strengths of the augmentations in one view; a probability of 0 switches one off (for ablations).

    The defaults are the recipe measured on shapes (issue 13): crops that keep most of the object, flips,
    brightness/contrast/saturation jitter, channel permutation (colour says nothing about the shape) and grey.
    """

    size: int = 32
    scale: tuple[float, float] = (0.3, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    jitter_p: float = 0.8
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    channel_perm_p: float = 0.5
    gray_p: float = 0.2
    blur_p: float = 0.0
    blur_sigma: tuple[float, float] = (0.1, 1.0)


def random_view(images: Tensor, config: ViewConfig = ViewConfig(), *,
                generator: torch.Generator | None = None) -> Tensor:
    """One random view of every image: crop, flip, colour jitter, channel permutation, grey, blur.

    (N, 3, H, W) in [0, 1] -> (N, 3, config.size, config.size) in [0, 1].
    """
    _check_rgb("random_view", images)
    x = random_resized_crop(images, size=config.size, scale=config.scale, ratio=config.ratio, generator=generator)
    x = augment.random_hflip(x, p=config.flip_p, generator=generator)
    x = random_color_jitter(x, p=config.jitter_p, brightness=config.brightness, contrast=config.contrast,
                            saturation=config.saturation, generator=generator)
    x = random_channel_permutation(x, p=config.channel_perm_p, generator=generator)
    x = random_grayscale(x, p=config.gray_p, generator=generator)
    x = random_gaussian_blur(x, p=config.blur_p, sigma=config.blur_sigma, generator=generator)
    return x.clamp(0.0, 1.0)


def view_config(**overrides) -> ViewConfig:
    """ViewConfig with some fields changed; an unknown name is an error that lists the valid ones."""
    names = {f.name for f in fields(ViewConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"unknown view setting(s) {unknown}; valid ones are {sorted(names)}")
    return ViewConfig(**overrides)


def two_views(images: Tensor, *, generator: torch.Generator | None = None, **config) -> tuple[Tensor, Tensor]:
    """SimCLR's pair (Chen et al. 2020): two independent random views of each image, each (N, 3, size, size).

    ``config``: fields of ViewConfig, e.g. ``two_views(x, scale=(0.2, 1), gray_p=0)``.
    """
    cfg = view_config(**config)
    return random_view(images, cfg, generator=generator), random_view(images, cfg, generator=generator)


def multi_crop(images: Tensor, *, n_global: int = 2, n_local: int = 4, global_size: int = 32, local_size: int = 16,
               global_scale: tuple[float, float] = (0.4, 1.0), local_scale: tuple[float, float] = (0.1, 0.4),
               generator: torch.Generator | None = None, **config) -> list[Tensor]:
    """DINO's multi-crop (Caron et al. 2021): n_global large views, then n_local small ones, as a list of tensors.

    Globals are (N, 3, global_size, global_size), locals (N, 3, local_size, local_size); the other
    augmentations are the ViewConfig fields in ``config``. The teacher sees the globals, the student all views.
    """
    clash = sorted({"size", "scale"} & set(config))
    if clash:
        raise ValueError(f"multi_crop sets {clash} per crop: use global_size, local_size, global_scale, local_scale")
    if n_global < 1 or n_local < 0:
        raise ValueError(f"need n_global >= 1 and n_local >= 0, got {n_global} and {n_local}")
    global_cfg = view_config(size=global_size, scale=global_scale, **config)
    local_cfg = view_config(size=local_size, scale=local_scale, **config)
    return ([random_view(images, global_cfg, generator=generator) for _ in range(n_global)]
            + [random_view(images, local_cfg, generator=generator) for _ in range(n_local)])
