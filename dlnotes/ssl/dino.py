"""DINO (Caron et al. 2021, "Emerging Properties in Self-Supervised Vision Transformers"): self-distillation
with no labels. A student matches the output distribution of a teacher that is an exponential moving average
of itself; the teacher sees only the global crops, the student every crop.

There are no negative pairs: what keeps the outputs from collapsing is centering (subtract a running mean
of the teacher's logits: no prototype may dominate) balanced against sharpening (a low teacher temperature:
each output is peaked). Centering alone collapses to the uniform distribution, sharpening alone to one
prototype; `collapse_metrics` measures both. Sinkhorn-Knopp (SwAV, DINOv2) is the alternative to centering.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

try:  # torch >= 2.1
    from torch.nn.utils.parametrizations import weight_norm
except ImportError:  # pragma: no cover - older torch
    from torch.nn.utils import weight_norm


class DinoHead(nn.Module):
    """MLP -> L2-normalised bottleneck -> weight-normalised prototypes: (N, in_dim) -> (N, num_prototypes) logits.

    The last layer's weight is v / ||v|| per prototype with the norm fixed at 1 (DINO's norm_last_layer),
    so the logits are cosines between the bottleneck and the prototypes. use_bn puts BatchNorm after each
    hidden layer (DINO's option for convnets): it standardises the features over the batch.
    """

    def __init__(self, in_dim: int, num_prototypes: int = 256, *, hidden_dim: int = 256, bottleneck_dim: int = 64,
                 n_layers: int = 3, use_bn: bool = False) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        dims = [in_dim] + [hidden_dim] * (n_layers - 1) + [bottleneck_dim]
        layers = []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            layers.append(nn.Linear(a, b))
            if i < n_layers - 1:
                layers += [nn.BatchNorm1d(b), nn.GELU()] if use_bn else [nn.GELU()]
        self.mlp = nn.Sequential(*layers)
        self.prototypes = weight_norm(nn.Linear(bottleneck_dim, num_prototypes, bias=False))
        g = _weight_norm_gain(self.prototypes)
        with torch.no_grad():
            g.fill_(1.0)
        g.requires_grad_(False)

    def forward(self, x: Tensor) -> Tensor:
        x = F.normalize(self.mlp(x), dim=-1)  # (N, bottleneck_dim) on the unit sphere
        return self.prototypes(x)  # (N, K)


def _weight_norm_gain(layer: nn.Linear) -> Tensor:
    """The g of weight_norm's w = g v / ||v||, in the new (parametrizations) and the old API."""
    if hasattr(layer, "parametrizations"):
        return layer.parametrizations.weight.original0
    return layer.weight_g  # pragma: no cover - older torch


def _stack(name: str, outputs: Sequence[Tensor]) -> Tensor:
    if isinstance(outputs, Tensor) or not len(outputs):
        raise ValueError(f"{name} must be a non-empty list of (B, K) tensors, one per crop")
    shapes = {tuple(o.shape) for o in outputs}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(f"every tensor in {name} must have the same shape (B, K), got {sorted(shapes)}")
    return torch.stack(list(outputs))  # (V, B, K)


def teacher_probs(teacher_logits: Tensor, center: Tensor, temperature: float) -> Tensor:
    """Centred and sharpened teacher distribution softmax((t - center) / temperature), no gradient: (..., K)."""
    if not temperature > 0:
        raise ValueError(f"teacher temperature must be > 0, got {temperature!r}")
    return F.softmax((teacher_logits - center) / temperature, dim=-1).detach()


def dino_loss(student_out: Sequence[Tensor], teacher_out: Sequence[Tensor], center: Tensor, *,
              student_temp: float = 0.1, teacher_temp: float = 0.04) -> Tensor:
    """Cross-entropy H(teacher, student) averaged over every (global crop, other crop) pair.

    student_out: V tensors (B, K), the global crops first; teacher_out: G <= V tensors (B, K) for the global
    crops; center (K,) or (1, K). Crop g of the teacher is not compared with crop g of the student.
    """
    t = _stack("teacher_out", teacher_out)  # (G, B, K)
    if center.shape not in ((t.shape[-1],), (1, t.shape[-1])):
        raise ValueError(f"center must have shape ({t.shape[-1]},) or (1, {t.shape[-1]}), got {tuple(center.shape)}")
    q = teacher_probs(t, center.reshape(-1), teacher_temp)  # (G, B, K) targets: centred, sharpened
    return distill_loss(student_out, list(q), student_temp=student_temp)


def distill_loss(student_out: Sequence[Tensor], teacher_targets: Sequence[Tensor], *,
                 student_temp: float = 0.1) -> Tensor:
    """DINO's loss given the teacher's target distributions (G of them, (B, K) each, from centering or from
    sinkhorn_knopp): mean over pairs (g, v), v != g, of -sum_k q_g log softmax(s_v / student_temp)."""
    s, q = _stack("student_out", student_out), _stack("teacher_out", teacher_targets)  # (V, B, K), (G, B, K)
    V, G = s.shape[0], q.shape[0]
    if s.shape[1:] != q.shape[1:] or G > V or V < 2:
        raise ValueError(f"need teacher (G, B, K) for the first G of V >= 2 student crops (V, B, K), "
                         f"got G={G} crops of {tuple(q.shape[1:])} and V={V} of {tuple(s.shape[1:])}")
    if not student_temp > 0:
        raise ValueError(f"student temperature must be > 0, got {student_temp!r}")
    log_p = F.log_softmax(s / student_temp, dim=-1)  # (V, B, K)
    ce = -torch.einsum("gbk,vbk->gv", q.detach(), log_p) / s.shape[1]  # (G, V): mean over the batch
    other = ~torch.eye(G, V, dtype=torch.bool, device=ce.device)  # skip teacher crop g vs student crop g
    return ce[other].mean()


@torch.no_grad()
def update_center(center: Tensor, teacher_out: Sequence[Tensor] | Tensor, momentum: float = 0.9) -> Tensor:
    """New center = momentum * center + (1 - momentum) * mean teacher logits over the batch (and crops): (K,)."""
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must lie in [0, 1], got {momentum!r}")
    t = teacher_out if isinstance(teacher_out, Tensor) else torch.cat(list(teacher_out))
    if t.dim() != 2 or t.shape[-1] != center.shape[-1]:
        raise ValueError(f"teacher_out must be (B, {center.shape[-1]}) logits, got {tuple(t.shape)}")
    return momentum * center + (1 - momentum) * t.mean(dim=0).reshape(center.shape)


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, momentum: float) -> None:
    """In place: every teacher parameter and float buffer = momentum * teacher + (1 - momentum) * student.

    Integer buffers (BatchNorm's step counter) are copied. momentum 1 freezes the teacher, 0 copies the student.
    """
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must lie in [0, 1], got {momentum!r}")
    t_state, s_state = teacher.state_dict(), student.state_dict()
    if t_state.keys() != s_state.keys():
        raise ValueError("teacher and student must have the same architecture (the same state_dict keys)")
    for name, t in t_state.items():
        s = s_state[name]
        if t.shape != s.shape:
            raise ValueError(f"{name}: teacher {tuple(t.shape)} and student {tuple(s.shape)} differ in shape")
        if t.is_floating_point():
            t.mul_(momentum).add_(s.detach(), alpha=1 - momentum)
        else:
            t.copy_(s)


def cosine_schedule(start: float, end: float, steps: int, *, warmup_steps: int = 0,
                    warmup_start: float = 0.0) -> Tensor:
    """(steps,) values: linear warm-up from warmup_start to start, then a half cosine from start to end."""
    if not isinstance(steps, int) or steps < 1 or not 0 <= warmup_steps <= steps:
        raise ValueError(f"need steps >= 1 and 0 <= warmup_steps <= steps, got {steps!r} and {warmup_steps!r}")
    warm = torch.linspace(warmup_start, start, warmup_steps + 1)[:-1] if warmup_steps else torch.empty(0)
    n = steps - warmup_steps
    progress = torch.arange(n, dtype=torch.float64) / max(n - 1, 1)  # 0 .. 1
    cosine = end + 0.5 * (start - end) * (1 + torch.cos(math.pi * progress))
    return torch.cat([warm.double(), cosine]).float()


@torch.no_grad()
def sinkhorn_knopp(scores: Tensor, n_iters: int = 3, *, temperature: float = 0.05) -> Tensor:
    """Balanced soft assignments (SwAV; DINOv2's teacher): (B, K) logits -> (B, K) probabilities.

    Alternately rescales the prototypes' columns to equal mass 1/K and the samples' rows to mass 1/B,
    starting from exp(scores / temperature); returns rows that sum to 1 and columns that each sum to ~B/K.
    """
    if not isinstance(scores, Tensor) or scores.dim() != 2:
        raise ValueError(f"scores must be a (B, K) tensor, got {getattr(scores, 'shape', type(scores).__name__)}")
    if not isinstance(n_iters, int) or n_iters < 1 or not temperature > 0:
        raise ValueError(f"need n_iters >= 1 and temperature > 0, got {n_iters!r} and {temperature!r}")
    B, K = scores.shape
    Q = torch.exp((scores - scores.max()) / temperature).double()  # (B, K), the max subtracted against overflow
    Q /= Q.sum()
    for _ in range(n_iters):
        Q /= Q.sum(dim=0, keepdim=True) * K  # every prototype gets mass 1/K
        Q /= Q.sum(dim=1, keepdim=True) * B  # every sample gets mass 1/B
    return (Q * B).to(scores.dtype)


def entropy(probs: Tensor) -> Tensor:
    """Entropy in nats of each distribution along the last dim: (..., K) -> (...); 0 log 0 = 0."""
    return -(probs * probs.clamp_min(1e-30).log()).sum(dim=-1)


def collapse_metrics(probs: Tensor) -> dict[str, float]:
    """The two collapse diagnostics of teacher probabilities (B, K): entropy of their mean (ln K for uniform
    use of the prototypes, 0 when one prototype wins everything) and their mean per-sample entropy (0 for
    confident outputs, ln K for uniform ones). Healthy: the first high, the second low."""
    if probs.dim() != 2:
        raise ValueError(f"probs must be (B, K), got {tuple(probs.shape)}")
    return {"entropy_of_mean": entropy(probs.mean(dim=0)).item(), "mean_entropy": entropy(probs).mean().item()}
