"""Tests for dlnotes.data.shapes: the procedurally drawn shapes data set."""

import time

import pytest
import torch
from torch import nn
from torchvision.ops import masks_to_boxes

from dlnotes.data import COLORS, SHAPE_CLASSES, SHAPE_CLASSES_ZH, Shapes, make_shapes

N = 600  # 100 per class


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


@pytest.fixture(scope="module")
def shapes() -> Shapes:
    return make_shapes(N, seed=0)


@pytest.fixture(scope="module")
def clean() -> Shapes:
    """Shapes without pixel noise, so that colours can be measured exactly."""
    return make_shapes(N, seed=1, noise=0.0)


def test_dtypes_shapes_and_ranges(shapes):
    assert len(shapes) == N
    assert shapes.images.shape == (N, 3, 32, 32) and shapes.images.dtype == torch.float32
    assert shapes.labels.shape == (N,) and shapes.labels.dtype == torch.int64
    assert shapes.boxes.shape == (N, 4) and shapes.boxes.dtype == torch.float32
    assert shapes.masks.shape == (N, 32, 32) and shapes.masks.dtype == torch.bool
    assert 0.0 <= shapes.images.min() and shapes.images.max() <= 1.0
    assert shapes.labels.min() >= 0 and shapes.labels.max() < len(SHAPE_CLASSES)
    assert shapes.classes == SHAPE_CLASSES
    for field in (shapes.colors, shapes.captions_en, shapes.captions_zh):
        assert isinstance(field, tuple) and len(field) == N
    assert set(shapes.colors) <= set(COLORS)
    X, y = shapes.dataset()[0]
    assert X.shape == (3, 32, 32) and y.dtype == torch.int64
    assert len(shapes.dataset()) == N
    assert "Shapes(n=600" in repr(shapes)


def test_other_image_size_and_class_subset():
    s = make_shapes(50, image_size=48, seed=2, classes=("ring", "star"))
    assert s.images.shape == (50, 3, 48, 48) and s.masks.shape == (50, 48, 48)
    assert s.classes == ("ring", "star")
    assert sorted(torch.bincount(s.labels).tolist()) == [25, 25]
    for label, caption in zip(s.labels.tolist(), s.captions_en):
        assert s.classes[label] in caption


def test_deterministic_given_seed(shapes):
    again = make_shapes(N, seed=0)
    for name in ("images", "labels", "boxes", "masks"):
        assert torch.equal(getattr(shapes, name), getattr(again, name)), name
    assert again.colors == shapes.colors
    assert again.captions_en == shapes.captions_en and again.captions_zh == shapes.captions_zh

    other = make_shapes(N, seed=1)
    assert not torch.equal(other.images, shapes.images)
    assert not torch.equal(other.labels, shapes.labels)
    assert other.captions_en != shapes.captions_en


def test_generation_does_not_touch_global_rng():
    state = torch.get_rng_state()
    make_shapes(10, seed=5)
    assert torch.equal(torch.get_rng_state(), state)


def test_boxes_equal_torchvision_masks_to_boxes(shapes):
    assert torch.equal(shapes.boxes, masks_to_boxes(shapes.masks))
    small = make_shapes(300, image_size=16, seed=3)  # smallest images, where rounding is hardest
    assert torch.equal(small.boxes, masks_to_boxes(small.masks))


def test_masks_non_empty_and_shapes_not_cut_off(shapes):
    sizes = shapes.masks.flatten(1).sum(1)
    assert (sizes >= 16).all(), "every shape covers a visible number of pixels"
    x1, y1, x2, y2 = shapes.boxes.unbind(1)
    assert (x1 >= 0).all() and (y1 >= 0).all() and (x2 <= 31).all() and (y2 <= 31).all()
    # a circle or ring that reached past the border would be clipped into a box that is not square
    round_ = (shapes.labels == SHAPE_CLASSES.index("circle")) | (shapes.labels == SHAPE_CLASSES.index("ring"))
    width, height = (x2 - x1 + 1)[round_], (y2 - y1 + 1)[round_]
    assert ((width - height).abs() <= 1).all()
    # object size: roughly 25-70 % of the image side
    extent = torch.maximum(x2 - x1 + 1, y2 - y1 + 1) / 32
    assert extent.min() >= 0.2 and extent.max() <= 0.75


def test_mask_pixels_have_the_named_colour(clean):
    """Without noise, the mask pixels show the colour named in `colors` (blended with the background at edges)."""
    palette = {name: torch.tensor(rgb) for name, (rgb, _) in COLORS.items()}
    for i in range(len(clean)):
        pixels = clean.images[i][:, clean.masks[i]]  # (3, pixels in the mask)
        target = palette[clean.colors[i]]
        mean = pixels.mean(1)
        assert (mean - target).abs().max() < 0.2, (i, clean.colors[i], mean)  # thin shapes are mostly edge
        assert min(palette, key=lambda name: (palette[name] - mean).norm()) == clean.colors[i]
        # the fully covered pixels have exactly the named colour
        assert (pixels - target[:, None]).abs().amax(0).min() < 1e-6


def test_background_is_dark_and_uniform_without_noise(clean):
    # the pixels far from any shape pixel are exactly the (dark) background colour
    for i in range(0, len(clean), 7):
        far = ~(nn.functional.max_pool2d(clean.masks[i][None, None].float(), 5, stride=1, padding=2)[0, 0] > 0)
        background = clean.images[i][:, far]
        assert background.max() <= 0.25 + 1e-6
        assert (background.std(1) < 1e-6).all()


def test_noise_has_requested_std():
    a = make_shapes(100, seed=4, noise=0.0)
    b = make_shapes(100, seed=4, noise=0.05)
    diff = (b.images - a.images)[(a.images > 0.1) & (a.images < 0.9)]  # not clipped by [0, 1]
    assert 0.04 < diff.std() < 0.06
    assert torch.equal(a.masks, b.masks) and a.captions_en == b.captions_en


def test_ring_has_hole_and_circle_has_none(shapes):
    cx = ((shapes.boxes[:, 0] + shapes.boxes[:, 2]) / 2).round().long()
    cy = ((shapes.boxes[:, 1] + shapes.boxes[:, 3]) / 2).round().long()
    centre_in_mask = shapes.masks[torch.arange(N), cy, cx]
    assert not centre_in_mask[shapes.labels == SHAPE_CLASSES.index("ring")].any()
    assert centre_in_mask[shapes.labels == SHAPE_CLASSES.index("circle")].all()


def test_shapes_fill_their_boxes_differently(shapes):
    """Fraction of the box covered by the mask tells the classes apart (same geometry, any rotation)."""
    box_area = (shapes.boxes[:, 2] - shapes.boxes[:, 0] + 1) * (shapes.boxes[:, 3] - shapes.boxes[:, 1] + 1)
    fill = shapes.masks.flatten(1).sum(1) / box_area
    mean_fill = {name: fill[shapes.labels == c].mean().item() for c, name in enumerate(SHAPE_CLASSES)}
    assert mean_fill["circle"] > mean_fill["ring"] + 0.15  # the hole
    assert mean_fill["circle"] > mean_fill["star"] + 0.15  # the concave corners
    assert mean_fill["circle"] > mean_fill["cross"] + 0.1
    assert 0.65 < mean_fill["circle"] < 0.9  # pi / 4 for a perfect disc


def test_classes_are_balanced_and_shuffled(shapes):
    counts = torch.bincount(shapes.labels, minlength=len(SHAPE_CLASSES))
    assert counts.tolist() == [100] * 6
    uneven = make_shapes(601, seed=0)
    counts = torch.bincount(uneven.labels)
    assert counts.max() - counts.min() <= 1
    assert not torch.equal(shapes.labels, torch.arange(N) % 6), "labels must not come in a fixed cycle"
    assert not torch.equal(shapes.labels, shapes.labels.sort().values)


def test_captions_name_class_colour_size_and_position(shapes):
    zh_colour = {name: zh for name, (_, zh) in COLORS.items()}
    positions = {"left": 0, "right": 2}
    for i in range(N):
        en, zh = shapes.captions_en[i], shapes.captions_zh[i]
        label, colour = shapes.labels[i].item(), shapes.colors[i]
        assert SHAPE_CLASSES[label] in en and SHAPE_CLASSES_ZH[label] in zh, (en, zh)
        assert colour in en and zh_colour[colour] in zh, (en, zh)
        assert en.startswith(("a small ", "a large ")) and "的一个" in zh
        assert ("large" in en) == ("大" in zh)
        # the size word matches the drawn size: the bands are 30-45 % and 55-70 % of the side
        if SHAPE_CLASSES[label] in ("circle", "ring"):
            width = (shapes.boxes[i, 2] - shapes.boxes[i, 0] + 1).item()
            assert width >= 16 if "large" in en else width <= 16, (en, width)
        # the position word matches the box centre (away from the grid lines at 1/3 and 2/3)
        centre_x = (shapes.boxes[i, 0] + shapes.boxes[i, 2] + 1).item() / 2 / 32
        if min(abs(centre_x - 1 / 3), abs(centre_x - 2 / 3)) > 0.06:
            column = min(int(centre_x * 3), 2)
            says = next((c for word, c in positions.items() if word in en), 1)
            assert says == column, (en, centre_x)
            zh_says = 0 if "左" in zh else 2 if "右" in zh else 1
            assert zh_says == column, (zh, centre_x)
    assert any(c.endswith("in the centre") for c in shapes.captions_en)
    assert any(c.startswith("中央的") for c in shapes.captions_zh)


def test_generation_is_fast():
    # CPU time (on one thread, see one_thread), so that other jobs on a busy machine do not count.
    # On an idle 2-core machine 5000 images take about 0.3 s of wall time.
    make_shapes(2000, seed=0)  # warm-up
    start = time.process_time()
    make_shapes(2000, seed=1)
    seconds = time.process_time() - start
    assert seconds < 1.0, f"2000 images of 32x32 took {seconds:.2f} s of CPU time"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n=0), r"n must be a positive int"),
        (dict(n=2.5), r"n must be a positive int"),
        (dict(n=10, image_size=8), r"image_size must be an int in \[16, 256\]"),
        (dict(n=10, image_size=512), r"image_size must be an int in \[16, 256\]"),
        (dict(n=10, classes=("circle", "hexagon")), r"unknown shape class.*hexagon.*valid classes are.*circle"),
        (dict(n=10, classes=()), r"at least one class"),
        (dict(n=10, classes="circle"), r"sequence of class names"),
        (dict(n=10, classes=("ring", "ring")), r"must not repeat"),
        (dict(n=10, noise=-0.1), r"noise must be a finite float >= 0"),
        (dict(n=10, seed=-1), r"seed must be a non-negative int"),
    ],
)
def test_bad_input_gives_clear_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_shapes(**kwargs)


def test_classes_are_learnable():
    """A tiny CNN trained for a few seconds is far above chance (1/6) on held-out shapes."""
    train, test = make_shapes(1200, seed=10), make_shapes(300, seed=11)
    # brightness only: colour says nothing about the class
    X, X_test = train.images.amax(1, keepdim=True), test.images.amax(1, keepdim=True)  # (N, 1, 32, 32)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = nn.Sequential(
            nn.Conv2d(1, 16, 4, stride=2, padding=1), nn.ReLU(),  # (B, 16, 16, 16)
            nn.Conv2d(16, 32, 4, stride=2, padding=1), nn.ReLU(),  # (B, 32, 8, 8)
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveMaxPool2d(1),  # (B, 32, 1, 1)
            nn.Flatten(), nn.Linear(32, 6),
        )
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        for _ in range(40):
            idx = torch.randint(0, len(train), (128,))
            loss = nn.functional.cross_entropy(model(X[idx]), train.labels[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        accuracy = (model(X_test).argmax(1) == test.labels).float().mean().item()
    assert accuracy > 0.4, accuracy


def test_random_angle_off_draws_the_same_images_at_angle_zero():
    spun = make_shapes(60, seed=5)
    upright = make_shapes(60, seed=5, random_angle=False)
    # the rest of the draw is unchanged: labels, colours, and circles (which no rotation changes) agree exactly
    assert torch.equal(spun.labels, upright.labels) and spun.colors == upright.colors
    circle = spun.labels == spun.classes.index("circle")
    torch.testing.assert_close(upright.images[circle], spun.images[circle], atol=1e-6, rtol=0)
    # upright triangles all point the same way: the mask's centroid sits on the same side of its box's centre
    def centroid_minus_box_centre(d):
        ys = torch.arange(d.masks.shape[1], dtype=torch.float32)[None, :, None]
        m = d.masks.float()
        cy = (m * ys).sum((1, 2)) / m.sum((1, 2))
        return cy - (d.boxes[:, 1] + d.boxes[:, 3] - 1) / 2  # boxes are (x0, y0, x1, y1) with x1, y1 exclusive

    up = centroid_minus_box_centre(make_shapes(40, seed=6, classes=("triangle",), random_angle=False))
    any_way = centroid_minus_box_centre(make_shapes(40, seed=6, classes=("triangle",)))
    assert (up.sign() == up.sign()[0]).all() and up.abs().min() > 0.1
    assert (any_way > 0.3).any() and (any_way < -0.3).any()
