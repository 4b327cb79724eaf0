import pytest
import torch
import torch.nn.functional as F

from dlnotes.metric import (auc, batch_hard_triplet_loss, contrastive_loss, hardest_triplets, pairwise_distances,
                            roc_curve, triplet_loss)


def test_pairwise_distances_equal_cdist():
    g = torch.Generator().manual_seed(0)
    X, Y = torch.randn(7, 5, generator=g, dtype=torch.float64), torch.randn(4, 5, generator=g, dtype=torch.float64)
    torch.testing.assert_close(pairwise_distances(X, Y), torch.cdist(X, Y))
    torch.testing.assert_close(pairwise_distances(X, Y, squared=True), torch.cdist(X, Y) ** 2)
    assert pairwise_distances(X).diagonal().abs().max() < 1e-5


def test_pairwise_distances_gradient_finite_at_zero():
    X = torch.tensor([[1.0, 2.0], [1.0, 2.0]], requires_grad=True)
    pairwise_distances(X).sum().backward()
    assert torch.isfinite(X.grad).all()


def test_contrastive_loss_hand_made():
    d = torch.tensor([0.0, 0.5, 0.5, 1.5])
    same = torch.tensor([True, True, False, False])
    # 0, 0.5 * 0.25, 0.5 * (1 - 0.5)^2, 0 beyond the margin
    torch.testing.assert_close(contrastive_loss(d, same, margin=1.0), torch.tensor((0.125 + 0.125) / 4))
    assert contrastive_loss(torch.tensor([2.0, 3.0]), torch.tensor([False, False])) == 0


def test_contrastive_loss_equals_functional_pieces():
    g = torch.Generator().manual_seed(1)
    d = torch.rand(50, generator=g) * 2
    same = torch.rand(50, generator=g) < 0.5
    ref = 0.5 * torch.where(same, d ** 2, F.relu(1.0 - d) ** 2).mean()
    torch.testing.assert_close(contrastive_loss(d, same, margin=1.0), ref)


def test_triplet_loss_equals_torch():
    g = torch.Generator().manual_seed(2)
    a, p, n = (torch.randn(32, 8, generator=g, dtype=torch.float64) for _ in range(3))
    ref = torch.nn.TripletMarginLoss(margin=0.5, eps=0.0)(a, p, n)
    torch.testing.assert_close(triplet_loss(a, p, n, margin=0.5), ref)


def test_batch_hard_equals_loop():
    g = torch.Generator().manual_seed(3)
    E = torch.randn(12, 4, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 3, 3])
    losses = []
    for i in range(len(y)):
        d_ap = max((E[i] - E[j]).norm() for j in range(len(y)) if y[j] == y[i] and j != i)
        d_an = min((E[i] - E[j]).norm() for j in range(len(y)) if y[j] != y[i])
        losses.append(torch.clamp(d_ap - d_an + 0.3, min=0))
    torch.testing.assert_close(batch_hard_triplet_loss(E, y, margin=0.3), torch.stack(losses).mean())


def test_batch_hard_skips_anchor_without_positive():
    E = torch.tensor([[0.0], [0.1], [5.0]])
    d_ap, d_an, valid = hardest_triplets(E, torch.tensor([0, 0, 1]))
    assert valid.tolist() == [True, True, False]
    torch.testing.assert_close(batch_hard_triplet_loss(E, torch.tensor([0, 0, 1]), margin=1.0), torch.tensor(0.0))


def test_roc_auc_equals_sklearn_with_ties():
    metrics = pytest.importorskip("sklearn.metrics")
    g = torch.Generator().manual_seed(4)
    same = torch.rand(300, generator=g) < 0.3
    scores = (same.float() + torch.randn(300, generator=g)).round(decimals=1)   # many ties
    fpr, tpr, thr = roc_curve(scores, same)
    assert fpr[0] == 0 and tpr[0] == 0 and fpr[-1] == 1 and tpr[-1] == 1
    assert abs(auc(fpr, tpr) - metrics.roc_auc_score(same.numpy(), scores.numpy())) < 1e-12
    assert roc_curve(torch.tensor([0.9, 0.8, 0.1]), torch.tensor([True, True, False]))[1][2] == 1.0
    assert auc(*roc_curve(torch.tensor([0.9, 0.8, 0.1]), torch.tensor([True, True, False]))[:2]) == 1.0


@pytest.mark.parametrize("call", [
    lambda: pairwise_distances(torch.randn(3)),
    lambda: pairwise_distances(torch.randn(3, 2), torch.randn(3, 4)),
    lambda: pairwise_distances(torch.ones(3, 2, dtype=torch.long)),
    lambda: contrastive_loss(torch.rand(3), torch.ones(4, dtype=torch.bool)),
    lambda: contrastive_loss(torch.rand(3), torch.ones(3, dtype=torch.bool), margin=0.0),
    lambda: triplet_loss(torch.randn(3, 2), torch.randn(3, 2), torch.randn(2, 2)),
    lambda: batch_hard_triplet_loss(torch.randn(3, 2), torch.tensor([0.0, 1.0, 1.0])),
    lambda: batch_hard_triplet_loss(torch.randn(3, 2), torch.tensor([0, 1, 2])),
    lambda: roc_curve(torch.rand(4), torch.ones(4, dtype=torch.bool)),
    lambda: roc_curve(torch.rand(4, 1), torch.ones(4, 1, dtype=torch.bool)),
    lambda: auc(torch.tensor([0.0, 1.0, 0.5]), torch.tensor([0.0, 1.0, 1.0])),
])
def test_bad_input_raises(call):
    with pytest.raises(ValueError):
        call()
