"""Helpers shared by the model tests (tests/test_models_cnn.py, tests/test_models_mobile.py): counting
parameters, building on the meta device, giving our model a copy of torchvision's weights, and checking
that the two compute the same function."""

from __future__ import annotations

import torch
from torch import nn


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def on_meta(build):
    """Build a model on the meta device: shapes only, no memory, no initialisation cost."""
    with torch.device("meta"):
        return build()


def copy_of_reference(build_ours, reference: nn.Module) -> nn.Module:
    """Our model (built by ``build_ours()``) holding a copy of ``reference``'s weights: the two state dicts
    must list tensors of the same shapes in the same order."""
    model = on_meta(build_ours).to_empty(device="cpu")
    ours_sd, ref_sd = model.state_dict(), reference.state_dict()
    assert [v.shape for v in ours_sd.values()] == [v.shape for v in ref_sd.values()]
    model.load_state_dict(dict(zip(ours_sd.keys(), ref_sd.values())))
    return model


def randomise_batch_norm(model: nn.Module, generator: torch.Generator) -> None:
    """Random running statistics and affine weights in every BatchNorm2d: freshly built BNs are the
    identity in eval mode, which would hide a difference in eps or in where a BN sits."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn(m.num_features, generator=generator))
                m.running_var.copy_(torch.rand(m.num_features, generator=generator) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=generator) + 0.5)
                m.bias.copy_(0.1 * torch.randn(m.num_features, generator=generator))


def assert_same_function_in_eval(model: nn.Module, reference: nn.Module, *, num_classes: int = 10,
                                 size: int = 64) -> None:
    """Our model and the reference give the same non-constant logits on two random images in eval mode."""
    torch.manual_seed(0)
    X = torch.randn(2, 3, size, size)
    with torch.no_grad():
        y_hat, y_ref = model.eval()(X), reference.eval()(X)
    assert y_hat.shape == y_ref.shape == (2, num_classes)
    assert y_ref.std() > 0  # not a constant output
    torch.testing.assert_close(y_hat, y_ref)
