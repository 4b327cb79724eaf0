"""Semantic segmentation: per-pixel metrics (confusion matrix, IoU, mean IoU), soft Dice loss, a small FCN,
a small U-Net and DeepLab's ASPP module. Chapter 7, notebook 03_segmentation explains each piece."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _check_masks(pred: Tensor, target: Tensor, num_classes: int) -> None:
    """Raise ValueError unless pred and target are integer label masks of one shape with labels in [0, num_classes)."""
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must be label masks of the same shape, got {tuple(pred.shape)} "
                         f"and {tuple(target.shape)} (pass labels, e.g. logits.argmax(1), not logits)")
    for name, mask in (("pred", pred), ("target", target)):
        if mask.is_floating_point() or mask.is_complex():
            raise ValueError(f"{name} must hold integer or bool labels, got dtype {mask.dtype}")
        if mask.numel() and (mask.min() < 0 or mask.max() >= num_classes):
            raise ValueError(f"{name} labels must lie in [0, {num_classes}), got values in "
                             f"[{int(mask.min())}, {int(mask.max())}]")


def confusion_matrix(pred: Tensor, target: Tensor, num_classes: int) -> Tensor:
    """Pixel counts (num_classes, num_classes) of label masks of any one shape; row = true class, column = predicted."""
    _check_masks(pred, target, num_classes)
    index = target.long().flatten() * num_classes + pred.long().flatten()
    return torch.bincount(index, minlength=num_classes**2).reshape(num_classes, num_classes)


def pixel_accuracy(pred: Tensor, target: Tensor, num_classes: int) -> float:
    """Fraction of pixels whose predicted label equals the true label."""
    cm = confusion_matrix(pred, target, num_classes)
    return cm.diagonal().sum().item() / cm.sum().item()


def iou_per_class(pred: Tensor, target: Tensor, num_classes: int) -> Tensor:
    """(num_classes,) IoU = TP / (TP + FP + FN) per class, NaN for a class absent from both masks."""
    cm = confusion_matrix(pred, target, num_classes).double()
    tp = cm.diagonal()
    union = cm.sum(0) + cm.sum(1) - tp  # predicted + true - both
    return torch.where(union > 0, tp / union.clamp(min=1), torch.full_like(tp, float("nan")))


def mean_iou(pred: Tensor, target: Tensor, num_classes: int) -> float:
    """Mean of the per-class IoUs over the classes present in pred or target (Long et al., 2015)."""
    return iou_per_class(pred, target, num_classes).nanmean().item()


def dice_loss(logits: Tensor, target: Tensor, *, eps: float = 1.0, ignore_background: bool = False) -> Tensor:
    """Soft Dice loss 1 - mean_c (2 sum p g + eps) / (sum p + sum g + eps); logits (N, C, H, W), target (N, H, W).

    Sums run over the whole batch; class 0 is left out with ``ignore_background`` (Milletari et al., 2016).
    """
    if logits.ndim != 4 or target.shape != (logits.shape[0], *logits.shape[2:]):
        raise ValueError(f"dice_loss expects logits (N, C, H, W) and target (N, H, W), "
                         f"got {tuple(logits.shape)} and {tuple(target.shape)}")
    num_classes = logits.shape[1]
    _check_masks(target, target, max(num_classes, 2))
    probs = logits.softmax(1)  # (N, C, H, W)
    onehot = F.one_hot(target.long(), num_classes).permute(0, 3, 1, 2).to(probs.dtype)  # (N, C, H, W)
    dims = (0, 2, 3)
    dice = (2 * (probs * onehot).sum(dims) + eps) / (probs.sum(dims) + onehot.sum(dims) + eps)  # (C,)
    if ignore_background:
        dice = dice[1:]
    return 1 - dice.mean()


def bilinear_kernel(channels: int, factor: int) -> Tensor:
    """(channels, channels, 2f, 2f) ConvTranspose2d weight (stride f, padding f/2) that upsamples bilinearly (FCN)."""
    if not isinstance(factor, int) or factor < 2 or factor % 2:
        raise ValueError(f"bilinear_kernel: factor must be an even int >= 2, got {factor!r}")
    tent = 1 - (torch.arange(2 * factor) - (factor - 0.5)).abs() / factor  # (2f,) 1-D linear interpolation weights
    weight = torch.zeros(channels, channels, 2 * factor, 2 * factor)
    weight[range(channels), range(channels)] = tent[:, None] * tent[None, :]  # channel c -> c only
    return weight


def _conv_block(c_in: int, c_out: int, dilation: int = 1) -> nn.Sequential:
    """3x3 conv (same size) + BatchNorm + ReLU."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=dilation, dilation=dilation, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class SmallFCN(nn.Module):
    """FCN: encoder to 1/4 resolution, 1x1 classifier, upsampling x4 back; (B, 3, H, W) -> (B, num_classes, H, W)."""

    def __init__(self, *, num_classes: int = 2, width: int = 16, upsample: str = "transposed") -> None:
        super().__init__()
        if upsample not in ("transposed", "bilinear"):
            raise ValueError(f"upsample must be 'transposed' or 'bilinear', got {upsample!r}")
        self.encoder = nn.Sequential(_conv_block(3, width), nn.MaxPool2d(2),
                                     _conv_block(width, 2 * width), nn.MaxPool2d(2),
                                     _conv_block(2 * width, 2 * width))
        self.classifier = nn.Conv2d(2 * width, num_classes, 1)
        if upsample == "transposed":  # learnable, started as bilinear interpolation as in the FCN paper
            self.upsample = nn.ConvTranspose2d(num_classes, num_classes, 8, stride=4, padding=2, bias=False)
            with torch.no_grad():
                self.upsample.weight.copy_(bilinear_kernel(num_classes, 4))
        else:
            self.upsample = nn.Upsample(scale_factor=4, mode="bilinear")

    def forward(self, x: Tensor) -> Tensor:
        x = self.encoder(x)  # (B, 2w, H/4, W/4)
        x = self.classifier(x)  # (B, num_classes, H/4, W/4): a score per class and coarse pixel
        return self.upsample(x)  # (B, num_classes, H, W)


class SmallUNet(nn.Module):
    """U-Net with two downsamplings; skips concatenate encoder features; (B, 3, H, W) -> (B, num_classes, H, W)."""

    def __init__(self, *, num_classes: int = 2, width: int = 16) -> None:
        super().__init__()
        w = width
        self.enc1, self.enc2 = _conv_block(3, w), _conv_block(w, 2 * w)
        self.bottom = _conv_block(2 * w, 2 * w)
        self.up2, self.dec2 = nn.ConvTranspose2d(2 * w, 2 * w, 2, stride=2), _conv_block(4 * w, w)
        self.up1, self.dec1 = nn.ConvTranspose2d(w, w, 2, stride=2), _conv_block(2 * w, w)
        self.classifier = nn.Conv2d(w, num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        s1 = self.enc1(x)  # (B, w, H, W)
        s2 = self.enc2(F.max_pool2d(s1, 2))  # (B, 2w, H/2, W/2)
        x = self.bottom(F.max_pool2d(s2, 2))  # (B, 2w, H/4, W/4)
        x = self.dec2(torch.cat([self.up2(x), s2], dim=1))  # skip: (B, 4w, H/2, W/2) -> (B, w, H/2, W/2)
        x = self.dec1(torch.cat([self.up1(x), s1], dim=1))  # skip: (B, 2w, H, W) -> (B, w, H, W)
        return self.classifier(x)  # (B, num_classes, H, W)


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling (DeepLab v3): parallel 1x1, dilated 3x3 and image-pooling branches, fused by 1x1.

    Same parameters, in the same order, as torchvision.models.segmentation.deeplabv3.ASPP (which adds dropout).

    (B, c_in, H, W) -> (B, c_out, H, W).
    """

    def __init__(self, c_in: int, c_out: int, *, dilations: tuple[int, ...] = (2, 4, 6)) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            [nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))]
            + [_conv_block(c_in, c_out, dilation=d) for d in dilations])
        self.image_pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c_in, c_out, 1, bias=False),
                                        nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))  # as torchvision's DeepLabV3
        self.project = nn.Sequential(nn.Conv2d(c_out * (len(dilations) + 2), c_out, 1, bias=False),
                                     nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))

    def forward(self, x: Tensor) -> Tensor:
        outs = [branch(x) for branch in self.branches]  # each (B, c_out, H, W)
        outs.append(self.image_pool(x).expand(-1, -1, *x.shape[2:]))  # global context, broadcast to (B, c_out, H, W)
        return self.project(torch.cat(outs, dim=1))  # (B, c_out, H, W)
