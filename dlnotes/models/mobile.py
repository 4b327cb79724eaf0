"""Lightweight CNNs, written from the papers' tables: SqueezeNet, MobileNet v1/v2/v3 and ShuffleNet v1/v2.
GhostNet, EfficientNet-B0 and PP-LCNet are in `dlnotes.models.mobile_efficient`; the blocks and the shared
classifier skeleton live in `dlnotes.models.mobile_blocks`.

squeezenet1_0/1_1, mobilenet_v2, mobilenet_v3_small/large and shufflenet_v2_x1_0 have
the same parameter count and output shape as torchvision's constructors of the same name, and compute
the same function given the same weights. mobilenet_v1 and shufflenet_v1, which torchvision lacks,
follow the papers (and their authors' code where the paper is silent); each docstring gives the paper's
parameter and multiply-add counts next to the measured ones (multiply-adds at 224x224 = torch.utils.flop_counter's FLOPs / 2, convolutions and linear layers only).
"""

from __future__ import annotations

import torch
from torch import nn

from .checks import check_images
from .mobile_blocks import (
    ClassifierNet, DepthwiseSeparable, Fire, InvertedResidual, ShuffleV1Unit, ShuffleV2Unit, conv_bn_act,
    init_weights, make_divisible,
)


# --- SqueezeNet -----------------------------------------------------------------------------------

class SqueezeNet(ClassifierNet):
    """SqueezeNet (Iandola et al. 2016, Table 1; v1.1 from the authors' repository): (B, 3, H, W) -> (B, num_classes).

    No fully connected layer: a 1x1 conv to num_classes maps, ReLU, then a global average pool.
    v1.0 (1,248,424 parameters) and v1.1 (1,235,496, 2.4x fewer multiply-adds) differ in the stem
    (7x7/96 vs 3x3/64) and in where the max pools sit. Unpadded stem and ceil-mode pools: H, W >= min_size.
    """

    def __init__(self, version: str = "1_0", *, num_classes: int = 1000, in_channels: int = 3,
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.name, self.in_channels = f"SqueezeNet{version.replace('_', '.')}", in_channels
        pool = lambda: nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)  # noqa: E731
        if version == "1_0":
            self.min_size = 21
            self.features = nn.Sequential(
                nn.Conv2d(in_channels, 96, kernel_size=7, stride=2), nn.ReLU(inplace=True),  # conv1
                pool(),
                Fire(96, 16, 64, 64), Fire(128, 16, 64, 64), Fire(128, 32, 128, 128),  # fire2-4: squeeze, e1, e3
                pool(),
                Fire(256, 32, 128, 128), Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256),
                pool(),
                Fire(512, 64, 256, 256),  # fire9: (B, 512, H/16, W/16)
            )
        elif version == "1_1":
            self.min_size = 17
            self.features = nn.Sequential(
                nn.Conv2d(in_channels, 64, kernel_size=3, stride=2), nn.ReLU(inplace=True),
                pool(),
                Fire(64, 16, 64, 64), Fire(128, 16, 64, 64),
                pool(),
                Fire(128, 32, 128, 128), Fire(256, 32, 128, 128),
                pool(),
                Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256), Fire(512, 64, 256, 256),
            )
        else:
            raise ValueError(f"version must be '1_0' or '1_1', got {version!r}")
        final_conv = nn.Conv2d(512, num_classes, kernel_size=1)  # conv10: one map per class
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), final_conv, nn.ReLU(inplace=True),
                                        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is final_conv:
                    nn.init.normal_(m.weight, mean=0.0, std=0.01)
                else:
                    nn.init.kaiming_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        check_images(X, in_channels=self.in_channels, min_size=self.min_size, model=self.name)
        return self.classifier(self.features(X))  # (B, 512, h, w) -> (B, num_classes, h, w) -> (B, num_classes)


def squeezenet1_0(num_classes: int = 1000, *, in_channels: int = 3) -> SqueezeNet:
    """SqueezeNet 1.0: (B, in_channels, H, W), H, W >= 21 -> (B, num_classes); 1,248,424 parameters."""
    return SqueezeNet("1_0", num_classes=num_classes, in_channels=in_channels)


def squeezenet1_1(num_classes: int = 1000, *, in_channels: int = 3) -> SqueezeNet:
    """SqueezeNet 1.1: (B, in_channels, H, W), H, W >= 17 -> (B, num_classes); 1,235,496 parameters."""
    return SqueezeNet("1_1", num_classes=num_classes, in_channels=in_channels)


# --- MobileNet v1 ---------------------------------------------------------------------------------

# Howard et al. 2017, Table 1: the 13 depthwise-separable layers after the 3x3/2 stem, as (c, s):
# output channels of the pointwise conv, stride of the depthwise conv. The table's second-last row
# says s2, but its own input sizes stay 7x7 after it, and the authors' TensorFlow code uses s1.
MOBILENET_V1_TABLE = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                      (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]


class MobileNetV1(ClassifierNet):
    """MobileNet v1 (Howard et al. 2017): (B, 3, H, W) -> (B, num_classes); width_mult is the paper's alpha.

    alpha = 1: paper 4.2 M parameters and 569 M multiply-adds; measured 4,231,976 parameters (BN's
    scale and shift included: 21,888 of them; 4,210,088 without) and 568.7 M multiply-adds.
    """

    name = "MobileNetV1"

    def __init__(self, *, num_classes: int = 1000, in_channels: int = 3, width_mult: float = 1.0,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.in_channels = in_channels
        c = make_divisible(32 * width_mult)
        layers: list[nn.Module] = [conv_bn_act(in_channels, c, 3, stride=2)]  # (B, 32, H/2, W/2)
        for out, s in MOBILENET_V1_TABLE:
            layers.append(DepthwiseSeparable(c, make_divisible(out * width_mult), stride=s))
            c = make_divisible(out * width_mult)
        self.features = nn.Sequential(*layers)  # (B, 1024, H/32, W/32)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(c, num_classes))
        init_weights(self)


def mobilenet_v1(num_classes: int = 1000, *, in_channels: int = 3, width_mult: float = 1.0) -> MobileNetV1:
    """MobileNet v1 (alpha = width_mult): (B, in_channels, H, W) -> (B, num_classes); 4,231,976 parameters at 1.0."""
    return MobileNetV1(num_classes=num_classes, in_channels=in_channels, width_mult=width_mult)


# --- MobileNet v2 ---------------------------------------------------------------------------------

# Sandler et al. 2018, Table 2: t (expansion), c (output channels), n (repeats), s (first stride)
MOBILENET_V2_TABLE = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]


class MobileNetV2(ClassifierNet):
    """MobileNet v2 (Sandler et al. 2018): (B, 3, H, W) -> (B, num_classes); 3,504,872 parameters at width 1.0."""

    name = "MobileNetV2"

    def __init__(self, *, num_classes: int = 1000, in_channels: int = 3, width_mult: float = 1.0,
                 dropout: float = 0.2) -> None:
        super().__init__()
        self.in_channels = in_channels
        c = make_divisible(32 * width_mult)
        last = make_divisible(1280 * max(1.0, width_mult))  # the last conv is not thinned below 1280
        layers: list[nn.Module] = [conv_bn_act(in_channels, c, 3, stride=2, activation=nn.ReLU6)]
        for t, out, n, s in MOBILENET_V2_TABLE:
            out = make_divisible(out * width_mult)
            for i in range(n):
                layers.append(InvertedResidual(c, out, expanded_channels=round(c * t), stride=s if i == 0 else 1))
                c = out
        layers.append(conv_bn_act(c, last, 1, activation=nn.ReLU6))  # (B, 1280, H/32, W/32)
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(last, num_classes))
        init_weights(self)


def mobilenet_v2(num_classes: int = 1000, *, in_channels: int = 3, width_mult: float = 1.0) -> MobileNetV2:
    """MobileNet v2: (B, in_channels, H, W) -> (B, num_classes)."""
    return MobileNetV2(num_classes=num_classes, in_channels=in_channels, width_mult=width_mult)


# --- MobileNet v3 ---------------------------------------------------------------------------------

# Howard et al. 2019, Tables 1 (large) and 2 (small): kernel, expansion size, output channels, SE,
# nonlinearity (RE = ReLU, HS = hard-swish), stride
MOBILENET_V3_LARGE = [
    (3, 16, 16, False, "RE", 1),
    (3, 64, 24, False, "RE", 2),
    (3, 72, 24, False, "RE", 1),
    (5, 72, 40, True, "RE", 2),
    (5, 120, 40, True, "RE", 1),
    (5, 120, 40, True, "RE", 1),
    (3, 240, 80, False, "HS", 2),
    (3, 200, 80, False, "HS", 1),
    (3, 184, 80, False, "HS", 1),
    (3, 184, 80, False, "HS", 1),
    (3, 480, 112, True, "HS", 1),
    (3, 672, 112, True, "HS", 1),
    (5, 672, 160, True, "HS", 2),
    (5, 960, 160, True, "HS", 1),
    (5, 960, 160, True, "HS", 1),
]
MOBILENET_V3_SMALL = [
    (3, 16, 16, True, "RE", 2),
    (3, 72, 24, False, "RE", 2),
    (3, 88, 24, False, "RE", 1),
    (5, 96, 40, True, "HS", 2),
    (5, 240, 40, True, "HS", 1),
    (5, 240, 40, True, "HS", 1),
    (5, 120, 48, True, "HS", 1),
    (5, 144, 48, True, "HS", 1),
    (5, 288, 96, True, "HS", 2),
    (5, 576, 96, True, "HS", 1),
    (5, 576, 96, True, "HS", 1),
]


class MobileNetV3(ClassifierNet):
    """MobileNet v3 (Howard et al. 2019): (B, 3, H, W) -> (B, num_classes).

    Large: 5,483,032 parameters, small: 2,542,856. SE squeezes to a quarter of the expansion (rounded
    to a multiple of 8) with a hard-sigmoid gate; BN uses eps = 0.001 like the TensorFlow original.
    """

    def __init__(self, table: list[tuple], *, last_channel: int, num_classes: int = 1000, in_channels: int = 3,
                 dropout: float = 0.2, name: str = "MobileNetV3") -> None:
        super().__init__()
        self.name, self.in_channels = name, in_channels
        eps = 1e-3
        layers: list[nn.Module] = [conv_bn_act(in_channels, 16, 3, stride=2, activation=nn.Hardswish, bn_eps=eps)]
        c = 16
        for k, exp, out, se, nl, s in table:
            layers.append(InvertedResidual(
                c, out, expanded_channels=exp, kernel_size=k, stride=s,
                activation=nn.Hardswish if nl == "HS" else nn.ReLU,
                se_channels=make_divisible(exp // 4) if se else 0, bn_eps=eps))
            c = out
        layers.append(conv_bn_act(c, 6 * c, 1, activation=nn.Hardswish, bn_eps=eps))  # (B, 6c, H/32, W/32)
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(  # after the pool, so these 1x1 "convs" are linear layers
            nn.Linear(6 * c, last_channel), nn.Hardswish(inplace=True), nn.Dropout(p=dropout, inplace=True),
            nn.Linear(last_channel, num_classes),
        )
        init_weights(self)


def mobilenet_v3_large(num_classes: int = 1000, *, in_channels: int = 3) -> MobileNetV3:
    """MobileNet v3-Large: (B, in_channels, H, W) -> (B, num_classes)."""
    return MobileNetV3(MOBILENET_V3_LARGE, last_channel=1280, num_classes=num_classes, in_channels=in_channels,
                       name="MobileNetV3-Large")


def mobilenet_v3_small(num_classes: int = 1000, *, in_channels: int = 3) -> MobileNetV3:
    """MobileNet v3-Small: (B, in_channels, H, W) -> (B, num_classes)."""
    return MobileNetV3(MOBILENET_V3_SMALL, last_channel=1024, num_classes=num_classes, in_channels=in_channels,
                       name="MobileNetV3-Small")


# --- ShuffleNet v1 and v2 -------------------------------------------------------------------------

# Zhang et al. 2018, Table 1: output channels of stages 2-4 for g groups (1.0x); 4, 8, 4 units per stage
# after a 3x3/2 conv to 24 channels and a 3x3/2 max pool.
SHUFFLENET_V1_TABLE = {1: (144, 288, 576), 2: (200, 400, 800), 3: (240, 480, 960), 4: (272, 544, 1088),
                       8: (384, 768, 1536)}
SHUFFLENET_REPEATS = (4, 8, 4)


class ShuffleNetV1(ClassifierNet):
    """ShuffleNet v1 (Zhang et al. 2018), 1.0x: (B, 3, H, W) -> (B, num_classes).

    g = 3: the paper's Table 1 gives 137 M FLOPs (multiply-adds) and no parameter count anywhere;
    MMPretrain's trained 1.0x, g = 3 model has 1.87 M. Measured: 1,865,728 parameters and 137.5 M
    multiply-adds. Bottlenecks are a quarter of each unit's output; stage 2's first 1x1 conv is
    not grouped (24 input channels), as the paper says.
    """

    name = "ShuffleNetV1"

    def __init__(self, *, groups: int = 3, num_classes: int = 1000, in_channels: int = 3) -> None:
        super().__init__()
        if groups not in SHUFFLENET_V1_TABLE:
            raise ValueError(f"groups must be one of {sorted(SHUFFLENET_V1_TABLE)}, got {groups}")
        self.in_channels = in_channels
        c = 24
        layers: list[nn.Module] = [conv_bn_act(in_channels, c, 3, stride=2),  # (B, 24, H/2, W/2)
                                   nn.MaxPool2d(kernel_size=3, stride=2, padding=1)]  # (B, 24, H/4, W/4)
        for stage, (out, n) in enumerate(zip(SHUFFLENET_V1_TABLE[groups], SHUFFLENET_REPEATS)):
            for i in range(n):
                layers.append(ShuffleV1Unit(c, out, groups=groups, stride=2 if i == 0 else 1,
                                            first_grouped=not (stage == 0 and i == 0)))
                c = out
        self.features = nn.Sequential(*layers)  # (B, 960, H/32, W/32) for g = 3
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)
        init_weights(self)


def shufflenet_v1(num_classes: int = 1000, *, groups: int = 3, in_channels: int = 3) -> ShuffleNetV1:
    """ShuffleNet v1 1.0x (g = 3 by default): (B, in_channels, H, W) -> (B, num_classes)."""
    return ShuffleNetV1(groups=groups, num_classes=num_classes, in_channels=in_channels)


class ShuffleNetV2(ClassifierNet):
    """ShuffleNet v2 (Ma et al. 2018, Table 5): (B, 3, H, W) -> (B, num_classes); 1.0x: 2,278,604 parameters."""

    name = "ShuffleNetV2"

    def __init__(self, stage_channels: tuple[int, ...] = (24, 116, 232, 464, 1024), *, num_classes: int = 1000,
                 in_channels: int = 3) -> None:
        super().__init__()
        self.in_channels = in_channels
        c = stage_channels[0]
        layers: list[nn.Module] = [conv_bn_act(in_channels, c, 3, stride=2),  # conv1: (B, 24, H/2, W/2)
                                   nn.MaxPool2d(kernel_size=3, stride=2, padding=1)]  # (B, 24, H/4, W/4)
        for out, n in zip(stage_channels[1:4], SHUFFLENET_REPEATS):  # stages 2-4
            layers.extend(ShuffleV2Unit(c if i == 0 else out, out, stride=2 if i == 0 else 1) for i in range(n))
            c = out
        layers.append(conv_bn_act(c, stage_channels[4], 1))  # conv5: (B, 1024, H/32, W/32)
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(stage_channels[4], num_classes)


def shufflenet_v2_x1_0(num_classes: int = 1000, *, in_channels: int = 3) -> ShuffleNetV2:
    """ShuffleNet v2 1.0x: (B, in_channels, H, W) -> (B, num_classes)."""
    return ShuffleNetV2((24, 116, 232, 464, 1024), num_classes=num_classes, in_channels=in_channels)
