"""One optimisation step of each method: views -> forward -> loss -> zero_grad / backward / step.

Each takes the model(s), the optimizer, a batch of images (and captions for CLIP) and the method's settings as
keywords, and returns a dict of floats for the history. The loops that call them live in the notebooks and in
scripts/checkpoints/ssl_*.py, where a reader can see them whole.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .clip import CLIP, clip_logits, clip_loss
from .contrastive import nt_xent
from .dino import collapse_metrics, distill_loss, ema_update, sinkhorn_knopp, teacher_probs, update_center
from .views import multi_crop, random_view, two_views, view_config


def simclr_step(model: nn.Module, optimizer: torch.optim.Optimizer, images: Tensor, *, temperature: float = 0.2,
                generator: torch.Generator | None = None, views: dict | None = None) -> dict[str, float]:
    """SimCLR: model = encoder followed by projection head, trained with NT-Xent on two views of each image."""
    model.train()
    x1, x2 = two_views(images, generator=generator, **(views or {}))  # (N, 3, S, S) each
    z1, z2 = model(x1), model(x2)  # (N, dim) each
    loss = nt_xent(z1, z2, temperature=temperature)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    pos_sim = torch.cosine_similarity(z1, z2, dim=1).mean()  # how close the two views of one image are
    return {"loss": loss.item(), "positive_similarity": pos_sim.item()}


def clip_step(model: CLIP, optimizer: torch.optim.Optimizer, images: Tensor, captions: Sequence[str], *,
              generator: torch.Generator | None = None, views: dict | None = None) -> dict[str, float]:
    """CLIP: symmetric InfoNCE between images (one light random view each, if ``views`` is given) and captions."""
    model.train()
    if views is not None:
        images = random_view(images, view_config(**views), generator=generator)
    image_features = model.encode_image(images)  # (N, embed_dim)
    text_features = model.encode_text(captions)  # (N, embed_dim)
    loss = clip_loss(image_features, text_features, model.logit_scale)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        logits = clip_logits(image_features, text_features, model.logit_scale)
        acc = (logits.argmax(1) == torch.arange(len(logits), device=logits.device)).float().mean()
    return {"loss": loss.item(), "temperature": model.temperature(), "batch_image_to_text_acc": acc.item()}


def dino_step(student: nn.Module, teacher: nn.Module, optimizer: torch.optim.Optimizer, images: Tensor, *,
              center: Tensor, student_temp: float = 0.1, teacher_temp: float = 0.04, center_momentum: float = 0.9,
              ema_momentum: float = 0.996, centering: str = "mean", sinkhorn_iters: int = 3,
              generator: torch.Generator | None = None, crops: dict | None = None) -> dict[str, float]:
    """DINO: student and teacher = backbone followed by DinoHead. Updates the teacher and ``center`` (K,) in place.

    centering "mean": the teacher's targets are softmax((t - center) / teacher_temp), the center a running
    mean of its logits (DINO); "sinkhorn": sinkhorn_knopp(t, temperature=teacher_temp) (SwAV, DINOv2).
    """
    if centering not in ("mean", "sinkhorn"):
        raise ValueError(f"centering must be 'mean' or 'sinkhorn', got {centering!r}")
    student.train()
    teacher.train()
    views = multi_crop(images, generator=generator, **(crops or {}))
    n_global = (crops or {}).get("n_global", 2)
    with torch.no_grad():
        teacher_out = [teacher(v) for v in views[:n_global]]  # global crops only: G x (B, K)
        if centering == "mean":
            targets = [teacher_probs(t, center, teacher_temp) for t in teacher_out]
        else:  # balance the prototypes over the whole batch of global crops at once
            targets = list(sinkhorn_knopp(torch.cat(teacher_out), sinkhorn_iters, temperature=teacher_temp)
                           .chunk(n_global))
    student_out = [student(v) for v in views]  # every crop: V x (B, K)
    loss = distill_loss(student_out, targets, student_temp=student_temp)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    # after the student's step: the teacher follows it, the center follows the teacher
    ema_update(teacher, student, ema_momentum)
    metrics = collapse_metrics(torch.cat(targets))
    center.copy_(update_center(center, teacher_out, center_momentum))
    return {"loss": loss.item(), **metrics}
