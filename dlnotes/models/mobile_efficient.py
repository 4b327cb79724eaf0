"""Lightweight CNNs of 2019-2021, written from the papers' tables: GhostNet, EfficientNet-B0 and PP-LCNet
(SqueezeNet, MobileNet and ShuffleNet are in `dlnotes.models.mobile`; the blocks in `mobile_blocks`).

efficientnet_b0 has the same parameter count and output shape as torchvision's constructor of the same
name and computes the same function given the same weights. ghostnet and lcnet, which torchvision lacks,
follow the papers (and their authors' code where the paper is silent); each docstring gives the paper's
parameter and multiply-add counts next to the measured ones (multiply-adds at 224x224 =
torch.utils.flop_counter's FLOPs / 2, convolutions and linear layers only).
"""

from __future__ import annotations

from torch import nn

from .mobile_blocks import (
    ClassifierNet, DepthwiseSeparable, GhostBottleneck, MBConv, conv_bn_act, init_weights, make_divisible,
)


# --- GhostNet -------------------------------------------------------------------------------------

# Han et al. 2020, Table 1: kernel of the depthwise conv, expansion size (#exp), output channels, SE, stride
GHOSTNET_TABLE = [
    (3, 16, 16, False, 1),
    (3, 48, 24, False, 2),
    (3, 72, 24, False, 1),
    (5, 72, 40, True, 2),
    (5, 120, 40, True, 1),
    (3, 240, 80, False, 2),
    (3, 200, 80, False, 1),
    (3, 184, 80, False, 1),
    (3, 184, 80, False, 1),
    (3, 480, 112, True, 1),
    (3, 672, 112, True, 1),
    (5, 672, 160, True, 2),
    (5, 960, 160, False, 1),
    (5, 960, 160, True, 1),
    (5, 960, 160, False, 1),
    (5, 960, 160, True, 1),
]


class GhostNet(ClassifierNet):
    """GhostNet 1.0x (Han et al. 2020): (B, 3, H, W) -> (B, num_classes).

    Table 7: 5.2 M parameters, 141 M FLOPs (multiply-adds). Measured: 5,182,508 parameters and 141.2 M
    multiply-adds, as the authors' code (ratio s = 2, 3x3 cheap depthwise convs). After the 960-channel 1x1 conv and the
    pool, a 1x1 conv with bias to 1280 and ReLU (the table's last conv) comes before the classifier.
    """

    name = "GhostNet"

    def __init__(self, *, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.2) -> None:
        super().__init__()
        self.in_channels = in_channels
        c = 16
        layers: list[nn.Module] = [conv_bn_act(in_channels, c, 3, stride=2)]  # (B, 16, H/2, W/2)
        for k, exp, out, se, s in GHOSTNET_TABLE:
            layers.append(GhostBottleneck(c, exp, out, kernel_size=k, stride=s, use_se=se))
            c = out
        layers.append(conv_bn_act(c, 960, 1))  # (B, 960, H/32, W/32)
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(960, 1280), nn.ReLU(inplace=True), nn.Dropout(p=dropout),
                                        nn.Linear(1280, num_classes))
        init_weights(self)


def ghostnet(num_classes: int = 1000, *, in_channels: int = 3) -> GhostNet:
    """GhostNet 1.0x: (B, in_channels, H, W) -> (B, num_classes)."""
    return GhostNet(num_classes=num_classes, in_channels=in_channels)


# --- EfficientNet-B0 ------------------------------------------------------------------------------

# Tan & Le 2019, Table 1: expansion t, kernel k, stride s, input and output channels, layers n
EFFICIENTNET_B0_TABLE = [
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
]


class EfficientNet(ClassifierNet):
    """EfficientNet-B0 (Tan & Le 2019): (B, 3, H, W) -> (B, num_classes); 5,288,548 parameters.

    Block i of N drops its residual branch with probability stochastic_depth_prob * i / N in training.
    """

    name = "EfficientNet"

    def __init__(self, *, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.2,
                 stochastic_depth_prob: float = 0.2) -> None:
        super().__init__()
        self.in_channels = in_channels
        layers: list[nn.Module] = [conv_bn_act(in_channels, 32, 3, stride=2, activation=nn.SiLU)]
        total, i = sum(row[-1] for row in EFFICIENTNET_B0_TABLE), 0
        for t, k, s, c_in, c_out, n in EFFICIENTNET_B0_TABLE:
            stage = []
            for j in range(n):
                stage.append(MBConv(c_in if j == 0 else c_out, c_out, expand_ratio=t, kernel_size=k,
                                    stride=s if j == 0 else 1, drop_path_prob=stochastic_depth_prob * i / total))
                i += 1
            layers.append(nn.Sequential(*stage))
        layers.append(conv_bn_act(320, 1280, 1, activation=nn.SiLU))  # (B, 1280, H/32, W/32)
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True), nn.Linear(1280, num_classes))
        init_weights(self, linear_std=None)


def efficientnet_b0(num_classes: int = 1000, *, in_channels: int = 3) -> EfficientNet:
    """EfficientNet-B0: (B, in_channels, H, W) -> (B, num_classes)."""
    return EfficientNet(num_classes=num_classes, in_channels=in_channels)


# --- PP-LCNet -------------------------------------------------------------------------------------

# Cui et al. 2021, Table 1 (and PaddleClas's NET_CONFIG): kernel, input and output channels, stride, SE,
# for the depthwise-separable layers after the 3x3/2 stem to 16 channels. 5x5 kernels and SE only at the end.
LCNET_TABLE = [
    (3, 16, 32, 1, False),
    (3, 32, 64, 2, False), (3, 64, 64, 1, False),
    (3, 64, 128, 2, False), (3, 128, 128, 1, False),
    (3, 128, 256, 2, False), *[(5, 256, 256, 1, False)] * 5,
    (5, 256, 512, 2, True), (5, 512, 512, 1, True),
]


class LCNet(ClassifierNet):
    """PP-LCNet 1.0x (Cui et al. 2021): (B, 3, H, W) -> (B, num_classes); h-swish throughout.

    Paper (Table 2): 2.96 M parameters, 161 M FLOPs. Measured: 2,952,520 parameters (2.96 M if BN's
    running means and variances, 10,944 numbers, are counted too, which would explain the paper's
    figure) and 155.7 M multiply-adds in convs and linear layers; one more operation for each BN and
    each h-swish output (2.52 M apiece at 224x224) gives 160.8 M, so the paper's counter evidently
    counts those element-wise layers too. After the pool, a 1x1 conv
    (a linear layer here) without bias widens 512 -> 1280 before the classifier.
    """

    name = "LCNet"

    def __init__(self, *, num_classes: int = 1000, in_channels: int = 3, scale: float = 1.0,
                 dropout: float = 0.2) -> None:
        super().__init__()
        self.in_channels = in_channels
        layers: list[nn.Module] = [conv_bn_act(in_channels, make_divisible(16 * scale), 3, stride=2,
                                               activation=nn.Hardswish)]
        for k, c_in, c_out, s, se in LCNET_TABLE:
            layers.append(DepthwiseSeparable(make_divisible(c_in * scale), make_divisible(c_out * scale),
                                             kernel_size=k, stride=s, activation=nn.Hardswish, use_se=se))
        self.features = nn.Sequential(*layers)  # (B, 512, H/32, W/32)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(make_divisible(512 * scale), 1280, bias=False),
                                        nn.Hardswish(inplace=True), nn.Dropout(p=dropout),
                                        nn.Linear(1280, num_classes))
        init_weights(self)


def lcnet(num_classes: int = 1000, *, in_channels: int = 3, scale: float = 1.0) -> LCNet:
    """PP-LCNet (scale 1.0 = 1.0x): (B, in_channels, H, W) -> (B, num_classes)."""
    return LCNet(num_classes=num_classes, in_channels=in_channels, scale=scale)
