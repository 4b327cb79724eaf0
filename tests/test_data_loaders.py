"""Tests for dlnotes.data: load(), loader(), digits, synthetic regression and the offline real-data loaders.

The real data sets are never downloaded: tiny files in the real on-disk formats are written to tmp_path,
and every download function torchvision could call is replaced by one that fails like an offline machine.
"""

import hashlib
import pickle
import struct
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch
import torchvision
from torch.utils.data import TensorDataset

from dlnotes.data import (
    DATASETS,
    DatasetUnavailable,
    digits_tensors,
    load,
    loader,
    make_regression,
    make_shapes,
)


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


# --------------------------------------------------------------------------------------------
# digits
# --------------------------------------------------------------------------------------------


def test_digits_shapes_range_and_split_sizes():
    X_train, y_train, X_test, y_test = digits_tensors()
    assert X_train.shape == (1347, 1, 8, 8) and X_test.shape == (450, 1, 8, 8)
    assert y_train.shape == (1347,) and y_test.shape == (450,)
    assert X_train.dtype == torch.float32 and y_train.dtype == torch.int64
    assert X_train.min() == 0.0 and X_train.max() == 1.0  # sklearn's 0..16 scaled by 1/16
    assert set(y_train.tolist()) == set(range(10)) == set(y_test.tolist())
    assert torch.equal(X_train * 16, (X_train * 16).round()), "values are the 17 levels k/16"
    X_train, _, X_test, _ = digits_tensors(test_size=0.5)
    assert len(X_train) + len(X_test) == 1797 and abs(len(X_train) - len(X_test)) <= 1


def test_digits_split_is_stratified_and_deterministic():
    X_train, y_train, X_test, y_test = digits_tensors(seed=3)
    full = torch.bincount(torch.cat([y_train, y_test]), minlength=10).float()
    test = torch.bincount(y_test, minlength=10).float()
    assert ((test - full * 0.25).abs() <= 1).all(), "each class is split 75/25"

    again = digits_tensors(seed=3)
    for a, b in zip((X_train, y_train, X_test, y_test), again):
        assert torch.equal(a, b)
    other = digits_tensors(seed=4)
    assert not torch.equal(other[3], y_test)

    # the two parts together are exactly scikit-learn's data set
    from sklearn.datasets import load_digits

    everything = torch.cat([X_train, X_test]).flatten(1) * 16
    expected = torch.tensor(load_digits().data, dtype=torch.float32)
    assert torch.equal(everything.sum(0), expected.sum(0))


@pytest.mark.parametrize("test_size", [0.0, 1.0, 1.5, 100, "0.2"])
def test_digits_bad_test_size(test_size):
    with pytest.raises(ValueError, match=r"test_size must be a float strictly between 0 and 1"):
        digits_tensors(test_size=test_size)


# --------------------------------------------------------------------------------------------
# synthetic regression
# --------------------------------------------------------------------------------------------


def test_make_regression_follows_the_rule():
    X, y = make_regression(500, w=[2.0, -3.4], b=4.2, noise=0.0, seed=0)
    assert X.shape == (500, 2) and y.shape == (500,)
    assert X.dtype == torch.float32 and y.dtype == torch.float32
    torch.testing.assert_close(y, X @ torch.tensor([2.0, -3.4]) + 4.2)
    assert abs(X.mean()) < 0.1 and abs(X.std() - 1) < 0.1

    X, y = make_regression(2000, w=[2.0, -3.4], b=4.2, noise=0.1, seed=1)
    residual = y - (X @ torch.tensor([2.0, -3.4]) + 4.2)
    assert 0.09 < residual.std() < 0.11
    # least squares recovers the true parameters
    A = torch.cat([X, torch.ones(len(X), 1)], dim=1)
    solution = torch.linalg.lstsq(A, y[:, None]).solution[:, 0]
    torch.testing.assert_close(solution, torch.tensor([2.0, -3.4, 4.2]), atol=0.02, rtol=0)


def test_make_regression_is_deterministic():
    a = make_regression(10, w=[1.0], b=0.0, seed=7)
    b = make_regression(10, w=[1.0], b=0.0, seed=7)
    c = make_regression(10, w=[1.0], b=0.0, seed=8)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n=0, w=[1.0], b=0.0), r"n must be a positive int"),
        (dict(n=5, w=[], b=0.0), r"w must be a non-empty 1-D"),
        (dict(n=5, w=[[1.0, 2.0]], b=0.0), r"w must be a non-empty 1-D"),
        (dict(n=5, w="12", b=0.0), r"w must be a sequence of floats"),
        (dict(n=5, w=[1.0, float("nan")], b=0.0), r"w must contain only finite"),
        (dict(n=5, w=[1.0], b=None), r"b must be a finite float"),
        (dict(n=5, w=[1.0], b=0.0, noise=-1.0), r"noise must be a finite float >= 0"),
        (dict(n=5, w=[1.0], b=0.0, seed=-2), r"seed must be a non-negative int"),
    ],
)
def test_make_regression_bad_input(kwargs, match):
    n = kwargs.pop("n")
    with pytest.raises(ValueError, match=match):
        make_regression(n, **kwargs)


# --------------------------------------------------------------------------------------------
# load() and loader() on the offline data sets
# --------------------------------------------------------------------------------------------


def test_load_digits_splits():
    train, test = load("digits"), load("digits", train=False)
    assert isinstance(train, TensorDataset) and len(train) == 1347 and len(test) == 450
    X, y = train[0]
    assert X.shape == (1, 8, 8) and y.dtype == torch.int64
    assert torch.equal(train.tensors[0], digits_tensors()[0])
    assert len(load("digits", test_size=0.5, seed=1)) == 898


def test_load_shapes_train_and_test_differ_and_are_documented():
    train = load("shapes", n=120, seed=3)
    test = load("shapes", train=False, n=120, seed=3)
    assert len(train) == len(test) == 120
    X, y = train[0]
    assert X.shape == (3, 32, 32) and X.dtype == torch.float32 and y.dtype == torch.int64
    assert not torch.equal(train.tensors[0], test.tensors[0])
    # the documented derivation: train uses seed 2*seed, test uses 2*seed + 1
    assert torch.equal(train.tensors[0], make_shapes(120, seed=6).images)
    assert torch.equal(test.tensors[0], make_shapes(120, seed=7).images)
    # the test split of one seed is never the training split of another
    assert not torch.equal(test.tensors[0], load("shapes", n=120, seed=4).tensors[0])
    assert len(load("shapes")) == 2000
    small = load("shapes", n=12, image_size=16, noise=0.0, classes=("circle", "ring"))
    assert small.tensors[0].shape == (12, 3, 16, 16) and set(small.tensors[1].tolist()) == {0, 1}


def test_load_bad_name_and_options():
    with pytest.raises(ValueError, match=r"unknown data set 'imagenet'.*digits.*shapes.*mnist.*cifar10"):
        load("imagenet")
    with pytest.raises(TypeError, match=r"unknown option.*'size'.*n, image_size, seed"):
        load("shapes", size=32)
    with pytest.raises(TypeError, match=r"unknown option.*'n'.*test_size, seed"):
        load("digits", n=10)
    with pytest.raises(TypeError, match=r"unknown option.*'seed'.*accepts: none"):
        load("mnist", seed=0)
    with pytest.raises(ValueError, match=r"train must be a bool"):
        load("digits", train="yes")
    assert DATASETS == ("digits", "shapes", "mnist", "fashion-mnist", "cifar10")


def test_loader_batches_and_reproducible_shuffle():
    dataset = TensorDataset(torch.arange(100).float()[:, None], torch.arange(100))

    def order(**kwargs):
        return torch.cat([y for _, y in loader(dataset, batch_size=16, **kwargs)])

    assert torch.equal(order(), torch.arange(100))
    a, b, c = order(shuffle=True, seed=1), order(shuffle=True, seed=1), order(shuffle=True, seed=2)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.equal(a, torch.arange(100)) and torch.equal(a.sort().values, torch.arange(100))
    # the same loader gives a new order each epoch, and the sequence of epochs is reproducible
    dl1, dl2 = loader(dataset, shuffle=True, seed=5), loader(dataset, shuffle=True, seed=5)
    epochs1 = [torch.cat([y for _, y in dl1]) for _ in range(2)]
    epochs2 = [torch.cat([y for _, y in dl2]) for _ in range(2)]
    assert not torch.equal(epochs1[0], epochs1[1])
    assert all(torch.equal(e1, e2) for e1, e2 in zip(epochs1, epochs2))

    X, y = next(iter(loader(load("digits"), batch_size=32)))
    assert X.shape == (32, 1, 8, 8) and y.shape == (32,) and y.dtype == torch.int64
    assert loader(dataset).num_workers == 0


def test_loader_bad_input():
    with pytest.raises(ValueError, match=r"batch_size must be a positive int"):
        loader(TensorDataset(torch.zeros(3)), batch_size=0)
    with pytest.raises(TypeError, match=r"expects a torch.utils.data.Dataset"):
        loader(42)


def test_import_is_cheap_and_side_effect_free():
    code = (
        "import sys, torch; state = torch.get_rng_state(); import dlnotes.data; "
        "assert torch.equal(state, torch.get_rng_state()); "
        "heavy = [m for m in ('torchvision', 'sklearn', 'matplotlib') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------------------------
# real data sets, offline
# --------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a URL fails like a machine without internet."""

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    return offline


def write_idx(path, array: np.ndarray) -> None:
    """Write a uint8 array in the IDX format of MNIST: magic 0x0800 + ndim, then big-endian sizes."""
    header = struct.pack(">I", 0x0800 + array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_mnist_like(root, folder: str, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    arrays = {}
    for split, n in (("train", 5), ("t10k", 3)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        write_idx(raw / f"{split}-images-idx3-ubyte", images)
        write_idx(raw / f"{split}-labels-idx1-ubyte", labels)
        arrays[split] = (images, labels)
    assert (raw / "train-images-idx3-ubyte").read_bytes()[:4] == bytes([0, 0, 8, 3])  # 2051
    assert (raw / "train-labels-idx1-ubyte").read_bytes()[:4] == bytes([0, 0, 8, 1])  # 2049
    return arrays


@pytest.mark.parametrize("name, folder", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_load_mnist_like_from_idx_files(tmp_path, name, folder):
    arrays = write_mnist_like(tmp_path, folder, seed=len(name))
    for train, split in ((True, "train"), (False, "t10k")):
        dataset = load(name, train=train, root=str(tmp_path))
        images, labels = arrays[split]
        assert len(dataset) == len(images)
        for i in range(len(images)):
            X, y = dataset[i]
            assert X.shape == (1, 28, 28) and X.dtype == torch.float32
            assert torch.equal(X[0], torch.from_numpy(images[i]).float() / 255)
            assert y.dtype == torch.int64 and y.item() == labels[i]
    X, y = next(iter(loader(load(name, root=str(tmp_path)), batch_size=5)))
    assert X.shape == (5, 1, 28, 28) and y.dtype == torch.int64


def test_load_cifar10_from_pickle_batches(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()

    def dump(filename: str, obj) -> str:
        (folder / filename).write_bytes(pickle.dumps(obj, protocol=2))
        return hashlib.md5((folder / filename).read_bytes()).hexdigest()

    batches = {}
    for filename, n in [(f"data_batch_{k}", 2) for k in range(1, 6)] + [("test_batch", 3)]:
        data = rng.integers(0, 256, size=(n, 3 * 32 * 32), dtype=np.uint8)  # rows: R plane, G plane, B plane
        labels = rng.integers(0, 10, size=n).tolist()
        batches[filename] = (data, labels, dump(filename, {"data": data, "labels": labels}))
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    meta_md5 = dump("batches.meta", {"label_names": names})

    # torchvision checks the md5 of every file: point it at our tiny files
    CIFAR10 = torchvision.datasets.CIFAR10
    monkeypatch.setattr(CIFAR10, "train_list", [[f, batches[f][2]] for f in batches if f != "test_batch"])
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", batches["test_batch"][2]]])
    monkeypatch.setattr(CIFAR10, "meta", {"filename": "batches.meta", "key": "label_names", "md5": meta_md5})

    train = load("cifar10", root=str(tmp_path))
    test = load("cifar10", train=False, root=str(tmp_path))
    assert len(train) == 10 and len(test) == 3 and train.classes == names
    expected = [(d, l) for f in CIFAR10.train_list for d, l in zip(*batches[f[0]][:2])]
    for dataset, rows in ((train, expected), (test, list(zip(*batches["test_batch"][:2])))):
        for i, (row, label) in enumerate(rows):
            X, y = dataset[i]
            assert X.shape == (3, 32, 32) and X.dtype == torch.float32
            assert torch.equal(X, torch.from_numpy(row.reshape(3, 32, 32)).float() / 255)
            assert y.dtype == torch.int64 and y.item() == label


@pytest.mark.parametrize(
    "name, shown, folder",
    [("mnist", "MNIST", "MNIST"), ("fashion-mnist", "Fashion-MNIST", "FashionMNIST"),
     ("cifar10", "CIFAR-10", "cifar-10-batches-py")],
)
def test_missing_files_without_download(tmp_path, name, shown, folder):
    with pytest.raises(DatasetUnavailable) as info:
        load(name, root=str(tmp_path / "data"))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{shown} is not in {tmp_path / 'data' / folder}")
    assert message.endswith("pass download=True to fetch it (needs internet)")
    assert info.value.__suppress_context__, "raised `from None`: no torchvision traceback attached"
    assert info.value._render_traceback_() == [f"DatasetUnavailable: {message}"]
    assert isinstance(info.value, RuntimeError)


@pytest.mark.parametrize(
    "name, shown, module",
    [("mnist", "MNIST", "mnist"), ("fashion-mnist", "Fashion-MNIST", "mnist"), ("cifar10", "CIFAR-10", "cifar")],
)
def test_download_offline_gives_one_line(tmp_path, monkeypatch, name, shown, module):
    calls = []

    def fail(url, *args, **kwargs):
        calls.append(url)
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    # the datasets import the function into their own module, so patch it there (and at its source)
    monkeypatch.setattr(f"torchvision.datasets.{module}.download_and_extract_archive", fail)
    monkeypatch.setattr("torchvision.datasets.utils.download_and_extract_archive", fail)
    with pytest.raises(DatasetUnavailable) as info:
        load(name, root=str(tmp_path), download=True)
    assert calls, "the download was attempted (and failed offline)"
    message = str(info.value)
    assert message == (
        f"could not download {shown}: no internet connection ([Errno -3] Temporary failure in name resolution)"
    )
    assert info.value._render_traceback_() == [f"DatasetUnavailable: {message}"]


def test_download_fails_for_another_reason(tmp_path, monkeypatch):
    def corrupted(*args, **kwargs):
        raise RuntimeError("File not found or corrupted.")

    monkeypatch.setattr("torchvision.datasets.cifar.download_and_extract_archive", corrupted)
    with pytest.raises(DatasetUnavailable, match=r"^could not download CIFAR-10 into .*\(File not found or corrupted\.\)$"):
        load("cifar10", root=str(tmp_path), download=True)


def test_real_data_unaffected_by_download_when_present(tmp_path, monkeypatch, no_network):
    write_mnist_like(tmp_path, "MNIST", seed=0)
    monkeypatch.setattr("torchvision.datasets.mnist.download_and_extract_archive", no_network)
    assert len(load("mnist", root=str(tmp_path), download=True)) == 5  # files there: nothing to fetch


def test_dataset_unavailable_message_is_one_line():
    err = DatasetUnavailable("first line\nsecond   line")
    assert str(err) == "first line second line"
    assert err._render_traceback_() == ["DatasetUnavailable: first line second line"]
