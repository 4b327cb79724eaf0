"""Helpers shared by the model tests (tests/test_models_cnn.py, tests/test_models_mobile.py): counting
parameters, building on the meta device, and giving our model a copy of torchvision's weights."""

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
