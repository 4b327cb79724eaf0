"""Hooks, CAM, Grad-CAM and the mask-overlap metric, checked against hand computations."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dlnotes.visualize import capture_activations, cam, grad_cam, mask_overlap, normalize, upsample


class GapNet(nn.Module):
    """conv -> ReLU (the explained maps A) -> global average pool -> linear: the architecture CAM needs."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
        self.fc = nn.Linear(4, 3)

    def forward(self, X):
        return self.fc(self.body(X).mean(dim=(2, 3)))


class SquareHead(nn.Module):
    """A = conv(X); y_c = sum_k V[c, k] * mean_ij A_kij^2, so d y_c / d A_kij = 2 V[c, k] A_kij / (h w)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 1)
        self.V = nn.Parameter(torch.randn(4, 3))

    def forward(self, X):
        A = self.conv(X)
        return (A**2).mean(dim=(2, 3)) @ self.V.T


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py

def test_capture_activations_shapes_and_hooks_removed():
    torch.manual_seed(0)
    model = GapNet()
    X = torch.randn(2, 3, 5, 5)
    acts = capture_activations(model, X, {"conv": model.body[0], "relu": model.body[1]})
    assert acts["conv"].shape == acts["relu"].shape == (2, 4, 5, 5)
    torch.testing.assert_close(acts["relu"], torch.relu(acts["conv"]))
    assert not model.body[0]._forward_hooks and not model.body[1]._forward_hooks
    with pytest.raises(ValueError, match="not a submodule"):
        capture_activations(model, X, {"other": nn.ReLU()})


def test_cam_by_hand():
    A = torch.arange(2 * 2 * 3 * 3, dtype=torch.float32).reshape(2, 2, 3, 3)
    W = torch.tensor([[1.0, 0.0], [0.5, -2.0]])
    maps = cam(A, W, torch.tensor([0, 1]))
    torch.testing.assert_close(maps[0], A[0, 0])
    torch.testing.assert_close(maps[1], 0.5 * A[1, 0] - 2.0 * A[1, 1])


def test_grad_cam_by_hand_on_a_square_head():
    torch.manual_seed(0)
    model = SquareHead().eval()
    X = torch.randn(2, 2, 4, 5)
    target = torch.tensor([3, 1])
    maps, logits = grad_cam(model, X, layer=model.conv, target=target, relu=False)
    with torch.no_grad():
        A = model.conv(X)  # (2, 3, 4, 5)
        V = model.V[target]  # (2, 3)
        alpha = 2 * V * A.mean(dim=(2, 3)) / (4 * 5)  # spatial mean of 2 V A / (h w)
        expected = (alpha[:, :, None, None] * A).sum(1)
    torch.testing.assert_close(maps, expected)
    torch.testing.assert_close(logits, model(X).detach())
    maps_relu, _ = grad_cam(model, X, layer=model.conv, target=target)
    torch.testing.assert_close(maps_relu, torch.relu(expected))


def test_grad_cam_equals_cam_up_to_scale_for_gap_and_linear():
    torch.manual_seed(0)
    model = GapNet().eval()
    X = torch.randn(3, 3, 6, 6)
    maps, logits = grad_cam(model, X, layer=model.body, relu=False)  # target: the predicted classes
    A = model.body(X).detach()
    expected = cam(A, model.fc.weight.detach(), logits.argmax(1)) / (6 * 6)
    torch.testing.assert_close(maps, expected)


def test_grad_cam_leaves_parameter_gradients_alone_and_works_when_frozen():
    torch.manual_seed(0)
    model = GapNet().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    maps, _ = grad_cam(model, torch.randn(2, 3, 4, 4), layer=model.body)
    assert maps.shape == (2, 4, 4) and bool((maps >= 0).all())
    assert all(p.grad is None for p in model.parameters())


def test_grad_cam_bad_input():
    model = GapNet()
    X = torch.randn(2, 3, 4, 4)
    with pytest.raises(ValueError, match="eval"):
        grad_cam(model, X, layer=model.body)
    model.eval()
    with pytest.raises(ValueError, match="submodule"):
        grad_cam(model, X, layer=nn.Conv2d(3, 4, 1))
    with pytest.raises(ValueError, match="one class per image"):
        grad_cam(model, X, layer=model.body, target=torch.tensor([0]))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        grad_cam(model, X[0], layer=model.body)
    with pytest.raises(ValueError, match=r"\(B, C, h, w\)"):
        grad_cam(model, X, layer=model.fc)


def test_cam_bad_input():
    A = torch.randn(2, 4, 3, 3)
    with pytest.raises(ValueError, match="num_classes, 4"):
        cam(A, torch.randn(3, 5), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="one integer class"):
        cam(A, torch.randn(3, 4), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        cam(A, torch.randn(3, 4), torch.tensor([0, 3]))


def test_mask_overlap_by_hand():
    masks = torch.zeros(2, 4, 4, dtype=torch.bool)
    masks[:, :2, :2] = True  # a 2x2 object in the top-left corner: chance is 4/16
    heat = torch.zeros(2, 4, 4)
    heat[0, :2, :2] = 1.0  # image 0: hottest exactly on the object
    heat[1, 2:, 2:] = 1.0  # image 1: hottest in the opposite corner
    heat[1, 0, 0] = 0.5  # ... and one object pixel next
    torch.testing.assert_close(mask_overlap(heat, masks), torch.tensor([1.0, 0.0]))
    # top 5 pixels: image 1 gets its 4 hot pixels plus the 0.5 one, 1 of 5 inside
    torch.testing.assert_close(mask_overlap(heat, masks, top_fraction=5 / 16), torch.tensor([0.8, 0.2]))
    # a constant map: ties keep the earliest pixels (the first row), half of which are in the mask
    torch.testing.assert_close(mask_overlap(torch.ones(1, 4, 4), masks[:1]), torch.tensor([0.5]))


def test_mask_overlap_bad_input():
    masks = torch.ones(1, 4, 4, dtype=torch.bool)
    with pytest.raises(ValueError, match="upsample"):
        mask_overlap(torch.randn(1, 2, 2), masks)
    with pytest.raises(ValueError, match="bool"):
        mask_overlap(torch.randn(1, 4, 4), masks.float())
    with pytest.raises(ValueError, match="top_fraction"):
        mask_overlap(torch.randn(1, 4, 4), masks, top_fraction=0.0)
    with pytest.raises(ValueError, match="at least one pixel"):
        mask_overlap(torch.randn(1, 4, 4), ~masks)


def test_normalize_and_upsample():
    maps = torch.tensor([[[1.0, 3.0], [2.0, 5.0]], [[2.0, 2.0], [2.0, 2.0]]])
    out = normalize(maps)
    torch.testing.assert_close(out[0], torch.tensor([[0.0, 0.5], [0.25, 1.0]]))
    torch.testing.assert_close(out[1], torch.zeros(2, 2))
    assert upsample(maps, 8).shape == (2, 8, 8)
    torch.testing.assert_close(upsample(maps[1:], (4, 4)), torch.full((1, 4, 4), 2.0))
    with pytest.raises(ValueError, match=r"\(B, h, w\)"):
        normalize(maps[0])
