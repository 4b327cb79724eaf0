"""Attention inside CNNs: SE (Hu et al. 2018), CBAM (Woo et al. 2018), the CSP stage (Wang et al. 2020),
and a small ResNet for 32x32 images that takes any of them.

Every attention module here multiplies its input by a map of weights in (0, 1) that it computes from
that same input; `attention_map(x)` returns the map, `forward(x)` returns ``x * attention_map(x)``.
"""

from __future__ import annotations

import torch
from torch import nn

from dlnotes.models.checks import check_images
from dlnotes.models.resnet import BasicBlock

ATTENTIONS = (None, "se", "cbam")


def _check_maps(x: torch.Tensor, *, channels: int | None, module: str) -> None:
    """Raise a ValueError unless x is a float batch of feature maps (B, channels, H, W); None: any channels."""
    if channels is None:  # spatial attention works on any number of channels
        channels = x.shape[1] if isinstance(x, torch.Tensor) and x.dim() == 4 else -1
    check_images(x, in_channels=channels, model=module)


def _hidden(channels: int, reduction: int, module: str) -> int:
    if not isinstance(channels, int) or channels < 1:
        raise ValueError(f"{module}: channels must be a positive int, got {channels!r}")
    if not isinstance(reduction, int) or not 1 <= reduction <= channels:
        raise ValueError(f"{module}: reduction must be an int in [1, channels={channels}] so that the hidden "
                         f"layer keeps at least one unit, got {reduction!r}")
    return channels // reduction


class SEBlock(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2018): (B, C, H, W) -> (B, C, H, W), each channel scaled by a weight in (0, 1).

    Parameters: two linear layers C -> C/r -> C with biases, 2 C^2 / r + C / r + C in all.
    """

    def __init__(self, channels: int, *, reduction: int = 16) -> None:
        super().__init__()
        hidden = _hidden(channels, reduction, "SEBlock")
        self.channels = channels
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)

    def attention_map(self, x: torch.Tensor) -> torch.Tensor:
        """Channel weights (B, C, 1, 1) in (0, 1)."""
        _check_maps(x, channels=self.channels, module="SEBlock")
        s = x.mean(dim=(2, 3))  # squeeze: global average pool, (B, C)
        s = torch.relu(self.fc1(s))  # excitation, bottleneck: (B, C/r)
        s = torch.sigmoid(self.fc2(s))  # (B, C), each in (0, 1)
        return s[:, :, None, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.attention_map(x)  # scale: channel c of x times weight c


class ChannelAttention(nn.Module):
    """CBAM's channel attention (Woo et al. 2018): a shared MLP on the average- and max-pooled maps, summed, sigmoid.

    (B, C, H, W) -> (B, C, H, W). Parameters: the same as SE, 2 C^2 / r + C / r + C.
    """

    def __init__(self, channels: int, *, reduction: int = 16) -> None:
        super().__init__()
        hidden = _hidden(channels, reduction, "ChannelAttention")
        self.channels = channels
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels))

    def attention_map(self, x: torch.Tensor) -> torch.Tensor:
        """Channel weights (B, C, 1, 1) in (0, 1)."""
        _check_maps(x, channels=self.channels, module="ChannelAttention")
        avg = self.mlp(x.mean(dim=(2, 3)))  # (B, C) from the average-pooled descriptor
        mx = self.mlp(x.amax(dim=(2, 3)))  # (B, C) from the max-pooled one, same MLP
        return torch.sigmoid(avg + mx)[:, :, None, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.attention_map(x)


class SpatialAttention(nn.Module):
    """CBAM's spatial attention (Woo et al. 2018): a k x k conv on the channel-wise mean and max, sigmoid.

    (B, C, H, W) -> (B, C, H, W). Parameters: 2 k^2 + 1 (the conv and its bias), whatever C is.
    """

    def __init__(self, *, kernel_size: int = 7) -> None:
        super().__init__()
        if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"SpatialAttention: kernel_size must be a positive odd int (same padding), got {kernel_size!r}")
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)

    def attention_map(self, x: torch.Tensor) -> torch.Tensor:
        """Spatial weights (B, 1, H, W) in (0, 1)."""
        _check_maps(x, channels=None, module="SpatialAttention")
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)  # (B, 2, H, W)
        return torch.sigmoid(self.conv(pooled))  # (B, 1, H, W)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.attention_map(x)


class CBAM(nn.Module):
    """Convolutional block attention module (Woo et al. 2018): channel attention, then spatial attention.

    (B, C, H, W) -> (B, C, H, W). Parameters: 2 C^2 / r + C / r + C + 2 k^2 + 1.
    """

    def __init__(self, channels: int, *, reduction: int = 16, kernel_size: int = 7) -> None:
        super().__init__()
        self.channel = ChannelAttention(channels, reduction=reduction)
        self.spatial = SpatialAttention(kernel_size=kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.channel(x)  # "what": reweight the channels
        return self.spatial(x)  # "where": reweight the positions


def make_attention(kind: str | None, channels: int, *, reduction: int = 16) -> nn.Module:
    """nn.Identity() for None, SEBlock for "se", CBAM for "cbam"."""
    if kind is None:
        return nn.Identity()
    if kind == "se":
        return SEBlock(channels, reduction=reduction)
    if kind == "cbam":
        return CBAM(channels, reduction=reduction)
    raise ValueError(f"attention must be one of {ATTENTIONS}, got {kind!r}")


class AttentionBasicBlock(BasicBlock):
    """ResNet basic block with SE or CBAM on the residual branch before the addition (Hu et al. 2018, Fig. 3).

    (B, C_in, H, W) -> (B, channels, H/stride, W/stride); attention=None gives the plain BasicBlock.
    """

    def __init__(self, in_channels: int, channels: int, *, stride: int = 1, attention: str | None = None,
                 reduction: int = 16) -> None:
        super().__init__(in_channels, channels, stride=stride)
        self.attention = make_attention(attention, channels, reduction=reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_maps(x, channels=self.in_channels, module="AttentionBasicBlock")
        identity = x if self.shortcut is None else self.shortcut(x)  # (B, channels, H/s, W/s)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))  # residual branch F(x)
        out = self.attention(out)  # SE / CBAM reweights F(x)
        return self.relu(out + identity)  # the residual: attention(F(x)) + x


def _conv_bn_relu(in_channels: int, out_channels: int, *, kernel_size: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class CSPStage(nn.Module):
    """Cross Stage Partial stage (Wang et al. 2020, Fig. 3b): (B, C_in, H, W) -> (B, C_out, H/stride, W/stride).

    A 3x3 base conv, then the channels are split in two halves: one goes through the residual blocks
    and a 1x1 transition, the other skips them; the two are concatenated and fused by a 1x1 transition.
    """

    def __init__(self, in_channels: int, out_channels: int, *, num_blocks: int = 1, stride: int = 1,
                 attention: str | None = None, reduction: int = 16) -> None:
        super().__init__()
        if out_channels < 2 or out_channels % 2:
            raise ValueError(f"CSPStage splits the channels in two halves: out_channels must be even, got {out_channels!r}")
        if not isinstance(num_blocks, int) or num_blocks < 1:
            raise ValueError(f"CSPStage: num_blocks must be a positive int, got {num_blocks!r}")
        self.in_channels = in_channels
        half = out_channels // 2
        self.base = _conv_bn_relu(in_channels, out_channels, kernel_size=3, stride=stride)
        self.blocks = nn.Sequential(*[AttentionBasicBlock(half, half, attention=attention, reduction=reduction)
                                      for _ in range(num_blocks)])
        self.transition = _conv_bn_relu(half, half, kernel_size=1)
        self.fuse = _conv_bn_relu(out_channels, out_channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_maps(x, channels=self.in_channels, module="CSPStage")
        x = self.base(x)  # (B, C_out, H/s, W/s)
        part1, part2 = x.chunk(2, dim=1)  # two halves of the channels, (B, C_out/2, H/s, W/s) each
        part2 = self.transition(self.blocks(part2))  # only this half pays for the blocks
        return self.fuse(torch.cat([part1, part2], dim=1))  # (B, C_out, H/s, W/s)


class SmallResNet(nn.Module):
    """A ResNet for small images: a conv stem, one stage per width (stride 1, then 2), GAP, linear.

    (B, in_channels, H, W) -> (B, num_classes). attention: None, "se" or "cbam" in every block;
    csp=True builds every stage as a CSPStage. The stem is a stem_kernel x stem_kernel conv with stride
    stem_stride. `features(X)` returns the last stage's maps, (B, widths[-1], h, w) with
    h = H / (stem_stride * 2^(len(widths) - 1)): the maps that CAM and Grad-CAM explain.
    """

    def __init__(self, *, num_classes: int = 6, widths: tuple[int, ...] = (16, 32, 64), blocks_per_stage: int = 1,
                 in_channels: int = 3, attention: str | None = None, reduction: int = 4, csp: bool = False,
                 stem_stride: int = 1, stem_kernel: int = 3) -> None:
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, got {attention!r}")
        if not widths or any(not isinstance(w, int) or w < 1 for w in widths):
            raise ValueError(f"widths must be a non-empty sequence of positive ints, got {widths!r}")
        if not isinstance(blocks_per_stage, int) or blocks_per_stage < 1:
            raise ValueError(f"blocks_per_stage must be a positive int, got {blocks_per_stage!r}")
        if stem_stride not in (1, 2):
            raise ValueError(f"stem_stride must be 1 or 2, got {stem_stride!r}")
        if not isinstance(stem_kernel, int) or stem_kernel < 1 or stem_kernel % 2 == 0:
            raise ValueError(f"stem_kernel must be a positive odd int, got {stem_kernel!r}")
        self.in_channels = in_channels
        self.stem = _conv_bn_relu(in_channels, widths[0], kernel_size=stem_kernel, stride=stem_stride)  # (B, w0, H/s, W/s)
        stages, channels_in = [], widths[0]
        for i, width in enumerate(widths):
            stride = 1 if i == 0 else 2  # later stages halve H and W
            if csp:
                stage = CSPStage(channels_in, width, num_blocks=blocks_per_stage, stride=stride,
                                 attention=attention, reduction=reduction)
            else:
                stage = nn.Sequential(*[
                    AttentionBasicBlock(channels_in if j == 0 else width, width, stride=stride if j == 0 else 1,
                                        attention=attention, reduction=reduction)
                    for j in range(blocks_per_stage)])
            stages.append(stage)
            channels_in = width
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels_in, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d) and m.out_channels > 1:  # not the 2 -> 1 conv of spatial attention
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def features(self, X: torch.Tensor) -> torch.Tensor:
        """The last stage's feature maps, (B, widths[-1], h, w)."""
        _check_maps(X, channels=self.in_channels, module="SmallResNet")
        return self.stages(self.stem(X))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        A = self.features(X)  # (B, C, h, w)
        return self.fc(torch.flatten(self.pool(A), 1))  # global average pool, then linear: (B, num_classes)
