"""Seeing what a CNN sees: activations through forward hooks, CAM (Zhou et al. 2016), Grad-CAM
(Selvaraju et al. 2017), and how much of a heat map falls on the object.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn
from torch.nn import functional as F


def _check_batch(X: torch.Tensor, name: str) -> None:
    if not isinstance(X, torch.Tensor) or X.dim() != 4 or not X.is_floating_point():
        shape = tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__
        raise ValueError(f"{name} expects a float image batch (B, C, H, W), got {shape}")


@torch.no_grad()
def capture_activations(model: nn.Module, X: torch.Tensor, layers: Mapping[str, nn.Module]) -> dict[str, torch.Tensor]:
    """Outputs of the named ``layers`` (e.g. {"stage1": model.stages[0]}) while ``model(X)`` runs, via forward hooks."""
    _check_batch(X, "capture_activations")
    modules = dict(model.named_modules())
    for name, layer in layers.items():
        if not any(layer is m for m in modules.values()):
            raise ValueError(f"layer {name!r} is not a submodule of the model")
    captured: dict[str, torch.Tensor] = {}

    def saver(name):
        def hook(module, inputs, output):
            captured[name] = output.detach()
        return hook

    handles = [layer.register_forward_hook(saver(name)) for name, layer in layers.items()]
    try:
        model(X)
    finally:  # the hooks never outlive the call, even when the forward pass fails
        for handle in handles:
            handle.remove()
    return captured


def cam(feature_maps: torch.Tensor, fc_weight: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Class activation map (Zhou et al. 2016): sum_k W[target, k] A_k. (B, C, h, w), (K, C), (B,) -> (B, h, w).

    Defined for a network whose head is global average pooling followed by one linear layer W.
    """
    if feature_maps.dim() != 4:
        raise ValueError(f"cam expects feature maps (B, C, h, w), got shape {tuple(feature_maps.shape)}")
    B, C = feature_maps.shape[:2]
    if fc_weight.dim() != 2 or fc_weight.shape[1] != C:
        raise ValueError(f"cam expects the linear head's weight (num_classes, {C}), got shape {tuple(fc_weight.shape)}")
    if target.shape != (B,) or target.is_floating_point():
        raise ValueError(f"cam expects one integer class per image, target of shape ({B},), got {tuple(target.shape)} "
                         f"{target.dtype}")
    if len(target) and (target.min() < 0 or target.max() >= fc_weight.shape[0]):
        raise ValueError(f"target classes must lie in [0, {fc_weight.shape[0]}), got values outside that range")
    weights = fc_weight[target]  # (B, C): the class's weight on each channel
    return torch.einsum("bc,bchw->bhw", weights, feature_maps)


def grad_cam(model: nn.Module, X: torch.Tensor, *, layer: nn.Module, target: torch.Tensor | None = None,
             relu: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Grad-CAM (Selvaraju et al. 2017): ReLU(sum_k alpha_k A_k), alpha_k the spatial mean of d y_target / d A_k.

    X: (B, C, H, W); layer: the module whose output A (B, C', h, w) is explained; target: (B,) classes,
    the predicted ones if None. Returns (maps (B, h, w), logits (B, num_classes)). The model must be in
    eval mode (in training mode BatchNorm mixes the images of a batch). Parameter gradients are untouched.
    """
    _check_batch(X, "grad_cam")
    if model.training:
        raise ValueError("grad_cam needs model.eval(): in training mode BatchNorm mixes the images of a batch")
    if not any(layer is m for m in model.modules()):
        raise ValueError("layer must be a submodule of the model, e.g. model.stages[-1]")
    captured = {}

    def save_output(module, inputs, output):  # forward hook: keep the layer's output A
        captured["A"] = output

    handle = layer.register_forward_hook(save_output)
    try:
        logits = model(X.detach().requires_grad_(True))  # an input that needs grad: A is in the graph even if
    finally:                                                 # every parameter is frozen
        handle.remove()
    if "A" not in captured:
        raise ValueError("the layer was not called during the forward pass")
    A = captured["A"]
    if A.dim() != 4:
        raise ValueError(f"grad_cam explains a layer with (B, C, h, w) outputs, got shape {tuple(A.shape)}")
    if target is None:
        target = logits.argmax(dim=1)
    if target.shape != (len(X),):
        raise ValueError(f"target must hold one class per image, shape ({len(X)},), got {tuple(target.shape)}")
    scores = logits.gather(1, target[:, None].to(logits.device)).sum()  # sum over the batch: images are independent
    (dA,) = torch.autograd.grad(scores, A)  # (B, C, h, w), d y_target / d A
    alpha = dA.mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1): how much each channel matters for the class
    maps = (alpha * A).sum(dim=1)  # (B, h, w)
    if relu:
        maps = torch.relu(maps)  # keep only what speaks for the class
    return maps.detach(), logits.detach()


def upsample(maps: torch.Tensor, size: tuple[int, int] | int) -> torch.Tensor:
    """Bilinear resize of heat maps: (B, h, w) -> (B, H, W)."""
    if maps.dim() != 3:
        raise ValueError(f"upsample expects heat maps (B, h, w), got shape {tuple(maps.shape)}")
    return F.interpolate(maps[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]


def normalize(maps: torch.Tensor) -> torch.Tensor:
    """Each map rescaled to [0, 1] by its own min and max (a constant map becomes zeros): (B, h, w) -> (B, h, w)."""
    if maps.dim() != 3:
        raise ValueError(f"normalize expects heat maps (B, h, w), got shape {tuple(maps.shape)}")
    low = maps.amin(dim=(1, 2), keepdim=True)
    span = maps.amax(dim=(1, 2), keepdim=True) - low
    return torch.where(span > 0, (maps - low) / span.clamp_min(1e-12), torch.zeros_like(maps))


def mask_overlap(heatmaps: torch.Tensor, masks: torch.Tensor, *, top_fraction: float | None = None) -> torch.Tensor:
    """Fraction of each heat map's top pixels that lie inside the object's mask: (B, H, W), (B, H, W) bool -> (B,).

    top_fraction=None takes as many top pixels as the mask has (then chance is the mask's area
    fraction); otherwise the top ``top_fraction`` of all pixels. Ties keep the earlier pixel.
    """
    if heatmaps.dim() != 3 or heatmaps.shape != masks.shape:
        raise ValueError(f"mask_overlap expects heat maps and masks of the same shape (B, H, W), got "
                         f"{tuple(heatmaps.shape)} and {tuple(masks.shape)}; resize the maps with upsample()")
    if masks.dtype != torch.bool:
        raise ValueError(f"masks must be bool, got {masks.dtype}")
    B, H, W = masks.shape
    if top_fraction is None:
        k = masks.flatten(1).sum(1)  # (B,)
        if (k == 0).any():
            raise ValueError("every mask needs at least one pixel when top_fraction is None")
    else:
        if not 0 < top_fraction <= 1:
            raise ValueError(f"top_fraction must be in (0, 1], got {top_fraction!r}")
        k = torch.full((B,), max(1, round(top_fraction * H * W)))
    order = heatmaps.flatten(1).argsort(dim=1, descending=True, stable=True)  # (B, H*W), hottest first
    rank = torch.empty_like(order).scatter_(1, order, torch.arange(H * W).expand(B, -1))  # rank of each pixel
    top = rank < k[:, None]  # (B, H*W): the k hottest pixels
    return (top & masks.flatten(1)).sum(1) / k
