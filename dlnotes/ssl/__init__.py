"""Self-supervised learning (chapter 6): learning features from images without labels.

* `views` — batched random crops, flips, colour jitter, channel permutation, grey and blur; SimCLR's
  ``two_views`` and DINO's ``multi_crop``.
* `contrastive` — InfoNCE and NT-Xent from their formulas; the rotation pretext task.
* `encoders` — the small CNN and ViT the chapter trains, SimCLR's projection head, CLIP's bilingual text tower.
* `clip` — symmetric InfoNCE with a learnable temperature, zero-shot classification, retrieval recall@k.
* `dino` — the DINO head, loss, centering, EMA teacher, schedules, Sinkhorn-Knopp and collapse diagnostics.
* `evaluate` — features of a frozen encoder judged by k-NN and by a linear probe.
* `train_steps` — one training step of SimCLR, CLIP and DINO.
* `checkpoint` — small fp16 checkpoints with a JSON sidecar (seed, config, metrics, sha256).

Importing it has no side effects.
"""

from .checkpoint import load_checkpoint, load_clip, load_encoder, save_checkpoint
from .clip import (CLIP, caption_templates, clip_logits, clip_loss, recall_at_k, zero_shot_classifier,
                   zero_shot_predict)
from .contrastive import info_nce, nt_xent, rotation_pretext
from .dino import (DinoHead, collapse_metrics, cosine_schedule, dino_loss, distill_loss, ema_update, entropy,
                   sinkhorn_knopp, teacher_probs, update_center)
from .encoders import ProjectionHead, SmallCNN, SmallViT, TextEncoder, caption_vocab, small_vit, tokenize_caption
from .evaluate import (eval_split, extract_features, knn_accuracy, knn_eval, knn_predict, knn_with_baselines,
                       linear_probe, split_shapes)
from .train_steps import clip_step, dino_step, simclr_step
from .views import ViewConfig, crop_and_resize, multi_crop, random_resized_crop, random_view, two_views

__all__ = [
    # views
    "ViewConfig", "crop_and_resize", "multi_crop", "random_resized_crop", "random_view", "two_views",
    # losses and pretext tasks
    "info_nce", "nt_xent", "rotation_pretext",
    # encoders
    "ProjectionHead", "SmallCNN", "SmallViT", "TextEncoder", "caption_vocab", "small_vit", "tokenize_caption",
    # CLIP
    "CLIP", "caption_templates", "clip_logits", "clip_loss", "recall_at_k", "zero_shot_classifier",
    "zero_shot_predict",
    # DINO
    "DinoHead", "collapse_metrics", "cosine_schedule", "dino_loss", "distill_loss", "ema_update", "entropy",
    "sinkhorn_knopp", "teacher_probs", "update_center",
    # evaluation, training steps, checkpoints
    "eval_split", "extract_features", "knn_accuracy", "knn_eval", "knn_predict", "knn_with_baselines", "linear_probe",
    "split_shapes",
    "clip_step", "dino_step", "simclr_step",
    "load_checkpoint", "load_clip", "load_encoder", "save_checkpoint",
]
