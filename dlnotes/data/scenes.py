"""Scenes for detection: several shapes pasted onto one canvas, with a box, a label and a mask per object.

Each object is drawn by `make_shapes` on a small tile; the pixels of its mask are pasted onto a dark,
noisy canvas at a random place where its box overlaps no box pasted before it (rejection sampling).
Boxes are xyxy in pixel edges: (x1, y1) is the top-left corner of the first covered pixel and
(x2, y2) the bottom-right corner of the last one, so x2 - x1 is the number of pixel columns covered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from .shapes import SHAPE_CLASSES, _check_args, make_shapes

_BACKGROUND_MAX = 0.25  # canvas color per channel, uniform in [0, 0.25], as in make_shapes
_TRIES = 50  # random placements tried per object before it is left out


@dataclass(frozen=True, eq=False, repr=False)
class Scenes:
    """n scenes: images (N, 3, S, S) in [0, 1]; per image boxes (k, 4) xyxy, labels (k,), masks (k, S, S)."""

    images: Tensor  # (N, 3, S, S) float32 in [0, 1]
    boxes: tuple[Tensor, ...]  # N tensors (k_i, 4) float32, xyxy in pixel edges
    labels: tuple[Tensor, ...]  # N tensors (k_i,) int64, index into `classes`
    masks: tuple[Tensor, ...]  # N tensors (k_i, S, S) bool, the pixels of each pasted object
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return self.images.shape[0]

    def __repr__(self) -> str:
        n, _, h, w = self.images.shape
        objects = sum(len(b) for b in self.boxes)
        return f"Scenes(n={n}, image_size={h}x{w}, objects={objects}, classes={self.classes})"


def make_scenes(
    n: int,
    *,
    image_size: int = 64,
    max_objects: int = 3,
    seed: int = 0,
    classes: Sequence[str] = SHAPE_CLASSES,
    tile_size: int | None = None,
    noise: float = 0.05,
) -> Scenes:
    """n scenes (n, 3, S, S) with 1..max_objects non-overlapping shapes each; tiles default to S // 2 pixels."""
    tile = image_size // 2 if tile_size is None else tile_size
    classes = _check_scene_args(n, image_size, max_objects, seed, classes, tile, noise)
    g = torch.Generator().manual_seed(seed)
    counts = torch.randint(1, max_objects + 1, (n,), generator=g)  # objects wanted per scene
    shapes = make_shapes(n * max_objects, image_size=tile, seed=seed, classes=classes, noise=0.0)
    background = _BACKGROUND_MAX * torch.rand(n, 3, 1, 1, generator=g)
    images = (background + noise * torch.randn(n, 3, image_size, image_size, generator=g)).clamp_(0.0, 1.0)
    # tile k of scene i is shape i * max_objects + k; its mask cropped to its own box
    crops = shapes.boxes.long().tolist()  # inclusive pixel indices (x1, y1, x2, y2)
    corners = torch.rand(n, max_objects, _TRIES, 2, generator=g)  # candidate places, as fractions of the free room
    all_boxes, all_labels, all_masks = [], [], []
    for i in range(n):
        boxes, labels, masks = [], [], []
        for k in range(int(counts[i])):
            j = i * max_objects + k
            x1, y1, x2, y2 = crops[j]
            w, h = x2 - x1 + 1, y2 - y1 + 1
            for fx, fy in corners[i, k].tolist():
                px, py = int(fx * (image_size - w + 1)), int(fy * (image_size - h + 1))  # top-left corner
                box = (px, py, px + w, py + h)
                if all(box[2] <= b[0] or b[2] <= box[0] or box[3] <= b[1] or b[3] <= box[1] for b in boxes):
                    break
            else:  # no free place found: leave the object out (only crowded settings get here)
                continue
            mask = torch.zeros(image_size, image_size, dtype=torch.bool)
            mask[py:py + h, px:px + w] = shapes.masks[j, y1:y2 + 1, x1:x2 + 1]
            color = shapes.images[j, :, y1:y2 + 1, x1:x2 + 1]  # (3, h, w), the shape's own color on its mask
            images[i][:, mask] = color[:, shapes.masks[j, y1:y2 + 1, x1:x2 + 1]]
            boxes.append(box)
            labels.append(int(shapes.labels[j]))
            masks.append(mask)
        all_boxes.append(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4))
        all_labels.append(torch.tensor(labels, dtype=torch.int64))
        all_masks.append(torch.stack(masks))
    return Scenes(images=images, boxes=tuple(all_boxes), labels=tuple(all_labels), masks=tuple(all_masks),
                  classes=classes)


def _check_scene_args(n, image_size, max_objects, seed, classes, tile, noise) -> tuple[str, ...]:
    """Validate make_scenes' arguments; return `classes` as a tuple."""
    if not isinstance(image_size, int) or isinstance(image_size, bool) or not 32 <= image_size <= 256:
        raise ValueError(f"image_size must be an int in [32, 256], got {image_size!r}")
    if not isinstance(max_objects, int) or isinstance(max_objects, bool) or not 1 <= max_objects <= 10:
        raise ValueError(f"max_objects must be an int in [1, 10], got {max_objects!r}")
    if not isinstance(tile, int) or isinstance(tile, bool) or not 16 <= tile <= image_size:
        raise ValueError(f"tile_size must be an int in [16, image_size={image_size}], got {tile!r}")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive int (number of scenes), got {n!r}")
    return _check_args(n, tile, seed, classes, noise)
