"""dlnotes.ssl: views, contrastive and CLIP losses, DINO's pieces, encoders, k-NN and linear-probe evaluation."""

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from dlnotes import augment
from dlnotes.data import make_shapes
from dlnotes.ssl import (CLIP, DinoHead, ProjectionHead, SmallCNN, TextEncoder, caption_vocab, clip_logits,
                         clip_loss, collapse_metrics, cosine_schedule, crop_and_resize, dino_loss, ema_update,
                         entropy, extract_features, info_nce, knn_accuracy, linear_probe, load_checkpoint,
                         multi_crop, nt_xent, random_resized_crop, recall_at_k, rotation_pretext, save_checkpoint,
                         sinkhorn_knopp, small_vit, teacher_probs, tokenize_caption, two_views, update_center,
                         zero_shot_classifier, zero_shot_predict)
from dlnotes.ssl import views


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def shapes():
    return make_shapes(48, seed=3)


# --------------------------------------------------------------------------- views
def test_crop_and_resize_identity_and_integer_crop_equal_slicing():
    X = torch.rand(3, 3, 32, 32)
    full = torch.tensor([[0.0, 0, 32, 32]]).repeat(3, 1)
    torch.testing.assert_close(crop_and_resize(X, full, size=32), X)
    boxes = torch.tensor([[0.0, 0, 16, 16], [5, 9, 21, 25], [16, 16, 32, 32]])
    out = crop_and_resize(X, boxes, size=16)
    for i, (x1, y1, x2, y2) in enumerate(boxes.long().tolist()):
        torch.testing.assert_close(out[i], X[i, :, y1:y2, x1:x2])


def test_crop_and_resize_of_the_whole_image_equals_interpolate():
    X = torch.rand(2, 3, 32, 32)
    full = torch.tensor([[0.0, 0, 32, 32]]).repeat(2, 1)
    for size in (16, 48, 64):  # F.interpolate's bilinear (no antialiasing) samples at the same points
        torch.testing.assert_close(crop_and_resize(X, full, size=size),
                                   F.interpolate(X, size=size, mode="bilinear", align_corners=False))


def test_crop_and_resize_bad_boxes():
    X = torch.rand(2, 3, 32, 32)
    with pytest.raises(ValueError, match=r"\(2, 4\)"):
        crop_and_resize(X, torch.zeros(3, 4), size=8)
    with pytest.raises(ValueError, match="0 <= x1 < x2 <= 32"):
        crop_and_resize(X, torch.tensor([[0.0, 0, 40, 8], [0, 0, 8, 8]]), size=8)


def test_random_resized_crop_is_deterministic_and_keeps_global_rng():
    X = torch.rand(8, 3, 32, 32)
    state = torch.get_rng_state()
    a = random_resized_crop(X, size=16, generator=gen(1))
    assert torch.equal(torch.get_rng_state(), state)
    assert a.shape == (8, 3, 16, 16)
    assert torch.equal(a, random_resized_crop(X, size=16, generator=gen(1)))
    assert not torch.equal(a, random_resized_crop(X, size=16, generator=gen(2)))
    # scale (1, 1) and ratio (1, 1): the whole image
    torch.testing.assert_close(random_resized_crop(X, size=32, scale=(1, 1), ratio=(1, 1), generator=gen(0)), X)


def test_random_resized_crop_area_and_aspect_follow_scale_and_ratio():
    # channel 0 holds each pixel's x (its centre, as a fraction of the width), channel 1 its y: both are linear, so
    # bilinear sampling reads back where each output pixel came from, and the ends give the crop's width and height
    n, size = 500, 32
    ramp = (torch.arange(size) + 0.5) / size
    X = torch.stack([ramp.expand(size, size), ramp[:, None].expand(size, size)])[None].repeat(n, 1, 1, 1)
    out = random_resized_crop(X, size=size, scale=(0.2, 0.6), ratio=(0.5, 2.0), generator=gen(0))
    width = (out[:, 0, 0, -1] - out[:, 0, 0, 0]) * size / (size - 1)  # first and last sample are 31/32 crop apart
    height = (out[:, 1, -1, 0] - out[:, 1, 0, 0]) * size / (size - 1)
    area, aspect = width * height, width / height
    assert area.min() > 0.2 - 0.03 and area.max() < 0.6 + 0.03  # border clamping bends the ends slightly
    assert aspect.min() > 0.5 - 0.05 and aspect.max() < 2.0 + 0.1
    assert area.std() > 0.08 and aspect.log().std() > 0.2  # really drawn over the ranges, not fixed
    with pytest.raises(ValueError, match="scale"):
        random_resized_crop(X, size=8, scale=(0.5, 0.2))


def test_channel_permutation_gray_and_blur():
    X = torch.rand(16, 3, 8, 8)
    P = views.random_channel_permutation(X, p=1.0, generator=gen(0))
    torch.testing.assert_close(P.sort(dim=1).values, X.sort(dim=1).values)  # same values per pixel, reordered
    assert not torch.equal(P, X)
    assert torch.equal(views.random_channel_permutation(X, p=0.0, generator=gen(0)), X)
    G = views.random_grayscale(X, p=1.0, generator=gen(0))
    torch.testing.assert_close(G, augment.grayscale(X).expand_as(X))
    # blur = torchvision's gaussian_blur for each image's sigma
    tvf = pytest.importorskip("torchvision.transforms.v2.functional")
    sigma = torch.tensor([0.5, 1.5]).repeat(8)
    out = views.gaussian_blur(X, sigma, kernel_size=5)
    for i in (0, 1):
        torch.testing.assert_close(out[i], tvf.gaussian_blur(X[i], kernel_size=[5, 5], sigma=[float(sigma[i])] * 2))
    const = torch.full((2, 3, 8, 8), 0.3)
    torch.testing.assert_close(views.gaussian_blur(const, torch.ones(2)), const)
    with pytest.raises(ValueError, match="RGB"):
        views.random_channel_permutation(torch.rand(2, 1, 8, 8))
    with pytest.raises(ValueError, match="probability"):
        views.random_grayscale(X, p=1.5)
    with pytest.raises(ValueError, match="odd"):
        views.gaussian_blur(X, sigma, kernel_size=4)


def test_two_views_and_multi_crop(shapes):
    x1, x2 = two_views(shapes.images, generator=gen(0))
    assert x1.shape == x2.shape == shapes.images.shape and not torch.equal(x1, x2)
    assert 0 <= x1.min() and x1.max() <= 1
    y1, _ = two_views(shapes.images, generator=gen(0))
    assert torch.equal(x1, y1)
    crops = multi_crop(shapes.images, n_global=2, n_local=3, generator=gen(0))
    assert [c.shape[-1] for c in crops] == [32, 32, 16, 16, 16]
    with pytest.raises(ValueError, match="unknown view setting"):
        two_views(shapes.images, colour=0.5)
    with pytest.raises(ValueError, match="global_scale"):
        multi_crop(shapes.images, scale=(0.5, 1))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)|\(B, C, H, W\)"):
        two_views(shapes.images[0])


# --------------------------------------------------------------------------- contrastive
def test_info_nce_equals_cross_entropy():
    torch.manual_seed(0)
    q, k = torch.randn(6, 8), torch.randn(10, 8)
    pos = torch.tensor([0, 3, 9, 2, 2, 5])
    logits = F.normalize(q, dim=1) @ F.normalize(k, dim=1).T / 0.3
    torch.testing.assert_close(info_nce(q, k, pos, temperature=0.3), F.cross_entropy(logits, pos))


def nt_xent_reference(z1, z2, tau):
    """Cross-entropy over the 2N - 1 other views, the positive at its index once the self-similarity is removed."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n2 = len(z)
    sim = z @ z.T / tau
    others = sim[~torch.eye(n2, dtype=torch.bool)].reshape(n2, n2 - 1)  # row i without column i
    pos = (torch.arange(n2) + n2 // 2) % n2
    target = pos - (pos > torch.arange(n2)).long()  # column index after dropping the diagonal
    return F.cross_entropy(others, target)


def test_nt_xent_equals_reference_and_is_symmetric():
    torch.manual_seed(0)
    z1, z2 = torch.randn(5, 16), torch.randn(5, 16)
    torch.testing.assert_close(nt_xent(z1, z2, temperature=0.2), nt_xent_reference(z1, z2, 0.2))
    torch.testing.assert_close(nt_xent(z1, z2, temperature=0.2), nt_xent(z2, z1, temperature=0.2))


def test_nt_xent_lower_for_aligned_pairs():
    torch.manual_seed(1)
    z1 = torch.randn(32, 16)
    aligned = nt_xent(z1, z1 + 0.1 * torch.randn(32, 16))
    random = nt_xent(z1, torch.randn(32, 16))
    assert aligned < random - 2.0  # random pairs sit near log(2N - 1) = 4.1
    assert abs(random.item() - math.log(63)) < 1.0


def test_smaller_temperature_weights_hard_negatives_more():
    # query (1, 0); keys on the unit circle at angles: a positive, a hard negative near the query, an easy one.
    # d loss / d angle_j = -(p_j / tau) * sin(angle_j) for a negative, p_j its softmax weight: so the gradient
    # tells each negative's weight, and the hard/easy ratio must be exp((cos 0.6 - cos 2.0) / tau)
    ratios = {}
    for tau in (1.0, 0.1):
        angles = torch.tensor([0.1, 0.6, 2.0], requires_grad=True)
        keys = torch.stack([angles.cos(), angles.sin()], 1)
        info_nce(torch.tensor([[1.0, 0.0]]), keys, torch.tensor([0]), temperature=tau).backward()
        weight = -angles.grad * tau / angles.detach().sin()  # p_j for the two negatives
        ratios[tau] = (weight[1] / weight[2]).item()
        assert ratios[tau] == pytest.approx(math.exp((math.cos(0.6) - math.cos(2.0)) / tau), rel=1e-4)
    assert ratios[0.1] > 100 * ratios[1.0]


def test_contrastive_bad_input():
    z = torch.randn(4, 8)
    with pytest.raises(ValueError, match="same shape"):
        nt_xent(z, torch.randn(4, 9))
    with pytest.raises(ValueError, match="temperature must be > 0"):
        nt_xent(z, z, temperature=0.0)
    with pytest.raises(ValueError, match="at least 2"):
        nt_xent(z[:1], z[:1])
    with pytest.raises(ValueError, match=r"\(N, dim\)"):
        nt_xent(z[0], z[0])
    with pytest.raises(ValueError, match="positive_index"):
        info_nce(z, z, torch.tensor([0, 1, 2, 4]))
    with pytest.raises(ValueError, match="integer tensor"):
        info_nce(z, z, torch.zeros(4))


def test_rotation_pretext():
    X = torch.rand(3, 3, 8, 8)
    R, y = rotation_pretext(X)
    assert R.shape == (12, 3, 8, 8) and y.tolist() == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3
    torch.testing.assert_close(R[:3], X)
    torch.testing.assert_close(R[3:6], X.transpose(-1, -2).flip(-2))  # 90 degrees counter-clockwise
    torch.testing.assert_close(torch.rot90(R[9:], 1, dims=(2, 3)), X)  # 270 + 90 = 360
    with pytest.raises(ValueError, match="square"):
        rotation_pretext(torch.rand(2, 3, 8, 6))


# --------------------------------------------------------------------------- encoders
def test_small_cnn_and_projection_head():
    net = SmallCNN(32)
    assert sum(isinstance(m, nn.Conv2d) for m in net.modules()) == 6
    assert net(torch.rand(4, 3, 32, 32)).shape == (4, 32) and net(torch.rand(4, 3, 16, 16)).shape == (4, 32)
    assert ProjectionHead(32, 64, 16)(torch.randn(4, 32)).shape == (4, 16)
    with pytest.raises(ValueError, match="channels-last"):
        net(torch.rand(4, 32, 32, 3))


def test_small_vit_matches_vision_transformer_and_gives_cls_attention():
    torch.manual_seed(0)
    vit = small_vit(dim=32, depth=2, heads=4, mlp_dim=64).eval()
    X = torch.rand(2, 3, 32, 32)
    feats = vit(X)
    assert feats.shape == (2, 32)
    from dlnotes.models.vit import VisionTransformer
    torch.testing.assert_close(feats, VisionTransformer.features(vit, X)[:, 0])  # the chapter-5 ViT's path
    att = vit.cls_attention()
    assert att.shape == (2, 4, 8, 8) and bool((att.sum((-1, -2)) < 1).all())  # the rest goes to the class token
    assert vit(torch.rand(2, 3, 16, 16)).shape == (2, 32) and vit.cls_attention().shape == (2, 4, 4, 4)
    with pytest.raises(ValueError, match="divisible by 4"):
        vit(torch.rand(2, 3, 30, 30))


def test_caption_vocab_covers_both_languages(shapes):
    vocab = caption_vocab()
    tokens = {t for c in shapes.captions_en + shapes.captions_zh for t in tokenize_caption(c)}
    assert tokens <= set(vocab.stoi)
    assert tokenize_caption("a small red circle in the centre")[:3] == ["a", "small", "red"]
    assert tokenize_caption("中央的一个红色小圆形")[:3] == ["中", "央", "的"]
    assert "圆形" not in vocab.stoi and "圆" in vocab.stoi  # characters, not words, for Chinese


def test_text_encoder_masks_padding_and_rejects_unknown_tokens(shapes):
    torch.manual_seed(0)
    enc = TextEncoder(16, dim=32, depth=1).eval()
    short, long = "a circle", shapes.captions_en[0]
    torch.testing.assert_close(enc.encode_text([short])[0], enc.encode_text([short, long])[0])  # padding ignored
    assert enc.encode_text(list(shapes.captions_en[:4]) + list(shapes.captions_zh[:4])).shape == (8, 16)
    with pytest.raises(ValueError, match=r"\['of', 'photo'\]"):
        enc.encode_text(["a photo of a circle"])
    with pytest.raises(ValueError, match="not a single string"):
        enc.encode_text("a circle")


# --------------------------------------------------------------------------- CLIP
def test_clip_loss_is_mean_of_two_cross_entropies_and_permutation_invariant():
    torch.manual_seed(0)
    img, txt, scale = torch.randn(6, 8), torch.randn(6, 8), torch.tensor(2.0)
    logits = math.exp(2.0) * F.normalize(img, dim=1) @ F.normalize(txt, dim=1).T
    target = torch.arange(6)
    expected = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
    torch.testing.assert_close(clip_loss(img, txt, scale), expected)
    perm = torch.randperm(6)
    torch.testing.assert_close(clip_loss(img[perm], txt[perm], scale), expected)
    # the scale is clamped at 100 = exp(4.6), and it gets a gradient
    torch.testing.assert_close(clip_loss(img, txt, 10.0), clip_loss(img, txt, math.log(100)))
    s = torch.tensor(1.0, requires_grad=True)
    clip_loss(img, txt, s).backward()
    assert s.grad is not None and s.grad != 0


def test_clip_bad_input():
    with pytest.raises(ValueError, match="same number"):
        clip_loss(torch.randn(4, 8), torch.randn(5, 8), 1.0)
    with pytest.raises(ValueError, match="same dim"):
        clip_loss(torch.randn(4, 8), torch.randn(4, 6), 1.0)
    with pytest.raises(ValueError, match="scalar"):
        clip_logits(torch.randn(4, 8), torch.randn(4, 8), torch.ones(2))
    with pytest.raises(ValueError, match="language"):
        zero_shot_classifier(TextEncoder(), language="fr")


class _OneHotText:
    """A fake text tower: a prompt's feature is the one-hot vector of the class name it contains."""

    def __init__(self, names):
        self.names = names

    def encode_text(self, prompts):
        return torch.stack([F.one_hot(torch.tensor([n in p for n in self.names]).float().argmax(), len(self.names))
                            .float() for p in prompts])


def test_zero_shot_picks_the_right_class_in_both_languages():
    torch.manual_seed(0)
    labels = torch.randint(3, (30,))
    images = F.one_hot(labels, 3).float() + 0.3 * torch.randn(30, 3)  # near their class's direction
    cases = ((("circle", "square", "ring"), "a {}", "en"), (("圆形", "正方形", "圆环"), "一个{}", "zh"))
    for names, template, lang in cases:
        classifier = zero_shot_classifier(_OneHotText(names), names, template, lang)
        assert classifier.shape == (3, 3)
        assert torch.equal(zero_shot_predict(images, classifier), images.argmax(1))
        assert (zero_shot_predict(images, classifier) == labels).float().mean() > 0.8


def test_zero_shot_with_a_text_encoder_uses_the_template():
    enc = TextEncoder(8)
    assert zero_shot_classifier(enc, language="zh").shape == (6, 8)  # 一个圆形 ... all inside the vocabulary
    with pytest.raises(ValueError, match="not in the caption vocabulary"):
        zero_shot_classifier(enc, template="a photo of a {}")


def test_recall_at_k():
    torch.manual_seed(0)
    x = torch.randn(10, 4)
    assert recall_at_k(x, x, 1) == 1.0
    # each query's own target is another query's exact match: it is rarely the nearest, always in the top 10
    shifted = x.roll(1, 0)
    assert recall_at_k(x, shifted, 1) < 0.5 and recall_at_k(x, shifted, 10) == 1.0
    # identical targets tie: a caption shared by two images counts as found for both
    assert recall_at_k(torch.eye(2), torch.ones(2, 2), 1) == 1.0
    with pytest.raises(ValueError, match="k must be"):
        recall_at_k(x, x, 11)


# --------------------------------------------------------------------------- DINO
def dino_loss_loop(student_out, teacher_out, center, ts, tt):
    total, pairs = 0.0, 0
    for g, t in enumerate(teacher_out):
        q = F.softmax((t - center) / tt, dim=-1)
        for v, s in enumerate(student_out):
            if v == g:
                continue
            total = total + torch.sum(-q * F.log_softmax(s / ts, dim=-1), dim=-1).mean()
            pairs += 1
    return total / pairs


def test_dino_loss_equals_loop_reference():
    torch.manual_seed(0)
    student = [torch.randn(5, 7) for _ in range(6)]
    teacher = [torch.randn(5, 7) for _ in range(2)]
    center = torch.randn(7)
    torch.testing.assert_close(dino_loss(student, teacher, center, student_temp=0.1, teacher_temp=0.04),
                               dino_loss_loop(student, teacher, center, 0.1, 0.04))
    torch.testing.assert_close(dino_loss(student, teacher, center[None]),  # defaults: 0.1 and 0.04
                               dino_loss_loop(student, teacher, center, 0.1, 0.04))


def test_dino_loss_bad_input():
    s, t = [torch.randn(4, 8)] * 4, [torch.randn(4, 8)] * 2
    with pytest.raises(ValueError, match="same shape"):
        dino_loss([torch.randn(4, 8), torch.randn(4, 9)], t, torch.zeros(8))
    with pytest.raises(ValueError, match="center"):
        dino_loss(s, t, torch.zeros(9))
    with pytest.raises(ValueError, match="G=4"):
        dino_loss(s[:2], s, torch.zeros(8))
    with pytest.raises(ValueError, match="list"):
        dino_loss(torch.randn(4, 8), t, torch.zeros(8))
    with pytest.raises(ValueError, match="temperature"):
        dino_loss(s, t, torch.zeros(8), teacher_temp=0.0)


def test_ema_update():
    torch.manual_seed(0)
    student = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    teacher = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    student(torch.randn(8, 3))  # move the student's BN statistics
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    ema_update(teacher, student, 1.0)
    for k, v in teacher.state_dict().items():
        if v.is_floating_point():
            assert torch.equal(v, before[k])
    ema_update(teacher, student, 0.7)
    for k, v in teacher.state_dict().items():
        if v.is_floating_point():
            torch.testing.assert_close(v, 0.7 * before[k] + 0.3 * student.state_dict()[k])
    ema_update(teacher, student, 0.0)
    for k, v in teacher.state_dict().items():
        assert torch.equal(v, student.state_dict()[k])
    with pytest.raises(ValueError, match="same architecture"):
        ema_update(nn.Linear(3, 4), student, 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ema_update(teacher, student, 1.5)


def test_centering_alone_gives_uniform_and_sharpening_alone_gives_one_hot():
    K = 16
    torch.manual_seed(0)
    constant = torch.randn(K).expand(32, K)  # collapse: every image gets the same teacher output
    center = update_center(torch.zeros(K), [constant], momentum=0.0)  # the center is that output
    uniform = teacher_probs(constant, center, 0.04)
    m = collapse_metrics(uniform)
    assert m["entropy_of_mean"] == pytest.approx(math.log(K), abs=1e-5)
    assert m["mean_entropy"] == pytest.approx(math.log(K), abs=1e-5)
    peaked = teacher_probs(constant, torch.zeros(K), 1e-4)  # no centering, tau -> 0
    m = collapse_metrics(peaked)
    assert m["entropy_of_mean"] == pytest.approx(0.0, abs=1e-5) and m["mean_entropy"] == pytest.approx(0.0, abs=1e-5)
    # healthy: different images, different confident prototypes
    healthy = teacher_probs(torch.eye(K) * 5, torch.zeros(K), 0.1)
    m = collapse_metrics(healthy)
    assert m["entropy_of_mean"] > 0.95 * math.log(K) and m["mean_entropy"] < 0.05


def test_update_center_follows_the_formula():
    c, t = torch.randn(5), [torch.randn(4, 5), torch.randn(4, 5)]
    torch.testing.assert_close(update_center(c, t, 0.9), 0.9 * c + 0.1 * torch.cat(t).mean(0))
    with pytest.raises(ValueError, match="momentum"):
        update_center(c, t, -0.1)
    with pytest.raises(ValueError, match=r"\(B, 5\)"):
        update_center(c, [torch.randn(4, 6)])


def test_sinkhorn_knopp_balances_prototypes():
    torch.manual_seed(0)
    scores = torch.randn(64, 8) + torch.tensor([3.0] + [0.0] * 7)  # prototype 0 would win most rows
    Q = sinkhorn_knopp(scores, 50, temperature=0.5)
    torch.testing.assert_close(Q.sum(1), torch.ones(64))
    torch.testing.assert_close(Q.sum(0), torch.full((8,), 64 / 8), rtol=0, atol=0.05)
    assert F.softmax(scores / 0.5, 1).sum(0)[0] > 30  # the plain softmax is unbalanced
    with pytest.raises(ValueError, match=r"\(B, K\)"):
        sinkhorn_knopp(torch.randn(8))
    with pytest.raises(ValueError, match="n_iters"):
        sinkhorn_knopp(scores, 0)


def test_dino_head_prototypes_are_unit_norm_and_fixed():
    head = DinoHead(16, 32, hidden_dim=24, bottleneck_dim=8)
    assert head(torch.randn(5, 16)).shape == (5, 32)
    torch.testing.assert_close(head.prototypes.weight.norm(dim=1), torch.ones(32))
    assert head(torch.randn(5, 16)).abs().max() <= 1 + 1e-5  # logits are cosines
    trainable = {n for n, p in head.named_parameters() if p.requires_grad}
    assert not any("original0" in n or "weight_g" in n for n in trainable)


def test_dino_head_batch_norm_standardises_the_hidden_layers_over_the_batch():
    head = DinoHead(16, 32, hidden_dim=24, bottleneck_dim=8, use_bn=True).train()
    assert sum(isinstance(m, nn.BatchNorm1d) for m in head.modules()) == 2  # after each of the 2 hidden layers
    # inputs that differ only by a tiny amount: without BN the logits barely differ, with BN they spread out
    x = torch.randn(1, 16).repeat(64, 1) + 1e-3 * torch.randn(64, 16)
    plain = DinoHead(16, 32, hidden_dim=24, bottleneck_dim=8).train()
    assert head(x).std(0).mean() > 100 * plain(x).std(0).mean()


def test_cosine_schedule_and_entropy():
    s = cosine_schedule(0.996, 1.0, 11)
    assert s[0].item() == pytest.approx(0.996) and s[-1].item() == pytest.approx(1.0)
    assert s[5].item() == pytest.approx(0.998)  # half way
    assert bool((s[1:] >= s[:-1]).all())
    w = cosine_schedule(1e-3, 0.0, 10, warmup_steps=4)
    assert w[0] == 0 and w[4].item() == pytest.approx(1e-3) and w[-1].item() == pytest.approx(0.0, abs=1e-9)
    assert entropy(torch.full((4,), 0.25)).item() == pytest.approx(math.log(4))
    with pytest.raises(ValueError, match="warmup_steps"):
        cosine_schedule(1, 0, 5, warmup_steps=6)


# --------------------------------------------------------------------------- evaluation
def blobs(n_per_class, num_classes, dim, spread, seed):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(num_classes, dim, generator=g) * 3
    labels = torch.arange(num_classes).repeat_interleave(n_per_class)
    return centers[labels] + spread * torch.randn(len(labels), dim, generator=g), labels


def test_knn_on_separable_and_random_features():
    Xtr, ytr = blobs(50, 6, 16, 0.1, 0)
    Xte, yte = blobs(20, 6, 16, 0.1, 0)
    assert knn_accuracy(Xtr, ytr, Xte, yte) == 1.0
    assert knn_accuracy(Xtr, ytr, Xte, yte, weighting="uniform") == 1.0
    g = torch.Generator().manual_seed(1)
    R = torch.randn(900, 16, generator=g)
    y = torch.randint(6, (900,), generator=g)
    assert abs(knn_accuracy(R[:600], y[:600], R[600:], y[600:]) - 1 / 6) < 0.08


def test_knn_uniform_matches_sklearn():
    neighbors = pytest.importorskip("sklearn.neighbors")
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(300, 8, generator=g), torch.randint(4, (300,), generator=g)
    X[:, 0] += y * 0.8  # some structure, so accuracy is not just chance
    from dlnotes.ssl.evaluate import knn_predict
    ours = knn_predict(X[:200], y[:200], X[200:], k=7, weighting="uniform")
    clf = neighbors.KNeighborsClassifier(n_neighbors=7, metric="cosine", weights="uniform").fit(X[:200], y[:200])
    assert torch.equal(ours, torch.from_numpy(clf.predict(X[200:].numpy())))


def test_knn_weighted_vote_lets_close_neighbours_win():
    # one reference of class 0 almost equal to the query, two of class 1 far away: uniform votes 1, weighted 0
    train = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.1, 1.0]])
    labels = torch.tensor([0, 1, 1])
    test, test_y = torch.tensor([[1.0, 0.05]]), torch.tensor([0])
    assert knn_accuracy(train, labels, test, test_y, k=3, weighting="exp") == 1.0
    assert knn_accuracy(train, labels, test, test_y, k=3, weighting="uniform") == 0.0
    with pytest.raises(ValueError, match="k must be"):
        knn_accuracy(train, labels, test, test_y, k=4)
    with pytest.raises(ValueError, match="integer labels"):
        knn_accuracy(train, labels.float(), test, test_y)


def test_linear_probe_separable_and_random():
    Xtr, ytr = blobs(40, 4, 8, 1.0, 0)
    Xte, yte = blobs(20, 4, 8, 1.0, 0)
    assert linear_probe(Xtr, ytr, Xte, yte, steps=100) > 0.95
    g = torch.Generator().manual_seed(2)
    R, y = torch.randn(800, 8, generator=g), torch.randint(4, (800,), generator=g)
    assert abs(linear_probe(R[:400], y[:400], R[400:], y[400:], steps=100) - 0.25) < 0.1
    with pytest.raises(ValueError, match="dim"):
        linear_probe(Xtr, ytr, Xte[:, :4], yte)


def test_extract_features_batches_in_eval_mode_and_restores_mode():
    torch.manual_seed(0)
    net = SmallCNN(16)
    X = torch.rand(10, 3, 16, 16)
    net.train()
    feats = extract_features(net, X, batch_size=3)
    assert net.training
    with torch.no_grad():
        torch.testing.assert_close(feats, net.eval()(X))


def test_checkpoint_round_trip_and_hash(tmp_path):
    net = SmallCNN(8)
    meta = save_checkpoint(tmp_path / "m.pt", net.state_dict(), method="test", seed=0, config={"a": 1},
                           wall_time_s=1.0, metrics={"knn": 0.5})
    state, loaded = load_checkpoint(tmp_path / "m.pt")
    assert loaded == meta and state.keys() == net.state_dict().keys()
    torch.testing.assert_close(state["body.0.weight"], net.state_dict()["body.0.weight"], atol=1e-3, rtol=1e-3)
    (tmp_path / "m.pt").write_bytes((tmp_path / "m.pt").read_bytes() + b"x")
    with pytest.raises(ValueError, match="sha256"):
        load_checkpoint(tmp_path / "m.pt")


def test_caption_templates_are_inside_the_grammar(shapes):
    from dlnotes.ssl import caption_templates
    enc = TextEncoder(8)
    for lang, captions in (("en", shapes.captions_en), ("zh", shapes.captions_zh)):
        templates = caption_templates(lang)
        assert len(templates) == 2 * 7 * 9 == len(set(templates))
        names = shapes.classes if lang == "en" else ("圆形", "正方形", "三角形", "十字", "星形", "圆环")
        filled = {t.format(n) for t in templates for n in names}
        assert set(captions) <= filled  # every real caption is one of the prompts
        assert zero_shot_classifier(enc, template=templates, language=lang).shape == (6, 8)
