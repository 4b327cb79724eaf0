"""dlnotes.data.scenes: shapes, tight boxes, counts, determinism, and bad input."""

import pytest
import torch

from dlnotes.data.scenes import Scenes, make_scenes


@pytest.fixture(scope="module")
def scenes():
    return make_scenes(40, image_size=64, max_objects=3, seed=3)


def test_shapes_and_ranges(scenes):
    assert isinstance(scenes, Scenes) and len(scenes) == 40
    assert scenes.images.shape == (40, 3, 64, 64) and scenes.images.dtype == torch.float32
    assert 0 <= scenes.images.min() and scenes.images.max() <= 1
    for boxes, labels, masks in zip(scenes.boxes, scenes.labels, scenes.masks):
        k = len(boxes)
        assert 1 <= k <= 3
        assert boxes.shape == (k, 4) and labels.shape == (k,) and masks.shape == (k, 64, 64)
        assert labels.dtype == torch.int64 and ((0 <= labels) & (labels < len(scenes.classes))).all()
    assert {len(b) for b in scenes.boxes} == {1, 2, 3}  # every count occurs in 40 scenes


def test_boxes_inside_and_tight_around_masks(scenes):
    ys, xs = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    for boxes, masks in zip(scenes.boxes, scenes.masks):
        assert (boxes[:, :2] >= 0).all() and (boxes[:, 2:] <= 64).all() and (boxes[:, 2:] > boxes[:, :2]).all()
        for (x1, y1, x2, y2), m in zip(boxes.long().tolist(), masks):
            inside = (xs >= x1) & (xs < x2) & (ys >= y1) & (ys < y2)
            assert m.any() and not (m & ~inside).any()  # no mask pixel outside its box
            assert m[:, x1].any() and m[:, x2 - 1].any() and m[y1].any() and m[y2 - 1].any()  # every side touches
        # objects do not overlap: every pixel belongs to at most one mask
        assert masks.sum(0).max() <= 1


def test_pasted_pixels_carry_the_shape_colour(scenes):
    # the canvas is dark (<= 0.25 + noise); a shape's colour has a channel far above it
    for image, masks in zip(scenes.images[:10], scenes.masks[:10]):
        for m in masks:
            assert image[:, m].amax(0).mean() > 0.5


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = make_scenes(5, seed=1), make_scenes(5, seed=1), make_scenes(5, seed=2)
    assert torch.equal(a.images, b.images)
    assert all(torch.equal(x, y) for x, y in zip(a.boxes, b.boxes))
    assert all(torch.equal(x, y) for x, y in zip(a.labels, b.labels))
    assert not torch.equal(a.images, c.images)


def test_classes_and_single_object():
    s = make_scenes(12, max_objects=1, classes=("circle", "ring"), seed=0)
    assert s.classes == ("circle", "ring")
    assert all(len(b) == 1 for b in s.boxes)
    assert set(torch.cat(s.labels).tolist()) == {0, 1}


@pytest.mark.parametrize("kwargs, match", [
    (dict(n=0), "n must be"),
    (dict(n=2.5), "n must be"),
    (dict(n=2, image_size=16), "image_size"),
    (dict(n=2, max_objects=0), "max_objects"),
    (dict(n=2, max_objects=True), "max_objects"),
    (dict(n=2, seed=-1), "seed"),
    (dict(n=2, classes=("circle", "hexagon")), "unknown shape class"),
    (dict(n=2, classes="circle"), "sequence of class names"),
    (dict(n=2, tile_size=100), "tile_size"),
    (dict(n=2, noise=-0.1), "noise"),
])
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_scenes(**kwargs)
