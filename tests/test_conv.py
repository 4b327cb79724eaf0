"""dlnotes.conv and dlnotes.receptive_field equal PyTorch/torchvision and reject bad input."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close
from torchvision.ops import deform_conv2d as tv_deform_conv2d

from dlnotes import conv
from dlnotes.receptive_field import Layer, empirical_receptive_field, input_gradient, layers_of, receptive_field


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# --------------------------------------------------------------------------- conv_output_size
def test_conv_output_size_matches_pytorch_on_a_grid():
    for size, k, s, p, d in itertools.product(range(1, 12), range(1, 5), range(1, 4), range(3), range(1, 3)):
        if size + 2 * p < d * (k - 1) + 1:
            with pytest.raises(ValueError, match="kernel spans"):
                conv.conv_output_size(size, kernel=k, stride=s, padding=p, dilation=d)
            continue
        out = F.conv2d(torch.zeros(1, 1, size, 1), torch.zeros(1, 1, k, 1), stride=(s, 1), padding=(p, 0),
                       dilation=(d, 1))
        assert conv.conv_output_size(size, kernel=k, stride=s, padding=p, dilation=d) == out.shape[2]


@pytest.mark.parametrize("bad", [{"size": 0}, {"kernel": 0}, {"stride": 0}, {"padding": -1}, {"dilation": 1.5},
                                 {"size": True}])
def test_conv_output_size_rejects_bad_arguments(bad):
    args = {"size": 8, "kernel": 3, "stride": 1, "padding": 0, "dilation": 1, **bad}
    with pytest.raises(ValueError, match=list(bad)[0]):
        conv.conv_output_size(args.pop("size"), **args)


# --------------------------------------------------------------------------- conv2d
@pytest.mark.parametrize("stride,padding,dilation,groups,kernel",
                         list(itertools.product([1, 2, 3], [0, 1, (2, 0)], [1, 2], [1, 3], [1, 2, 3])))
def test_conv2d_matches_pytorch(stride, padding, dilation, groups, kernel):
    x = randn(2, 6, 11, 9)
    weight, bias = randn(12, 6 // groups, kernel, kernel, seed=1), randn(12, seed=2)
    expected = F.conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation, groups=groups)
    assert_close(conv.conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation, groups=groups),
                 expected)


@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
@pytest.mark.parametrize("kernel", [(3, 3), (4, 4), (2, 5)])
@pytest.mark.parametrize("padding", ["same", "valid"])
def test_conv2d_string_padding_matches_pytorch(kernel, padding):
    x, weight = randn(1, 2, 7, 8), randn(3, 2, *kernel, seed=1)
    assert_close(conv.conv2d(x, weight, padding=padding), F.conv2d(x, weight, padding=padding))


def test_conv2d_gradients_match_pytorch():
    x, weight = randn(2, 4, 8, 8).requires_grad_(), randn(6, 2, 3, 3, seed=1).requires_grad_()
    ours = torch.autograd.grad(conv.conv2d(x, weight, stride=2, padding=1, groups=2).square().sum(), (x, weight))
    theirs = torch.autograd.grad(F.conv2d(x, weight, stride=2, padding=1, groups=2).square().sum(), (x, weight))
    assert_close(ours, theirs)


@pytest.mark.parametrize("kwargs,match", [
    ({"x": torch.zeros(3, 8, 8)}, r"\(B, C, H, W\)"),
    ({"x": torch.zeros(1, 3, 8, 8, dtype=torch.long)}, "floating-point"),
    ({"weight": torch.zeros(4, 3, 3)}, "C_out, C_in/groups"),
    ({"weight": torch.zeros(4, 2, 3, 3)}, "input channels"),
    ({"groups": 2}, "must divide"),
    ({"bias": torch.zeros(3)}, r"bias must have shape \(4,\)"),
    ({"stride": 0}, "stride must be >= 1"),
    ({"padding": -1}, "padding must be >= 0"),
    ({"padding": "same", "stride": 2}, "needs stride 1"),
    ({"padding": "full"}, "padding must be an int"),
    ({"x": torch.zeros(1, 3, 2, 2)}, "kernel spans"),
])
def test_conv2d_rejects_bad_input(kwargs, match):
    args = {"x": torch.zeros(1, 3, 8, 8), "weight": torch.zeros(4, 3, 3, 3), **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        conv.conv2d(args.pop("x"), args.pop("weight"), **args)


# --------------------------------------------------------------------------- transposed convolution
@pytest.mark.parametrize("stride,padding,dilation,groups,kernel",
                         list(itertools.product([1, 2, 3], [0, 1, 3], [1, 2], [1, 2], [1, 3, 4])))
def test_transposed_conv_by_zero_insertion_matches_pytorch(stride, padding, dilation, groups, kernel):
    x = randn(2, 4, 5, 6)
    for output_padding in range(max(stride, dilation)):
        weight, bias = randn(4, 6 // groups, kernel, kernel, seed=output_padding + 1), randn(6, seed=9)
        try:
            expected = F.conv_transpose2d(x, weight, bias, stride=stride, padding=padding,
                                          output_padding=output_padding, groups=groups, dilation=dilation)
        except RuntimeError:  # PyTorch refuses an empty output; so must we
            with pytest.raises(ValueError):
                conv.transposed_conv_by_zero_insertion(x, weight, bias, stride=stride, padding=padding,
                                                       output_padding=output_padding, dilation=dilation,
                                                       groups=groups)
            continue
        ours = conv.transposed_conv_by_zero_insertion(x, weight, bias, stride=stride, padding=padding,
                                                      output_padding=output_padding, dilation=dilation, groups=groups)
        assert_close(ours, expected)


def test_transposed_conv_rejects_bad_input():
    x = torch.zeros(1, 4, 5, 5)
    with pytest.raises(ValueError, match="output_padding must be smaller"):
        conv.transposed_conv_by_zero_insertion(x, torch.zeros(4, 2, 3, 3), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="C_in=4 rows"):
        conv.transposed_conv_by_zero_insertion(x, torch.zeros(3, 2, 3, 3))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        conv.transposed_conv_by_zero_insertion(torch.zeros(4, 5, 5), torch.zeros(4, 2, 3, 3))


# --------------------------------------------------------------------------- deformable convolution
@pytest.mark.parametrize("stride,padding,dilation,groups,offset_groups,kernel,use_mask",
                         list(itertools.product([1, 2], [0, 1], [1, 2], [1, 2], [1, 3], [1, 3], [False, True])))
def test_deform_conv2d_matches_torchvision(stride, padding, dilation, groups, offset_groups, kernel, use_mask):
    x = randn(2, 6, 9, 8)
    weight, bias = randn(4, 6 // groups, kernel, kernel, seed=1), randn(4, seed=2)
    h_out = conv.conv_output_size(9, kernel=kernel, stride=stride, padding=padding, dilation=dilation)
    w_out = conv.conv_output_size(8, kernel=kernel, stride=stride, padding=padding, dilation=dilation)
    offset = 2 * randn(2, 2 * offset_groups * kernel**2, h_out, w_out, seed=3)  # many samples fall outside
    mask = randn(2, offset_groups * kernel**2, h_out, w_out, seed=4).sigmoid() if use_mask else None
    expected = tv_deform_conv2d(x, offset, weight, bias, stride=stride, padding=padding, dilation=dilation, mask=mask)
    assert_close(conv.deform_conv2d(x, offset, weight, bias, stride=stride, padding=padding, dilation=dilation,
                                    mask=mask), expected)


def test_deform_conv2d_gradients_match_torchvision():
    x, weight = randn(1, 2, 6, 6).requires_grad_(), randn(3, 2, 3, 3, seed=1).requires_grad_()
    offset = (0.7 * randn(1, 18, 6, 6, seed=2)).requires_grad_()
    ours = torch.autograd.grad(conv.deform_conv2d(x, offset, weight, padding=1).square().sum(), (x, offset, weight))
    theirs = torch.autograd.grad(tv_deform_conv2d(x, offset, weight, padding=1).square().sum(), (x, offset, weight))
    assert_close(ours, theirs)


def test_deform_conv2d_with_zero_offsets_is_a_convolution():
    x, weight = randn(2, 3, 7, 7), randn(5, 3, 3, 3, seed=1)
    offset = torch.zeros(2, 18, 4, 4, dtype=torch.float64)
    assert_close(conv.deform_conv2d(x, offset, weight, stride=2, padding=1), F.conv2d(x, weight, stride=2, padding=1))


def test_bilinear_sample_interpolates_and_is_zero_outside():
    x = torch.arange(12.0).reshape(1, 1, 3, 4)  # value = 4 * row + col: linear inside the image
    ys, xs = torch.tensor([[0.5, 1.25, -1.0, 2.0]]), torch.tensor([[0.5, 2.5, 1.0, 4.0]])
    assert_close(conv.bilinear_sample(x, ys, xs), torch.tensor([[[2.5, 7.5, 0.0, 0.0]]]))


def test_deform_conv2d_rejects_bad_input():
    x, weight = torch.zeros(1, 4, 6, 6), torch.zeros(2, 4, 3, 3)
    with pytest.raises(ValueError, match="offset must have shape"):
        conv.deform_conv2d(x, torch.zeros(1, 18, 5, 5), weight)  # output is 4x4
    with pytest.raises(ValueError, match="offset must have shape"):
        conv.deform_conv2d(x, torch.zeros(1, 17, 4, 4), weight)
    with pytest.raises(ValueError, match="mask must have shape"):
        conv.deform_conv2d(x, torch.zeros(1, 18, 4, 4), weight, mask=torch.zeros(1, 18, 4, 4))
    with pytest.raises(ValueError, match="does not fit"):
        conv.deform_conv2d(x, torch.zeros(1, 18, 4, 4), torch.zeros(2, 3, 3, 3))


# --------------------------------------------------------------------------- receptive fields
def test_receptive_field_recurrence_on_known_stacks():
    assert receptive_field([Layer(3)] * 3) == 7                                  # three 3x3 convs
    assert receptive_field([Layer(3, dilation=d) for d in (1, 2, 4)]) == 15        # dilations 1, 2, 4
    assert receptive_field([Layer(3), Layer(2, 2), Layer(3)]) == 8                  # conv, pool, conv
    assert receptive_field([Layer(3)] * 10, input_size=12) == 12                   # capped at the image
    assert receptive_field([]) == 1


STACKS = {
    "plain": nn.Sequential(*[nn.Conv2d(2, 2, 3, padding=1) for _ in range(4)]),
    "pooling": nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(8, 8, 3), nn.ReLU(), nn.AvgPool2d(3, stride=2), nn.Conv2d(8, 4, 1)),
    "strided": nn.Sequential(nn.Conv2d(1, 4, 5, stride=2, padding=2), nn.Conv2d(4, 4, 3, stride=3), nn.Conv2d(4, 4, 3)),
    "dilated": nn.Sequential(nn.Conv2d(1, 4, 3, dilation=2), nn.MaxPool2d(3, stride=2, dilation=2),
                             nn.Conv2d(4, 4, 3, dilation=3, groups=4)),
    "even": nn.Sequential(nn.Conv2d(1, 2, 4, stride=2), nn.Conv2d(2, 2, 2)),
}


@pytest.mark.parametrize("name", STACKS)
def test_recurrence_equals_measured_receptive_field(name):
    model = STACKS[name]
    field = receptive_field(layers_of(model))
    assert empirical_receptive_field(model, input_size=field + 21) == (field, field)


def test_measurement_is_capped_by_the_image():
    model = nn.Sequential(*[nn.Conv2d(1, 1, 3, padding=1) for _ in range(6)])  # field 13
    assert empirical_receptive_field(model, input_size=8) == (8, 8)
    assert receptive_field(layers_of(model), input_size=8) == 8


def test_input_gradient_is_positive_on_the_field_only():
    grad = input_gradient(STACKS["plain"], input_size=15)  # field 9, centred on pixel 7
    assert (grad[3:12, 3:12] > 0).all() and grad.sum() == grad[3:12, 3:12].sum()


def test_receptive_field_rejects_bad_input():
    with pytest.raises(ValueError, match="positive int"):
        Layer(0)
    with pytest.raises(ValueError, match="sequence of Layer"):
        receptive_field([(3, 1, 1)])
    with pytest.raises(ValueError, match="input_size"):
        receptive_field([Layer(3)], input_size=0)
    with pytest.raises(ValueError, match="no Conv2d"):
        layers_of(nn.ReLU())
    with pytest.raises(ValueError, match="square"):
        layers_of(nn.Conv2d(1, 1, (3, 5)))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        empirical_receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Flatten()), input_size=8)
