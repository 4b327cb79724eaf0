"""dlnotes.ssl.train_steps: a few steps of SimCLR, CLIP and DINO lower their losses on a tiny batch.

Each loss is measured on fixed views (their own seed) before and after the steps, so the comparison does not
ride on the luck of one batch of augmentations; the margins hold for seeds 0-4 (checked when written).
"""

import copy

import pytest
import torch
from torch import nn

from dlnotes.data import make_shapes
from dlnotes.ssl import (CLIP, DinoHead, ProjectionHead, SmallCNN, TextEncoder, clip_loss, clip_step, dino_loss,
                         dino_step, multi_crop, nt_xent, simclr_step, small_vit, two_views)

SEED = 0


@pytest.fixture(scope="module")
def shapes():
    return make_shapes(32, seed=5)


def test_simclr_steps_lower_nt_xent(shapes):
    torch.manual_seed(SEED)
    model = nn.Sequential(SmallCNN(32), ProjectionHead(32, 64, 32))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    x1, x2 = two_views(shapes.images, generator=torch.Generator().manual_seed(99))

    def loss() -> float:
        with torch.no_grad():
            return nt_xent(model(x1), model(x2), temperature=0.2).item()

    before = loss()
    g = torch.Generator().manual_seed(SEED)
    history = [simclr_step(model, optimizer, shapes.images, temperature=0.2, generator=g) for _ in range(15)]
    assert set(history[0]) == {"loss", "positive_similarity"}
    assert loss() < before - 0.3  # 4.2-4.8 -> 3.7-3.9 over seeds 0-3


def test_clip_steps_lower_the_symmetric_loss_in_both_languages(shapes):
    torch.manual_seed(SEED)
    model = CLIP(SmallCNN(32), TextEncoder(32, dim=32), embed_dim=32)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    captions = list(shapes.captions_en[:16]) + list(shapes.captions_zh[16:])  # half English, half Chinese

    def loss() -> float:
        with torch.no_grad():
            return clip_loss(model.encode_image(shapes.images), model.encode_text(captions), model.logit_scale).item()

    before = loss()
    for _ in range(15):
        metrics = clip_step(model, optimizer, shapes.images, captions)
    assert set(metrics) == {"loss", "temperature", "batch_image_to_text_acc"}
    assert loss() < 0.5 * before  # 4.2-5.0 -> 0.3-0.6 over seeds 0-3: the pairs are learned
    assert model.logit_scale.grad is not None  # the temperature is learned too


def make_dino(backbone: nn.Module, dim: int, K: int = 16) -> tuple[nn.Module, nn.Module]:
    student = nn.Sequential(backbone, DinoHead(dim, K, hidden_dim=32, bottleneck_dim=16))
    teacher = copy.deepcopy(student)
    for p in teacher.parameters():
        p.requires_grad_(False)
    return student, teacher


def test_dino_steps_distil_a_fixed_teacher(shapes):
    # EMA momentum 1 and center momentum 1 freeze the teacher and the center: the student then learns to match it
    torch.manual_seed(SEED)
    student, teacher = make_dino(SmallCNN(32), 32)
    optimizer = torch.optim.Adam([p for p in student.parameters() if p.requires_grad], lr=3e-3)
    center = torch.zeros(16)
    crops = {"n_global": 2, "n_local": 2}
    views = multi_crop(shapes.images, generator=torch.Generator().manual_seed(99), **crops)

    def loss() -> float:
        with torch.no_grad():
            return dino_loss([student(v) for v in views], [teacher(v) for v in views[:2]], center).item()

    teacher_before = copy.deepcopy(teacher.state_dict())
    before = loss()
    g = torch.Generator().manual_seed(SEED)
    for _ in range(12):
        metrics = dino_step(student, teacher, optimizer, shapes.images, center=center, generator=g, crops=crops,
                            ema_momentum=1.0, center_momentum=1.0)
    assert set(metrics) == {"loss", "entropy_of_mean", "mean_entropy"}
    after = loss()
    assert after < before - 0.1 and after < 0.92 * before  # seeds 0-4: 2.0 -> 1.8 ... 0.32 -> 0.09
    assert all(torch.equal(teacher.state_dict()[k], v) for k, v in teacher_before.items() if v.is_floating_point()
               and "running" not in k)  # weights frozen (BN statistics still follow the batches)
    assert torch.equal(center, torch.zeros(16))


def test_dino_step_moves_teacher_and_center_with_a_vit_and_local_crops(shapes):
    torch.manual_seed(SEED)
    student, teacher = make_dino(small_vit(dim=32, depth=1, heads=2, mlp_dim=32), 32)
    optimizer = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=1e-3)
    center = torch.zeros(16)
    before = copy.deepcopy(teacher.state_dict())
    metrics = dino_step(student, teacher, optimizer, shapes.images[:8], center=center, ema_momentum=0.9,
                        center_momentum=0.9, generator=torch.Generator().manual_seed(0),
                        crops={"n_global": 2, "n_local": 2, "local_size": 16})
    assert all(torch.isfinite(torch.tensor(v)) for v in metrics.values())
    assert 0 <= metrics["mean_entropy"] <= metrics["entropy_of_mean"] + 1e-5 <= torch.log(torch.tensor(16.0)) + 1e-4
    assert not torch.equal(center, torch.zeros(16))
    moved = [k for k, v in teacher.state_dict().items() if not torch.equal(v, before[k])]
    assert "0.patch_embed.proj.weight" in moved


def test_dino_step_with_sinkhorn_centering(shapes):
    torch.manual_seed(SEED)
    student, teacher = make_dino(SmallCNN(16), 16, K=8)
    optimizer = torch.optim.Adam([p for p in student.parameters() if p.requires_grad], lr=1e-3)
    metrics = dino_step(student, teacher, optimizer, shapes.images[:16], center=torch.zeros(8), centering="sinkhorn",
                        teacher_temp=0.1, generator=torch.Generator().manual_seed(0), crops={"n_local": 1})
    assert metrics["entropy_of_mean"] > 0.9 * torch.log(torch.tensor(8.0))  # Sinkhorn spreads the batch over prototypes
    with pytest.raises(ValueError, match="centering"):
        dino_step(student, teacher, optimizer, shapes.images[:16], center=torch.zeros(8), centering="median")
