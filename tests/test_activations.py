"""The from-scratch activations in dlnotes.activations equal PyTorch's, values and slopes, and reject bad input."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from dlnotes import activations as A

# name -> (ours, PyTorch's)
PAIRS = {
    "sigmoid": (A.sigmoid, torch.sigmoid),
    "tanh": (A.tanh, torch.tanh),
    "relu": (A.relu, F.relu),
    "relu6": (A.relu6, F.relu6),
    "leaky_relu": (lambda x: A.leaky_relu(x, negative_slope=0.1), lambda x: F.leaky_relu(x, 0.1)),
    "softplus": (A.softplus, F.softplus),
    "softplus_beta2": (lambda x: A.softplus(x, beta=2.0), lambda x: F.softplus(x, beta=2.0)),
    "silu": (A.silu, F.silu),
    "gelu": (A.gelu, F.gelu),
    "gelu_tanh": (lambda x: A.gelu(x, approximate="tanh"), lambda x: F.gelu(x, approximate="tanh")),
    "mish": (A.mish, F.mish),
    "hard_sigmoid": (A.hard_sigmoid, F.hardsigmoid),
    "hard_swish": (A.hard_swish, F.hardswish),
}


def grid(dtype=torch.float32):
    """Points from -12 to 12 plus 0, tiny values and the kinks of ReLU6 / hard-swish."""
    special = torch.tensor([0.0, 1e-6, -1e-6, 3.0, -3.0, 6.0, 0.5, -0.5], dtype=dtype)
    return torch.cat([torch.linspace(-12, 12, 241, dtype=dtype), special])


@pytest.mark.parametrize("name", sorted(PAIRS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_values_match_torch(name, dtype):
    ours, theirs = PAIRS[name]
    x = grid(dtype)
    assert_close(ours(x), theirs(x))


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_slopes_match_torch_autograd(name):
    ours, theirs = PAIRS[name]
    x = grid(torch.float64)
    assert_close(A.derivative(ours, x), A.derivative(theirs, x))


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softplus", "silu", "mish", "gelu_tanh"])
def test_no_overflow_for_huge_inputs(name):
    ours, theirs = PAIRS[name]
    x = torch.tensor([-1e4, -100.0, 100.0, 1e4])
    y, slope = ours(x), A.derivative(ours, x)
    assert torch.isfinite(y).all() and torch.isfinite(slope).all()
    assert_close(y, theirs(x))


def test_naive_formulas_would_overflow():
    """The reason for the careful forms: exp(1000) is inf in float32."""
    x = torch.tensor([-1000.0, 1000.0])
    naive_tanh = (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x))
    assert torch.isnan(naive_tanh).all()
    assert_close(A.tanh(x), torch.tensor([-1.0, 1.0]))


def test_closed_form_derivatives_and_their_maxima():
    x = torch.arange(-1000, 1001, dtype=torch.float64) / 100  # contains 0 exactly
    assert_close(A.sigmoid_derivative(x), A.derivative(torch.sigmoid, x))
    assert_close(A.tanh_derivative(x), A.derivative(torch.tanh, x))
    assert A.sigmoid_derivative(x).max().item() == pytest.approx(0.25)
    assert A.tanh_derivative(x).max().item() == pytest.approx(1.0)
    assert x[A.sigmoid_derivative(x).argmax()].item() == 0.0
    assert (A.sigmoid_derivative(x) <= 0.25).all() and (A.tanh_derivative(x) <= 1.0).all()


def test_relu_slope_is_zero_at_and_below_zero():
    x = torch.tensor([-2.0, 0.0, 2.0])
    assert_close(A.derivative(A.relu, x), torch.tensor([0.0, 0.0, 1.0]))
    assert_close(A.derivative(lambda t: A.leaky_relu(t, negative_slope=0.2), x), torch.tensor([0.2, 0.2, 1.0]))


def test_swish_family():
    x = grid(torch.float64)
    assert_close(A.swish(x, beta=1.0), A.silu(x))
    assert_close(A.swish(x, beta=0.0), x / 2)  # beta = 0: a straight line
    assert_close(A.swish(torch.tensor([-50.0, 50.0]), beta=50.0), torch.tensor([0.0, 50.0]))  # large beta: ReLU


def test_gelu_approximations_are_close_but_not_equal():
    x = torch.linspace(-8, 8, 16001, dtype=torch.float64)
    exact = A.gelu(x)
    tanh_err = (A.gelu(x, approximate="tanh") - exact).abs().max().item()
    sigmoid_err = (A.gelu(x, approximate="sigmoid") - exact).abs().max().item()
    assert 1e-4 < tanh_err < 1e-3
    assert 1e-2 < sigmoid_err < 3e-2
    # exact GELU is x * Phi(x), Phi the standard normal CDF
    phi = torch.distributions.Normal(0.0, 1.0).cdf(x)
    assert_close(exact, x * phi)


def test_hard_swish_approximates_swish():
    x = torch.linspace(-8, 8, 1601)
    assert (A.hard_swish(x) - A.silu(x)).abs().max() < 0.25
    assert_close(A.hard_swish(torch.tensor([-4.0, 4.0])), torch.tensor([0.0, 4.0]))


@pytest.mark.parametrize("num_parameters", [1, 3])
def test_prelu_module_matches_torch(num_parameters):
    x = torch.randn(4, 3, 5, 5, generator=torch.Generator().manual_seed(0))
    ours, theirs = A.PReLU(num_parameters, init=0.1), nn.PReLU(num_parameters, init=0.1)
    with torch.no_grad():
        ours.weight.copy_(torch.linspace(0.05, 0.3, num_parameters))
        theirs.weight.copy_(ours.weight)
    assert_close(ours(x), theirs(x))
    ours(x).square().sum().backward()
    theirs(x).square().sum().backward()
    assert_close(ours.weight.grad, theirs.weight.grad)  # the slope is learned the same way


def test_prelu_on_flat_input_and_shared_slope():
    x = torch.linspace(-2, 2, 9)
    assert_close(A.prelu(x, torch.tensor([0.25])), F.prelu(x, torch.tensor([0.25])))


def test_derivative_matches_hand_formula_and_keeps_no_graph():
    x = torch.linspace(-2, 2, 9, requires_grad=True)
    slope = A.derivative(lambda t: t**3, x)
    assert_close(slope, 3 * x.detach() ** 2)
    assert not slope.requires_grad and x.grad is None


def test_dead_units():
    h = torch.tensor([[1.0, -1.0, 0.0], [-2.0, -0.5, 0.0], [0.5, -3.0, 2.0]])
    assert A.dead_units(h).tolist() == [False, True, False]
    assert A.dead_units(torch.zeros(4, 2)).tolist() == [True, True]  # exactly 0 gets no gradient either


@pytest.mark.parametrize("call, match", [
    (lambda: A.relu(torch.tensor([1, 2])), "floating-point"),
    (lambda: A.gelu(torch.zeros(3), approximate="erf"), "approximate must be one of"),
    (lambda: A.softplus(torch.zeros(3), beta=0.0), "beta must be"),
    (lambda: A.leaky_relu(torch.zeros(3), negative_slope=math.nan), "negative_slope"),
    (lambda: A.prelu(torch.zeros(2, 4), torch.ones(3)), r"\(N, 3, \*\)"),
    (lambda: A.prelu(torch.zeros(2, 4), torch.ones(2, 2)), "weight must have shape"),
    (lambda: A.PReLU(0), "num_parameters"),
    (lambda: A.derivative(lambda t: t.sum(), torch.zeros(3)), "elementwise"),
    (lambda: A.dead_units(torch.zeros(5)), r"\(N, H\)"),
])
def test_bad_input_raises_clear_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_non_tensor_raises_type_error():
    with pytest.raises(TypeError, match="torch.Tensor"):
        A.sigmoid([0.0, 1.0])
