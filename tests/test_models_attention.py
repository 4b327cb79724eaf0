"""The attention pieces of dlnotes.models.attention against PyTorch's own (F.scaled_dot_product_attention,
nn.MultiheadAttention, nn.TransformerEncoderLayer), against their defining properties (KV cache = full
recomputation, RoPE depends on the offset only, Swin's mask blocks exactly the wrapped-around pairs), and
on bad input."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlnotes.models.attention import (
    KVCache, MultiHeadAttention, TransformerBlock, apply_rotary, scaled_dot_product_attention, shifted_window_mask,
    sinusoidal_positions, window_partition, window_reverse,
)
from model_helpers import n_params

pytestmark = pytest.mark.usefixtures("one_thread")


# --- scaled dot-product attention -------------------------------------------------------------------

def test_sdpa_equals_pytorch_with_mask_and_causal():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 4)
    mask = torch.rand(2, 1, 5, 7) > 0.3
    mask[..., 0] = True  # every query may attend at least one key
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 5))
    assert (weights[~mask.expand_as(weights)] == 0).all()
    q = torch.randn(2, 3, 7, 8)
    out, weights = scaled_dot_product_attention(q, k, v, causal=True)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True))
    lower = torch.ones(7, 7, dtype=torch.bool).tril()
    assert (weights[..., ~lower] == 0).all() and (weights[..., lower] > 0).all()


def test_sdpa_causal_with_fewer_queries_is_aligned_at_the_last_key():
    # the last 2 queries of a causal self-attention over 6 tokens = 2 queries against all 6 keys, causal
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 6, 4), torch.randn(3, 6, 4), torch.randn(3, 6, 4)
    full, _ = scaled_dot_product_attention(q, k, v, causal=True)
    last, _ = scaled_dot_product_attention(q[:, -2:], k, v, causal=True)
    torch.testing.assert_close(last, full[:, -2:])


def test_sdpa_fully_masked_row_gives_zeros_not_nan():
    torch.manual_seed(0)
    q, k, v = torch.randn(4, 8, requires_grad=True), torch.randn(5, 8), torch.randn(5, 3)
    mask = torch.ones(4, 5, dtype=torch.bool)
    mask[2] = False  # query 2 may attend nothing
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    assert not out.isnan().any() and (out[2] == 0).all() and (weights[2] == 0).all()
    assert out[[0, 1, 3]].abs().sum() > 0
    out.sum().backward()
    assert not q.grad.isnan().any()


def test_sdpa_bad_input():
    q, k, v = torch.randn(2, 5, 8), torch.randn(2, 7, 8), torch.randn(2, 7, 8)
    with pytest.raises(ValueError, match="does not broadcast"):
        scaled_dot_product_attention(q, k, v, mask=torch.ones(5, 5, dtype=torch.bool))  # Lk is 7
    with pytest.raises(ValueError, match="does not broadcast"):
        scaled_dot_product_attention(q, k, v, mask=torch.ones(3, 2, 5, 7, dtype=torch.bool))  # too many dims
    with pytest.raises(ValueError, match="boolean"):
        scaled_dot_product_attention(q, k, v, mask=torch.zeros(5, 7))
    with pytest.raises(ValueError, match="expected q"):
        scaled_dot_product_attention(q, torch.randn(2, 7, 4), v)
    with pytest.raises(ValueError, match="floating-point"):
        scaled_dot_product_attention(q, k, v.long())


# --- multi-head attention ---------------------------------------------------------------------------

@pytest.mark.parametrize("bias", [True, False])
def test_mha_equals_torch_multihead_attention(bias):
    torch.manual_seed(0)
    reference = nn.MultiheadAttention(32, 4, bias=bias, batch_first=True)
    if bias:  # freshly built biases are zero: make them bite
        with torch.no_grad():
            reference.in_proj_bias.normal_()
            reference.out_proj.bias.normal_()
    ours = MultiHeadAttention.from_torch(reference)
    assert n_params(ours) == n_params(reference)
    x, context = torch.randn(2, 5, 32), torch.randn(2, 9, 32)
    allowed = torch.rand(2, 1, 5, 5) > 0.3
    allowed[..., 0] = True
    y_ref, w_ref = reference(x, x, x, attn_mask=~allowed.expand(2, 4, 5, 5).reshape(8, 5, 5),  # True = blocked
                             average_attn_weights=False)
    torch.testing.assert_close(ours(x, mask=allowed), y_ref)
    torch.testing.assert_close(ours.last_weights, w_ref)
    y_ref, _ = reference(x, context, context)  # cross-attention
    torch.testing.assert_close(ours(x, context), y_ref)
    assert ours.last_weights.shape == (2, 4, 5, 9)


def test_mha_bad_input():
    with pytest.raises(ValueError, match="divisible by num_heads"):
        MultiHeadAttention(30, 4)
    with pytest.raises(ValueError, match="divisible by num_kv_heads"):
        MultiHeadAttention(32, 4, num_kv_heads=3)
    mha = MultiHeadAttention(32, 4)
    with pytest.raises(ValueError, match=r"\(B, L, 32\)"):
        mha(torch.randn(5, 32))
    with pytest.raises(ValueError, match=r"context of shape \(B, L, 32\)"):
        mha(torch.randn(2, 5, 32), torch.randn(2, 5, 16))
    with pytest.raises(ValueError, match="does not broadcast"):
        mha(torch.randn(2, 5, 32), mask=torch.ones(4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="self-attention"):
        mha(torch.randn(2, 5, 32), torch.randn(2, 5, 32), cache=KVCache())


def test_grouped_query_attention_parameters_and_function():
    torch.manual_seed(0)
    dim, heads, kv_heads = 64, 8, 2
    gqa = MultiHeadAttention(dim, heads, num_kv_heads=kv_heads)
    kv_dim = kv_heads * dim // heads
    assert n_params(gqa) == dim * (dim + 2 * kv_dim) + (dim + 2 * kv_dim) + dim * dim + dim == 10_400
    assert n_params(MultiHeadAttention(dim, heads)) == 4 * dim * dim + 4 * dim == 16_640
    # the same function as full multi-head attention whose key/value heads are copied across each group
    full = MultiHeadAttention(dim, heads)
    with torch.no_grad():
        gqa.qkv.bias.normal_()  # freshly built biases are zero: make them bite
    w_q, w_k, w_v = gqa.qkv.weight.split([dim, kv_dim, kv_dim])
    b_q, b_k, b_v = gqa.qkv.bias.split([dim, kv_dim, kv_dim])

    def tile(t: torch.Tensor) -> torch.Tensor:  # (kv_heads * hd, ...) -> (heads * hd, ...), each head repeated
        return t.unflatten(0, (kv_heads, -1)).repeat_interleave(heads // kv_heads, dim=0).flatten(0, 1)

    with torch.no_grad():
        full.qkv.weight.copy_(torch.cat([w_q, tile(w_k), tile(w_v)]))
        full.qkv.bias.copy_(torch.cat([b_q, tile(b_k), tile(b_v)]))
        full.proj.load_state_dict(gqa.proj.state_dict())
    x = torch.randn(2, 6, dim)
    torch.testing.assert_close(gqa(x, causal=True), full(x, causal=True))


class ToyDecoder(nn.Module):
    """A 2-block decoder-only language model: tokens (B, T) -> logits (B, T, vocab)."""

    def __init__(self, vocab: int = 13, dim: int = 32, heads: int = 4, num_kv_heads: int | None = None) -> None:
        super().__init__()
        self.embed, self.pos = nn.Embedding(vocab, dim), nn.Embedding(32, dim)
        self.blocks = nn.ModuleList([TransformerBlock(dim, heads, num_kv_heads=num_kv_heads) for _ in range(2)])
        self.head = nn.Linear(dim, vocab)

    def forward(self, tokens, caches=None):
        start = 0 if caches is None else len(caches[0])
        x = self.embed(tokens) + self.pos(torch.arange(start, start + tokens.shape[1]))
        for i, block in enumerate(self.blocks):
            x = block(x, causal=True, cache=None if caches is None else caches[i])
        return self.head(x)


@pytest.mark.parametrize("num_kv_heads", [None, 1])
def test_kv_cache_decoding_equals_full_recomputation(num_kv_heads):
    torch.manual_seed(0)
    model = ToyDecoder(num_kv_heads=num_kv_heads).eval()
    tokens = torch.randint(0, 13, (2, 4))  # prompt
    caches = [KVCache(), KVCache()]
    with torch.no_grad():
        step_logits = [model(tokens, caches)]  # prefill: 4 tokens at once
        for _ in range(8):  # greedy decoding, one token at a time
            tokens = torch.cat([tokens, step_logits[-1][:, -1:].argmax(-1)], dim=1)
            step_logits.append(model(tokens[:, -1:], caches))
        full = model(tokens)  # all 12 positions recomputed at once
    torch.testing.assert_close(torch.cat(step_logits, dim=1), full, atol=1e-5, rtol=1e-5)
    assert torch.equal(full[:, 3:-1].argmax(-1), tokens[:, 4:])  # the same greedy tokens
    assert len(caches[0]) == 12 and caches[0].k.shape == (2, num_kv_heads or 4, 12, 8)


# --- positions --------------------------------------------------------------------------------------

def test_sinusoidal_positions_formula_and_relative_dot_products():
    pe = sinusoidal_positions(50, 16)
    assert pe.shape == (50, 16)
    p, i = 7, 3
    torch.testing.assert_close(pe[p, 2 * i], torch.tensor(p / 10000 ** (2 * i / 16)).sin())
    torch.testing.assert_close(pe[p, 2 * i + 1], torch.tensor(p / 10000 ** (2 * i / 16)).cos())
    # PE[p] . PE[p + k] depends on k only
    torch.testing.assert_close(pe[3] @ pe[8], pe[20] @ pe[25])
    assert not torch.allclose(pe[3] @ pe[8], pe[3] @ pe[9])
    with pytest.raises(ValueError, match="even"):
        sinusoidal_positions(10, 7)


def test_rotary_relative_positions_and_norms():
    torch.manual_seed(0)
    q, k = torch.randn(16), torch.randn(16)

    def score(m: int, n: int) -> torch.Tensor:
        return apply_rotary(q[None], torch.tensor([m])) @ apply_rotary(k[None], torch.tensor([n]))[0]

    torch.testing.assert_close(score(5, 2), score(40, 37))
    torch.testing.assert_close(score(0, 9), score(11, 20))
    assert not torch.allclose(score(5, 2), score(5, 3))
    x = torch.randn(2, 3, 10, 16)
    rotated = apply_rotary(x, torch.arange(10))
    torch.testing.assert_close(rotated.norm(dim=-1), x.norm(dim=-1))
    torch.testing.assert_close(rotated[..., 0, :], x[..., 0, :])  # position 0: no rotation
    with pytest.raises(ValueError, match="d even"):
        apply_rotary(torch.randn(10, 15), torch.arange(10))
    with pytest.raises(ValueError, match="positions"):
        apply_rotary(x, torch.arange(9))


# --- transformer block ------------------------------------------------------------------------------

@pytest.mark.parametrize("pre_norm", [True, False])
def test_transformer_block_equals_torch_encoder_layer(pre_norm):
    torch.manual_seed(0)
    reference = nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=pre_norm).eval()
    with torch.no_grad():
        for p in reference.parameters():
            p.add_(0.1 * torch.randn_like(p))  # biases and norms away from 0 and 1
    block = TransformerBlock(32, 4, mlp_ratio=2.0, pre_norm=pre_norm).eval()
    ref = reference.state_dict()
    names = {"attn.qkv": "self_attn.in_proj_", "attn.proj.": "self_attn.out_proj.", "mlp.0.": "linear1.",
             "mlp.3.": "linear2.", "norm1.": "norm1.", "norm2.": "norm2."}
    mapped = {}
    for key in block.state_dict():
        ours = next(prefix for prefix in names if key.startswith(prefix))
        mapped[key] = ref[names[ours] + key[len(ours):].lstrip(".")]
    block.load_state_dict(mapped)
    x = torch.randn(2, 6, 32)
    with torch.no_grad():
        torch.testing.assert_close(block(x), reference(x))
        causal = nn.Transformer.generate_square_subsequent_mask(6)
        torch.testing.assert_close(block(x, causal=True), reference(x, src_mask=causal, is_causal=True))
    with pytest.raises(ValueError, match="activation"):
        TransformerBlock(32, 4, activation="swish")


# --- Swin windows -----------------------------------------------------------------------------------

def test_window_partition_round_trip_and_layout():
    x = torch.randn(2, 8, 12, 3)
    windows = window_partition(x, 4)
    assert windows.shape == (2 * 2 * 3, 4, 4, 3)
    assert torch.equal(windows[0], x[0, :4, :4]) and torch.equal(windows[1], x[0, :4, 4:8])
    assert torch.equal(windows[6], x[1, :4, :4])
    assert torch.equal(window_reverse(windows, 4, 8, 12), x)
    with pytest.raises(ValueError, match="divisible by window"):
        window_partition(torch.randn(1, 10, 12, 3), 4)
    with pytest.raises(ValueError, match="expected windows"):
        window_reverse(windows, 4, 8, 16)


@pytest.mark.parametrize("H, W, window, shift", [(8, 8, 4, 2), (8, 12, 4, 2), (12, 6, 3, 1), (4, 4, 4, 2)])
def test_shifted_window_mask_blocks_exactly_the_wrapped_pairs(H, W, window, shift):
    # where each token of the rolled map was before the roll
    rows, cols = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    before = torch.stack([rows, cols], dim=-1).roll((-shift, -shift), dims=(0, 1))  # (H, W, 2)
    after = torch.stack([rows, cols], dim=-1)
    tokens_before = window_partition(before[None], window).flatten(1, 2)  # (nW, w*w, 2)
    tokens_after = window_partition(after[None], window).flatten(1, 2)
    # two tokens were neighbours iff the roll did not change their offset: no wrap-around between them
    same_offset = lambda t: t[:, :, None] - t[:, None, :]  # noqa: E731
    expected = (same_offset(tokens_before) == same_offset(tokens_after)).all(-1)  # (nW, w*w, w*w)
    mask = shifted_window_mask(H, W, window, shift)
    assert mask.dtype == torch.bool and torch.equal(mask, expected)
    assert (~mask).any()  # something is blocked
    assert shifted_window_mask(H, W, window, 0).all()


def test_shifted_window_mask_bad_input():
    with pytest.raises(ValueError, match="shift < window"):
        shifted_window_mask(8, 8, 4, 4)
    with pytest.raises(ValueError, match="divisible by window"):
        shifted_window_mask(10, 8, 4, 2)
