"""ConvNeXt (Liu et al. 2022, "A ConvNet for the 2020s"): a ResNet modernised step by step towards Swin: a 4x4
stride-4 "patchify" stem, stages of 3:3:9:3 blocks, depthwise 7x7 convolutions, an inverted bottleneck (4x MLP)
with one GELU, LayerNorm instead of BatchNorm, layer scale, and separate 2x2 stride-2 downsampling layers.

convnext_tiny has the parameter count (28,589,128 for 1000 classes) and output shape of torchvision's
convnext_tiny and computes the same function given the same weights: its state_dict lists the same tensors in the
same order.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checks import check_images
from .mobile_blocks import drop_path

# Liu et al. 2022, Sec. 2.2 and 3: ConvNeXt-T has C = (96, 192, 384, 768), B = (3, 3, 9, 3)
CONVNEXT_TINY_TABLE = [
    # dim, depth
    (96, 3),
    (192, 3),
    (384, 9),
    (768, 3),
]


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of a (B, C, H, W) map: each pixel's C values get mean 0 and variance 1, then a
    per-channel scale and shift (not over C, H, W together, and not over the batch as BatchNorm): same shape out."""

    def forward(self, x: Tensor) -> Tensor:
        x = x.permute(0, 2, 3, 1)  # (B, H, W, C): F.layer_norm normalises the last axis
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)  # back to (B, C, H, W)


class ConvNeXtBlock(nn.Module):
    """ConvNeXt block (Liu et al. 2022, Fig. 4): depthwise 7x7 conv, LayerNorm, Linear dim -> 4*dim, GELU, Linear
    4*dim -> dim, layer scale, drop path, residual: (B, dim, H, W) -> (B, dim, H, W)."""

    def __init__(self, dim: int, *, layer_scale: float = 1e-6, drop_path: float = 0.0) -> None:
        super().__init__()
        self.drop_path = drop_path
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)  # one 7x7 filter per channel
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)  # a 1x1 conv, written as a Linear on channels-last tokens
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.layer_scale = nn.Parameter(torch.full((dim, 1, 1), layer_scale))  # one learned factor per channel

    def forward(self, x: Tensor) -> Tensor:
        out = self.dwconv(x).permute(0, 2, 3, 1)  # (B, H, W, dim): channels last for LayerNorm and the Linears
        out = self.pwconv2(self.act(self.pwconv1(self.norm(out))))  # inverted bottleneck: dim -> 4*dim -> dim
        out = self.layer_scale * out.permute(0, 3, 1, 2)  # (B, dim, H, W), scaled per channel
        return x + drop_path(out, self.drop_path, self.training)


class ConvNeXt(nn.Module):
    """ConvNeXt: (B, in_channels, H, W) -> (B, num_classes), H and W at least 32 (4 x 2^3 for four stages).

    stages: (dim, depth) per stage. Stem: 4x4 stride-4 conv and LayerNorm2d; every later stage starts with a
    downsampling layer (LayerNorm2d, 2x2 stride-2 conv). drop_path rises linearly from 0 to drop_path over the
    blocks. Head: global average pool, LayerNorm, Linear.
    """

    def __init__(self, stages: list[tuple[int, int]], num_classes: int = 1000, *, in_channels: int = 3,
                 layer_scale: float = 1e-6, drop_path: float = 0.0) -> None:
        super().__init__()
        if not stages:
            raise ValueError("stages must list at least one (dim, depth)")
        self.in_channels = in_channels
        self.min_size = 4 * 2 ** (len(stages) - 1)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, stages[0][0], kernel_size=4, stride=4),  # "patchify"
                                  LayerNorm2d(stages[0][0], eps=1e-6))
        total, done = sum(depth for _, depth in stages), 0
        self.stages = nn.ModuleList()
        for i, (dim, depth) in enumerate(stages):
            layers: list[nn.Module] = []
            if i > 0:  # downsampling layer: normalise, then a 2x2 stride-2 conv doubles (here: sets) the width
                layers.append(nn.Sequential(LayerNorm2d(stages[i - 1][0], eps=1e-6),
                                            nn.Conv2d(stages[i - 1][0], dim, kernel_size=2, stride=2)))
            layers += [ConvNeXtBlock(dim, layer_scale=layer_scale, drop_path=drop_path * (done + j) / max(total - 1, 1))
                       for j in range(depth)]
            done += depth
            self.stages.append(nn.Sequential(*layers))
        self.norm = nn.LayerNorm(stages[-1][0], eps=1e-6)
        self.head = nn.Linear(stages[-1][0], num_classes)
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def features(self, X: Tensor) -> Tensor:
        """The last stage's map: (B, C, H, W) -> (B, 768, H/32, W/32) for convnext_tiny."""
        check_images(X, in_channels=self.in_channels, min_size=self.min_size, model="ConvNeXt")
        x = self.stem(X)  # (B, 96, H/4, W/4) for convnext_tiny
        for stage in self.stages:
            x = stage(x)  # (B, 96, H/4, W/4) -> (B, 192, H/8, W/8) -> ... -> (B, 768, H/32, W/32)
        return x

    def forward(self, X: Tensor) -> Tensor:
        x = self.features(X).mean(dim=(2, 3))  # global average pool: (B, C)
        return self.head(self.norm(x))  # (B, num_classes)


def convnext_tiny(num_classes: int = 1000, *, drop_path: float = 0.1) -> ConvNeXt:
    """ConvNeXt-T (Liu et al. 2022; CONVNEXT_TINY_TABLE): (B, 3, 224, 224) -> (B, num_classes); 28,589,128
    parameters for 1000 classes, as torchvision's convnext_tiny."""
    return ConvNeXt(CONVNEXT_TINY_TABLE, num_classes, drop_path=drop_path)
