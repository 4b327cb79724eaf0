"""Tests for dlnotes.tuning: the linear scaling rule, search samplers and ensemble averaging."""

import math

import pytest
import torch
from torch import nn

from dlnotes import tuning

SPACE = {"lr": (1e-3, 10.0, "log"), "dropout": (0.0, 0.5, "linear")}


def test_scaled_lr_is_proportional_to_the_batch():
    assert tuning.scaled_lr(0.1, 256, 1024) == pytest.approx(0.4)
    assert tuning.scaled_lr(0.1, 256, 64) == pytest.approx(0.025)
    assert tuning.scaled_lr(0.05, 16, 16) == pytest.approx(0.05)


@pytest.mark.parametrize("args", [(0.0, 16, 32), (-0.1, 16, 32), (math.nan, 16, 32), (0.1, 0, 32),
                                  (0.1, 16, 0), (0.1, 16.0, 32), (0.1, 16, True)])
def test_scaled_lr_rejects_bad_input(args):
    with pytest.raises(ValueError):
        tuning.scaled_lr(*args)


def test_grid_search_points_by_hand():
    grid = tuning.grid_search(SPACE, points_per_axis=3)
    assert len(grid) == 9
    lrs = sorted({round(p["lr"], 12) for p in grid})
    assert lrs == pytest.approx([1e-3, 0.1, 10.0])                     # log-spaced, ends included
    assert sorted({p["dropout"] for p in grid}) == pytest.approx([0.0, 0.25, 0.5])
    assert grid[0] == pytest.approx({"lr": 1e-3, "dropout": 0.0})     # the first axis varies slowest
    assert grid[1] == pytest.approx({"lr": 1e-3, "dropout": 0.25})


def test_random_search_is_seeded_inside_the_box_and_spreads_the_lr():
    a = tuning.random_search(SPACE, trials=20, seed=3)
    b = tuning.random_search(SPACE, trials=20, seed=3)
    c = tuning.random_search(SPACE, trials=20, seed=4)
    assert a == b and a != c
    assert all(1e-3 <= p["lr"] <= 10.0 and 0.0 <= p["dropout"] <= 0.5 for p in a)
    assert len({p["lr"] for p in a}) == 20                             # every trial a new learning rate
    # log scale: the median exponent sits near the middle of [-3, 1], not near log10(5) = 0.7
    exponents = sorted(math.log10(p["lr"]) for p in tuning.random_search(SPACE, trials=401, seed=0))
    assert -1.5 < exponents[200] < -0.5


@pytest.mark.parametrize("space", [{}, {"lr": (1.0, 0.1, "log")}, {"lr": (0.0, 1.0, "log")},
                                   {"lr": (0.1, 1.0, "cubic")}, {"lr": (0.1, 1.0)}])
def test_search_rejects_bad_space(space):
    with pytest.raises(ValueError):
        tuning.grid_search(space, points_per_axis=3)
    with pytest.raises(ValueError):
        tuning.random_search(space, trials=3)


def test_search_rejects_bad_counts():
    with pytest.raises(ValueError):
        tuning.grid_search(SPACE, points_per_axis=1)
    with pytest.raises(ValueError):
        tuning.random_search(SPACE, trials=0)
    with pytest.raises(ValueError):
        tuning.random_search(SPACE, trials=3, seed=-1)


class Fixed(nn.Module):
    """Returns the same logits for every input row."""

    def __init__(self, logits):
        super().__init__()
        self.logits = torch.tensor(logits)

    def forward(self, X):
        return self.logits.expand(len(X), -1)


def test_ensemble_predict_averages_probabilities():
    models = [Fixed([0.0, 0.0]), Fixed([math.log(3.0), 0.0])]        # probabilities (1/2, 1/2) and (3/4, 1/4)
    p = tuning.ensemble_predict(models, torch.zeros(4, 7))
    torch.testing.assert_close(p, torch.tensor([[0.625, 0.375]]).expand(4, 2))


def test_ensemble_predict_equals_softmax_mean_and_sets_eval_mode():
    torch.manual_seed(0)
    models = [nn.Sequential(nn.Linear(5, 8), nn.Dropout(0.5), nn.Linear(8, 3)) for _ in range(3)]
    X = torch.randn(6, 5)
    p = tuning.ensemble_predict(models, X)
    assert all(not m.training for m in models)                         # dropout off: deterministic
    with torch.no_grad():
        expected = torch.stack([m(X).softmax(dim=1) for m in models]).mean(dim=0)
    torch.testing.assert_close(p, expected)
    torch.testing.assert_close(p.sum(dim=1), torch.ones(6))


def test_ensemble_predict_rejects_bad_input():
    with pytest.raises(ValueError):
        tuning.ensemble_predict([], torch.zeros(2, 3))
    with pytest.raises(ValueError):
        tuning.ensemble_predict(nn.Linear(3, 2), torch.zeros(2, 3))
    with pytest.raises(ValueError):
        tuning.ensemble_predict([nn.Linear(3, 2), "not a model"], torch.zeros(2, 3))
    with pytest.raises(ValueError):
        tuning.ensemble_predict([nn.Linear(3, 2), nn.Linear(3, 4)], torch.zeros(2, 3))
    with pytest.raises(ValueError):
        tuning.ensemble_predict([nn.Identity()], torch.zeros(2, 3, 4))
