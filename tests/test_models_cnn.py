"""The CNNs of dlnotes.models against torchvision: same parameter counts, same outputs, same behaviour."""

from __future__ import annotations

import math

import pytest
import torch
import torchvision.models as tvm
from torch import nn

import dlnotes.models as M
from model_helpers import (assert_same_function_in_eval, copy_of_reference, n_params, on_meta,
                           randomise_batch_norm)


def tv_googlenet(num_classes: int = 1000, aux_logits: bool = False) -> nn.Module:
    return tvm.googlenet(weights=None, num_classes=num_classes, aux_logits=aux_logits, init_weights=True)


# name: (ours, torchvision's), both taking num_classes
PAIRS = {
    "alexnet": (M.alexnet, lambda n: tvm.alexnet(weights=None, num_classes=n)),
    "vgg11": (M.vgg11, lambda n: tvm.vgg11(weights=None, num_classes=n)),
    "vgg16": (M.vgg16, lambda n: tvm.vgg16(weights=None, num_classes=n)),
    "vgg16_bn": (lambda n: M.vgg16(n, batch_norm=True), lambda n: tvm.vgg16_bn(weights=None, num_classes=n)),
    "googlenet": (M.googlenet, tv_googlenet),
    "googlenet_aux": (lambda n: M.googlenet(n, aux_logits=True), lambda n: tv_googlenet(n, aux_logits=True)),
    "resnet18": (M.resnet18, lambda n: tvm.resnet18(weights=None, num_classes=n)),
    "resnet34": (M.resnet34, lambda n: tvm.resnet34(weights=None, num_classes=n)),
    "resnet50": (M.resnet50, lambda n: tvm.resnet50(weights=None, num_classes=n)),
    "resnet101": (M.resnet101, lambda n: tvm.resnet101(weights=None, num_classes=n)),
    "resnet152": (M.resnet152, lambda n: tvm.resnet152(weights=None, num_classes=n)),
    "resnext50_32x4d": (M.resnext50_32x4d, lambda n: tvm.resnext50_32x4d(weights=None, num_classes=n)),
    "densenet121": (M.densenet121, lambda n: tvm.densenet121(weights=None, num_classes=n)),
}
# the ones whose outputs are compared number for number (the others reuse their blocks)
SAME_FUNCTION = ["alexnet", "vgg16_bn", "googlenet_aux", "resnet18", "resnext50_32x4d", "densenet121"]


@pytest.mark.parametrize("num_classes", [1000, 10])
@pytest.mark.parametrize("name", list(PAIRS))
def test_param_count_and_output_shape_match_torchvision(name, num_classes):
    ours, theirs = PAIRS[name]
    model, reference = on_meta(lambda: ours(num_classes)).eval(), on_meta(lambda: theirs(num_classes)).eval()
    assert n_params(model) == n_params(reference)
    X = torch.empty(2, 3, 64, 64, device="meta")  # shapes only: every model runs on 64x64 images
    assert model(X).shape == reference(X).shape == (2, num_classes)


def test_known_param_counts():
    # the counts in torchvision's model documentation
    assert n_params(on_meta(M.alexnet)) == 61_100_840
    assert n_params(on_meta(M.vgg16)) == 138_357_544
    assert n_params(on_meta(M.googlenet)) == 6_624_904
    assert n_params(on_meta(M.resnet18)) == 11_689_512
    assert n_params(on_meta(M.resnet50)) == 25_557_032
    assert n_params(on_meta(M.resnext50_32x4d)) == 25_028_904
    assert n_params(on_meta(M.densenet121)) == 7_978_856


def with_reference_weights(name: str, num_classes: int = 10) -> tuple[nn.Module, nn.Module]:
    """Our model and torchvision's, ours holding a copy of torchvision's weights (same order, same shapes)."""
    ours, theirs = PAIRS[name]
    reference = theirs(num_classes)
    randomise_batch_norm(reference, torch.Generator().manual_seed(1))
    return copy_of_reference(lambda: ours(num_classes), reference), reference


@pytest.mark.parametrize("name", SAME_FUNCTION)
def test_same_function_as_torchvision(name):
    """With the same weights, the outputs agree on 64x64 images."""
    assert_same_function_in_eval(*with_reference_weights(name))


def test_googlenet_aux_heads_same_function_as_torchvision():
    """In training mode, with the same seed (so the same dropout masks), all three outputs agree."""
    torch.manual_seed(0)
    model, reference = with_reference_weights("googlenet_aux")
    X = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.manual_seed(1)
        out = model.train()(X)
        torch.manual_seed(1)
        ref = reference.train()(X)
    for y_hat, y_ref in zip(out, ref):
        torch.testing.assert_close(y_hat, y_ref)


def test_googlenet_aux_outputs_like_torchvision():
    """Training mode with aux_logits=True: (logits, aux_logits2, aux_logits1); otherwise the logits alone."""
    model = on_meta(lambda: M.googlenet(10, aux_logits=True))
    reference = on_meta(lambda: tv_googlenet(10, aux_logits=True))
    X = torch.empty(2, 3, 64, 64, device="meta")
    out, ref = model.train()(X), reference.train()(X)
    assert isinstance(out, M.GoogLeNetOutputs) and out._fields == ref._fields
    assert [t.shape for t in out] == [t.shape for t in ref] == [(2, 10)] * 3
    assert isinstance(model.eval()(X), torch.Tensor) and isinstance(reference.eval()(X), torch.Tensor)
    # without auxiliary heads the logits come alone in training mode too, and the heads cost no parameters
    plain = on_meta(lambda: M.googlenet(10)).train()
    assert isinstance(plain(X), torch.Tensor) and plain.aux1 is None and plain.aux2 is None
    assert n_params(model) - n_params(plain) == n_params(model.aux1) + n_params(model.aux2)


def test_inception_block_channels_and_paper_5x5():
    block = M.Inception(192, *M.GOOGLENET_TABLE[0])  # 3a
    with torch.no_grad():
        assert block.eval()(torch.randn(2, 192, 8, 8)).shape == (2, 64 + 128 + 32 + 32, 8, 8)
    paper = M.Inception(192, *M.GOOGLENET_TABLE[0], kernel_size_5=5)
    assert n_params(paper) - n_params(block) == 16 * 32 * (25 - 9)  # the 5x5 branch's conv: 16 -> 32 channels


def test_alexnet_paper_variant():
    model = M.alexnet(paper=True)
    conv_widths = [m.out_channels for m in model.features if isinstance(m, nn.Conv2d)]
    assert conv_widths == [96, 256, 384, 384, 256]
    assert sum(isinstance(m, nn.LocalResponseNorm) for m in model.features) == 2
    assert n_params(model) == 62_378_344  # "60 million parameters" (with the two GPU halves merged)
    with torch.no_grad():
        assert model.eval()(torch.randn(2, 3, 64, 64)).shape == (2, 1000)


def test_lenet5_shapes_and_params():
    model = M.lenet5(num_classes=10).eval()
    # C1 156 + C3 2416 (full connection; the paper's table leaves 1516) + C5 48120 + F6 10164 + output 850
    assert n_params(model) == 61_706
    pools = [m for m in model.features if isinstance(m, nn.AvgPool2d)]
    assert len(pools) == 2 and all(p.kernel_size == 2 for p in pools)  # 2x2 subsampling, not global pooling
    with torch.no_grad():
        assert model(torch.randn(4, 1, 32, 32)).shape == (4, 10)
        for in_size in (8, 28):  # sklearn digits, MNIST: zero-padded to 32x32 inside the model
            small = M.lenet5(num_classes=10, in_channels=1, in_size=in_size).eval()
            assert n_params(small) == 61_706
            assert small(torch.randn(4, 1, in_size, in_size)).shape == (4, 10)
    with pytest.raises(ValueError, match="expects 32x32 images, got 28x28"):
        model(torch.randn(4, 1, 28, 28))
    with pytest.raises(ValueError, match=r"1 input channel\(s\), \(B, 1, H, W\), got shape \(4, 3, 32, 32\)"):
        model(torch.randn(4, 3, 32, 32))
    with pytest.raises(ValueError, match="in_size"):
        M.lenet5(in_size=64)


def conv_weights(block: nn.Module) -> int:
    return sum(m.weight.numel() for m in block.modules() if isinstance(m, nn.Conv2d))


def test_bottleneck_saves_parameters():
    """He et al. 2016, Fig. 5: at 256 channels a bottleneck costs what a basic block costs at 64."""
    bottleneck = M.Bottleneck(256, 64)  # 256 -> 64 -> 64 -> 256
    two_3x3 = M.BasicBlock(256, 256)  # two 3x3 convs at 256 channels
    basic_64 = M.BasicBlock(64, 64)
    assert conv_weights(bottleneck) == 256 * 64 + 64 * 64 * 9 + 64 * 256 == 69_632
    assert conv_weights(two_3x3) == 2 * 256 * 256 * 9 == 1_179_648
    assert conv_weights(basic_64) == 2 * 64 * 64 * 9 == 73_728
    assert n_params(two_3x3) / n_params(bottleneck) > 16
    assert abs(conv_weights(bottleneck) / conv_weights(basic_64) - 1) < 0.1
    with torch.no_grad():
        X = torch.randn(2, 256, 8, 8)
        assert bottleneck.eval()(X).shape == two_3x3.eval()(X).shape == (2, 256, 8, 8)


def test_resnext_grouped_conv_has_fewer_params():
    grouped = M.Bottleneck(256, 64, groups=32, width_per_group=4)  # 3x3 conv: 128 -> 128 in 32 groups of 4
    dense = M.Bottleneck(256, 64, groups=1, width_per_group=128)  # same width 128, one group
    assert grouped.conv2.weight.numel() == 128 * 4 * 9
    assert dense.conv2.weight.numel() == 128 * 128 * 9 == 32 * grouped.conv2.weight.numel()
    assert n_params(grouped) < n_params(dense)
    assert n_params(on_meta(M.resnext50_32x4d)) < n_params(on_meta(M.resnet50))


def test_small_models_train_fast_shapes():
    torch.manual_seed(0)
    X = torch.randn(2, 3, 32, 32)
    tiny = M.resnet18(num_classes=10, width=16)
    assert n_params(tiny) < n_params(on_meta(lambda: M.resnet18(10))) / 10
    small_models = [
        tiny,
        M.resnet18(num_classes=10, width=16, small_input=True),
        M.resnext50_32x4d(num_classes=10, width=16),
        M.vgg([16, "M", 32, "M", 64, "M"], num_classes=10, hidden_dim=64, pool_size=1),
        M.DenseNet(growth_rate=12, block_config=(6, 6, 6), num_init_features=24, num_classes=10),
        M.googlenet(num_classes=10),
    ]
    with torch.no_grad():
        for model in small_models:
            assert model.eval()(X).shape == (2, 10)
    # one training step of the tiny ResNet: every parameter gets a gradient
    loss = nn.functional.cross_entropy(tiny.train()(X), torch.tensor([0, 1]))
    loss.backward()
    assert all(p.grad is not None for p in tiny.parameters())


def test_densenet_parts():
    block = M.DenseBlock(6, 64, growth_rate=32)
    with torch.no_grad():
        y = block.eval()(torch.randn(2, 64, 8, 8))
        assert y.shape == (2, 64 + 6 * 32, 8, 8)
        assert M.Transition(256, 128).eval()(y).shape == (2, 128, 4, 4)
    assert M.densenet121().classifier.in_features == 1024


def test_initialisation():
    torch.manual_seed(0)
    model = M.resnet50()
    conv = model.stem[0]  # Kaiming normal, fan_out: std = sqrt(2 / (out_channels * 7 * 7))
    assert abs(conv.weight.std().item() / math.sqrt(2 / (64 * 49)) - 1) < 0.1
    assert all(torch.equal(m.weight, torch.ones_like(m.weight)) and torch.equal(m.bias, torch.zeros_like(m.bias))
               for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    zeroed = M.resnet18(zero_init_residual=True)
    assert all(torch.count_nonzero(b.bn2.weight) == 0 for b in zeroed.modules() if isinstance(b, M.BasicBlock))
    # so a block without a projection starts as relu(x)
    block = zeroed.layer1[0].eval()
    X = torch.randn(2, 64, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(block(X), torch.relu(X))
    bottlenecks = M.resnet50(zero_init_residual=True)
    assert all(torch.count_nonzero(b.bn3.weight) == 0 for b in bottlenecks.modules() if isinstance(b, M.Bottleneck))


@pytest.mark.parametrize("build, too_small, match", [
    (lambda: M.resnet18(10), None, None),  # any H, W >= 1 works
    (lambda: M.alexnet(10), 32, "at least 63x63, got 32x32"),
    (lambda: M.vgg16(10), 16, "at least 32x32, got 16x16"),
    (lambda: M.googlenet(10), 8, "at least 15x15, got 8x8"),
    (lambda: M.densenet121(10), 16, "at least 29x29, got 16x16"),
])
def test_bad_input_raises_value_error(build, too_small, match):
    model = on_meta(build).eval()  # the checks run before any computation, so no weights are needed
    with pytest.raises(ValueError, match=r"4-D batch \(B, C, H, W\), got shape \(3, 64, 64\); add the batch"):
        model(torch.randn(3, 64, 64))
    with pytest.raises(ValueError, match=r"3 input channel\(s\), \(B, 3, H, W\), got shape \(2, 1, 64, 64\)"):
        model(torch.randn(2, 1, 64, 64))
    with pytest.raises(ValueError, match="channels-last, use X.permute"):
        model(torch.randn(2, 64, 64, 3))
    with pytest.raises(ValueError, match="floating-point tensor, got torch.uint8"):
        model(torch.zeros(2, 3, 64, 64, dtype=torch.uint8))
    if too_small is not None:
        with pytest.raises(ValueError, match=match):
            model(torch.randn(2, 3, too_small, too_small))


def test_bad_arguments_raise_value_error():
    with pytest.raises(ValueError, match="four positive block counts"):
        M.ResNet(M.BasicBlock, [2, 2, 2])
    with pytest.raises(ValueError, match="use Bottleneck"):
        M.ResNet(M.BasicBlock, [2, 2, 2, 2], groups=32, width_per_group=4)
    with pytest.raises(ValueError, match="starts with a conv"):
        M.vgg(["M", 64])
    with pytest.raises(ValueError, match="block_config"):
        M.DenseNet(block_config=())
    with pytest.raises(ValueError, match="Bottleneck expects 256 input channel"):
        M.Bottleneck(256, 64)(torch.randn(1, 64, 8, 8))


def test_paper_alexnet_lrn_matches_the_paper_formula():
    """The paper's LRN: a / (k + alpha * sum of n neighbouring squares) ** beta, alpha=1e-4, n=5, k=2."""
    from dlnotes import models

    lrn = [m for m in models.alexnet(paper=True, num_classes=10).features if isinstance(m, torch.nn.LocalResponseNorm)][0]
    a = torch.relu(torch.randn(2, 12, 4, 4, generator=torch.Generator().manual_seed(0)) * 40)
    squares = a.pow(2)
    energy = torch.stack([squares[:, max(0, i - 2): i + 3].sum(dim=1) for i in range(12)], dim=1)
    torch.testing.assert_close(lrn(a), a / (2.0 + 1e-4 * energy) ** 0.75)
