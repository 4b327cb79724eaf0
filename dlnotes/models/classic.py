"""Classic CNNs before the residual connection: LeNet-5, AlexNet, VGG, GoogLeNet (Inception v1).

Defaults give the same parameter count and output shape as the torchvision constructor of the same
name. Where torchvision (and so this module) departs from the paper, a comment says how.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from .checks import check_images


# --- LeNet-5 --------------------------------------------------------------------------------------

class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al. 1998): (B, in_channels, in_size, in_size) -> (B, num_classes) logits.

    Departures from the paper: plain tanh instead of 1.7159 * tanh(2a/3); S2/S4 are plain 2x2
    average pools (the paper scales the sum by a trainable weight, adds a bias and squashes it);
    C3 sees all six S2 maps (the paper's Table I connects each C3 map to only 3-6 of them); the
    output is a linear layer giving logits for cross-entropy instead of Euclidean RBF units.
    """

    def __init__(self, *, num_classes: int = 10, in_channels: int = 1, in_size: int = 32) -> None:
        super().__init__()
        if not 1 <= in_size <= 32:
            raise ValueError(f"in_size must be between 1 and 32 (images are padded to 32x32), got {in_size}; "
                             "resize larger images first, e.g. with torch.nn.functional.interpolate")
        self.in_channels, self.in_size = in_channels, in_size
        # The paper centres each 28x28 MNIST digit in a 32x32 field. Smaller images (sklearn's 8x8
        # digits: in_size=8) are zero-padded the same way, so the layers below always see 32x32.
        before, after = (32 - in_size) // 2, (32 - in_size + 1) // 2
        self.pad = nn.ZeroPad2d((before, after, before, after))
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5),  # C1: (B, 6, 28, 28)
            nn.Tanh(),
            nn.AvgPool2d(kernel_size=2),  # S2: (B, 6, 14, 14)
            nn.Conv2d(6, 16, kernel_size=5),  # C3: (B, 16, 10, 10)
            nn.Tanh(),
            nn.AvgPool2d(kernel_size=2),  # S4: (B, 16, 5, 5)
            nn.Conv2d(16, 120, kernel_size=5),  # C5: (B, 120, 1, 1), a fully connected layer in effect
            nn.Tanh(),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),  # (B, 120)
            nn.Linear(120, 84),  # F6: (B, 84)
            nn.Tanh(),
            nn.Linear(84, num_classes),  # output: (B, num_classes)
        )

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        check_images(X, in_channels=self.in_channels, min_size=1, model="LeNet5")
        if tuple(X.shape[2:]) != (self.in_size, self.in_size):
            raise ValueError(f"LeNet5(in_size={self.in_size}) expects {self.in_size}x{self.in_size} images, got "
                             f"{X.shape[2]}x{X.shape[3]}; build it with in_size={X.shape[2]} or resize the images")
        x = self.pad(X)  # (B, C, 32, 32)
        return self.classifier(self.features(x))


def lenet5(num_classes: int = 10, *, in_channels: int = 1, in_size: int = 32) -> LeNet5:
    """LeNet-5, inputs zero-padded to 32x32: (B, in_channels, in_size, in_size) -> (B, num_classes)."""
    return LeNet5(num_classes=num_classes, in_channels=in_channels, in_size=in_size)


# --- AlexNet --------------------------------------------------------------------------------------

def _lrn(paper: bool) -> list[nn.Module]:
    # Local response normalisation with the constants of the AlexNet paper (section 3.3).
    # The paper's alpha = 1e-4 multiplies a sum over n = 5 channels; PyTorch divides alpha by n (a mean),
    # so the paper's normalisation is alpha = 5 * 1e-4 here.
    return [nn.LocalResponseNorm(size=5, alpha=5e-4, beta=0.75, k=2.0)] if paper else []


class AlexNet(nn.Module):
    """AlexNet (Krizhevsky et al. 2012): (B, in_channels, H, W), H, W >= 63 -> (B, num_classes).

    paper=False is torchvision's variant, from Krizhevsky's 2014 "one weird trick" paper: conv widths
    64-192-384-256-256 and no local response normalisation. paper=True uses the 2012 widths
    96-256-384-384-256 with LRN after conv1 and conv2, but as one dense network: the paper splits
    conv2, conv4 and conv5 into two groups, one per GPU. Both pad conv1 by 2, so that a 224x224 input
    gives the paper's 55x55 maps (the paper's 224 only works as 227), and both add torchvision's
    adaptive average pool so that smaller images work.
    """

    min_size = 63

    def __init__(self, *, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5,
                 paper: bool = False) -> None:
        super().__init__()
        self.in_channels = in_channels
        c1, c2, c3, c4, c5 = (96, 256, 384, 384, 256) if paper else (64, 192, 384, 256, 256)
        self.features = nn.Sequential(  # shapes for a 224x224 input
            nn.Conv2d(in_channels, c1, kernel_size=11, stride=4, padding=2),  # (B, c1, 55, 55)
            nn.ReLU(inplace=True),
            *_lrn(paper),
            nn.MaxPool2d(kernel_size=3, stride=2),  # overlapping pooling: (B, c1, 27, 27)
            nn.Conv2d(c1, c2, kernel_size=5, padding=2),  # (B, c2, 27, 27)
            nn.ReLU(inplace=True),
            *_lrn(paper),
            nn.MaxPool2d(kernel_size=3, stride=2),  # (B, c2, 13, 13)
            nn.Conv2d(c2, c3, kernel_size=3, padding=1),  # (B, c3, 13, 13)
            nn.ReLU(inplace=True),
            nn.Conv2d(c3, c4, kernel_size=3, padding=1),  # (B, c4, 13, 13)
            nn.ReLU(inplace=True),
            nn.Conv2d(c4, c5, kernel_size=3, padding=1),  # (B, c5, 13, 13)
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),  # (B, c5, 6, 6)
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))  # torchvision's addition: (B, c5, 6, 6) for any H, W
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(c5 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )
        # Weights keep PyTorch's default initialisation, as torchvision's AlexNet does.

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        check_images(X, in_channels=self.in_channels, min_size=self.min_size, model="AlexNet")
        x = self.avgpool(self.features(X))  # (B, c5, 6, 6)
        return self.classifier(torch.flatten(x, 1))  # (B, num_classes)


def alexnet(num_classes: int = 1000, *, in_channels: int = 3, dropout: float = 0.5,
            paper: bool = False) -> AlexNet:
    """AlexNet, torchvision's variant unless paper=True: (B, in_channels, H, W) -> (B, num_classes)."""
    return AlexNet(num_classes=num_classes, in_channels=in_channels, dropout=dropout, paper=paper)


# --- VGG ------------------------------------------------------------------------------------------

# Simonyan & Zisserman 2015, Table 1, one list per column: output channels of each 3x3 conv
# (stride 1, padding 1), "M" = 2x2 max pool with stride 2.
VGG_A = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]  # VGG-11
VGG_B = [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]  # VGG-13
VGG_D = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]  # VGG-16
VGG_E = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
         512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]  # VGG-19


class VGG(nn.Module):
    """VGG (Simonyan & Zisserman 2015) from a config list: (B, in_channels, H, W), H, W >= 2**pools -> (B, num_classes).

    Departures from the paper, as in torchvision: an adaptive average pool to pool_size x pool_size
    before the classifier, so images other than 224x224 work; batch_norm=True adds BatchNorm after
    every conv (torchvision's vgg*_bn, which came after the paper). Convs start Kaiming-normal
    (fan_out), linears N(0, 0.01), as torchvision does; the paper initialised deep nets from VGG-11.
    """

    def __init__(self, cfg: list[int | str], *, num_classes: int = 1000, in_channels: int = 3,
                 batch_norm: bool = False, dropout: float = 0.5, hidden_dim: int = 4096,
                 pool_size: int = 7) -> None:
        super().__init__()
        if not cfg or any(v != "M" and not (isinstance(v, int) and v > 0) for v in cfg) or "M" == cfg[0]:
            raise ValueError(f"cfg must be a list of positive channel counts and 'M' (max pool) that starts "
                             f"with a conv, e.g. VGG_D, got {cfg!r}")
        self.in_channels = in_channels
        self.min_size = 2 ** cfg.count("M")  # each max pool halves H and W
        layers: list[nn.Module] = []
        channels = in_channels
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))  # (B, C, H/2, W/2)
                continue
            layers.append(nn.Conv2d(channels, v, kernel_size=3, padding=1))  # (B, v, H, W)
            if batch_norm:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU(inplace=True))
            channels = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((pool_size, pool_size))
        self.classifier = nn.Sequential(
            nn.Linear(channels * pool_size * pool_size, hidden_dim),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden_dim, hidden_dim),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden_dim, num_classes),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        check_images(X, in_channels=self.in_channels, min_size=self.min_size, model="VGG")
        x = self.avgpool(self.features(X))  # (B, C, pool_size, pool_size)
        return self.classifier(torch.flatten(x, 1))  # (B, num_classes)


def vgg(cfg: list[int | str], *, num_classes: int = 1000, in_channels: int = 3, batch_norm: bool = False,
        dropout: float = 0.5, hidden_dim: int = 4096, pool_size: int = 7) -> VGG:
    """VGG from a config list such as VGG_D or [32, "M", 64, "M"]: (B, in_channels, H, W) -> (B, num_classes)."""
    return VGG(cfg, num_classes=num_classes, in_channels=in_channels, batch_norm=batch_norm, dropout=dropout,
               hidden_dim=hidden_dim, pool_size=pool_size)


def vgg11(num_classes: int = 1000, *, in_channels: int = 3, batch_norm: bool = False) -> VGG:
    """VGG-11, configuration A: (B, in_channels, H, W) -> (B, num_classes)."""
    return VGG(VGG_A, num_classes=num_classes, in_channels=in_channels, batch_norm=batch_norm)


def vgg16(num_classes: int = 1000, *, in_channels: int = 3, batch_norm: bool = False) -> VGG:
    """VGG-16, configuration D: (B, in_channels, H, W) -> (B, num_classes)."""
    return VGG(VGG_D, num_classes=num_classes, in_channels=in_channels, batch_norm=batch_norm)


# --- GoogLeNet (Inception v1) ---------------------------------------------------------------------

class ConvBNReLU(nn.Sequential):
    """Conv (no bias) -> BatchNorm -> ReLU, torchvision GoogLeNet's unit: (B, C_in, H, W) -> (B, C_out, H', W')."""

    def __init__(self, in_channels: int, out_channels: int, *, kernel_size: int, stride: int = 1,
                 padding: int = 0) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(out_channels, eps=0.001),
            nn.ReLU(inplace=True),
        )


class Inception(nn.Module):
    """Inception block (Szegedy et al. 2015, Fig. 2b): (B, C_in, H, W) -> (B, c1 + c3 + c5 + pool_proj, H, W).

    The "5x5" branch uses kernel_size_5=3 by default, as torchvision does (a known slip, kept so
    the parameter counts match); kernel_size_5=5 gives the paper's block.
    """

    def __init__(self, in_channels: int, c1: int, c3_reduce: int, c3: int, c5_reduce: int, c5: int,
                 pool_proj: int, *, kernel_size_5: int = 3) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.branch1 = ConvBNReLU(in_channels, c1, kernel_size=1)
        self.branch3 = nn.Sequential(
            ConvBNReLU(in_channels, c3_reduce, kernel_size=1),  # 1x1 reduces channels first
            ConvBNReLU(c3_reduce, c3, kernel_size=3, padding=1),
        )
        self.branch5 = nn.Sequential(
            ConvBNReLU(in_channels, c5_reduce, kernel_size=1),
            ConvBNReLU(c5_reduce, c5, kernel_size=kernel_size_5, padding=kernel_size_5 // 2),
        )
        self.branch_pool = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            ConvBNReLU(in_channels, pool_proj, kernel_size=1),  # 1x1 projection
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, in_channels=self.in_channels, min_size=1, model="Inception")
        y1 = self.branch1(x)  # (B, c1, H, W)
        y3 = self.branch3(x)  # (B, c3, H, W)
        y5 = self.branch5(x)  # (B, c5, H, W)
        yp = self.branch_pool(x)  # (B, pool_proj, H, W)
        return torch.cat([y1, y3, y5, yp], dim=1)  # stack the branches along channels


class InceptionAux(nn.Module):
    """Auxiliary classifier on 4a and 4d (Szegedy et al. 2015, sec. 5): (B, C_in, H, W) -> (B, num_classes).

    As in torchvision: an adaptive 4x4 average pool (the paper: 5x5 pool, stride 3, which gives 4x4
    on its 14x14 maps) and BatchNorm in the 1x1 conv.
    """

    def __init__(self, in_channels: int, *, num_classes: int = 1000, dropout: float = 0.7) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d((4, 4))
        self.conv = ConvBNReLU(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(128 * 4 * 4, 1024)
        self.dropout = nn.Dropout(p=dropout)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(self.pool(x))  # (B, 128, 4, 4)
        x = torch.relu(self.fc1(torch.flatten(x, 1)))  # (B, 1024)
        return self.fc2(self.dropout(x))  # (B, num_classes)


class GoogLeNetOutputs(NamedTuple):
    """What GoogLeNet returns in training mode with aux_logits=True (same field order as torchvision)."""

    logits: torch.Tensor
    aux_logits2: torch.Tensor
    aux_logits1: torch.Tensor


# Szegedy et al. 2015, Table 1, one row per Inception block:
# #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj. "M" is the max pool between stages.
GOOGLENET_TABLE = [
    (64, 96, 128, 16, 32, 32),  # 3a -> 256 channels
    (128, 128, 192, 32, 96, 64),  # 3b -> 480
    "M",
    (192, 96, 208, 16, 48, 64),  # 4a -> 512, auxiliary classifier 1 after it
    (160, 112, 224, 24, 64, 64),  # 4b -> 512
    (128, 128, 256, 24, 64, 64),  # 4c -> 512
    (112, 144, 288, 32, 64, 64),  # 4d -> 528, auxiliary classifier 2 after it
    (256, 160, 320, 32, 128, 128),  # 4e -> 832
    "M",
    (256, 160, 320, 32, 128, 128),  # 5a -> 832
    (384, 192, 384, 48, 128, 128),  # 5b -> 1024
]


class GoogLeNet(nn.Module):
    """GoogLeNet (Szegedy et al. 2015), torchvision's variant: (B, in_channels, H, W), H, W >= 15 -> (B, num_classes).

    Returns GoogLeNetOutputs(logits, aux_logits2, aux_logits1) in training mode when aux_logits=True,
    otherwise (eval mode, or aux_logits=False) the logits tensor alone, as torchvision does.
    Departures from the paper, all torchvision's: BatchNorm after every conv and no LRN; 3x3 convs
    in the "5x5" branches; a 2x2 (not 3x3) max pool before stage 5; dropout 0.2 (paper: 0.4);
    truncated normal initialisation, std 0.01.
    """

    min_size = 15

    def __init__(self, *, num_classes: int = 1000, in_channels: int = 3, aux_logits: bool = False,
                 dropout: float = 0.2, dropout_aux: float = 0.7) -> None:
        super().__init__()
        self.in_channels, self.aux_logits = in_channels, aux_logits
        self.stem = nn.Sequential(
            ConvBNReLU(in_channels, 64, kernel_size=7, stride=2, padding=3),  # (B, 64, H/2, W/2)
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),  # (B, 64, H/4, W/4)
            ConvBNReLU(64, 64, kernel_size=1),
            ConvBNReLU(64, 192, kernel_size=3, padding=1),  # (B, 192, H/4, W/4)
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),  # (B, 192, H/8, W/8)
        )
        stages: list[list[Inception]] = [[]]
        channels = 192
        for row in GOOGLENET_TABLE:
            if row == "M":
                stages.append([])
                continue
            stages[-1].append(Inception(channels, *row))
            channels = row[0] + row[2] + row[4] + row[5]  # the four branches are concatenated
        self.inception3 = nn.Sequential(*stages[0])  # 3a, 3b
        self.pool3 = nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)
        self.inception4 = nn.Sequential(*stages[1])  # 4a ... 4e
        self.pool4 = nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=True)
        self.inception5 = nn.Sequential(*stages[2])  # 5a, 5b
        self.aux1 = InceptionAux(512, num_classes=num_classes, dropout=dropout_aux) if aux_logits else None
        self.aux2 = InceptionAux(528, num_classes=num_classes, dropout=dropout_aux) if aux_logits else None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(channels, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2.0, b=2.0)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, X: torch.Tensor) -> torch.Tensor | GoogLeNetOutputs:
        check_images(X, in_channels=self.in_channels, min_size=self.min_size, model="GoogLeNet")
        with_aux = self.training and self.aux_logits
        x = self.stem(X)  # (B, 192, H/8, W/8)
        x = self.pool3(self.inception3(x))  # (B, 480, H/16, W/16)
        x = self.inception4[0](x)  # 4a: (B, 512, H/16, W/16)
        aux1 = self.aux1(x) if with_aux else None
        x = self.inception4[1:4](x)  # 4b, 4c, 4d: (B, 528, H/16, W/16)
        aux2 = self.aux2(x) if with_aux else None
        x = self.pool4(self.inception4[4](x))  # 4e: (B, 832, H/32, W/32)
        x = self.inception5(x)  # (B, 1024, H/32, W/32)
        x = torch.flatten(self.avgpool(x), 1)  # (B, 1024)
        logits = self.fc(self.dropout(x))  # (B, num_classes)
        return GoogLeNetOutputs(logits, aux2, aux1) if with_aux else logits


def googlenet(num_classes: int = 1000, *, in_channels: int = 3, aux_logits: bool = False) -> GoogLeNet:
    """GoogLeNet, torchvision's variant: (B, in_channels, H, W) -> (B, num_classes), plus aux logits when training."""
    return GoogLeNet(num_classes=num_classes, in_channels=in_channels, aux_logits=aux_logits)
