"""The from-scratch normalizations in dlnotes.norm equal PyTorch's (outputs, gradients, running statistics)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from dlnotes import norm


def randn(*shape, seed=0, scale=1.0, shift=0.0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype) * scale + shift


def random_affine(module: nn.Module, seed: int = 1) -> None:
    """Give gamma and beta values other than their (1, 0) defaults, so that a swapped pair would be caught."""
    with torch.no_grad():
        module.weight.copy_(1 + 0.5 * randn(*module.weight.shape, seed=seed))
        module.bias.copy_(randn(*module.bias.shape, seed=seed + 1))


# --------------------------------------------------------------------------- batch norm
@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_batchnorm2d_matches_torch_over_training_steps_then_eval(momentum):
    ours, ref = norm.BatchNorm2d(3, momentum=momentum), nn.BatchNorm2d(3, momentum=momentum)
    random_affine(ref)
    ours.load_state_dict(ref.state_dict())  # same buffers and parameters, so state dicts load
    for step in range(4):  # the input's statistics drift from batch to batch
        x = randn(5, 3, 4, 6, seed=10 + step, scale=2.0 + step, shift=step - 1.0)
        assert_close(ours(x), ref(x))
        assert_close(ours.running_mean, ref.running_mean)
        assert_close(ours.running_var, ref.running_var)
    assert ours.num_batches_tracked.item() == ref.num_batches_tracked.item() == 4
    ours.eval(), ref.eval()
    x = randn(2, 3, 4, 6, seed=99, scale=3.0)
    assert_close(ours(x), ref(x))
    running_before = ours.running_mean.clone()
    ours(x)
    assert_close(ours.running_mean, running_before)  # eval mode leaves the running statistics alone


def test_running_var_uses_the_unbiased_variance():
    x = randn(4, 2, 3, 3, seed=3, scale=2.0)
    bn = norm.BatchNorm2d(2, momentum=1.0)  # momentum 1: running_var becomes the last batch's variance
    bn(x)
    n = 4 * 3 * 3
    unbiased = x.transpose(0, 1).reshape(2, -1).var(dim=1, unbiased=True)
    assert_close(bn.running_var, unbiased)
    assert not torch.allclose(bn.running_var, unbiased * (n - 1) / n)  # the biased one differs


def test_batchnorm_gradients_match_torch():
    x1 = randn(6, 4, 3, 3, seed=4, scale=2.0).requires_grad_()
    x2 = x1.detach().clone().requires_grad_()
    ours, ref = norm.BatchNorm2d(4), nn.BatchNorm2d(4)
    random_affine(ref)
    ours.load_state_dict(ref.state_dict())
    g = randn(6, 4, 3, 3, seed=5)
    (ours(x1) * g).sum().backward()
    (ref(x2) * g).sum().backward()
    assert_close(x1.grad, x2.grad)
    assert_close(ours.weight.grad, ref.weight.grad)
    assert_close(ours.bias.grad, ref.bias.grad)


@pytest.mark.parametrize("shape", [(8, 5), (4, 5, 7), (2, 5, 3, 4, 2)])
def test_functional_batch_norm_matches_torch_for_any_rank(shape):
    x = randn(*shape, seed=6, scale=1.5, shift=0.3)
    C = shape[1]
    weight, bias = randn(C, seed=7), randn(C, seed=8)
    rm1, rv1, rm2, rv2 = torch.zeros(C), torch.ones(C), torch.zeros(C), torch.ones(C)
    out = norm.batch_norm(x, running_mean=rm1, running_var=rv1, weight=weight, bias=bias, training=True, momentum=0.3)
    ref = F.batch_norm(x, rm2, rv2, weight, bias, training=True, momentum=0.3)
    assert_close(out, ref)
    assert_close(rm1, rm2)
    assert_close(rv1, rv2)
    out = norm.batch_norm(x, running_mean=rm1, running_var=rv1, weight=weight, bias=bias, training=False)
    assert_close(out, F.batch_norm(x, rm2, rv2, weight, bias, training=False))


def test_batch_norm_without_affine_gives_zero_mean_unit_variance_per_channel():
    x = randn(16, 3, 5, 5, seed=9, scale=4.0, shift=2.0)
    y = norm.BatchNorm2d(3, affine=False)(x)
    assert_close(y.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    assert_close(y.var(dim=(0, 2, 3), unbiased=False), torch.ones(3), atol=1e-3, rtol=0)


def test_batch_norm_rejects_bad_input():
    bn = norm.BatchNorm2d(3)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        bn(torch.zeros(2, 4, 5, 5))  # wrong number of channels
    with pytest.raises(ValueError, match="at least 4 dims"):
        bn(torch.zeros(2, 3, 5))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(torch.zeros(1, 3, 1, 1))
    with pytest.raises(ValueError, match="floating-point"):
        bn(torch.zeros(2, 3, 4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="running_var"):
        norm.batch_norm(torch.zeros(4, 3), running_mean=torch.zeros(3))
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        norm.batch_norm(torch.zeros(4, 3), weight=torch.ones(4))
    with pytest.raises(ValueError, match="momentum"):
        norm.BatchNorm2d(3, momentum=1.5)
    with pytest.raises(ValueError, match="num_features"):
        norm.BatchNorm2d(0)


# --------------------------------------------------------------------------- layer, group, instance norm
@pytest.mark.parametrize("normalized_shape", [(6,), (4, 6), (3, 4, 6)])
def test_layer_norm_matches_torch(normalized_shape):
    x = randn(2, 3, 4, 6, seed=11, scale=3.0, shift=1.0)
    ref = nn.LayerNorm(normalized_shape)
    random_affine(ref)
    out = norm.layer_norm(x, normalized_shape, weight=ref.weight, bias=ref.bias)
    assert_close(out, ref(x))
    assert_close(norm.layer_norm(x, normalized_shape), F.layer_norm(x, normalized_shape))


def test_layer_norm_int_shape_and_gradients():
    x1 = randn(5, 8, seed=12, scale=2.0).requires_grad_()
    x2 = x1.detach().clone().requires_grad_()
    ref = nn.LayerNorm(8)
    random_affine(ref)
    weight, bias = ref.weight.detach().clone().requires_grad_(), ref.bias.detach().clone().requires_grad_()
    g = randn(5, 8, seed=13)
    (norm.layer_norm(x1, 8, weight=weight, bias=bias) * g).sum().backward()
    (ref(x2) * g).sum().backward()
    assert_close(x1.grad, x2.grad)
    assert_close(weight.grad, ref.weight.grad)


@pytest.mark.parametrize("num_groups", [1, 2, 3, 6])
def test_group_norm_matches_torch(num_groups):
    x = randn(3, 6, 4, 5, seed=14, scale=2.0, shift=-1.0)
    ref = nn.GroupNorm(num_groups, 6)
    random_affine(ref)
    assert_close(norm.group_norm(x, num_groups, weight=ref.weight, bias=ref.bias), ref(x))


def test_group_norm_extremes_are_layer_norm_and_instance_norm():
    x = randn(3, 6, 4, 5, seed=15, scale=2.0)
    assert_close(norm.group_norm(x, 1), norm.layer_norm(x, (6, 4, 5)))
    assert_close(norm.group_norm(x, 6), norm.instance_norm(x))


@pytest.mark.parametrize("shape", [(3, 4, 5, 6), (3, 4, 7)])
def test_instance_norm_matches_torch(shape):
    x = randn(*shape, seed=16, scale=2.0, shift=0.5)
    ref = nn.InstanceNorm2d(4, affine=True) if len(shape) == 4 else nn.InstanceNorm1d(4, affine=True)
    random_affine(ref)
    assert_close(norm.instance_norm(x, weight=ref.weight, bias=ref.bias), ref(x))
    assert_close(norm.instance_norm(x), F.instance_norm(x))


def test_per_sample_norms_do_not_depend_on_the_rest_of_the_batch():
    x = randn(4, 6, 3, 3, seed=17)
    other = randn(4, 6, 3, 3, seed=18)
    mixed = torch.cat([x[:1], other[1:]])  # same first sample, different companions
    for f in (lambda t: norm.group_norm(t, 3), norm.instance_norm, lambda t: norm.layer_norm(t, (6, 3, 3))):
        assert_close(f(x)[0], f(mixed)[0])
    assert not torch.allclose(norm.batch_norm(x)[0], norm.batch_norm(mixed)[0])


def test_layer_group_instance_norm_reject_bad_input():
    x = torch.zeros(2, 6, 4, 4)
    with pytest.raises(ValueError, match="trailing dims"):
        norm.layer_norm(x, (6, 4))
    with pytest.raises(ValueError, match="trailing dims"):
        norm.layer_norm(torch.zeros(4), (2, 4))
    with pytest.raises(ValueError, match=r"weight must have shape \(4,\)"):
        norm.layer_norm(x, 4, weight=torch.ones(6))
    with pytest.raises(ValueError, match="dividing the 6 channels"):
        norm.group_norm(x, 4)
    with pytest.raises(ValueError, match=r"bias must have shape \(6,\)"):
        norm.group_norm(x, 2, bias=torch.zeros(3))
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        norm.instance_norm(torch.zeros(2, 6, 1, 1))
    with pytest.raises(ValueError, match="at least 3 dims"):
        norm.instance_norm(torch.zeros(2, 6))
    with pytest.raises(TypeError, match="torch.Tensor"):
        norm.group_norm([[1.0, 2.0]], 1)
