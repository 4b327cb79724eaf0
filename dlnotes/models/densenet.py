"""Densely connected networks: DenseNet-BC (Huang et al. 2017), the dense layer, block and transition.

Defaults give the same parameter count and output shape as torchvision's densenet121.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_images


class DenseLayer(nn.Module):
    """BN-ReLU-Conv1x1-BN-ReLU-Conv3x3 (DenseNet-B, Huang et al. 2017): (B, C_in, H, W) -> (B, growth_rate, H, W)."""

    def __init__(self, in_channels: int, *, growth_rate: int = 32, bn_size: int = 4, drop_rate: float = 0.0) -> None:
        super().__init__()
        self.in_channels, self.drop_rate = in_channels, drop_rate
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, bn_size * growth_rate, kernel_size=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(F.relu(self.norm1(x)))  # bottleneck: (B, bn_size * k, H, W)
        x = self.conv2(F.relu(self.norm2(x)))  # (B, k, H, W), k = growth_rate new feature maps
        return F.dropout(x, p=self.drop_rate, training=self.training)


class DenseBlock(nn.Module):
    """Dense block (Huang et al. 2017, Fig. 1): (B, C_in, H, W) -> (B, C_in + num_layers * growth_rate, H, W)."""

    def __init__(self, num_layers: int, in_channels: int, *, growth_rate: int = 32, bn_size: int = 4,
                 drop_rate: float = 0.0) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = in_channels + num_layers * growth_rate
        self.layers = nn.ModuleList(
            DenseLayer(in_channels + i * growth_rate, growth_rate=growth_rate, bn_size=bn_size, drop_rate=drop_rate)
            for i in range(num_layers)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, in_channels=self.in_channels, min_size=1, model="DenseBlock")
        features = [x]
        for layer in self.layers:
            new = layer(torch.cat(features, dim=1))  # each layer sees the block input and every earlier output
            features.append(new)  # (B, growth_rate, H, W)
        return torch.cat(features, dim=1)  # (B, C_in + num_layers * growth_rate, H, W)


class Transition(nn.Sequential):
    """BN-ReLU-Conv1x1-AvgPool between blocks (Huang et al. 2017): (B, C_in, H, W) -> (B, C_out, H/2, W/2)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.BatchNorm2d(in_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False),  # compression: fewer channels
            nn.AvgPool2d(kernel_size=2, stride=2),
        )


class DenseNet(nn.Module):
    """DenseNet-BC (Huang et al. 2017): (B, in_channels, H, W) -> (B, num_classes).

    block_config is the number of dense layers per block (Table 1: DenseNet-121 is (6, 12, 24, 16));
    transitions halve the channels (compression 0.5) and H, W. A small net for 32x32 images:
    DenseNet(growth_rate=12, block_config=(6, 6, 6), num_init_features=24). As in torchvision, an
    adaptive average pool replaces the paper's 7x7 global pool, so any H, W >= min_size works.
    """

    def __init__(self, *, growth_rate: int = 32, block_config: tuple[int, ...] = (6, 12, 24, 16),
                 num_init_features: int = 64, bn_size: int = 4, drop_rate: float = 0.0, num_classes: int = 1000,
                 in_channels: int = 3) -> None:
        super().__init__()
        if not block_config or any(n < 1 for n in block_config):
            raise ValueError(f"block_config must list positive layer counts, e.g. (6, 12, 24, 16), "
                             f"got {block_config!r}")
        self.in_channels = in_channels
        # The stem takes H to ceil(H/4) and each transition halves it; it must stay >= 1.
        self.min_size = 4 * 2 ** (len(block_config) - 1) - 3
        c0 = num_init_features
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, c0, kernel_size=7, stride=2, padding=3, bias=False),  # (B, c0, H/2, W/2)
            nn.BatchNorm2d(c0),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),  # (B, c0, H/4, W/4)
        )
        stages: list[nn.Module] = []
        channels = c0
        for i, num_layers in enumerate(block_config):
            block = DenseBlock(num_layers, channels, growth_rate=growth_rate, bn_size=bn_size, drop_rate=drop_rate)
            stages.append(block)
            channels = block.out_channels
            if i < len(block_config) - 1:
                stages.append(Transition(channels, channels // 2))
                channels = channels // 2
        self.blocks = nn.Sequential(*stages)  # dense block, transition, ..., dense block
        self.norm = nn.BatchNorm2d(channels)
        self.classifier = nn.Linear(channels, num_classes)
        for m in self.modules():  # as torchvision: Kaiming normal (fan_in) convs, zero biases
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        check_images(X, in_channels=self.in_channels, min_size=self.min_size, model="DenseNet")
        x = self.stem(X)  # (B, c0, H/4, W/4)
        x = self.blocks(x)  # (B, C, H/32, W/32) for four blocks; DenseNet-121: C = 1024
        x = F.relu(self.norm(x))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)  # (B, C)
        return self.classifier(x)  # (B, num_classes)


def densenet121(num_classes: int = 1000, *, in_channels: int = 3, drop_rate: float = 0.0) -> DenseNet:
    """DenseNet-121 (k = 32, blocks 6-12-24-16, bn_size 4): (B, in_channels, H, W) -> (B, num_classes)."""
    return DenseNet(growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, bn_size=4,
                    drop_rate=drop_rate, num_classes=num_classes, in_channels=in_channels)
