"""Residual networks: the basic and bottleneck blocks, ResNet (He et al. 2016) and ResNeXt (Xie et al. 2017).

Defaults give the same parameter count and output shape as torchvision's resnet18/34/50/101/152 and
resnext50_32x4d. Like torchvision (ResNet "v1.5"), a downsampling bottleneck strides in its 3x3
conv; the paper strides in the first 1x1 conv, which skips three quarters of the input.
"""

from __future__ import annotations

import torch
from torch import nn

from .checks import check_images


def _shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module | None:
    # Identity when the shapes agree; otherwise a strided 1x1 conv + BN projection (the paper's option B).
    if stride == 1 and in_channels == out_channels:
        return None
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
        nn.BatchNorm2d(out_channels),
    )


class BasicBlock(nn.Module):
    """Two 3x3 convs and a shortcut (He et al. 2016, Fig. 2): (B, C_in, H, W) -> (B, channels, H/s, W/s), s = stride."""

    expansion = 1  # output channels = channels * expansion

    def __init__(self, in_channels: int, channels: int, *, stride: int = 1) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.conv1 = nn.Conv2d(in_channels, channels, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = _shortcut(in_channels, channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, in_channels=self.in_channels, model="BasicBlock")
        identity = x if self.shortcut is None else self.shortcut(x)  # (B, channels, H/s, W/s)
        out = self.relu(self.bn1(self.conv1(x)))  # (B, channels, H/s, W/s)
        out = self.bn2(self.conv2(out))  # (B, channels, H/s, W/s)
        return self.relu(out + identity)  # the residual: F(x) + x


class Bottleneck(nn.Module):
    """Bottleneck, 1x1-3x3-1x1 and a shortcut (He et al. 2016, Fig. 5): (B, C_in, H, W) -> (B, 4 * channels, H/s, W/s).

    With groups > 1 the 3x3 conv is grouped, which makes it a ResNeXt block (Xie et al. 2017, Fig. 3c):
    its width is channels * width_per_group / 64 * groups (ResNeXt-50 32x4d: 32 groups of 4 in stage 1).
    """

    expansion = 4

    def __init__(self, in_channels: int, channels: int, *, stride: int = 1, groups: int = 1,
                 width_per_group: int = 64) -> None:
        super().__init__()
        self.in_channels = in_channels
        width = int(channels * width_per_group / 64) * groups
        out_channels = channels * self.expansion
        self.conv1 = nn.Conv2d(in_channels, width, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, kernel_size=3, stride=stride, padding=1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = _shortcut(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, in_channels=self.in_channels, model="Bottleneck")
        identity = x if self.shortcut is None else self.shortcut(x)  # (B, 4 * channels, H/s, W/s)
        out = self.relu(self.bn1(self.conv1(x)))  # reduce: (B, width, H, W)
        out = self.relu(self.bn2(self.conv2(out)))  # (B, width, H/s, W/s)
        out = self.bn3(self.conv3(out))  # expand: (B, 4 * channels, H/s, W/s)
        return self.relu(out + identity)  # the residual: F(x) + x


class ResNet(nn.Module):
    """ResNet (He et al. 2016) / ResNeXt (Xie et al. 2017): (B, in_channels, H, W) -> (B, num_classes).

    layers holds the number of blocks in each of the four stages; the stages have width, 2 * width,
    4 * width and 8 * width channels (times block.expansion), so width=16 gives a ResNet small enough
    to train on a CPU in seconds. small_input=True swaps the 7x7/2 conv + max pool stem for one 3x3
    conv with stride 1, a common choice for 32x32 images (not from the paper, which used a separate
    thinner network for CIFAR-10). zero_init_residual starts every block's last BN at zero, so each
    block begins as the identity (Goyal et al. 2017).
    """

    def __init__(self, block: type[BasicBlock] | type[Bottleneck], layers: list[int], *, num_classes: int = 1000,
                 in_channels: int = 3, width: int = 64, groups: int = 1, width_per_group: int = 64,
                 zero_init_residual: bool = False, small_input: bool = False) -> None:
        super().__init__()
        if len(layers) != 4 or any(n < 1 for n in layers):
            raise ValueError(f"layers must list four positive block counts, e.g. [2, 2, 2, 2], got {layers!r}")
        if block is BasicBlock and (groups != 1 or width_per_group != 64):
            raise ValueError("BasicBlock has no grouped conv: use Bottleneck for groups/width_per_group (ResNeXt)")
        self.in_channels = in_channels
        if small_input:
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, width, kernel_size=3, padding=1, bias=False),  # (B, width, H, W)
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            )
        else:
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, width, kernel_size=7, stride=2, padding=3, bias=False),  # (B, width, H/2, W/2)
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2, padding=1),  # (B, width, H/4, W/4)
            )
        extra = {} if block is BasicBlock else {"groups": groups, "width_per_group": width_per_group}
        stages = []
        channels_in = width
        for i, num_blocks in enumerate(layers):
            channels = width * 2**i
            stride = 1 if i == 0 else 2  # stages 2-4 halve H and W in their first block
            blocks = []
            for j in range(num_blocks):
                blocks.append(block(channels_in, channels, stride=stride if j == 0 else 1, **extra))
                channels_in = channels * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(channels_in, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        check_images(X, in_channels=self.in_channels, model="ResNet")
        x = self.stem(X)  # (B, w, H/4, W/4)            (H, W with small_input=True)
        x = self.layer1(x)  # (B, w * e, H/4, W/4)      e = block.expansion
        x = self.layer2(x)  # (B, 2w * e, H/8, W/8)
        x = self.layer3(x)  # (B, 4w * e, H/16, W/16)
        x = self.layer4(x)  # (B, 8w * e, H/32, W/32)
        x = torch.flatten(self.avgpool(x), 1)  # (B, 8w * e)
        return self.fc(x)  # (B, num_classes)


# He et al. 2016, Table 1: blocks per stage (conv2_x, conv3_x, conv4_x, conv5_x).
#   18: basic [2, 2, 2, 2]    34: basic [3, 4, 6, 3]
#   50: bottleneck [3, 4, 6, 3]    101: bottleneck [3, 4, 23, 3]    152: bottleneck [3, 8, 36, 3]

def resnet18(num_classes: int = 1000, *, in_channels: int = 3, width: int = 64, zero_init_residual: bool = False,
             small_input: bool = False) -> ResNet:
    """ResNet-18: (B, in_channels, H, W) -> (B, num_classes)."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes=num_classes, in_channels=in_channels, width=width,
                  zero_init_residual=zero_init_residual, small_input=small_input)


def resnet34(num_classes: int = 1000, *, in_channels: int = 3, width: int = 64, zero_init_residual: bool = False,
             small_input: bool = False) -> ResNet:
    """ResNet-34: (B, in_channels, H, W) -> (B, num_classes)."""
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes=num_classes, in_channels=in_channels, width=width,
                  zero_init_residual=zero_init_residual, small_input=small_input)


def resnet50(num_classes: int = 1000, *, in_channels: int = 3, width: int = 64, zero_init_residual: bool = False,
             small_input: bool = False) -> ResNet:
    """ResNet-50: (B, in_channels, H, W) -> (B, num_classes)."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes=num_classes, in_channels=in_channels, width=width,
                  zero_init_residual=zero_init_residual, small_input=small_input)


def resnet101(num_classes: int = 1000, *, in_channels: int = 3, zero_init_residual: bool = False) -> ResNet:
    """ResNet-101: (B, in_channels, H, W) -> (B, num_classes)."""
    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes=num_classes, in_channels=in_channels,
                  zero_init_residual=zero_init_residual)


def resnet152(num_classes: int = 1000, *, in_channels: int = 3, zero_init_residual: bool = False) -> ResNet:
    """ResNet-152: (B, in_channels, H, W) -> (B, num_classes)."""
    return ResNet(Bottleneck, [3, 8, 36, 3], num_classes=num_classes, in_channels=in_channels,
                  zero_init_residual=zero_init_residual)


def resnext50_32x4d(num_classes: int = 1000, *, in_channels: int = 3, width: int = 64,
                    zero_init_residual: bool = False, small_input: bool = False) -> ResNet:
    """ResNeXt-50 (32x4d) (Xie et al. 2017, Table 1): ResNet-50 with 32 groups of 4 channels in stage 1's 3x3 convs."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes=num_classes, in_channels=in_channels, width=width,
                  groups=32, width_per_group=4, zero_init_residual=zero_init_residual, small_input=small_input)
