"""The lightweight CNNs of dlnotes.models.mobile: against torchvision where it has them, against the papers' tables
where it does not, and their blocks against PyTorch's own operations."""

from __future__ import annotations

import pytest
import torch
import torchvision.models as tvm
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import dlnotes.models as M
from model_helpers import (assert_same_function_in_eval, copy_of_reference, n_params, on_meta,
                           randomise_batch_norm)

pytestmark = pytest.mark.usefixtures("one_thread")


def multiply_adds(model: nn.Module, size: int = 224) -> float:
    """Multiply-adds of one 3 x size x size image, in millions: torch's FLOP count (convs, matmuls) / 2."""
    counter = FlopCounterMode(display=False)
    with counter:
        model.eval()(torch.empty(1, 3, size, size, device="meta"))
    return counter.get_total_flops() / 2e6


# name: (ours, torchvision's), both taking num_classes
PAIRS = {
    "squeezenet1_0": (M.squeezenet1_0, lambda n: tvm.squeezenet1_0(weights=None, num_classes=n)),
    "squeezenet1_1": (M.squeezenet1_1, lambda n: tvm.squeezenet1_1(weights=None, num_classes=n)),
    "mobilenet_v2": (M.mobilenet_v2, lambda n: tvm.mobilenet_v2(weights=None, num_classes=n)),
    "mobilenet_v3_small": (M.mobilenet_v3_small, lambda n: tvm.mobilenet_v3_small(weights=None, num_classes=n)),
    "mobilenet_v3_large": (M.mobilenet_v3_large, lambda n: tvm.mobilenet_v3_large(weights=None, num_classes=n)),
    "shufflenet_v2_x1_0": (M.shufflenet_v2_x1_0, lambda n: tvm.shufflenet_v2_x1_0(weights=None, num_classes=n)),
    "efficientnet_b0": (M.efficientnet_b0, lambda n: tvm.efficientnet_b0(weights=None, num_classes=n)),
}

# the counts in torchvision's model documentation
TORCHVISION_PARAMS = {
    "squeezenet1_0": 1_248_424, "squeezenet1_1": 1_235_496, "mobilenet_v2": 3_504_872,
    "mobilenet_v3_small": 2_542_856, "mobilenet_v3_large": 5_483_032, "shufflenet_v2_x1_0": 2_278_604,
    "efficientnet_b0": 5_288_548,
}


@pytest.mark.parametrize("num_classes", [1000, 10])
@pytest.mark.parametrize("name", list(PAIRS))
def test_param_count_and_output_shape_match_torchvision(name, num_classes):
    ours, theirs = PAIRS[name]
    model, reference = on_meta(lambda: ours(num_classes)).eval(), on_meta(lambda: theirs(num_classes)).eval()
    assert n_params(model) == n_params(reference)
    if num_classes == 1000:
        assert n_params(model) == TORCHVISION_PARAMS[name]
    X = torch.empty(1, 3, 224, 224, device="meta")  # shapes only
    assert model(X).shape == reference(X).shape == (1, num_classes)


def with_reference_weights(name: str, num_classes: int = 10) -> tuple[nn.Module, nn.Module]:
    """Our model and torchvision's, ours holding a copy of torchvision's weights (same order, same shapes)."""
    ours, theirs = PAIRS[name]
    reference = theirs(num_classes)
    randomise_batch_norm(reference, torch.Generator().manual_seed(1))
    return copy_of_reference(lambda: ours(num_classes), reference), reference


@pytest.mark.parametrize("name", list(PAIRS))
def test_same_function_as_torchvision(name):
    """With the same weights (and random BN statistics), the outputs agree in eval mode on 64x64 images."""
    assert_same_function_in_eval(*with_reference_weights(name))


def test_efficientnet_training_mode_same_as_torchvision():
    """Training mode, same seed: the same samples are dropped by stochastic depth and dropout, same outputs."""
    torch.manual_seed(0)
    model, reference = with_reference_weights("efficientnet_b0")
    X = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        torch.manual_seed(1)
        y_hat = model.train()(X)
        torch.manual_seed(1)
        y_ref = reference.train()(X)
    torch.testing.assert_close(y_hat, y_ref)
    probs = [m.drop_path_prob for m in model.modules() if isinstance(m, M.MBConv)]
    assert probs[0] == 0.0 and probs == sorted(probs) and max(probs) == pytest.approx(0.2 * 15 / 16)


# Papers' numbers for the networks torchvision lacks, with their rounding as the tolerance:
# name: (constructor, parameters, tolerance, multiply-adds in millions, tolerance, measured parameters)
PAPER = {
    # Howard et al. 2017, Table 1/8: 4.2 M parameters, 569 M mult-adds
    "mobilenet_v1": (M.mobilenet_v1, 4.2e6, 0.05e6, 569, 1, 4_231_976),
    # Zhang et al. 2018, Table 1: 137 M FLOPs for g = 3; no parameter count in the paper (MMPretrain's: 1.87 M)
    "shufflenet_v1": (M.shufflenet_v1, 1.87e6, 0.005e6, 137, 1, 1_865_728),
    # Han et al. 2020, Table 7: 5.2 M parameters, 141 M FLOPs
    "ghostnet": (M.ghostnet, 5.2e6, 0.05e6, 141, 1, 5_182_508),
    # Cui et al. 2021, Table 2: 2.96 M parameters, 161 M FLOPs. 2.95 M here (0.25% fewer): the 2.96 M fits a
    # count that includes BN's running means and variances (see below). The paper's FLOPs also count BN and
    # h-swish outputs (5.0 M operations at 224x224); the convs and linear layers alone come to 155.7 M (-3.3%).
    "lcnet": (M.lcnet, 2.96e6, 0.005 * 2.96e6, 161, 0.04 * 161, 2_952_520),
}


@pytest.mark.parametrize("name", list(PAPER))
def test_papers_parameter_and_flop_counts(name):
    build, params, params_tol, macs, macs_tol, measured = PAPER[name]
    model = on_meta(build)
    assert n_params(model) == measured  # the count written in the docstring
    assert abs(n_params(model) - params) <= params_tol
    assert abs(multiply_adds(model) - macs) <= macs_tol


def test_lcnet_gaps_explained():
    """Counting BN's running statistics as parameters, and one operation per BN and h-swish output, gives the
    paper's 2.96 M and 161 M exactly as rounded."""
    model = M.lcnet().eval()
    bn_channels = sum(m.num_features for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    assert round((n_params(model) + 2 * bn_channels) / 1e6, 2) == 2.96  # 2,963,464
    assert round(n_params(model) / 1e6, 2) == 2.95
    elementwise = []
    hooks = [m.register_forward_hook(lambda mod, inputs, out: elementwise.append(out.numel()))
             for m in model.modules() if isinstance(m, (nn.BatchNorm2d, nn.Hardswish))]
    with torch.no_grad():
        model(torch.randn(1, 3, 224, 224))
    for h in hooks:
        h.remove()
    assert round(multiply_adds(on_meta(M.lcnet))) == 156
    assert round(multiply_adds(on_meta(M.lcnet)) + sum(elementwise) / 1e6) == 161


@pytest.mark.parametrize("name", list(PAPER))
def test_output_shapes_without_torchvision_twin(name):
    torch.manual_seed(0)
    build = PAPER[name][0]
    model = build(num_classes=10).eval()
    with torch.no_grad():
        y_hat = model(torch.randn(1, 3, 224, 224))
    assert y_hat.shape == (1, 10) and torch.isfinite(y_hat).all()
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]  # only the last layer depends on num_classes
    assert last.out_features == 10
    assert n_params(model) == PAPER[name][5] - (1000 - 10) * (last.in_features + 1)


ALL = {**{name: pair[0] for name, pair in PAIRS.items()}, **{name: row[0] for name, row in PAPER.items()}}
MIN_SIZE = {"squeezenet1_0": 21, "squeezenet1_1": 17}  # unpadded stem and pools; the others pad every conv


@pytest.mark.parametrize("name", list(ALL))
def test_bad_input_raises_value_error(name):
    model = on_meta(ALL[name]).eval()  # the checks run before any computation, so no weights are needed
    with pytest.raises(ValueError, match=r"4-D batch \(B, C, H, W\), got shape \(3, 64, 64\); add the batch"):
        model(torch.randn(3, 64, 64))
    with pytest.raises(ValueError, match=r"3 input channel\(s\), \(B, 3, H, W\), got shape \(2, 1, 64, 64\)"):
        model(torch.randn(2, 1, 64, 64))
    with pytest.raises(ValueError, match="channels-last, use X.permute"):
        model(torch.randn(2, 64, 64, 3))
    with pytest.raises(ValueError, match="floating-point tensor, got torch.uint8"):
        model(torch.zeros(2, 3, 64, 64, dtype=torch.uint8))
    size = MIN_SIZE.get(name, 1)
    assert model.min_size == size
    if size > 1:
        with pytest.raises(ValueError, match=f"at least {size}x{size}, got {size - 1}x{size - 1}"):
            model(torch.randn(2, 3, size - 1, size - 1))
    assert model(torch.empty(2, 3, size, size, device="meta")).shape == (2, 1000)  # the smallest input runs


def test_torchvision_squeezenet_needs_the_same_minimum():
    for build, size in [(lambda: tvm.squeezenet1_0(weights=None), 21), (lambda: tvm.squeezenet1_1(weights=None), 17)]:
        reference = on_meta(build).eval()
        reference(torch.empty(1, 3, size, size, device="meta"))
        with pytest.raises(RuntimeError):
            reference(torch.empty(1, 3, size - 1, size - 1, device="meta"))


def test_bad_arguments_raise_value_error():
    with pytest.raises(ValueError, match="version must be"):
        M.SqueezeNet("1_2")
    with pytest.raises(ValueError, match="groups must be one of"):
        M.shufflenet_v1(groups=5)
    with pytest.raises(ValueError, match="stride must be 1 or 2"):
        M.InvertedResidual(16, 16, expanded_channels=96, stride=3)
    with pytest.raises(ValueError, match="keeps the channel count"):
        M.ShuffleV2Unit(24, 116, stride=1)


# --- blocks -----------------------------------------------------------------------------------------

def test_make_divisible():
    assert [M.make_divisible(v) for v in (32, 16 * 0.75, 24 * 0.5, 960 // 4, 72 // 4, 3)] == [32, 16, 16, 240, 24, 8]
    assert M.make_divisible(20) == 24  # a tie rounds up
    assert M.make_divisible(27) == 32  # the nearest multiple, 24, would be more than 10% below 27


@pytest.mark.parametrize("groups", [2, 3, 4])
def test_channel_shuffle_equals_torch(groups):
    X = torch.randn(2, 12, 3, 3)
    torch.testing.assert_close(M.channel_shuffle(X, groups), nn.ChannelShuffle(groups)(X))
    # channel i of group g moves to position i * groups + g
    order = M.channel_shuffle(torch.arange(12.0).view(1, 12, 1, 1), groups).flatten().tolist()
    assert order == [g * (12 // groups) + i for i in range(12 // groups) for g in range(groups)]


def test_fire_module():
    fire = M.Fire(96, 16, 64, 64)
    with torch.no_grad():
        assert fire(torch.randn(2, 96, 8, 8)).shape == (2, 128, 8, 8)
    # squeeze 96 -> 16, then 16 -> 64 (1x1) and 16 -> 64 (3x3), with biases
    assert n_params(fire) == (96 * 16 + 16) + (16 * 64 + 64) + (16 * 64 * 9 + 64) == 11_920
    assert n_params(fire) < n_params(nn.Conv2d(96, 128, 3, padding=1)) / 9


def test_depthwise_separable_cost_ratio():
    """Howard et al. 2017, section 3.1: depthwise + pointwise over a standard conv costs 1/N + 1/k^2."""
    M_in, N, k = 64, 128, 3
    block = M.DepthwiseSeparable(M_in, N)
    conv_weights = sum(m.weight.numel() for m in block.modules() if isinstance(m, nn.Conv2d))
    assert conv_weights == M_in * k * k + M_in * N
    assert conv_weights / (M_in * N * k * k) == pytest.approx(1 / N + 1 / k**2)
    with torch.no_grad():
        assert block.eval()(torch.randn(2, M_in, 8, 8)).shape == (2, N, 8, 8)
        assert M.DepthwiseSeparable(M_in, N, stride=2).eval()(torch.randn(2, M_in, 8, 8)).shape == (2, N, 4, 4)


def test_inverted_residual_is_linear_and_residual():
    torch.manual_seed(0)
    block = M.InvertedResidual(16, 16, expanded_channels=96).eval()
    assert block.use_residual
    assert not isinstance(block.block[-1][-1], (nn.ReLU, nn.ReLU6))  # the projection ends with BN, no activation
    X = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        out = block(X)
        torch.testing.assert_close(out - X, block.block(X))  # the residual is x + F(x)
        assert (block.block(X) < 0).any()  # a linear bottleneck: negative values survive
    down = M.InvertedResidual(16, 24, expanded_channels=96, stride=2, kernel_size=5, se_channels=24).eval()
    assert not down.use_residual and any(isinstance(m, M.SqueezeExcite) for m in down.modules())
    with torch.no_grad():
        assert down(X).shape == (2, 24, 4, 4)


def test_mobilenet_v3_uses_hard_swish_and_hard_sigmoid():
    model = on_meta(M.mobilenet_v3_large)
    assert sum(isinstance(m, nn.Hardswish) for m in model.modules()) > 0
    gates = [m.gate for m in model.modules() if isinstance(m, M.SqueezeExcite)]
    assert len(gates) == sum(row[3] for row in M.MOBILENET_V3_LARGE) == 8
    assert all(isinstance(g, nn.Hardsigmoid) for g in gates)
    x = torch.linspace(-5, 5, 101)
    torch.testing.assert_close(nn.Hardswish()(x), x * torch.clamp(x + 3, 0, 6) / 6)
    torch.testing.assert_close(nn.Hardsigmoid()(x), torch.clamp(x + 3, 0, 6) / 6)


def test_drop_path():
    torch.manual_seed(0)
    X = torch.ones(4000, 2, 3, 3)
    assert M.drop_path(X, 0.3, training=False) is X
    assert M.drop_path(X, 0.0, training=True) is X
    out = M.drop_path(X, 0.3, training=True)
    per_sample = out.flatten(1)
    assert ((per_sample == 0).all(1) | (per_sample == 1 / 0.7).all(1)).all()  # whole samples dropped or scaled
    assert abs((per_sample[:, 0] == 0).float().mean().item() - 0.3) < 0.03
    assert abs(out.mean().item() - 1.0) < 0.05  # the expectation is unchanged
    assert torch.equal(M.drop_path(X, 1.0, training=True), torch.zeros_like(X))  # all dropped, no 0/0
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        M.drop_path(X, 1.5, training=True)


def test_mbconv_stochastic_depth_drops_the_branch_only():
    torch.manual_seed(0)
    block = M.MBConv(16, 16, expand_ratio=6, kernel_size=3, drop_path_prob=0.5).train()
    X = torch.randn(64, 16, 4, 4)
    with torch.no_grad():
        out = block(X)
    dropped = (out - X).flatten(1).abs().amax(1) == 0  # these samples got the identity
    assert 10 < dropped.sum().item() < 54


def test_ghost_module_is_cheaper_than_a_conv():
    """Han et al. 2020, section 3.1: with ratio s, the Ghost module costs about 1/s of the conv it replaces."""
    ghost = M.GhostModule(64, 128, ratio=2)
    conv = nn.Conv2d(64, 128, 1, bias=False)
    conv_weights = sum(m.weight.numel() for m in ghost.modules() if isinstance(m, nn.Conv2d))
    assert conv_weights == 64 * 64 + 64 * 9  # primary 1x1 to 64 maps + one 3x3 ghost per map
    assert conv_weights / conv.weight.numel() == pytest.approx(0.5 + 9 / 128)
    with torch.no_grad():
        y = ghost.eval()(torch.randn(2, 64, 8, 8))
    assert y.shape == (2, 128, 8, 8)
    odd = M.GhostModule(16, 15)  # ceil(15 / 2) = 8 primary maps, 16 in all, cut to 15
    with torch.no_grad():
        assert odd.eval()(torch.randn(2, 16, 4, 4)).shape == (2, 15, 4, 4)


def test_ghost_bottleneck_and_shuffle_units_shapes():
    torch.manual_seed(0)
    X = torch.randn(2, 24, 8, 8)
    with torch.no_grad():
        assert M.GhostBottleneck(24, 72, 24).eval()(X).shape == (2, 24, 8, 8)
        assert M.GhostBottleneck(24, 72, 40, kernel_size=5, stride=2, use_se=True).eval()(X).shape == (2, 40, 4, 4)
        assert M.ShuffleV1Unit(24, 240, groups=3, stride=2, first_grouped=False).eval()(X).shape == (2, 240, 4, 4)
        assert M.ShuffleV1Unit(240, 240, groups=3).eval()(torch.randn(2, 240, 4, 4)).shape == (2, 240, 4, 4)
        assert M.ShuffleV2Unit(24, 116, stride=2).eval()(X).shape == (2, 116, 4, 4)
        unit = M.ShuffleV2Unit(116, 116).eval()
        Y = torch.randn(2, 116, 4, 4)
        out = unit(Y)
    assert out.shape == (2, 116, 4, 4)
    # the untouched half x1 lands on the even channels after the shuffle
    torch.testing.assert_close(out[:, 0::2], Y[:, :58])


def test_shufflenet_v1_first_pointwise_not_grouped():
    model = on_meta(M.shufflenet_v1)
    units = [m for m in model.modules() if isinstance(m, M.ShuffleV1Unit)]
    assert len(units) == sum(M.mobile.SHUFFLENET_REPEATS) == 16
    assert units[0].gconv1[0].groups == 1 and all(u.gconv1[0].groups == 3 for u in units[1:])
    assert [u.gconv2[0].out_channels for u in units if u.stride == 2] == [240 - 24, 480 - 240, 960 - 480]
