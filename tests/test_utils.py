import subprocess
import sys

import pytest
import torch
from torch import nn

from dlnotes import utils


def test_set_seed_makes_runs_repeatable():
    utils.set_seed(7)
    a = (torch.randn(3), torch.randint(0, 100, (3,)))
    utils.set_seed(7)
    b = (torch.randn(3), torch.randint(0, 100, (3,)))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    utils.set_seed(8)
    assert not torch.equal(a[0], torch.randn(3))


@pytest.mark.parametrize("bad", [-1, 1.5, "0"])
def test_set_seed_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="non-negative int"):
        utils.set_seed(bad)


def test_get_device():
    assert utils.get_device("cpu") == torch.device("cpu")
    assert utils.get_device().type in {"cpu", "cuda", "mps"}
    with pytest.raises(ValueError, match="device must be"):
        utils.get_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            utils.get_device("cuda")


def test_count_params():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    assert utils.count_params(model) == 3 * 4 + 4 + 4 * 2 + 2
    model[0].requires_grad_(False)
    assert utils.count_params(model) == 4 * 2 + 2
    assert utils.count_params(model, trainable_only=False) == 26
    with pytest.raises(TypeError, match="nn.Module"):
        utils.count_params(torch.zeros(3))


def test_timer_measures_elapsed_time():
    import time

    with utils.Timer() as t:
        time.sleep(0.02)
    assert 0.015 < t.seconds < 1.0


def test_import_has_no_side_effects():
    code = ("import matplotlib as mpl, torch; before = dict(mpl.rcParams); s = torch.initial_seed();"
            "import dlnotes, dlnotes.utils, dlnotes.train, dlnotes.plot, dlnotes.data;"
            "assert dict(mpl.rcParams) == before, 'rcParams changed on import';"
            "assert torch.initial_seed() == s, 'seed changed on import'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_count_flops_counts_a_linear_layer_by_hand():
    layer = nn.Linear(5, 3)
    x = torch.randn(4, 5)
    assert utils.count_flops(layer, x) == 2 * 4 * 5 * 3          # one multiply-add = 2 FLOPs per weight use
    conv = nn.Conv2d(2, 4, 3, padding=1)
    assert utils.count_flops(conv, torch.randn(1, 2, 6, 6)) == 2 * (2 * 9) * 4 * 36
    with pytest.raises(TypeError, match="nn.Module"):
        utils.count_flops(lambda t: t, x)
