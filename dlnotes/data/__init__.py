"""Data for the book: one entry point, `load(name)`, and `loader(dataset)` for reproducible batches.

"digits" and "shapes" are offline (scikit-learn's digits, procedurally drawn shapes); "mnist",
"fashion-mnist" and "cifar10" come through torchvision and are downloaded only with download=True.
Sequence data lives in submodules: `sequences` (sine waves, the adding problem, the copy task, delayed recall),
`translation` (numbers and dates in English and Chinese) and `tokenizer` (a character / word vocabulary).
Importing this package is cheap: scikit-learn and torchvision are imported when first needed.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from .digits import digits_tensors
from .real import DatasetUnavailable, load_real
from .shapes import COLORS, SHAPE_CLASSES, SHAPE_CLASSES_ZH, Shapes, make_shapes
from .synthetic import make_regression

__all__ = [
    "DATASETS",
    "load",
    "loader",
    "make_shapes",
    "Shapes",
    "SHAPE_CLASSES",
    "SHAPE_CLASSES_ZH",
    "COLORS",
    "digits_tensors",
    "make_regression",
    "DatasetUnavailable",
    "load_real",
]

DATASETS = ("digits", "shapes", "mnist", "fashion-mnist", "cifar10")

# options each offline data set accepts in load(..., **options), with their defaults
_OPTIONS = {
    "digits": {"test_size": 0.25, "seed": 0},
    "shapes": {"n": 2000, "image_size": 32, "seed": 0, "noise": 0.05, "classes": SHAPE_CLASSES},
}


def load(name: str, *, train: bool = True, root: str = "data", download: bool = False, **options) -> Dataset:
    """A data set of (image (C, H, W) float in [0, 1], label int64) pairs; see DATASETS for the names.

    Options: "digits" takes test_size, seed (see digits_tensors); "shapes" takes n, image_size, seed,
    noise, classes (see make_shapes). The shapes train split is make_shapes(seed=2 * seed) and the
    test split make_shapes(seed=2 * seed + 1): the two never share a generator seed, whatever the seed.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; expected one of {DATASETS}")
    if not isinstance(train, bool):
        raise ValueError(f"train must be a bool (True: training split, False: test split), got {train!r}")
    valid = _OPTIONS.get(name, {})
    unknown = sorted(set(options) - set(valid))
    if unknown:
        accepted = ", ".join(valid) if valid else "none"
        raise TypeError(f"load({name!r}) got unknown option(s) {unknown}; options it accepts: {accepted}")
    options = {**valid, **options}

    if name == "digits":
        X_train, y_train, X_test, y_test = digits_tensors(**options)
        return TensorDataset(X_train, y_train) if train else TensorDataset(X_test, y_test)
    if name == "shapes":
        seed = options.pop("seed")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        return make_shapes(seed=2 * seed + (0 if train else 1), **options).dataset()
    return load_real(name, train=train, root=root, download=download)


def loader(dataset: Dataset, *, batch_size: int = 64, shuffle: bool = False, seed: int = 0) -> DataLoader:
    """A DataLoader (num_workers=0) whose shuffling is the same on every run for a given seed."""
    if not isinstance(dataset, Dataset) and not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
        raise TypeError(f"loader expects a torch.utils.data.Dataset, got {type(dataset).__name__}")
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator, num_workers=0)
