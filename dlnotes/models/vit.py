"""Vision Transformer (Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words"): patches as tokens, a class
token, learned positions, pre-norm transformer blocks from `dlnotes.models.attention`.

vit_b_16 has the parameter count (86,567,656 for 1000 classes) and output shape of torchvision's vit_b_16, and
computes the same function given the same weights (its state_dict lists the same tensors; only
pos_embedding sits second here, right after class_token, where torchvision keeps it in its encoder).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .attention import TransformerBlock
from .checks import check_images


class PatchEmbed(nn.Module):
    """Cut an image into patch x patch squares and project each to dim, one strided conv:
    (B, C, H, W) -> (B, H/p * W/p, dim), patches in row-major order (= unfold + a shared linear layer)."""

    def __init__(self, patch_size: int, dim: int, *, in_channels: int = 3) -> None:
        super().__init__()
        self.patch_size, self.in_channels = patch_size, in_channels
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, X: Tensor) -> Tensor:
        check_images(X, in_channels=self.in_channels, min_size=self.patch_size, model="PatchEmbed")
        if X.shape[2] % self.patch_size or X.shape[3] % self.patch_size:
            raise ValueError(f"PatchEmbed expects H and W divisible by patch_size={self.patch_size}, "
                             f"got {X.shape[2]}x{X.shape[3]}")
        return self.proj(X).flatten(2).transpose(1, 2)  # (B, dim, H/p, W/p) -> (B, N, dim)


def interpolate_positions(pos_embedding: Tensor, image_size: int, patch_size: int) -> Tensor:
    """Resize learned positions to a new image size: (1, 1 + n*n, dim) -> (1, 1 + (image_size/patch_size)^2, dim).

    The class token's position is kept; the n x n grid of patch positions is resized bicubically
    (align_corners=True, as torchvision's interpolate_embeddings does).
    """
    n = math.isqrt(pos_embedding.shape[1] - 1) if pos_embedding.dim() == 3 and pos_embedding.shape[1] > 1 else 0
    if pos_embedding.dim() != 3 or pos_embedding.shape[0] != 1 or n * n + 1 != pos_embedding.shape[1]:
        raise ValueError(f"expected positions (1, 1 + n*n, dim), got shape {tuple(pos_embedding.shape)}")
    if image_size % patch_size:
        raise ValueError(f"image_size {image_size} is not divisible by patch_size {patch_size}")
    cls_pos, grid = pos_embedding[:, :1], pos_embedding[:, 1:]  # (1, 1, dim), (1, n*n, dim)
    grid = grid.transpose(1, 2).unflatten(2, (n, n))  # (1, dim, n, n)
    new = image_size // patch_size
    grid = nn.functional.interpolate(grid, size=new, mode="bicubic", align_corners=True)  # (1, dim, new, new)
    return torch.cat([cls_pos, grid.flatten(2).transpose(1, 2)], dim=1)  # (1, 1 + new*new, dim)


class VisionTransformer(nn.Module):
    """ViT: (B, in_channels, image_size, image_size) -> (B, num_classes), classified from the class token.

    heads attention heads per block, mlp_dim hidden units in each block's MLP; LayerNorm eps 1e-6 as in
    torchvision. Each block's last attention weights are in ``blocks[i].attn.last_weights`` (B, heads, 1+N, 1+N).
    """

    def __init__(self, image_size: int, patch_size: int, dim: int, depth: int, heads: int, mlp_dim: int,
                 num_classes: int = 1000, *, in_channels: int = 3, dropout: float = 0.0) -> None:
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"image_size {image_size} is not divisible by patch_size {patch_size}")
        self.image_size, self.patch_size, self.in_channels = image_size, patch_size, in_channels
        num_patches = (image_size // patch_size) ** 2
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embedding = nn.Parameter(torch.empty(1, 1 + num_patches, dim).normal_(std=0.02))  # learned
        self.patch_embed = PatchEmbed(patch_size, dim, in_channels=in_channels)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList([
            TransformerBlock(dim, heads, mlp_dim / dim, pre_norm=True, dropout=dropout, norm_eps=1e-6)
            for _ in range(depth)
        ])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        # torchvision's: truncated normal patch projection, Xavier MLPs with tiny biases, a zero head
        proj = self.patch_embed.proj
        nn.init.trunc_normal_(proj.weight, std=math.sqrt(1 / (proj.in_channels * self.patch_size ** 2)))
        nn.init.zeros_(proj.bias)
        for block in self.blocks:
            for m in block.mlp:
                if isinstance(m, nn.Linear):
                    nn.init.xavier_uniform_(m.weight)
                    nn.init.normal_(m.bias, std=1e-6)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def set_image_size(self, image_size: int) -> None:
        """Accept images of a new size from now on: the patch positions are interpolated (interpolate_positions)."""
        with torch.no_grad():
            new = interpolate_positions(self.pos_embedding, image_size, self.patch_size)
        self.pos_embedding = nn.Parameter(new)
        self.image_size = image_size

    def features(self, X: Tensor) -> Tensor:
        """All tokens after the last block and norm: (B, C, H, W) -> (B, 1 + N, dim), the class token first."""
        check_images(X, in_channels=self.in_channels, model="VisionTransformer")
        if X.shape[2:] != (self.image_size, self.image_size):
            raise ValueError(f"VisionTransformer expects {self.image_size}x{self.image_size} images, got "
                             f"{X.shape[2]}x{X.shape[3]}; call set_image_size({X.shape[2]}) to interpolate "
                             f"the positions")
        x = self.patch_embed(X)  # (B, N, dim)
        cls = self.class_token.expand(x.shape[0], -1, -1)  # (B, 1, dim)
        x = torch.cat([cls, x], dim=1) + self.pos_embedding  # (B, 1 + N, dim)
        x = self.dropout(x)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def forward(self, X: Tensor) -> Tensor:
        return self.head(self.features(X)[:, 0])  # the class token's features -> (B, num_classes)


def vit_b_16(num_classes: int = 1000, *, image_size: int = 224, dropout: float = 0.0) -> VisionTransformer:
    """ViT-B/16 (Dosovitskiy et al. 2021, Table 1: 12 layers, dim 768, MLP 3072, 12 heads, 86 M parameters):
    (B, 3, 224, 224) -> (B, num_classes); 86,567,656 parameters for 1000 classes, as torchvision's."""
    return VisionTransformer(image_size, 16, dim=768, depth=12, heads=12, mlp_dim=3072, num_classes=num_classes,
                             dropout=dropout)
