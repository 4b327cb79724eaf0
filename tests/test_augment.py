"""dlnotes.augment: batch augmentations agree with torchvision and keep labels, boxes and masks right."""

import math

import pytest
import torch
from torch.testing import assert_close
from torchvision.ops import masks_to_boxes
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from dlnotes import augment as A
from dlnotes.data import make_shapes

EDGE = torch.tensor([0.0, 0.0, 1.0, 1.0])  # pixel-index boxes -> pixel-edge boxes


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(b: int = 6, size: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.rand(b, 3, size, size, generator=gen(seed))


# --------------------------------------------------------------------------- flips and affine maps
def test_random_hflip_flips_exactly_the_chosen_images_and_is_seeded():
    x = images(b=20)
    assert torch.equal(A.random_hflip(x, p=1.0), x.flip(-1))
    assert torch.equal(A.random_hflip(x, p=0.0), x)
    out = A.random_hflip(x, p=0.5, generator=gen(3))
    flipped = [torch.equal(o, xi.flip(-1)) for o, xi in zip(out, x)]
    kept = [torch.equal(o, xi) for o, xi in zip(out, x)]
    assert all(f != k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)
    assert torch.equal(out, A.random_hflip(x, p=0.5, generator=gen(3)))


def test_random_functions_leave_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    x = images()
    A.random_hflip(x, generator=gen())
    A.random_affine(x, degrees=30, translate=0.1, scale=(0.9, 1.1), generator=gen())
    A.random_color_jitter(x, brightness=0.2, contrast=0.2, saturation=0.2, generator=gen())
    A.cutout(x, size=4, generator=gen())
    A.mixup(x, torch.arange(6) % 3, num_classes=3, generator=gen())
    A.cutmix(x, torch.arange(6) % 3, num_classes=3, generator=gen())
    assert torch.equal(torch.rand(3), expected)


def test_affine_identity_rotation_shift_and_zoom():
    x = images(b=2, size=8)
    b = len(x)
    zero, one = torch.zeros(b), torch.ones(b)
    assert_close(A.affine(x, angle=zero, shift=torch.zeros(b, 2), zoom=one), x, atol=1e-5, rtol=0)
    rot = A.affine(x, angle=torch.full((b,), 90.0), shift=torch.zeros(b, 2), zoom=one, padding_mode="zeros")
    assert_close(rot, TF.rotate(x, 90.0), atol=1e-5, rtol=0)  # counter-clockwise, as torchvision
    shifted = A.affine(x, angle=zero, shift=torch.tensor([[2.0, 1.0]] * b), zoom=one, padding_mode="zeros")
    expected = torch.zeros_like(x)
    expected[..., 1:, 2:] = x[..., :-1, :-2]
    assert_close(shifted, expected, atol=1e-5, rtol=0)


def test_affine_matches_torchvision_rotate_and_a_centre_crop_zoom():
    x = images(b=1, size=32)
    rot = A.affine(x, angle=torch.tensor([30.0]), shift=torch.zeros(1, 2), zoom=torch.ones(1), padding_mode="zeros")
    expected = TF.rotate(x, 30.0, interpolation=v2.InterpolationMode.BILINEAR)
    assert_close(rot[..., 6:-6, 6:-6], expected[..., 6:-6, 6:-6], atol=1e-4, rtol=0)  # corners: fill differs
    zoomed = A.affine(x, angle=torch.zeros(1), shift=torch.zeros(1, 2), zoom=torch.tensor([2.0]))
    crop = torch.nn.functional.interpolate(x[..., 8:24, 8:24], scale_factor=2, mode="bilinear", align_corners=False)
    assert_close(zoomed[..., 2:-2, 2:-2], crop[..., 2:-2, 2:-2], atol=1e-5, rtol=0)


def test_random_affine_with_zero_ranges_is_the_identity_and_changes_images_otherwise():
    x = images()
    assert_close(A.random_affine(x, generator=gen()), x, atol=1e-5, rtol=0)
    out = A.random_affine(x, degrees=45, translate=0.2, scale=(0.8, 1.2), generator=gen())
    assert out.shape == x.shape and (out - x).abs().amax(dim=(1, 2, 3)).min() > 0.05


# --------------------------------------------------------------------------- colour and noise
@pytest.mark.parametrize("b, c, s", [(1.3, 1.0, 1.0), (1.0, 0.6, 1.0), (1.0, 1.0, 1.7), (0.8, 1.4, 0.5)])
def test_adjust_color_matches_torchvision(b, c, s):
    x = images(b=3)
    expected = TF.adjust_saturation(TF.adjust_contrast(TF.adjust_brightness(x, b), c), s)
    assert_close(A.adjust_color(x, brightness=b, contrast=c, saturation=s), expected, atol=1e-5, rtol=0)


def test_adjust_color_takes_one_factor_per_image():
    x = images(b=2)
    out = A.adjust_color(x, brightness=torch.tensor([0.5, 1.5]))
    assert_close(out[0], TF.adjust_brightness(x[0], 0.5))
    assert_close(out[1], TF.adjust_brightness(x[1], 1.5))


def test_color_jitter_and_noise_stay_in_range_and_vanish_at_strength_zero():
    x = images()
    assert_close(A.random_color_jitter(x, generator=gen()), x)
    assert torch.equal(A.gaussian_noise(x, std=0.0, generator=gen()), x)
    for out in (A.random_color_jitter(x, brightness=0.9, contrast=0.9, saturation=0.9, generator=gen()),
                A.gaussian_noise(x, std=0.5, generator=gen())):
        assert out.min() >= 0 and out.max() <= 1 and not torch.equal(out, x)


# --------------------------------------------------------------------------- cutout, mixup, cutmix
def test_cutout_equals_torchvision_erase_on_its_boxes():
    x = images(b=20, size=16)
    out, boxes = A.cutout(x, size=6, generator=gen(1))
    for xi, oi, (x1, y1, x2, y2) in zip(x, out, boxes.tolist()):
        assert 0 < (x2 - x1) <= 6 and 0 < (y2 - y1) <= 6
        assert_close(oi, TF.erase(xi, y1, x1, y2 - y1, x2 - x1, v=torch.tensor(0.0)))
    assert (boxes[:, 2] - boxes[:, 0] < 6).any(), "some squares should be clipped by a border"


def test_mixup_formula_and_torchvision_mixup():
    x, y = images(b=8), torch.arange(8) % 4
    perm = torch.arange(8).roll(1)  # torchvision pairs sample i with i - 1
    out, soft = A.mixup(x, y, num_classes=4, lam=0.3, perm=perm)
    assert_close(out, 0.3 * x + 0.7 * x[perm])
    assert_close(soft.sum(1), torch.ones(8))
    torch.manual_seed(0)
    x_tv, y_tv = v2.MixUp(alpha=1.0, num_classes=4)(x, y)
    lam = float(y_tv[0, y[0]])  # labels 0 and 3 differ, so this is lambda itself
    out, soft = A.mixup(x, y, num_classes=4, lam=lam, perm=perm)
    assert_close(out, x_tv)
    assert_close(soft, y_tv)


def test_mixup_draws_lambda_from_beta():
    lams = [float(A.mixup(images(b=2), torch.tensor([0, 1]), num_classes=2, alpha=0.2, perm=torch.tensor([1, 0]),
                          generator=gen(i))[1][0, 0]) for i in range(400)]
    middle = sum(0.1 < v < 0.9 for v in lams) / len(lams)
    assert 0.2 < middle < 0.45  # Beta(0.2, 0.2): about a third of the draws lie in [0.1, 0.9]


def test_cutmix_label_weight_is_the_pasted_area_and_matches_torchvision():
    x, y = images(b=8), torch.arange(8) % 4
    perm = torch.arange(8).roll(1)
    box = (3, 2, 11, 7)
    index_images = torch.arange(8.0)[:, None, None, None].expand(8, 1, 16, 16)
    pasted, soft = A.cutmix(index_images, y, num_classes=4, box=box, perm=perm)
    area = (pasted == perm.float()[:, None, None, None]).float().mean(dim=(1, 2, 3))
    assert_close(area, torch.full((8,), 40 / 256))
    assert_close(soft[torch.arange(8), y[perm]], area)  # consecutive labels differ here
    torch.manual_seed(1)
    x_tv, y_tv = v2.CutMix(alpha=1.0, num_classes=4)(x, y)
    changed = (x_tv != x).any(dim=(0, 1))
    rows, cols = changed.any(1).nonzero()[:, 0], changed.any(0).nonzero()[:, 0]
    box_tv = (int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1)
    out, soft = A.cutmix(x, y, num_classes=4, box=box_tv, perm=perm)
    assert_close(out, x_tv)
    assert_close(soft, y_tv)


def test_cutmix_box_area_follows_lambda():
    for lam in (0.0, 0.36, 0.75):
        x1, y1, x2, y2 = A.cutmix_box(1000, 1000, lam=lam, generator=gen())
        assert 0 <= x1 <= x2 <= 1000 and 0 <= y1 <= y2 <= 1000
        assert (x2 - x1) * (y2 - y1) <= (1 - lam) * 1000**2 + 1
    areas = [(b[2] - b[0]) * (b[3] - b[1]) for b in (A.cutmix_box(64, 64, lam=0.75, generator=gen(i)) for i in range(200))]
    assert max(areas) == 32 * 32  # unclipped: a quarter of the image
    x1, y1, x2, y2 = A.cutmix_box(64, 64, lam=1.0, generator=gen())
    assert x2 - x1 == 0 and y2 - y1 == 0  # lam = 1: nothing is pasted


# --------------------------------------------------------------------------- mosaic
def test_mosaic_moves_boxes_with_their_masks():
    shapes = make_shapes(4 * 10, image_size=32, seed=3)
    for k in range(10):
        sl = slice(4 * k, 4 * k + 4)
        boxes = [b[None] + EDGE for b in shapes.boxes[sl]]
        canvas, out_boxes, masks = A.mosaic(shapes.images[sl], boxes, out_size=64, masks=shapes.masks[sl], generator=gen(k))
        assert canvas.shape == (3, 64, 64) and out_boxes.shape == (4, 4) and masks.shape == (4, 64, 64)
        tight = masks_to_boxes(masks)  # pixel indices; centres are at index + 0.5
        assert bool((tight[:, :2] + 0.5 >= out_boxes[:, :2] - 1e-4).all())
        assert bool((tight[:, 2:] + 0.5 <= out_boxes[:, 2:] + 1e-4).all())


def test_mosaic_maps_a_full_image_box_onto_its_quadrant():
    x = images(b=4, size=10)
    full = [torch.tensor([[0.0, 0.0, 10.0, 10.0]])] * 4
    canvas, boxes, masks = A.mosaic(x, full, out_size=30, center=(12, 20))
    assert masks is None
    assert_close(boxes, torch.tensor([[0.0, 0, 12, 20], [12, 0, 30, 20], [0, 20, 12, 30], [12, 20, 30, 30]]))
    assert_close(canvas[:, 20:, 12:], TF.resize(x[3], [10, 18], antialias=True))


# --------------------------------------------------------------------------- bad input
def test_bad_input_gets_a_clear_error():
    x, y = images(b=4), torch.tensor([0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        A.random_hflip(torch.rand(3, 8, 8))
    with pytest.raises(ValueError, match="labels must lie in"):
        A.mixup(x, y, num_classes=3)
    with pytest.raises(ValueError, match="integer labels"):
        A.cutmix(x, y.float(), num_classes=4)
    with pytest.raises(ValueError, match="permutation"):
        A.mixup(x, y, num_classes=4, perm=torch.tensor([0, 0, 1, 2]))
    with pytest.raises(ValueError, match="box must satisfy"):
        A.cutmix(x, y, num_classes=4, box=(0, 0, 40, 4))
    with pytest.raises(ValueError, match="alpha must be positive"):
        A.mixup(x, y, num_classes=4, alpha=0.0)
    with pytest.raises(ValueError, match="4 images"):
        A.mosaic(x[:3], [torch.zeros(1, 4)] * 3, out_size=32)
    with pytest.raises(ValueError, match="size must be"):
        A.cutout(x, size=40)
    with pytest.raises(ValueError, match="3 channels"):
        A.grayscale(torch.rand(2, 1, 4, 4))
    assert math.isfinite(float(A.affine(x, angle=torch.zeros(4), shift=torch.zeros(4, 2), zoom=torch.ones(4)).sum()))
    with pytest.raises(ValueError, match="zoom"):
        A.affine(x, angle=torch.zeros(4), shift=torch.zeros(4, 2), zoom=torch.zeros(4))
