"""The from-scratch losses in dlnotes.losses equal PyTorch's, values and gradients, and reject bad input."""

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close
from torchvision.ops import sigmoid_focal_loss as tv_sigmoid_focal_loss

from dlnotes import losses as L

REDUCTIONS = ["mean", "sum", "none"]


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(*shape, seed=0, scale=1.0, dtype=torch.float32):
    return torch.randn(*shape, generator=gen(seed), dtype=dtype) * scale


def labels(n, num_classes, seed=1):
    return torch.randint(0, num_classes, (n,), generator=gen(seed))


def probs_like(*shape, seed=2):
    return torch.rand(*shape, generator=gen(seed)).clamp(0.01, 0.99)


# --------------------------------------------------------------------------- softmax family
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_and_log_softmax_match_torch(dim):
    x = randn(4, 5, 3, scale=5)
    assert_close(L.softmax(x, dim), F.softmax(x, dim=dim))
    assert_close(L.naive_softmax(x, dim), F.softmax(x, dim=dim))
    assert_close(L.log_softmax(x, dim), F.log_softmax(x, dim=dim))
    assert_close(L.logsumexp(x, dim), torch.logsumexp(x, dim=dim))


def test_softmax_rows_sum_to_one_and_shift_invariant():
    x = randn(6, 10, scale=3)
    assert_close(L.softmax(x).sum(dim=1), torch.ones(6))
    assert_close(L.softmax(x + 123.0), L.softmax(x))


def test_naive_softmax_overflows_where_stable_one_does_not():
    x = torch.tensor([[1000.0, 0.0], [-1000.0, -1001.0]])
    naive = L.naive_softmax(x)
    assert not torch.isfinite(naive[0]).all()  # exp(1000) = inf, inf / inf = nan
    assert torch.isnan(naive[1]).all()  # exp(-1000) underflows to 0, 0 / 0 = nan
    stable = L.softmax(x)
    assert torch.isfinite(stable).all()
    assert_close(stable, F.softmax(x, dim=-1))
    assert_close(L.log_softmax(x), F.log_softmax(x, dim=-1))
    assert torch.isfinite(L.log_softmax(x)).all()


def test_log_softmax_gradient_matches_torch():
    x1 = randn(5, 7, scale=4).requires_grad_()
    x2 = x1.detach().clone().requires_grad_()
    w = randn(5, 7, seed=3)
    (L.log_softmax(x1) * w).sum().backward()
    (F.log_softmax(x2, dim=-1) * w).sum().backward()
    assert_close(x1.grad, x2.grad)


# --------------------------------------------------------------------------- classification
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_integer_labels(reduction):
    logits, y = randn(8, 5, scale=3), labels(8, 5)
    assert_close(L.cross_entropy(logits, y, reduction=reduction), F.cross_entropy(logits, y, reduction=reduction))
    log_p = F.log_softmax(logits, dim=1)
    assert_close(L.nll_loss(log_p, y, reduction=reduction), F.nll_loss(log_p, y, reduction=reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probability_targets(reduction):
    logits = randn(8, 5, scale=3)
    soft = F.softmax(randn(8, 5, seed=4), dim=1)
    assert_close(L.cross_entropy(logits, soft, reduction=reduction),
                 F.cross_entropy(logits, soft, reduction=reduction))


def test_one_hot_targets_equal_integer_labels():
    logits, y = randn(8, 5, scale=3), labels(8, 5)
    one_hot = F.one_hot(y, num_classes=5).float()
    assert_close(L.cross_entropy(logits, one_hot), L.cross_entropy(logits, y))


def test_softmax_loss_example_from_the_notes():
    # probabilities [0.1, 0.15, 0.05, 0.6, 0.1] with true class 3 cost -log(0.6)
    p = torch.tensor([[0.1, 0.15, 0.05, 0.6, 0.1]])
    assert_close(L.cross_entropy(p.log(), torch.tensor([3])), -torch.log(torch.tensor(0.6)))


def test_cross_entropy_gradient_matches_torch():
    x1 = randn(6, 4, scale=2).requires_grad_()
    x2 = x1.detach().clone().requires_grad_()
    y = labels(6, 4)
    L.cross_entropy(x1, y).backward()
    F.cross_entropy(x2, y).backward()
    assert_close(x1.grad, x2.grad)
    # the gradient of softmax cross-entropy is (softmax - one_hot) / N
    assert_close(x1.grad, (F.softmax(x2, dim=1) - F.one_hot(y, 4)).detach() / 6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_both_forms(reduction):
    logits = randn(4, 6, scale=4)
    target = (randn(4, 6, seed=5) > 0).float()
    assert_close(L.binary_cross_entropy_with_logits(logits, target, reduction=reduction),
                 F.binary_cross_entropy_with_logits(logits, target, reduction=reduction))
    p = torch.sigmoid(logits)
    assert_close(L.binary_cross_entropy(p, target, reduction=reduction),
                 F.binary_cross_entropy(p, target, reduction=reduction))


def test_bce_with_logits_is_stable_for_large_logits():
    logits = torch.tensor([200.0, -200.0, 200.0])
    target = torch.tensor([0.0, 1.0, 1.0])
    ours = L.binary_cross_entropy_with_logits(logits, target, reduction="none")
    assert_close(ours, torch.tensor([200.0, 200.0, 0.0]))
    # on probabilities, sigmoid(200) rounds to 1 and the log is clamped at -100, as in PyTorch
    p = torch.sigmoid(logits)
    assert_close(L.binary_cross_entropy(p, target, reduction="none"),
                 F.binary_cross_entropy(p, target, reduction="none"))


def test_bce_with_logits_gradient_matches_torch():
    x1 = randn(10, scale=3).requires_grad_()
    x2 = x1.detach().clone().requires_grad_()
    t = probs_like(10)
    L.binary_cross_entropy_with_logits(x1, t).backward()
    F.binary_cross_entropy_with_logits(x2, t).backward()
    assert_close(x1.grad, x2.grad)


# --------------------------------------------------------------------------- regression
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses_match_torch(reduction):
    y_hat, y = randn(5, 3, scale=2), randn(5, 3, seed=6, scale=2)
    assert_close(L.mse_loss(y_hat, y, reduction=reduction), F.mse_loss(y_hat, y, reduction=reduction))
    assert_close(L.l1_loss(y_hat, y, reduction=reduction), F.l1_loss(y_hat, y, reduction=reduction))
    for delta in (0.5, 1.0, 3.0):
        assert_close(L.huber_loss(y_hat, y, delta=delta, reduction=reduction),
                     F.huber_loss(y_hat, y, delta=delta, reduction=reduction))
    for beta in (0.0, 0.5, 1.0):
        assert_close(L.smooth_l1_loss(y_hat, y, beta=beta, reduction=reduction),
                     F.smooth_l1_loss(y_hat, y, beta=beta, reduction=reduction))


def test_huber_gradient_matches_torch_and_is_bounded():
    x1 = randn(50, scale=5).requires_grad_()
    x2 = x1.detach().clone().requires_grad_()
    y = torch.zeros(50)
    L.huber_loss(x1, y, delta=1.0, reduction="sum").backward()
    F.huber_loss(x2, y, delta=1.0, reduction="sum").backward()
    assert_close(x1.grad, x2.grad)
    assert x1.grad.abs().max() <= 1.0  # an outlier pulls no harder than delta


# --------------------------------------------------------------------------- focal loss
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_focal_with_gamma_zero_is_cross_entropy(reduction):
    logits, y = randn(8, 5, scale=3), labels(8, 5)
    assert_close(L.focal_loss(logits, y, gamma=0.0, reduction=reduction),
                 F.cross_entropy(logits, y, reduction=reduction))


def test_focal_alpha_per_class_matches_weighted_cross_entropy_sum():
    logits, y = randn(8, 5, scale=3), labels(8, 5)
    alpha = torch.tensor([0.1, 0.2, 0.3, 0.2, 0.2])
    assert_close(L.focal_loss(logits, y, gamma=0.0, alpha=alpha, reduction="sum"),
                 F.cross_entropy(logits, y, weight=alpha, reduction="sum"))


def test_focal_loss_shrinks_easy_examples_most():
    logits, y = randn(64, 5, scale=3), labels(64, 5)
    ce = F.cross_entropy(logits, y, reduction="none")
    fl = L.focal_loss(logits, y, gamma=2.0, reduction="none")
    p_t = F.softmax(logits, dim=1)[torch.arange(64), y]
    assert torch.all(fl <= ce + 1e-7)
    assert_close(fl / ce, L.focal_weight(p_t, gamma=2.0))
    assert_close(L.focal_weight(torch.tensor([0.0, 0.5, 0.9]), gamma=2.0), torch.tensor([1.0, 0.25, 0.01]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("gamma,alpha", [(2.0, 0.25), (0.0, 0.5), (1.5, None)])
def test_sigmoid_focal_loss_matches_torchvision(reduction, gamma, alpha):
    logits = randn(4, 9, scale=3)
    target = (randn(4, 9, seed=7) > 0.5).float()
    expected = tv_sigmoid_focal_loss(logits, target, alpha=-1 if alpha is None else alpha, gamma=gamma,
                                     reduction=reduction)
    assert_close(L.sigmoid_focal_loss(logits, target, gamma=gamma, alpha=alpha, reduction=reduction), expected)


def test_sigmoid_focal_loss_gradient_matches_torchvision():
    x1 = randn(20, scale=3).requires_grad_()
    x2 = x1.detach().clone().requires_grad_()
    t = (randn(20, seed=8) > 0).float()
    L.sigmoid_focal_loss(x1, t).backward()
    tv_sigmoid_focal_loss(x2, t, reduction="mean").backward()
    assert_close(x1.grad, x2.grad)


# --------------------------------------------------------------------------- dice
def test_dice_loss_is_zero_for_a_perfect_mask_and_one_for_its_inverse():
    mask = (randn(3, 16, 16, seed=9) > 0).float()
    assert_close(L.dice_loss(mask, mask), torch.tensor(0.0))
    assert_close(L.soft_dice(mask.unsqueeze(1), mask), torch.ones(3))  # (N, 1, H, W) probs, (N, H, W) target
    no_overlap = L.dice_loss(1 - mask, mask, eps=1e-6)  # score ~0, loss ~1
    assert 0.999 < no_overlap <= 1.0


def test_dice_by_hand():
    probs = torch.tensor([[[0.5, 1.0], [0.0, 0.0]]])  # (1, 2, 2)
    target = torch.tensor([[[1, 1], [0, 0]]])
    # intersection 1.5, |P| 1.5, |T| 2 -> dice (3 + eps) / (3.5 + eps)
    assert_close(L.soft_dice(probs, target, eps=0.0), torch.tensor([3 / 3.5]))
    assert_close(L.dice_loss(probs, target, eps=1.0, reduction="none"), torch.tensor([1 - 4 / 4.5]))


# --------------------------------------------------------------------------- metric learning
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.5, 1.0, 2.0])
def test_triplet_loss_matches_torch(reduction, margin):
    a, p, n = (randn(16, 8, seed=s, dtype=torch.float64) for s in (10, 11, 12))
    p[:4] = a[:4]  # coinciding pairs: torch measures ||a - p + eps|| with eps = 1e-6, and so must we
    assert_close(L.triplet_loss(a, p, n, margin=margin, reduction=reduction),
                 F.triplet_margin_loss(a, p, n, margin=margin, reduction=reduction))


def test_triplet_loss_gradient_matches_torch():
    a1 = randn(6, 4, seed=13).requires_grad_()
    a2 = a1.detach().clone().requires_grad_()
    p, n = randn(6, 4, seed=14), randn(6, 4, seed=15)
    L.triplet_loss(a1, p, n, margin=2.0).backward()
    F.triplet_margin_loss(a2, p, n, margin=2.0).backward()
    assert_close(a1.grad, a2.grad)


def test_contrastive_loss_by_hand():
    z1 = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    z2 = torch.tensor([[3.0, 4.0], [0.3, 0.4], [3.0, 4.0]])  # distances 5, 0.5, 5
    same = torch.tensor([1, 0, 0])
    # similar at d=5 pays 0.5*25; dissimilar inside the margin pays 0.5*(1-0.5)^2; beyond the margin 0
    expected = torch.tensor([12.5, 0.125, 0.0])
    assert_close(L.contrastive_loss(z1, z2, same, margin=1.0, reduction="none"), expected)
    assert_close(L.contrastive_loss(z1, z2, same.bool(), margin=1.0), expected.mean())


def test_contrastive_loss_has_finite_gradient_for_identical_pairs():
    z1 = randn(4, 3).requires_grad_()
    L.contrastive_loss(z1, z1.detach().clone(), torch.tensor([1, 0, 1, 0])).backward()
    assert torch.isfinite(z1.grad).all()


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_info_nce_is_symmetric_clip_loss(reduction):
    z1, z2 = randn(8, 16, seed=16), randn(8, 16, seed=17)
    logits = F.normalize(z1, dim=1) @ F.normalize(z2, dim=1).T / 0.07
    y = torch.arange(8)
    expected = (F.cross_entropy(logits, y, reduction=reduction) + F.cross_entropy(logits.T, y, reduction=reduction)) / 2
    assert_close(L.info_nce(z1, z2, temperature=0.07, reduction=reduction), expected)


def test_info_nce_rewards_aligned_pairs():
    z = randn(8, 16, seed=18)
    assert L.info_nce(z, z + 0.01 * randn(8, 16, seed=19)) < L.info_nce(z, randn(8, 16, seed=20))


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call,match", [
    (lambda: L.cross_entropy(torch.zeros(4, 3), torch.tensor([0, 1, 2, 3])), r"\[0, 3\)"),
    (lambda: L.cross_entropy(torch.zeros(4, 3), torch.tensor([0, 1, -1, 2])), r"\[0, 3\)"),
    (lambda: L.cross_entropy(torch.zeros(4, 3), torch.tensor([0, 1, 2])), r"shape \(4,\)"),
    (lambda: L.cross_entropy(torch.zeros(4, 3), torch.tensor([0.0, 1.0, 2.0, 1.0])), r"integer labels \(4,\)"),
    (lambda: L.cross_entropy(torch.zeros(4), torch.tensor([0, 1, 2, 1])), r"\(N, C\)"),
    (lambda: L.cross_entropy(torch.zeros(4, 3), F.one_hot(torch.tensor([0, 1, 2, 1]), 3)), r"\.float\(\)"),
    (lambda: L.cross_entropy(torch.zeros(4, 3, dtype=torch.long), torch.tensor([0, 1, 2, 1])), "floating-point"),
    (lambda: L.nll_loss(torch.zeros(2, 3), torch.tensor([0.0, 1.0])), "integer class labels"),
    (lambda: L.mse_loss(torch.zeros(4, 1), torch.zeros(4)), r"same shape.*\(4, 1\) and \(4,\)"),
    (lambda: L.binary_cross_entropy(torch.tensor([2.0, -1.0]), torch.zeros(2)), r"\[0, 1\].*with_logits"),
    (lambda: L.binary_cross_entropy_with_logits(torch.zeros(2), torch.tensor([0.0, 2.0])), r"target.*\[0, 1\]"),
    (lambda: L.focal_loss(torch.zeros(2, 3), torch.tensor([0, 1]), gamma=-1.0), "gamma"),
    (lambda: L.focal_loss(torch.zeros(2, 3), torch.tensor([0, 1]), alpha=torch.ones(2)), r"shape \(3,\)"),
    (lambda: L.sigmoid_focal_loss(torch.zeros(2), torch.zeros(2), alpha=1.5), "alpha"),
    (lambda: L.focal_weight(torch.tensor([1.5]), gamma=2.0), r"\[0, 1\]"),
    (lambda: L.huber_loss(torch.zeros(2), torch.zeros(2), delta=0.0), "delta"),
    (lambda: L.dice_loss(torch.randn(2, 4, 4) * 5, torch.zeros(2, 4, 4)), "sigmoid"),
    (lambda: L.dice_loss(torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 4)), r"\(N, H, W\)"),
    (lambda: L.triplet_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 4)), "same shape"),
    (lambda: L.triplet_loss(torch.zeros(3), torch.zeros(3), torch.zeros(3)), r"\(N, D\)"),
    (lambda: L.contrastive_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.tensor([1, 2])), "only 0 and 1"),
    (lambda: L.contrastive_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.tensor([1])), r"shape \(2,\)"),
    (lambda: L.info_nce(torch.zeros(2, 3), torch.zeros(2, 3), temperature=0.0), "temperature"),
    (lambda: L.mse_loss(torch.zeros(2), torch.zeros(2), reduction="avg"), "reduction"),
    (lambda: L.softmax(torch.zeros(2, 3), dim=2), "dim"),
])
def test_bad_input_raises_clear_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_non_tensor_input_is_a_type_error():
    with pytest.raises(TypeError, match="torch.Tensor"):
        L.mse_loss([1.0, 2.0], torch.zeros(2))


def test_bce_with_logits_and_sigmoid_focal_gradients_at_exactly_zero():
    """A zero-initialised binary model starts at logit 0: the gradient there must be right."""
    import torchvision

    from dlnotes import losses

    target = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)
    for ours, theirs in [
        (lambda z: losses.binary_cross_entropy_with_logits(z, target, reduction="sum"),
         lambda z: F.binary_cross_entropy_with_logits(z, target, reduction="sum")),
        (lambda z: losses.sigmoid_focal_loss(z, target, reduction="sum"),
         lambda z: torchvision.ops.sigmoid_focal_loss(z, target, reduction="sum")),
    ]:
        z1 = torch.zeros(3, dtype=torch.float64, requires_grad=True)
        z2 = torch.zeros(3, dtype=torch.float64, requires_grad=True)
        ours(z1).backward()
        theirs(z2).backward()
        torch.testing.assert_close(z1.grad, z2.grad)
    big = torch.tensor([1000.0, -1000.0])
    assert torch.isfinite(losses.binary_cross_entropy_with_logits(big, torch.tensor([0.0, 1.0]), reduction="none")).all()
