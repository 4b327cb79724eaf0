"""Building blocks of the lightweight CNNs in `dlnotes.models.mobile` and `mobile_efficient`: Fire,
depthwise-separable conv, inverted residual / MBConv (with squeeze-and-excitation and drop-path), channel
shuffle, the ShuffleNet v1 and v2 units, the Ghost module and bottleneck, and the networks' shared
initialisation and classifier skeleton.

Submodules are registered in the order torchvision (or the papers' official code) registers them, so
that a state_dict can be copied across by order.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from .checks import check_images

Activation = Callable[..., nn.Module]


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to the nearest multiple of divisor, never more than 10% below value (MobileNet v2 code)."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def conv_bn_act(in_channels: int, out_channels: int, kernel_size: int = 3, *, stride: int = 1, groups: int = 1,
                activation: Activation | None = nn.ReLU, bn_eps: float = 1e-5) -> nn.Sequential:
    """Conv (no bias, 'same' padding) - BN - activation: (B, C_in, H, W) -> (B, C_out, H/s, W/s)."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=(kernel_size - 1) // 2,
                  groups=groups, bias=False),
        nn.BatchNorm2d(out_channels, eps=bn_eps),
    ]
    if activation is not None:
        layers.append(activation(inplace=True))
    return nn.Sequential(*layers)


def drop_path(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Stochastic depth (Huang et al. 2016): zero each sample's residual branch with probability p, else x / (1-p)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"drop_path probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:  # every branch dropped (x / (1 - p) would be 0 / 0)
        return torch.zeros_like(x)
    keep = torch.empty(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device).bernoulli_(1.0 - p)  # (B, 1, 1, 1)
    return x * (keep / (1.0 - p))  # a dropped sample's branch is 0, a kept one's is scaled by 1/(1-p)


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2018): x * gate(fc2(act(fc1(mean over H, W)))), (B, C, H, W) -> same shape."""

    def __init__(self, channels: int, squeeze_channels: int, *, activation: Activation = nn.ReLU,
                 gate: Activation = nn.Sigmoid) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze_channels, kernel_size=1)  # 1x1 convs = FC layers on (B, C, 1, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, channels, kernel_size=1)
        self.activation, self.gate = activation(), gate()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.activation(self.fc1(self.avgpool(x)))  # squeeze: (B, C_sq, 1, 1)
        return x * self.gate(self.fc2(s))  # excite: one weight in [0, 1] per channel


class Fire(nn.Module):
    """Fire module (Iandola et al. 2016, Fig. 1): squeeze 1x1, then expand 1x1 and 3x3 side by side, concatenated.

    (B, C_in, H, W) -> (B, expand1x1 + expand3x3, H, W).
    """

    def __init__(self, in_channels: int, squeeze: int, expand1x1: int, expand3x3: int) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(in_channels, squeeze, kernel_size=1)
        self.expand1x1 = nn.Conv2d(squeeze, expand1x1, kernel_size=1)
        self.expand3x3 = nn.Conv2d(squeeze, expand3x3, kernel_size=3, padding=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.relu(self.squeeze(x))  # (B, squeeze, H, W): few channels feed the 3x3 convs
        return torch.cat([self.relu(self.expand1x1(s)), self.relu(self.expand3x3(s))], dim=1)


class DepthwiseSeparable(nn.Module):
    """Depthwise kxk conv - BN - act [- SE] - pointwise 1x1 conv - BN - act (MobileNet v1, Howard et al. 2017, Fig. 3;
    PP-LCNet's DepthSepConv with SE): (B, C_in, H, W) -> (B, C_out, H/s, W/s)."""

    def __init__(self, in_channels: int, out_channels: int, *, kernel_size: int = 3, stride: int = 1,
                 activation: Activation = nn.ReLU, use_se: bool = False) -> None:
        super().__init__()
        self.depthwise = conv_bn_act(in_channels, in_channels, kernel_size, stride=stride, groups=in_channels,
                                     activation=activation)
        self.se = SqueezeExcite(in_channels, in_channels // 4, gate=nn.Hardsigmoid) if use_se else nn.Identity()
        self.pointwise = conv_bn_act(in_channels, out_channels, 1, activation=activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.depthwise(x)  # one kxk filter per channel: (B, C_in, H/s, W/s)
        return self.pointwise(self.se(x))  # mixes channels: (B, C_out, H/s, W/s)


class InvertedResidual(nn.Module):
    """Inverted residual with linear bottleneck (MobileNet v2, Sandler et al. 2018, Fig. 3b; v3 adds SE and h-swish):
    expand 1x1 - depthwise kxk - [SE] - project 1x1 with no activation, plus x when the shapes agree.

    (B, C_in, H, W) -> (B, C_out, H/s, W/s). se_channels=0 means no SE; drop_path_prob drops the residual branch.
    """

    def __init__(self, in_channels: int, out_channels: int, *, expanded_channels: int, kernel_size: int = 3,
                 stride: int = 1, activation: Activation = nn.ReLU6, se_channels: int = 0,
                 se_activation: Activation = nn.ReLU, se_gate: Activation = nn.Hardsigmoid,
                 drop_path_prob: float = 0.0, bn_eps: float = 1e-5) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        self.in_channels, self.drop_path_prob = in_channels, drop_path_prob
        self.use_residual = stride == 1 and in_channels == out_channels
        layers: list[nn.Module] = []
        if expanded_channels != in_channels:  # expand (t = 1 has no expansion conv)
            layers.append(conv_bn_act(in_channels, expanded_channels, 1, activation=activation, bn_eps=bn_eps))
        layers.append(conv_bn_act(expanded_channels, expanded_channels, kernel_size, stride=stride,
                                  groups=expanded_channels, activation=activation, bn_eps=bn_eps))  # depthwise
        if se_channels:
            layers.append(SqueezeExcite(expanded_channels, se_channels, activation=se_activation, gate=se_gate))
        layers.append(conv_bn_act(expanded_channels, out_channels, 1, activation=None, bn_eps=bn_eps))  # linear
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)  # (B, C_out, H/s, W/s)
        if self.use_residual:
            return drop_path(out, self.drop_path_prob, self.training) + x  # the residual
        return out


class MBConv(InvertedResidual):
    """EfficientNet's MBConv (Tan & Le 2019): an inverted residual with SiLU, an SE of in_channels / 4 units with a
    sigmoid gate, and stochastic depth on the residual branch. (B, C_in, H, W) -> (B, C_out, H/s, W/s)."""

    def __init__(self, in_channels: int, out_channels: int, *, expand_ratio: int, kernel_size: int, stride: int = 1,
                 drop_path_prob: float = 0.0) -> None:
        super().__init__(in_channels, out_channels, expanded_channels=make_divisible(in_channels * expand_ratio),
                         kernel_size=kernel_size, stride=stride, activation=nn.SiLU,
                         se_channels=max(1, in_channels // 4), se_activation=nn.SiLU, se_gate=nn.Sigmoid,
                         drop_path_prob=drop_path_prob)


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet's channel shuffle (Zhang et al. 2018, Fig. 1): reshape to (groups, C/groups), transpose, flatten."""
    B, C, H, W = x.shape
    x = x.view(B, groups, C // groups, H, W).transpose(1, 2)  # (B, C/groups, groups, H, W)
    return x.reshape(B, C, H, W)  # channel i of group g moves to position i * groups + g


class ShuffleV1Unit(nn.Module):
    """ShuffleNet v1 unit (Zhang et al. 2018, Fig. 2b/c): grouped 1x1 - shuffle - depthwise 3x3 - grouped 1x1.

    Stride 1 adds x; stride 2 concatenates a 3x3 average pool of x, so C_out includes C_in.
    (B, C_in, H, W) -> (B, C_out, H/s, W/s).
    """

    def __init__(self, in_channels: int, out_channels: int, *, groups: int, stride: int = 1,
                 first_grouped: bool = True) -> None:
        super().__init__()
        self.stride, self.groups = stride, groups
        mid = out_channels // 4  # bottleneck: a quarter of the output channels
        branch_out = out_channels - in_channels if stride == 2 else out_channels
        # stage 2's first unit has only 24 input channels, too few to split into groups
        self.gconv1 = conv_bn_act(in_channels, mid, 1, groups=groups if first_grouped else 1)
        self.depthwise = conv_bn_act(mid, mid, 3, stride=stride, groups=mid, activation=None)
        self.gconv2 = conv_bn_act(mid, branch_out, 1, groups=groups, activation=None)
        self.shortcut = nn.AvgPool2d(kernel_size=3, stride=2, padding=1) if stride == 2 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = channel_shuffle(self.gconv1(x), self.groups)  # (B, mid, H, W), groups now see each other's channels
        out = self.gconv2(self.depthwise(out))  # (B, branch_out, H/s, W/s)
        if self.stride == 2:
            return torch.relu(torch.cat([self.shortcut(x), out], dim=1))  # (B, C_in + branch_out, H/2, W/2)
        return torch.relu(out + x)  # the residual


class ShuffleV2Unit(nn.Module):
    """ShuffleNet v2 unit (Ma et al. 2018, Fig. 3c/d): split channels in two, transform one half, concatenate, shuffle.

    Stride 2 feeds x to both branches (the left one gets a depthwise 3x3 + 1x1), doubling the channels.
    (B, C_in, H, W) -> (B, C_out, H/s, W/s).
    """

    def __init__(self, in_channels: int, out_channels: int, *, stride: int = 1) -> None:
        super().__init__()
        self.stride = stride
        half = out_channels // 2
        if stride == 1 and in_channels != out_channels:
            raise ValueError(f"a stride-1 unit keeps the channel count, got {in_channels} -> {out_channels}")
        if stride == 2:
            self.branch1 = nn.Sequential(
                *conv_bn_act(in_channels, in_channels, 3, stride=2, groups=in_channels, activation=None),
                *conv_bn_act(in_channels, half, 1),
            )
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            *conv_bn_act(in_channels if stride == 2 else half, half, 1),
            *conv_bn_act(half, half, 3, stride=stride, groups=half, activation=None),
            *conv_bn_act(half, half, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)  # channel split: (B, C/2, H, W) each, x1 passes untouched
            out = torch.cat([x1, self.branch2(x2)], dim=1)
        else:
            out = torch.cat([self.branch1(x), self.branch2(x)], dim=1)  # (B, C_out, H/2, W/2)
        return channel_shuffle(out, 2)


class GhostModule(nn.Module):
    """Ghost module (Han et al. 2020, Fig. 2b): a primary conv makes C_out/s maps, a cheap depthwise conv makes the
    rest ("ghosts") from them; s = ratio. (B, C_in, H, W) -> (B, C_out, H, W)."""

    def __init__(self, in_channels: int, out_channels: int, *, ratio: int = 2, dw_size: int = 3,
                 relu: bool = True) -> None:
        super().__init__()
        self.out_channels = out_channels
        primary = math.ceil(out_channels / ratio)
        activation = nn.ReLU if relu else None
        self.primary_conv = conv_bn_act(in_channels, primary, 1, activation=activation)
        self.cheap_operation = conv_bn_act(primary, primary * (ratio - 1), dw_size, groups=primary,
                                           activation=activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.primary_conv(x)  # intrinsic maps: (B, C_out/s, H, W)
        ghosts = self.cheap_operation(y)  # (B, C_out (s-1)/s, H, W), one cheap kxk filter per map
        return torch.cat([y, ghosts], dim=1)[:, :self.out_channels]


class GhostBottleneck(nn.Module):
    """Ghost bottleneck (Han et al. 2020, Fig. 3): Ghost module - [depthwise stride 2] - [SE] - Ghost module (linear),
    plus x, or a depthwise + 1x1 projection of x when the shapes change. (B, C_in, H, W) -> (B, C_out, H/s, W/s)."""

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int, *, kernel_size: int = 3,
                 stride: int = 1, use_se: bool = False) -> None:
        super().__init__()
        self.stride = stride
        self.ghost1 = GhostModule(in_channels, mid_channels, relu=True)  # expand
        if stride > 1:
            self.conv_dw = conv_bn_act(mid_channels, mid_channels, kernel_size, stride=stride, groups=mid_channels,
                                       activation=None)
        # SE with a hard-sigmoid gate; squeeze width rounded to a multiple of 4 as in the official code
        self.se = (SqueezeExcite(mid_channels, make_divisible(mid_channels * 0.25, 4), gate=nn.Hardsigmoid)
                   if use_se else nn.Identity())
        self.ghost2 = GhostModule(mid_channels, out_channels, relu=False)  # project, no activation
        if stride == 1 and in_channels == out_channels:
            self.shortcut = nn.Identity()
        else:
            self.shortcut = nn.Sequential(
                *conv_bn_act(in_channels, in_channels, kernel_size, stride=stride, groups=in_channels, activation=None),
                *conv_bn_act(in_channels, out_channels, 1, activation=None),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.ghost1(x)  # (B, mid, H, W)
        if self.stride > 1:
            out = self.conv_dw(out)  # (B, mid, H/2, W/2)
        out = self.ghost2(self.se(out))  # (B, C_out, H/s, W/s)
        return out + self.shortcut(x)  # the residual


__all__ = [
    "make_divisible", "conv_bn_act", "drop_path", "SqueezeExcite", "Fire", "DepthwiseSeparable", "InvertedResidual",
    "MBConv", "channel_shuffle", "ShuffleV1Unit", "ShuffleV2Unit", "GhostModule", "GhostBottleneck",
]


# --- Shared by the networks -----------------------------------------------------------------------

def init_weights(model: nn.Module, *, linear_std: float | None = 0.01) -> None:
    # torchvision's MobileNet initialisation: Kaiming normal (fan_out) convs, BN = identity, small linear weights.
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            if linear_std is None:  # EfficientNet: uniform in +-1/sqrt(out_features)
                bound = m.out_features ** -0.5
                nn.init.uniform_(m.weight, -bound, bound)
            else:
                nn.init.normal_(m.weight, 0, linear_std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class ClassifierNet(nn.Module):
    # Shared forward of the networks in mobile.py and mobile_efficient.py: checks, features, global average pool,
    # classifier head.
    name: str = "model"
    min_size: int = 1  # padded convs only: any H, W >= 1 runs (stride 32 makes it 1x1 from 32x32 down)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        check_images(X, in_channels=self.in_channels, min_size=self.min_size, model=self.name)
        x = self.features(X)  # (B, C, H/32, W/32)
        x = torch.flatten(self.avgpool(x), 1)  # (B, C)
        return self.classifier(x)  # (B, num_classes)
