"""dlnotes.models.vit against torchvision's VisionTransformer: parameter count, output shape and the same function
with the same weights; the patch embedding against unfold + linear; position interpolation; bad input."""

from __future__ import annotations

import pytest
import torch
import torchvision.models as tvm
from torch import nn
from torchvision.models.vision_transformer import interpolate_embeddings

import dlnotes.models as M
from model_helpers import n_params, on_meta

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("num_classes", [1000, 10])
def test_vit_b_16_param_count_and_output_shape_match_torchvision(num_classes):
    model = on_meta(lambda: M.vit_b_16(num_classes)).eval()
    reference = on_meta(lambda: tvm.vit_b_16(weights=None, num_classes=num_classes)).eval()
    assert n_params(model) == n_params(reference)
    if num_classes == 1000:
        assert n_params(model) == 86_567_656  # torchvision's model documentation
    X = torch.empty(2, 3, 224, 224, device="meta")  # shapes only
    assert model(X).shape == reference(X).shape == (2, num_classes)


def copy_of_torchvision_vit(build_ours, reference: nn.Module) -> nn.Module:
    """Our ViT holding torchvision's weights: the same tensors in the same order, except that torchvision lists
    encoder.pos_embedding after the patch projection and we list pos_embedding right after class_token."""
    model = on_meta(build_ours).to_empty(device="cpu")
    ref = dict(reference.state_dict())
    values = [ref.pop("class_token"), ref.pop("encoder.pos_embedding"), *ref.values()]
    ours = model.state_dict()
    assert [v.shape for v in ours.values()] == [v.shape for v in values]
    model.load_state_dict(dict(zip(ours.keys(), values)))
    return model


def randomise_head(reference: nn.Module) -> None:
    # torchvision's head starts at zero (all outputs 0): random weights make the comparison bite
    with torch.no_grad():
        reference.heads.head.weight.normal_(std=0.02)
        reference.heads.head.bias.normal_(std=0.02)
        reference.class_token.normal_(std=0.02)


def test_small_vit_same_function_as_torchvision():
    torch.manual_seed(0)
    reference = tvm.VisionTransformer(image_size=32, patch_size=4, num_layers=2, num_heads=4, hidden_dim=64,
                                      mlp_dim=128, num_classes=10)
    randomise_head(reference)
    model = copy_of_torchvision_vit(lambda: M.VisionTransformer(32, 4, dim=64, depth=2, heads=4, mlp_dim=128,
                                                                num_classes=10), reference)
    X = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        y_hat, y_ref = model.eval()(X), reference.eval()(X)
    assert y_ref.std() > 0
    torch.testing.assert_close(y_hat, y_ref)
    assert model.blocks[1].attn.last_weights.shape == (4, 4, 65, 65)


def test_vit_b_16_same_function_as_torchvision():
    """The full-size model at 224x224, one image, eval mode."""
    torch.manual_seed(0)
    reference = tvm.vit_b_16(weights=None, num_classes=10)
    randomise_head(reference)
    model = copy_of_torchvision_vit(lambda: M.vit_b_16(10), reference)
    X = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        y_hat, y_ref = model.eval()(X), reference.eval()(X)
    assert y_ref.std() > 0
    torch.testing.assert_close(y_hat, y_ref)


def test_small_config_trains_a_step():
    torch.manual_seed(0)
    model = M.VisionTransformer(32, 4, dim=64, depth=2, heads=4, mlp_dim=128, num_classes=10)
    assert model.pos_embedding.shape == (1, 1 + 8 * 8, 64)
    X, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    loss = nn.functional.cross_entropy(model(X), y)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    assert loss.item() == pytest.approx(torch.log(torch.tensor(10.0)).item(), abs=1e-4)  # zero head: uniform


def test_patch_embed_equals_unfold_and_linear():
    torch.manual_seed(0)
    embed = M.PatchEmbed(4, 16, in_channels=3)
    X = torch.randn(2, 3, 12, 8)
    patches = nn.functional.unfold(X, kernel_size=4, stride=4).transpose(1, 2)  # (B, N, 3*4*4), row-major
    expected = patches @ embed.proj.weight.flatten(1).T + embed.proj.bias
    tokens = embed(X)
    assert tokens.shape == (2, 3 * 2, 16)
    torch.testing.assert_close(tokens, expected)


def test_interpolate_positions_equals_torchvision():
    torch.manual_seed(0)
    pos = torch.randn(1, 1 + 7 * 7, 32)
    state = interpolate_embeddings(image_size=48, patch_size=4, model_state={"encoder.pos_embedding": pos})
    new = M.interpolate_positions(pos, image_size=48, patch_size=4)
    assert new.shape == (1, 1 + 12 * 12, 32)
    torch.testing.assert_close(new, state["encoder.pos_embedding"])
    torch.testing.assert_close(new[:, 0], pos[:, 0])  # the class token's position is kept
    with pytest.raises(ValueError, match=r"\(1, 1 \+ n\*n, dim\)"):
        M.interpolate_positions(torch.randn(1, 51, 32), 48, 4)  # 50 patches: no square grid


def test_set_image_size_runs_at_the_new_size():
    model = M.VisionTransformer(32, 4, dim=32, depth=1, heads=2, mlp_dim=64, num_classes=5)
    model.set_image_size(48)
    assert model.pos_embedding.shape == (1, 1 + 12 * 12, 32)
    assert model(torch.randn(2, 3, 48, 48)).shape == (2, 5)


def test_vit_bad_input():
    model = M.VisionTransformer(32, 4, dim=32, depth=1, heads=2, mlp_dim=64, num_classes=5)
    with pytest.raises(ValueError, match="32x32 images, got 48x48; call set_image_size"):
        model(torch.randn(1, 3, 48, 48))
    with pytest.raises(ValueError, match="channels-last"):
        model(torch.randn(1, 32, 32, 3))
    with pytest.raises(ValueError, match="4-D batch"):
        model(torch.randn(3, 32, 32))
    with pytest.raises(ValueError, match="not divisible by patch_size"):
        M.VisionTransformer(30, 4, dim=32, depth=1, heads=2, mlp_dim=64)
    with pytest.raises(ValueError, match="divisible by num_heads"):
        M.VisionTransformer(32, 4, dim=30, depth=1, heads=4, mlp_dim=64)
    with pytest.raises(ValueError, match="divisible by patch_size"):
        M.PatchEmbed(4, 8)(torch.randn(1, 3, 10, 8))
