"""Real image data sets (MNIST, Fashion-MNIST, CIFAR-10) through torchvision, downloaded only when asked.

A missing data set or a missing network is reported as one line (`DatasetUnavailable`), never as a
traceback from deep inside torchvision.
"""

from __future__ import annotations

import os
import socket
from urllib.error import URLError

import torch
from torch.utils.data import Dataset

# name -> (torchvision class name, name to show, folder under root that holds the files)
REAL_DATASETS = {
    "mnist": ("MNIST", "MNIST", "MNIST"),
    "fashion-mnist": ("FashionMNIST", "Fashion-MNIST", "FashionMNIST"),
    "cifar10": ("CIFAR10", "CIFAR-10", "cifar-10-batches-py"),
}


class DatasetUnavailable(RuntimeError):
    """A data set that is not on disk and cannot be (or was not asked to be) downloaded."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))  # always one line

    def _render_traceback_(self) -> list[str]:
        # IPython / Jupyter call this instead of printing the traceback
        return [f"DatasetUnavailable: {self}"]


def load_real(name: str, *, train: bool = True, root: str = "data", download: bool = False) -> Dataset:
    """A torchvision data set whose items are (image (C, H, W) float in [0, 1], label int64)."""
    if name not in REAL_DATASETS:
        raise ValueError(f"unknown real data set {name!r}; expected one of {tuple(REAL_DATASETS)}")
    if not isinstance(train, bool) or not isinstance(download, bool):
        raise ValueError(f"train and download must be bools, got train={train!r}, download={download!r}")
    if not isinstance(root, (str, os.PathLike)):
        raise ValueError(f"root must be a path (str), got {root!r}")

    # imported here so that `import dlnotes.data` stays cheap
    import torchvision
    from torchvision import transforms

    class_name, display, folder = REAL_DATASETS[name]
    dataset_class = getattr(torchvision.datasets, class_name)
    where = os.path.join(os.fspath(root), folder)
    kwargs = dict(train=train, transform=transforms.ToTensor(), target_transform=_as_int64)

    if not download:
        try:
            return dataset_class(root, download=False, **kwargs)
        except RuntimeError:  # torchvision: "Dataset not found (or corrupted)"
            raise DatasetUnavailable(
                f"{display} is not in {where}; pass download=True to fetch it (needs internet)"
            ) from None
    try:
        return dataset_class(root, download=True, **kwargs)
    except (URLError, OSError, RuntimeError) as err:
        if _is_network_error(err):
            message = f"could not download {display}: no internet connection ({_short_reason(err)})"
        else:
            message = f"could not download {display} into {where} ({_short_reason(err)})"
        raise DatasetUnavailable(message) from None


def _as_int64(label: int) -> torch.Tensor:
    """Label as a 0-d int64 tensor, like the labels of a TensorDataset."""
    return torch.tensor(label, dtype=torch.int64)


def _is_network_error(err: BaseException) -> bool:
    """Whether err (or an exception it was raised from) says that the network could not be reached."""
    network_types = (URLError, ConnectionError, TimeoutError, socket.gaierror, socket.timeout)
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        # torchvision's MNIST folds the URLErrors of all its mirrors into the text of one RuntimeError
        if isinstance(err, network_types) or "urlopen error" in str(err):
            return True
        err = err.__cause__ or err.__context__
    return False


def _short_reason(err: BaseException, max_chars: int = 100) -> str:
    """The last informative line of an error message, without urllib's '<urlopen error ...>' wrapper."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    reason = lines[-1] if lines else type(err).__name__
    if reason.startswith("<urlopen error ") and reason.endswith(">"):
        reason = reason[len("<urlopen error ") : -1]
    return reason if len(reason) <= max_chars else reason[: max_chars - 3] + "..."
