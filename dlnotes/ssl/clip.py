"""CLIP (Radford et al. 2021): an image tower and a text tower trained so that matching pairs have similar
features, with a symmetric InfoNCE loss and a learnable temperature; zero-shot classification and retrieval.

The temperature is learned as logit_scale = log(1 / tau) (a log keeps it positive and makes its steps
relative), initialised at tau = 0.07 and clamped at a scale of 100, as in the paper.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from dlnotes.data.shapes import SHAPE_CLASSES, SHAPE_CLASSES_ZH

MAX_LOGIT_SCALE = math.log(100.0)  # CLIP clips exp(logit_scale) at 100
TEMPLATES = {"en": "a {}", "zh": "一个{}"}  # prompts inside the captions' grammar (its words or characters)


def _check_pair(a: Tensor, b: Tensor, names: tuple[str, str]) -> None:
    for name, X in zip(names, (a, b)):
        if not isinstance(X, Tensor) or X.dim() != 2 or not X.is_floating_point():
            got = tuple(X.shape) if isinstance(X, Tensor) else type(X).__name__
            raise ValueError(f"{name} must be a float tensor of features (N, dim), got {got}")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{names[0]} and {names[1]} must have the same dim, got {a.shape[1]} and {b.shape[1]}")


def clip_logits(image_features: Tensor, text_features: Tensor, logit_scale: Tensor | float) -> Tensor:
    """Scaled cosine similarities (N_images, N_texts) = exp(clamped logit_scale) * normalised image @ text^T."""
    _check_pair(image_features, text_features, ("image_features", "text_features"))
    scale = torch.as_tensor(logit_scale, dtype=image_features.dtype, device=image_features.device)
    if scale.numel() != 1:
        raise ValueError(f"logit_scale must be a scalar (log of 1 / temperature), got shape {tuple(scale.shape)}")
    scale = scale.clamp(max=MAX_LOGIT_SCALE).exp()
    return scale * F.normalize(image_features, dim=1) @ F.normalize(text_features, dim=1).T


def clip_loss(image_features: Tensor, text_features: Tensor, logit_scale: Tensor | float) -> Tensor:
    """Symmetric InfoNCE: the mean of image->text and text->image cross-entropies; row i of both is pair i."""
    _check_pair(image_features, text_features, ("image_features", "text_features"))
    if image_features.shape[0] != text_features.shape[0] or image_features.shape[0] < 2:
        raise ValueError(f"need the same number (>= 2) of images and texts, paired by row, got "
                         f"{image_features.shape[0]} and {text_features.shape[0]}")
    logits = clip_logits(image_features, text_features, logit_scale)  # (N, N), the pairs on the diagonal
    image_to_text = (torch.logsumexp(logits, dim=1) - logits.diagonal()).mean()  # each image picks its caption
    text_to_image = (torch.logsumexp(logits, dim=0) - logits.diagonal()).mean()  # each caption picks its image
    return (image_to_text + text_to_image) / 2


class CLIP(nn.Module):
    """Two towers and linear projections into one embed_dim space, plus the learnable logit_scale."""

    def __init__(self, image_encoder: nn.Module, text_encoder: nn.Module, *, embed_dim: int = 64,
                 temperature: float = 0.07) -> None:
        super().__init__()
        self.image_encoder, self.text_encoder = image_encoder, text_encoder
        self.image_proj = nn.Linear(image_encoder.out_dim, embed_dim, bias=False)
        self.text_proj = nn.Linear(text_encoder.out_dim, embed_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / temperature)))

    def encode_image(self, X: Tensor) -> Tensor:
        """(N, 3, H, W) -> (N, embed_dim), not normalised."""
        return self.image_proj(self.image_encoder(X))

    def encode_text(self, captions: Sequence[str]) -> Tensor:
        """Captions in English or Chinese -> (N, embed_dim), not normalised."""
        return self.text_proj(self.text_encoder.encode_text(captions))

    def temperature(self) -> float:
        return math.exp(-min(self.logit_scale.item(), MAX_LOGIT_SCALE))


def caption_templates(language: str = "en") -> list[str]:
    """Every prompt of the captions' grammar with the class left open: sizes x colours x positions (126 per language).

    Averaging a class's embeddings over them is CLIP's prompt ensembling, inside the grammar the model was trained on.
    """
    from dlnotes.data import shapes

    if language == "en":
        return [f"a {size} {color} {{}} {pos}" for size in shapes.SIZE_BANDS for color in shapes.COLORS
                for row in shapes._POSITIONS_EN for pos in row]
    if language == "zh":
        return [f"{pos}的一个{zh}{shapes._SIZE_ZH[size]}{{}}" for size in shapes.SIZE_BANDS
                for _, zh in shapes.COLORS.values() for row in shapes._POSITIONS_ZH for pos in row]
    raise ValueError(f"language must be one of {sorted(TEMPLATES)}, got {language!r}")


@torch.no_grad()
def zero_shot_classifier(text_encoder, class_names: Sequence[str] | None = None,
                         template: str | Sequence[str] | None = None, language: str = "en") -> Tensor:
    """One normalised text embedding per class, from the prompt template.format(class name): (K, dim).

    text_encoder: anything with ``encode_text(list_of_captions)`` (a TextEncoder or a CLIP model).
    class_names default to the shapes' classes in ``language`` ("en" or "zh"), the template to TEMPLATES[language].
    A list of templates is a prompt ensemble: each class gets the normalised mean of its normalised embeddings.
    """
    if language not in TEMPLATES:
        raise ValueError(f"language must be one of {sorted(TEMPLATES)}, got {language!r}")
    class_names = (SHAPE_CLASSES if language == "en" else SHAPE_CLASSES_ZH) if class_names is None else class_names
    template = TEMPLATES[language] if template is None else template
    templates = [template] if isinstance(template, str) else list(template)
    bad = [t for t in templates if not isinstance(t, str) or "{}" not in t]
    if not templates or bad:
        raise ValueError(f"every template must contain '{{}}' where the class name goes, got {bad or templates!r}")
    if isinstance(class_names, str) or len(class_names) < 2:
        raise ValueError(f"class_names must be a sequence of at least 2 names, got {class_names!r}")
    prompts = [t.format(name) for name in class_names for t in templates]  # class-major
    emb = F.normalize(text_encoder.encode_text(prompts), dim=1)  # (K * T, dim)
    return F.normalize(emb.unflatten(0, (len(class_names), len(templates))).mean(1), dim=1)  # (K, dim)


def zero_shot_predict(image_features: Tensor, classifier: Tensor) -> Tensor:
    """The class whose prompt embedding is most similar (cosine) to each image: (N, dim), (K, dim) -> (N,)."""
    _check_pair(image_features, classifier, ("image_features", "classifier"))
    return (F.normalize(image_features, dim=1) @ F.normalize(classifier, dim=1).T).argmax(dim=1)


def recall_at_k(query_features: Tensor, target_features: Tensor, k: int = 1) -> float:
    """Retrieval recall@k: the fraction of queries whose own target (same row) is among the k most similar
    targets (cosine). (N, dim), (N, dim) -> float; images -> captions, or captions -> images when swapped."""
    _check_pair(query_features, target_features, ("query_features", "target_features"))
    n = query_features.shape[0]
    if target_features.shape[0] != n:
        raise ValueError(f"queries and targets must be paired by row, got {n} and {target_features.shape[0]}")
    if not isinstance(k, int) or not 1 <= k <= n:
        raise ValueError(f"k must be an int in [1, {n}], got {k!r}")
    sim = F.normalize(query_features, dim=1) @ F.normalize(target_features, dim=1).T  # (N, N)
    own = sim.diagonal()[:, None]
    rank = (sim > own).sum(dim=1)  # how many targets beat the right one (ties count for the query)
    return (rank < k).float().mean().item()
