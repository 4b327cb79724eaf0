"""dlnotes.models.swin and dlnotes.models.convnext against torchvision: parameter counts, output shapes and the same
function with the same weights (full size at 224x224, small configurations at other sizes), the pieces (window
attention, relative position index, patch merging, LayerNorm2d, drop path), and bad input."""

from __future__ import annotations

import pytest
import torch
import torchvision.models as tvm
from torch import nn
from torchvision.models.convnext import CNBlockConfig
from torchvision.models.convnext import LayerNorm2d as TorchvisionLayerNorm2d
from torchvision.models.swin_transformer import PatchMerging as TorchvisionPatchMerging
from torchvision.models.swin_transformer import ShiftedWindowAttention

import dlnotes.models as M
from model_helpers import copy_of_reference, n_params, on_meta

pytestmark = pytest.mark.usefixtures("one_thread")


def randomise(reference: nn.Module) -> None:
    """Make a comparison bite: a random head (torchvision's may start near zero) and, for ConvNeXt, layer scales of
    about 0.1 instead of 1e-6 (at 1e-6 the blocks add almost nothing and any block would pass)."""
    with torch.no_grad():
        for name, p in reference.named_parameters():
            if "layer_scale" in name:
                p.normal_(std=0.1)
        head = reference.head if hasattr(reference, "head") else reference.classifier[-1]
        head.weight.normal_(std=0.02)
        head.bias.normal_(std=0.02)


def assert_same_function(model: nn.Module, reference: nn.Module, X: torch.Tensor) -> None:
    with torch.no_grad():
        y_hat, y_ref = model.eval()(X), reference.eval()(X)
    assert y_ref.std() > 0
    torch.testing.assert_close(y_hat, y_ref)


# --- full size ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("ours, theirs, count", [(M.swin_t, tvm.swin_t, 28_288_354),
                                                 (M.convnext_tiny, tvm.convnext_tiny, 28_589_128)])
@pytest.mark.parametrize("num_classes", [1000, 10])
def test_param_count_and_output_shape_match_torchvision(ours, theirs, count, num_classes):
    model = on_meta(lambda: ours(num_classes)).eval()
    reference = on_meta(lambda: theirs(weights=None, num_classes=num_classes)).eval()
    assert n_params(model) == n_params(reference)
    if num_classes == 1000:
        assert n_params(model) == count  # torchvision's model documentation
    X = torch.empty(2, 3, 224, 224, device="meta")  # shapes only
    assert model(X).shape == reference(X).shape == (2, num_classes)


@pytest.mark.parametrize("ours, theirs", [(M.swin_t, tvm.swin_t), (M.convnext_tiny, tvm.convnext_tiny)])
def test_full_model_same_function_as_torchvision(ours, theirs):
    """The full-size models at 224x224, one image, eval mode; each built once."""
    torch.manual_seed(0)
    reference = theirs(weights=None, num_classes=10)
    randomise(reference)
    assert_same_function(copy_of_reference(lambda: ours(10), reference), reference, torch.randn(1, 3, 224, 224))


@pytest.mark.parametrize("ours, theirs", [(M.swin_t, tvm.swin_t), (M.convnext_tiny, tvm.convnext_tiny)])
def test_drop_path_rates_match_torchvision(ours, theirs):
    # 0 in the first block, rising linearly to 0.2 (Swin-T) or 0.1 (ConvNeXt-T) in the last
    model, reference = on_meta(ours), on_meta(lambda: theirs(weights=None))
    rates = [m.drop_path for m in model.modules() if isinstance(m, (M.SwinBlock, M.ConvNeXtBlock))]
    expected = [m.p for m in reference.modules() if type(m).__name__ == "StochasticDepth"]
    assert len(rates) == (12 if ours is M.swin_t else 18)
    assert rates == pytest.approx(expected)


# --- small configurations -----------------------------------------------------------------------------

@pytest.mark.parametrize("size", [(32, 32), (16, 32), (48, 16)])  # at 16 the last map is one window: no shift
def test_small_swin_same_function_as_torchvision(size):
    torch.manual_seed(0)
    reference = tvm.SwinTransformer(patch_size=[2, 2], embed_dim=16, depths=[2, 2], num_heads=[2, 4],
                                    window_size=[4, 4], stochastic_depth_prob=0.0, num_classes=10)
    randomise(reference)
    model = copy_of_reference(lambda: M.SwinTransformer([(16, 2, 2), (32, 2, 4)], 10, patch_size=2, window=4),
                              reference)
    assert_same_function(model, reference, torch.randn(2, 3, *size))
    assert model.features(torch.randn(2, 3, *size)).shape == (2, size[0] // 4, size[1] // 4, 32)


def test_small_convnext_same_function_as_torchvision():
    torch.manual_seed(0)
    reference = tvm.ConvNeXt([CNBlockConfig(16, 32, 1), CNBlockConfig(32, None, 2)], num_classes=10)
    randomise(reference)
    model = copy_of_reference(lambda: M.ConvNeXt([(16, 1), (32, 2)], 10), reference)
    assert_same_function(model, reference, torch.randn(2, 3, 36, 44))  # sizes need not be multiples of 8
    assert model.features(torch.randn(2, 3, 36, 44)).shape == (2, 32, 4, 5)


@pytest.mark.parametrize("build", [lambda: M.SwinTransformer([(16, 2, 2), (32, 2, 4)], 10, patch_size=2, window=4,
                                                             drop_path=0.1),
                                   lambda: M.ConvNeXt([(16, 1), (32, 2)], 10, drop_path=0.1)])
def test_small_models_train_a_step(build):
    torch.manual_seed(0)
    model = build()
    X, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    nn.functional.cross_entropy(model(X), y).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


# --- the pieces ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("shift", [0, 2])
def test_window_attention_equals_torchvision(shift):
    torch.manual_seed(0)
    reference = ShiftedWindowAttention(16, [4, 4], [shift, shift], num_heads=2)
    ours = M.WindowAttention(16, 2, window=4, shift=shift)
    assert torch.equal(ours.relative_position_index, reference.relative_position_index)  # computed, not copied
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(2, 8, 12, 16)
    torch.testing.assert_close(ours(x), reference(x))
    assert ours.relative_position_bias().shape == (2, 16, 16)


def test_relative_position_index_rows_depend_on_the_offset_only():
    index = M.relative_position_index(3).view(9, 9)  # tokens of a 3x3 window in row-major order
    assert index.min() == 0 and index.max() == 5 * 5 - 1 and index.unique().numel() == 25
    assert index[0, 0] == index[4, 4] == index[8, 8]  # offset (0, 0)
    assert index[1, 0] == index[2, 1] == index[5, 4]  # offset (0, +1): one to the right
    assert index[0, 1] != index[1, 0]  # (0, -1) is another offset than (0, +1)


def test_shifted_window_mask_per_axis():
    # the map is rolled along W only: the mask blocks exactly the pairs that wrapped around along W
    H, W, window = 4, 12, 4
    cols = torch.arange(W).expand(H, W)
    before = cols.roll(-2, dims=1)  # the column each token had before the roll
    window_of = lambda t: M.window_partition(t[None, :, :, None], window).flatten(1)  # noqa: E731 (nW, w*w)
    b, a = window_of(before), window_of(cols)
    expected = (b[:, :, None] - b[:, None, :]) == (a[:, :, None] - a[:, None, :])
    mask = M.shifted_window_mask(H, W, window, (0, 2))
    assert torch.equal(mask, expected) and (~mask).any()
    assert torch.equal(M.shifted_window_mask(8, 8, 4, (2, 2)), M.shifted_window_mask(8, 8, 4, 2))


def test_patch_merging_equals_torchvision():
    torch.manual_seed(0)
    reference = TorchvisionPatchMerging(8)
    ours = M.PatchMerging(8, 16)
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(2, 6, 4, 8)
    torch.testing.assert_close(ours(x), reference(x))
    assert ours(x).shape == (2, 3, 2, 16)


def test_layernorm2d_normalises_each_pixel_over_channels():
    torch.manual_seed(0)
    norm = M.LayerNorm2d(6, eps=1e-6)
    x = torch.randn(2, 6, 5, 7) * 3 + 1
    y = norm(x)
    torch.testing.assert_close(y.mean(dim=1), torch.zeros(2, 5, 7), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var(dim=1, unbiased=False), torch.ones(2, 5, 7), atol=1e-4, rtol=0)
    torch.testing.assert_close(y, TorchvisionLayerNorm2d(6, eps=1e-6)(x))


@pytest.mark.parametrize("block, x", [(lambda: M.ConvNeXtBlock(8, layer_scale=1.0, drop_path=0.5),
                                       torch.randn(16, 8, 5, 5)),
                                      (lambda: M.SwinBlock(8, 2, window=2, shift=1, drop_path=0.5),
                                       torch.randn(16, 4, 4, 8))])
def test_drop_path_keeps_or_drops_whole_samples(block, x):
    torch.manual_seed(0)
    b = block()
    with torch.no_grad():
        branch = b.eval()(x) - x  # the residual branch (for Swin: both branches, when neither is dropped)
        y = b.train()(x)
    if isinstance(b, M.ConvNeXtBlock):  # one branch: each sample is x or x + branch / (1 - p)
        dropped = torch.isclose(y, x).flatten(1).all(1)
        kept = torch.isclose(y, x + 2 * branch, atol=1e-5).flatten(1).all(1)
        assert (dropped | kept).all() and dropped.any() and kept.any()
    else:  # two branches: some samples are exactly x (both dropped), others are not
        dropped = torch.isclose(y, x).flatten(1).all(1)
        assert dropped.any() and not dropped.all()


# --- bad input ----------------------------------------------------------------------------------------

def test_swin_bad_input():
    model = M.SwinTransformer([(16, 1, 2), (32, 1, 4)], 5, patch_size=2, window=4)  # multiples of 2 * 2 * 4 = 16
    with pytest.raises(ValueError, match=r"divisible by 16 \(patch_size 2 x 2\^1 patch merges x window 4\).*24x32"):
        model(torch.randn(1, 3, 24, 32))
    with pytest.raises(ValueError, match="channels-last"):
        model(torch.randn(1, 32, 32, 3))
    with pytest.raises(ValueError, match="4-D batch"):
        model(torch.randn(3, 32, 32))
    with pytest.raises(ValueError, match="divisible by num_heads"):
        M.SwinTransformer([(30, 1, 4)], 5)
    with pytest.raises(ValueError, match="shift < window"):
        M.WindowAttention(16, 2, window=4, shift=4)
    with pytest.raises(ValueError, match=r"\(B, H, W, 16\) map with H and W divisible by window=4"):
        M.WindowAttention(16, 2, window=4)(torch.randn(1, 6, 8, 16))
    with pytest.raises(ValueError, match="even H and W"):
        M.PatchMerging(8, 16)(torch.randn(1, 5, 4, 8))
    with pytest.raises(ValueError, match="at least one"):
        M.SwinTransformer([], 5)


def test_swin_t_names_the_size_it_needs():
    model = on_meta(M.swin_t)
    with pytest.raises(ValueError, match="divisible by 224 .* got 256x256"):
        model(torch.empty(1, 3, 256, 256, device="meta"))


def test_convnext_bad_input():
    model = M.ConvNeXt([(16, 1), (32, 1)], 5)  # two stages: at least 4 * 2 = 8 pixels
    with pytest.raises(ValueError, match="at least 8x8, got 4x8"):
        model(torch.randn(1, 3, 4, 8))
    with pytest.raises(ValueError, match="channels-last"):
        model(torch.randn(1, 16, 16, 3))
    with pytest.raises(ValueError, match="floating-point"):
        model(torch.zeros(1, 3, 16, 16, dtype=torch.uint8))
    with pytest.raises(ValueError, match="at least one"):
        M.ConvNeXt([], 5)
