"""The small encoders chapter 6 trains: a 6-conv CNN, a 4-block ViT, SimCLR's projection head, CLIP's text tower.

Image encoders map images (N, 3, H, W) in [0, 1] to features (N, out_dim). The text encoder reads the shapes'
captions in English and in Chinese through one shared vocabulary (see `caption_vocab`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from dlnotes.data import shapes
from dlnotes.data.tokenizer import Vocab
from dlnotes.models.attention import TransformerBlock
from dlnotes.models.checks import check_images
from dlnotes.models.vit import VisionTransformer, interpolate_positions


class SmallCNN(nn.Module):
    """6 conv-BN-ReLU layers and a global average pool: (N, 3, H, W) -> (N, out_dim); out_dim = last layer's width."""

    # channels as a fraction of out_dim, stride
    LAYERS = [(1 / 4, 1), (1 / 4, 1), (1 / 2, 2), (1 / 2, 1), (1, 2), (1, 1)]

    def __init__(self, out_dim: int = 128) -> None:
        super().__init__()
        if out_dim < 4 or out_dim % 4:
            raise ValueError(f"out_dim must be a multiple of 4 and >= 4, got {out_dim}")
        layers, c_in = [], 3
        for frac, stride in self.LAYERS:
            c_out = int(out_dim * frac)
            layers += [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out),
                       nn.ReLU(inplace=True)]
            c_in = c_out
        self.body = nn.Sequential(*layers)
        self.out_dim = out_dim

    def forward(self, X: Tensor) -> Tensor:
        check_images(X, in_channels=3, model="SmallCNN", min_size=4)
        x = self.body(X)  # (N, out_dim, H/4, W/4)
        return x.mean(dim=(2, 3))  # global average pool: (N, out_dim)


class SmallViT(VisionTransformer):
    """A ViT without a classifier: (N, 3, H, W) -> the class token's features (N, dim).

    Accepts any size divisible by the patch (DINO's 16x16 local crops): the learned positions of the
    training size are interpolated for other sizes, on the fly. ``cls_attention()`` gives the last
    block's attention from the class token to the patches, for DINO's attention maps.
    """

    def __init__(self, image_size: int = 32, patch_size: int = 4, dim: int = 128, depth: int = 4, heads: int = 4,
                 mlp_dim: int = 256) -> None:
        super().__init__(image_size, patch_size, dim, depth, heads, mlp_dim, num_classes=1)
        self.head = nn.Identity()  # features, not classes
        self.out_dim = dim
        self._grid: tuple[int, int] | None = None

    def features(self, X: Tensor) -> Tensor:
        """All tokens after the last block and norm: (N, 3, H, W) -> (N, 1 + H/p * W/p, dim)."""
        check_images(X, in_channels=self.in_channels, model="SmallViT", min_size=self.patch_size)
        h, w = X.shape[2:]
        if h != w or h % self.patch_size:
            raise ValueError(f"SmallViT expects square images with a side divisible by {self.patch_size}, "
                             f"got {h}x{w}")
        pos = self.pos_embedding  # (1, 1 + N, dim) for the training size
        if h != self.image_size:
            pos = interpolate_positions(pos, h, self.patch_size)  # differentiable: positions still learn
        x = self.patch_embed(X)  # (N, L, dim)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1) + pos  # (N, 1 + L, dim)
        for block in self.blocks:
            x = block(x)
        self._grid = (h // self.patch_size, w // self.patch_size)
        return self.norm(x)

    def cls_attention(self) -> Tensor:
        """The last block's attention of the class token to every patch in the last call: (N, heads, h, w)."""
        weights = self.blocks[-1].attn.last_weights  # (N, heads, 1 + L, 1 + L)
        if weights is None or self._grid is None:
            raise RuntimeError("cls_attention() needs a forward pass first")
        return weights[:, :, 0, 1:].unflatten(-1, self._grid)


def small_vit(*, image_size: int = 32, patch_size: int = 4, dim: int = 128, depth: int = 4, heads: int = 4,
              mlp_dim: int = 256) -> SmallViT:
    """The chapter's ViT: 32x32 images, 4x4 patches (64 tokens + class token), dim 128, 4 blocks, 4 heads."""
    return SmallViT(image_size, patch_size, dim, depth, heads, mlp_dim)


class ProjectionHead(nn.Module):
    """SimCLR's projection MLP g(h): Linear - BN - ReLU - Linear, (N, in_dim) -> (N, out_dim)."""

    def __init__(self, in_dim: int, hidden_dim: int = 256, out_dim: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden_dim, bias=False), nn.BatchNorm1d(hidden_dim),
                                 nn.ReLU(inplace=True), nn.Linear(hidden_dim, out_dim))

    def forward(self, h: Tensor) -> Tensor:
        return self.net(h)


# --------------------------------------------------------------------------- text
_CJK = re.compile(r"[\u4e00-\u9fff]")


def tokenize_caption(text: str) -> list[str]:
    """English: lower-case words; Chinese (any CJK character in the text): one token per character, spaces dropped.

    Chinese writes no spaces between words, so characters are its natural unit without a segmenter; the
    shapes' Chinese captions use 28 distinct characters.
    """
    if not isinstance(text, str):
        raise ValueError(f"a caption must be a str, got {type(text).__name__}")
    if _CJK.search(text):
        return [ch for ch in text if not ch.isspace()]
    return text.lower().split()


def caption_vocab() -> Vocab:
    """The shared bilingual vocabulary: every word of the English caption grammar and every character of the
    Chinese one (class, colour, size and position names), after <pad>, <bos>, <eos>."""
    en = [*shapes.SHAPE_CLASSES, *shapes.COLORS, *shapes._SIZE_ZH, "a"]
    en += [w for row in shapes._POSITIONS_EN for phrase in row for w in phrase.split()]
    zh = [*shapes.SHAPE_CLASSES_ZH, *(name for _, name in shapes.COLORS.values()), *shapes._SIZE_ZH.values()]
    zh += ["的一个"]
    zh += [phrase for row in shapes._POSITIONS_ZH for phrase in row]
    return Vocab([*en, *(ch for text in zh for ch in text)], split="word")


class TextEncoder(nn.Module):
    """CLIP's text tower for shapes captions: token embedding + learned positions + transformer blocks,
    then the mean over the caption's tokens -> (N, out_dim). depth=0 is a bag of embeddings (mean-pooled)."""

    def __init__(self, out_dim: int = 128, *, dim: int = 64, depth: int = 1, heads: int = 4, max_len: int = 16) -> None:
        super().__init__()
        self.vocab = caption_vocab()
        self.max_len = max_len
        self.embed = nn.Embedding(len(self.vocab), dim, padding_idx=self.vocab.pad_id)
        self.pos = nn.Parameter(torch.zeros(1, max_len, dim).normal_(std=0.02))
        self.blocks = nn.ModuleList([TransformerBlock(dim, heads, 2.0) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.proj = nn.Linear(dim, out_dim)
        self.out_dim = out_dim

    def tokenize(self, captions: Sequence[str]) -> tuple[Tensor, Tensor]:
        """(ids (N, T) padded with <pad>, lengths (N,)); an unknown word or character is a ValueError naming it."""
        if isinstance(captions, str) or not len(captions):
            raise ValueError("encode_text expects a non-empty list of captions, not a single string")
        encoded = []
        for text in captions:
            tokens = tokenize_caption(text)
            unknown = sorted({t for t in tokens if t not in self.vocab.stoi})
            if unknown:
                raise ValueError(f"{unknown} in {text!r} are not in the caption vocabulary ({len(self.vocab)} "
                                 f"tokens: the words and characters of the shapes captions)")
            if not tokens or len(tokens) > self.max_len:
                raise ValueError(f"{text!r} has {len(tokens)} tokens; expected 1 to {self.max_len}")
            encoded.append([self.vocab.stoi[t] for t in tokens])
        lengths = torch.tensor([len(e) for e in encoded])
        ids = torch.full((len(encoded), int(lengths.max())), self.vocab.pad_id, dtype=torch.long)
        for row, e in zip(ids, encoded):
            row[: len(e)] = torch.tensor(e)
        return ids, lengths

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """ids (N, T), lengths (N,) -> (N, out_dim)."""
        T = ids.shape[1]
        keep = torch.arange(T, device=ids.device)[None, :] < lengths.to(ids.device)[:, None]  # (N, T) real tokens
        x = self.embed(ids) + self.pos[:, :T]  # (N, T, dim)
        for block in self.blocks:
            x = block(x, mask=keep[:, None, None, :])  # padding is never attended to
        x = self.norm(x)
        pooled = (x * keep[..., None]).sum(1) / lengths.to(x)[:, None]  # mean over the real tokens: (N, dim)
        return self.proj(pooled)

    def encode_text(self, captions: Sequence[str]) -> Tensor:
        """Captions in English or Chinese (mixed is fine) -> features (N, out_dim)."""
        ids, lengths = self.tokenize(captions)
        device = self.embed.weight.device
        return self(ids.to(device), lengths.to(device))
