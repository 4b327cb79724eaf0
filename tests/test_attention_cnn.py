"""SE, CBAM and the CSP stage: parameter-count formulas, what the attention maps do, torchvision's SE, bad input."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision.ops import SqueezeExcitation

from dlnotes.models.attention_cnn import (
    CBAM, AttentionBasicBlock, ChannelAttention, CSPStage, SEBlock, SmallResNet, SpatialAttention, make_attention,
)
from dlnotes.models.resnet import BasicBlock


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py

def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("channels, reduction", [(16, 4), (64, 16), (256, 16), (32, 1)])
def test_se_and_channel_attention_parameter_formula(channels, reduction):
    expected = 2 * channels**2 // reduction + channels // reduction + channels  # two linears with biases
    assert n_params(SEBlock(channels, reduction=reduction)) == expected
    assert n_params(ChannelAttention(channels, reduction=reduction)) == expected


@pytest.mark.parametrize("kernel_size", [1, 3, 7])
def test_spatial_attention_and_cbam_parameter_formula(kernel_size):
    assert n_params(SpatialAttention(kernel_size=kernel_size)) == 2 * kernel_size**2 + 1
    cbam = CBAM(64, reduction=16, kernel_size=kernel_size)
    assert n_params(cbam) == 2 * 64**2 // 16 + 64 // 16 + 64 + 2 * kernel_size**2 + 1


def test_se_matches_torchvision_squeeze_excitation():
    torch.manual_seed(0)
    ours = SEBlock(32, reduction=4)
    theirs = SqueezeExcitation(32, 8)  # its 1x1 convs hold the same numbers as our linear layers
    with torch.no_grad():
        theirs.fc1.weight.copy_(ours.fc1.weight[:, :, None, None])
        theirs.fc1.bias.copy_(ours.fc1.bias)
        theirs.fc2.weight.copy_(ours.fc2.weight[:, :, None, None])
        theirs.fc2.bias.copy_(ours.fc2.bias)
    x = torch.randn(3, 32, 5, 6)
    assert n_params(ours) == n_params(theirs)
    torch.testing.assert_close(ours(x), theirs(x))


def test_attention_maps_lie_in_0_1_and_rescale_the_input():
    torch.manual_seed(0)
    x = torch.randn(2, 16, 8, 8) * 5
    se, ca, sa = SEBlock(16, reduction=4), ChannelAttention(16, reduction=4), SpatialAttention()
    for module, shape in [(se, (2, 16, 1, 1)), (ca, (2, 16, 1, 1)), (sa, (2, 1, 8, 8))]:
        weights = module.attention_map(x)
        assert weights.shape == shape
        assert bool(((weights > 0) & (weights < 1)).all())
        torch.testing.assert_close(module(x), x * weights)
    cbam = CBAM(16, reduction=4)
    after_channel = x * cbam.channel.attention_map(x)
    torch.testing.assert_close(cbam(x), after_channel * cbam.spatial.attention_map(after_channel))


def test_channel_and_spatial_attention_by_hand():
    torch.manual_seed(1)
    x = torch.randn(2, 8, 4, 4)
    ca = ChannelAttention(8, reduction=2)
    fc1, fc2 = ca.mlp[0], ca.mlp[2]

    def mlp(v):
        return torch.relu(v @ fc1.weight.T + fc1.bias) @ fc2.weight.T + fc2.bias

    by_hand = torch.sigmoid(mlp(x.mean((2, 3))) + mlp(x.amax((2, 3))))
    torch.testing.assert_close(ca.attention_map(x)[:, :, 0, 0], by_hand)

    sa = SpatialAttention(kernel_size=3)
    pooled = torch.stack([x.mean(1), x.amax(1)], dim=1)
    by_hand = torch.sigmoid(nn.functional.conv2d(pooled, sa.conv.weight, sa.conv.bias, padding=1))
    torch.testing.assert_close(sa.attention_map(x), by_hand)


def test_plain_attention_block_is_the_basic_block():
    torch.manual_seed(0)
    ours, plain = AttentionBasicBlock(8, 16, stride=2), BasicBlock(8, 16, stride=2)
    plain.load_state_dict(ours.state_dict())
    x = torch.randn(2, 8, 8, 8)
    ours.eval(), plain.eval()
    torch.testing.assert_close(ours(x), plain(x))
    se = AttentionBasicBlock(8, 16, stride=2, attention="se", reduction=4)
    assert n_params(se) - n_params(plain) == 2 * 16**2 // 4 + 16 // 4 + 16
    assert se(x).shape == (2, 16, 4, 4)


def test_csp_stage_parameter_formula_and_shape():
    c_in, c_out, n = 16, 32, 2
    h = c_out // 2
    stage = CSPStage(c_in, c_out, num_blocks=n, stride=2)
    expected = (9 * c_in * c_out + 2 * c_out  # 3x3 base conv + BN
                + n * (2 * 9 * h * h + 2 * 2 * h)  # basic blocks on half the channels
                + h * h + 2 * h  # 1x1 transition of that half
                + c_out * c_out + 2 * c_out)  # 1x1 fusion after the concatenation
    assert n_params(stage) == expected
    assert stage(torch.randn(2, c_in, 16, 16)).shape == (2, c_out, 8, 8)


def test_csp_stage_first_half_skips_the_blocks():
    torch.manual_seed(0)
    stage = CSPStage(4, 8).eval()
    x = torch.randn(1, 4, 6, 6)
    base = stage.base(x)
    # Zeroing the blocks' path changes only what comes through the second half.
    with torch.no_grad():
        for p in stage.transition.parameters():
            p.zero_()
        expected = stage.fuse(torch.cat([base[:, :4], torch.zeros_like(base[:, 4:])], dim=1))
    torch.testing.assert_close(stage(x), expected)


@pytest.mark.parametrize("attention", [None, "se", "cbam"])
@pytest.mark.parametrize("csp", [False, True])
def test_small_resnet_shapes(attention, csp):
    model = SmallResNet(num_classes=5, widths=(8, 16, 32), attention=attention, csp=csp).eval()
    X = torch.randn(2, 3, 32, 32)
    assert model.features(X).shape == (2, 32, 8, 8)
    assert model(X).shape == (2, 5)
    model2 = SmallResNet(widths=(16, 32), stem_stride=2, stem_kernel=5, attention=attention, csp=csp).eval()
    assert model2.features(X).shape == (2, 32, 8, 8)
    assert model2.stem[0].weight.shape == (16, 3, 5, 5)


def test_small_resnet_attention_adds_exactly_the_modules_parameters():
    widths, r = (16, 32, 64), 4
    plain = n_params(SmallResNet(widths=widths, reduction=r))
    se = n_params(SmallResNet(widths=widths, attention="se", reduction=r))
    cbam = n_params(SmallResNet(widths=widths, attention="cbam", reduction=r))
    se_formula = sum(2 * c * c // r + c // r + c for c in widths)
    assert se - plain == se_formula
    assert cbam - plain == se_formula + len(widths) * (2 * 7**2 + 1)


def test_bad_input_gives_clear_errors():
    with pytest.raises(ValueError, match="reduction"):
        SEBlock(8, reduction=16)
    with pytest.raises(ValueError, match="odd"):
        SpatialAttention(kernel_size=4)
    with pytest.raises(ValueError, match="even"):
        CSPStage(8, 7)
    with pytest.raises(ValueError, match="attention must be one of"):
        make_attention("eca", 8)
    with pytest.raises(ValueError, match="attention must be one of"):
        SmallResNet(attention="sk")
    with pytest.raises(ValueError, match="16 input channel"):
        SEBlock(16, reduction=4)(torch.randn(2, 8, 4, 4))
    with pytest.raises(ValueError, match="unsqueeze"):
        SEBlock(16, reduction=4)(torch.randn(16, 4, 4))
    with pytest.raises(ValueError, match="floating-point"):
        SmallResNet()(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="stem_stride"):
        SmallResNet(stem_stride=4)
    with pytest.raises(ValueError, match="stem_kernel"):
        SmallResNet(stem_kernel=4)
