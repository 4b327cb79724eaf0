import pytest
import torch
from torch import nn

from dlnotes import models
from dlnotes.style import (FeatureExtractor, RandomFilters, checker, content_loss, dots, gram_matrix, stripes,
                           style_loss, synthesize)


def test_gram_matrix_equals_einsum_and_ignores_positions():
    F = torch.randn(2, 5, 6, 7)
    G = gram_matrix(F)
    torch.testing.assert_close(G, torch.einsum("bchw,bdhw->bcd", F, F) / 42)
    assert G.shape == (2, 5, 5) and torch.allclose(G, G.transpose(1, 2))
    perm = torch.randperm(42)
    shuffled = F.flatten(2)[:, :, perm].reshape(F.shape)
    torch.testing.assert_close(gram_matrix(shuffled), G)


def test_gram_matrix_rejects_wrong_rank():
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        gram_matrix(torch.randn(5, 6, 7))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        gram_matrix([[1.0]])


def test_feature_extractor_matches_manual_forward_and_stops_early():
    net = models.resnet18(num_classes=3, width=8).eval()
    X = torch.rand(2, 3, 32, 32)
    feats = FeatureExtractor(net, ["stem", "layer1"])(X)
    with torch.no_grad():
        stem = net.stem(X)
        torch.testing.assert_close(feats["stem"], stem)
        torch.testing.assert_close(feats["layer1"], net.layer1(stem))
    calls = []
    net.fc.register_forward_hook(lambda *args: calls.append(1))
    FeatureExtractor(net, ["layer2"])(X)
    assert not calls                                               # the head never ran
    assert not net.layer1._forward_hooks                           # hooks removed after the call


def test_feature_extractor_bad_layers():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    with pytest.raises(ValueError, match="empty"):
        FeatureExtractor(net, [])
    with pytest.raises(ValueError, match="unknown layers"):
        FeatureExtractor(net, ["7"])


def test_random_filters_shape_and_seed():
    X = torch.rand(1, 3, 16, 16)
    a, b = RandomFilters(kernel_sizes=(3, 5), channels=4, seed=1), RandomFilters(kernel_sizes=(3, 5), channels=4, seed=1)
    assert a(X).shape == (1, 8, 16, 16) and torch.equal(a(X), b(X))
    assert (a(X) >= 0).all()
    with pytest.raises(ValueError, match="odd"):
        RandomFilters(kernel_sizes=(4,))


def test_losses():
    F = torch.randn(1, 3, 4, 4)
    G = {"a": gram_matrix(F)}
    assert style_loss({"a": F}, G).item() == 0.0
    assert style_loss({"a": 2 * F}, G).item() > 0.0
    assert content_loss(F, F + 1).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="empty"):
        style_loss({"a": F}, {})
    with pytest.raises(ValueError, match="no features"):
        style_loss({"b": F}, G)
    with pytest.raises(ValueError, match="differ in shape"):
        content_loss(F, F[:, :2])


def test_synthesize_lowers_style_loss_and_keeps_pixels_in_range():
    torch.manual_seed(0)
    ext = FeatureExtractor(RandomFilters(kernel_sizes=(3,), channels=8, seed=0), ["scales.k3"])
    target = stripes(16, cycles=(2, 1))[None]
    G = {k: gram_matrix(v) for k, v in ext(target).items()}
    x, history = synthesize(ext, torch.rand(1, 3, 16, 16), style_grams=G, steps=30, lr=0.1)
    assert x.shape == (1, 3, 16, 16) and 0 < x.min() and x.max() < 1
    assert len(history["style"]) == 31 and history["style"][-1] < 0.5 * history["style"][0]
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        synthesize(ext, torch.rand(3, 16, 16), style_grams=G)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        synthesize(ext, 2 * torch.ones(1, 3, 16, 16), style_grams=G)


def test_textures():
    s = stripes(32, cycles=(2, 3))
    assert s.shape == (3, 32, 32) and 0 <= s.min() and s.max() <= 1
    torch.testing.assert_close(stripes(64, cycles=(4, 6)), s.repeat(1, 2, 2))   # whole cycles: the image tiles
    power = torch.fft.fft2(s.mean(0) - s.mean()).abs()
    assert power.flatten().argmax().item() in (3 * 32 + 2, (32 - 3) * 32 + 30)   # peak at (ky, kx) = ±(3, 2)
    c = checker(16, period=4)
    assert torch.equal(c[:, :4, :4], c[:, 4:8, 4:8]) and not torch.equal(c[:, :2, :2], c[:, :2, 2:4])
    d = dots(32, period=8, radius=2, jitter=0.3, seed=0)
    assert d.shape == (3, 32, 32) and torch.equal(d, dots(32, period=8, radius=2, jitter=0.3, seed=0))
    with pytest.raises(ValueError):
        stripes(32, cycles=(0, 0))
    with pytest.raises(ValueError):
        checker(16, period=1)
    with pytest.raises(ValueError):
        dots(32, period=8, radius=5)
