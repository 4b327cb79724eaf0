"""Graphs as matrices: adjacency, Laplacian, GCN's normalised adjacency and layer, Zachary's karate club."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

# Zachary's karate club (Zachary 1977): 34 members, 78 friendships, as networkx ships it (unweighted).
KARATE_EDGES: tuple[tuple[int, int], ...] = (
    (0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (0, 6), (0, 7), (0, 8), (0, 10), (0, 11), (0, 12), (0, 13),
    (0, 17), (0, 19), (0, 21), (0, 31), (1, 2), (1, 3), (1, 7), (1, 13), (1, 17), (1, 19), (1, 21), (1, 30),
    (2, 3), (2, 7), (2, 8), (2, 9), (2, 13), (2, 27), (2, 28), (2, 32), (3, 7), (3, 12), (3, 13), (4, 6),
    (4, 10), (5, 6), (5, 10), (5, 16), (6, 16), (8, 30), (8, 32), (8, 33), (9, 33), (13, 33), (14, 32),
    (14, 33), (15, 32), (15, 33), (18, 32), (18, 33), (19, 33), (20, 32), (20, 33), (22, 32), (22, 33),
    (23, 25), (23, 27), (23, 29), (23, 32), (23, 33), (24, 25), (24, 27), (24, 31), (25, 31), (26, 29),
    (26, 33), (27, 33), (28, 31), (28, 33), (29, 32), (29, 33), (30, 32), (30, 33), (31, 32), (31, 33),
    (32, 33),
)
# Faction after the split: 0 = the instructor's ("Mr. Hi", node 0), 1 = the administrator's ("Officer", node 33).
KARATE_CLUB: tuple[int, ...] = (
    0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
)


def check_adjacency(A: torch.Tensor) -> torch.Tensor:
    """Raise a clear error unless A is a square, symmetric, non-negative (N, N) float matrix; return it."""
    if not isinstance(A, torch.Tensor) or A.dim() != 2 or A.shape[0] != A.shape[1]:
        shape = tuple(A.shape) if isinstance(A, torch.Tensor) else type(A).__name__
        raise ValueError(f"adjacency must be a square (N, N) tensor, got {shape}")
    if not A.is_floating_point():
        raise TypeError(f"adjacency must be a float tensor, got {A.dtype}")
    if (A < 0).any():
        raise ValueError("adjacency has negative weights; the Laplacian is then not positive semi-definite")
    if not torch.equal(A, A.T):
        raise ValueError("adjacency must be symmetric (an undirected graph)")
    return A


def adjacency(edges: Sequence[tuple[int, int]] | torch.Tensor, num_nodes: int, *,
              weights: Sequence[float] | torch.Tensor | None = None) -> torch.Tensor:
    """Dense symmetric (N, N) adjacency of an undirected graph from an edge list (E, 2) or edge_index (2, E)."""
    edges = torch.as_tensor(edges, dtype=torch.long).reshape(-1, 2) if not isinstance(edges, torch.Tensor) \
        else edges
    if edges.dim() == 2 and edges.shape[0] == 2 and edges.shape[1] != 2:
        edges = edges.T                                                 # edge_index (2, E) -> (E, 2)
    if edges.dim() != 2 or edges.shape[1] != 2:
        raise ValueError(f"edges must be (E, 2) pairs or a (2, E) edge_index, got {tuple(edges.shape)}")
    if edges.numel() and (edges.min() < 0 or edges.max() >= num_nodes):
        raise ValueError(f"edge endpoints must lie in [0, {num_nodes}), got [{edges.min()}, {edges.max()}]")
    w = torch.ones(len(edges)) if weights is None else torch.as_tensor(weights, dtype=torch.float32)
    if w.shape != (len(edges),):
        raise ValueError(f"weights must have one entry per edge ({len(edges)}), got {tuple(w.shape)}")
    if (w < 0).any():
        raise ValueError("edge weights must be non-negative")
    A = torch.zeros(num_nodes, num_nodes)
    A[edges[:, 0], edges[:, 1]] = w
    A[edges[:, 1], edges[:, 0]] = w                                     # undirected: both directions
    return A


def laplacian(A: torch.Tensor, *, normalized: bool = False) -> torch.Tensor:
    """L = D - A, or the normalised I - D^{-1/2} A D^{-1/2} (isolated nodes get a zero row): (N, N) -> (N, N)."""
    check_adjacency(A)
    deg = A.sum(dim=1)
    if not normalized:
        return torch.diag(deg) - A
    d_inv_sqrt = torch.where(deg > 0, deg.clamp(min=1e-12).rsqrt(), torch.zeros_like(deg))
    L = -d_inv_sqrt[:, None] * A * d_inv_sqrt[None, :]
    return L + torch.diag((deg > 0).to(A.dtype))


def normalized_adjacency(A: torch.Tensor, *, self_loops: bool = True) -> torch.Tensor:
    """GCN's propagation matrix D~^{-1/2} (A + I) D~^{-1/2} (Kipf & Welling 2017): (N, N) -> (N, N)."""
    check_adjacency(A)
    A_tilde = A + torch.eye(len(A), dtype=A.dtype) if self_loops else A
    deg = A_tilde.sum(dim=1)
    d_inv_sqrt = torch.where(deg > 0, deg.clamp(min=1e-12).rsqrt(), torch.zeros_like(deg))
    return d_inv_sqrt[:, None] * A_tilde * d_inv_sqrt[None, :]


class GCNLayer(nn.Module):
    """One graph convolution H' = A_hat H W (+ b), A_hat dense or torch.sparse: (N, in_dim) -> (N, out_dim)."""

    def __init__(self, in_dim: int, out_dim: int, *, bias: bool = True) -> None:
        super().__init__()
        self.linear = nn.Linear(in_dim, out_dim, bias=False)           # W, Glorot-uniform as in the paper
        nn.init.xavier_uniform_(self.linear.weight)
        self.bias = nn.Parameter(torch.zeros(out_dim)) if bias else None

    def forward(self, H: torch.Tensor, A_hat: torch.Tensor) -> torch.Tensor:
        if H.dim() != 2 or A_hat.dim() != 2 or A_hat.shape != (H.shape[0], H.shape[0]):
            raise ValueError(f"expected H (N, in_dim) and A_hat (N, N), got {tuple(H.shape)} and "
                             f"{tuple(A_hat.shape)}")
        HW = self.linear(H)                                             # (N, out_dim): transform each node
        out = torch.sparse.mm(A_hat, HW) if A_hat.is_sparse else A_hat @ HW   # (N, out_dim): mix neighbours
        return out if self.bias is None else out + self.bias


def karate_club(*, use_networkx: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Zachary's karate club: adjacency (34, 34) float and faction labels (34,) long (0 = Mr. Hi, 1 = Officer)."""
    if use_networkx:
        try:
            import networkx as nx
        except ImportError:
            use_networkx = False
    if not use_networkx:
        return adjacency(KARATE_EDGES, 34), torch.tensor(KARATE_CLUB)
    G = nx.karate_club_graph()
    A = torch.tensor(nx.to_numpy_array(G, nodelist=range(34), weight=None), dtype=torch.float32)
    labels = torch.tensor([int(G.nodes[i]["club"] != "Mr. Hi") for i in range(34)])
    return A, labels
