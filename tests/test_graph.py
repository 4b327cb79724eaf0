import pytest
import torch

from dlnotes.graph import (KARATE_EDGES, GCNLayer, adjacency, check_adjacency, karate_club, laplacian,
                           normalized_adjacency)


def two_triangles():
    return adjacency([(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5)], 6)


def test_karate_club_networkx_equals_embedded():
    pytest.importorskip("networkx")
    A_nx, y_nx = karate_club(use_networkx=True)
    A_list, y_list = karate_club(use_networkx=False)
    assert A_nx.shape == (34, 34) and int(A_nx.sum()) == 2 * 78 == 2 * len(KARATE_EDGES)
    assert torch.equal(A_nx, A_list) and torch.equal(y_nx, y_list)
    assert y_nx[0] == 0 and y_nx[33] == 1 and int(y_nx.sum()) == 17


def test_adjacency_accepts_edge_index_and_is_symmetric():
    A = adjacency(torch.tensor([[0, 1, 2], [1, 2, 3]]), 4)              # (2, E) edge_index
    assert torch.equal(A, A.T) and int(A.sum()) == 6
    assert torch.equal(A, adjacency([(0, 1), (1, 2), (2, 3)], 4))


def test_laplacian_properties():
    A, _ = karate_club(use_networkx=False)
    L = laplacian(A)
    assert torch.equal(L, L.T)
    assert torch.equal(L @ torch.ones(34), torch.zeros(34))
    x = torch.randn(34, dtype=torch.float64)
    edges = torch.tensor(KARATE_EDGES)
    quad = x @ L.double() @ x
    torch.testing.assert_close(quad, ((x[edges[:, 0]] - x[edges[:, 1]]) ** 2).sum())
    eig = torch.linalg.eigvalsh(L.double())
    assert eig.min() > -1e-9 and int((eig.abs() < 1e-9).sum()) == 1


def test_zero_eigenvalues_count_components():
    for normalized in (False, True):
        eig = torch.linalg.eigvalsh(laplacian(two_triangles(), normalized=normalized).double())
        assert int((eig.abs() < 1e-5).sum()) == 2


def test_normalized_laplacian_spectrum_in_0_2():
    A, _ = karate_club()
    eig = torch.linalg.eigvalsh(laplacian(A, normalized=True).double())
    assert eig.min() > -1e-6 and eig.max() < 2 + 1e-6


def test_normalized_adjacency_matches_formula():
    A = two_triangles()
    A_t = A + torch.eye(6)
    D_inv_sqrt = torch.diag(A_t.sum(1) ** -0.5)
    torch.testing.assert_close(normalized_adjacency(A), D_inv_sqrt @ A_t @ D_inv_sqrt)


def test_gcn_layer_dense_equals_sparse():
    torch.manual_seed(0)
    A, _ = karate_club(use_networkx=False)
    A_hat = normalized_adjacency(A)
    layer = GCNLayer(34, 4)
    H = torch.randn(34, 34)
    dense = layer(H, A_hat)
    assert dense.shape == (34, 4)
    torch.testing.assert_close(layer(H, A_hat.to_sparse()), dense)
    torch.testing.assert_close(dense, A_hat @ H @ layer.linear.weight.T + layer.bias)


def test_bad_input():
    with pytest.raises(ValueError, match="square"):
        laplacian(torch.ones(3, 4))
    with pytest.raises(ValueError, match="square"):
        normalized_adjacency(torch.ones(3))
    with pytest.raises(ValueError, match="negative"):
        laplacian(torch.tensor([[0.0, -1.0], [-1.0, 0.0]]))
    with pytest.raises(ValueError, match="symmetric"):
        check_adjacency(torch.tensor([[0.0, 1.0], [0.0, 0.0]]))
    with pytest.raises(TypeError, match="float"):
        laplacian(torch.ones(2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="negative"):
        adjacency([(0, 1)], 2, weights=[-1.0])
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        adjacency([(0, 3)], 3)
    with pytest.raises(ValueError, match="A_hat"):
        GCNLayer(4, 2)(torch.randn(5, 4), torch.eye(4))
