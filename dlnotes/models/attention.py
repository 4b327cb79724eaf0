"""Attention written out (Vaswani et al. 2017, "Attention Is All You Need"): scaled dot-product attention,
multi-head attention with a KV cache and grouped-query heads, sinusoidal and rotary positions, the
transformer block, and Swin's window partition with its shifted-window mask.

Conventions: tokens are (B, L, dim); a boolean mask is True where a query may attend a key (the
convention of F.scaled_dot_product_attention; nn.MultiheadAttention's boolean masks mean the opposite).
MultiHeadAttention keeps nn.MultiheadAttention's weight layout (q, k, v stacked in one projection), so
``MultiHeadAttention.from_torch(mha)`` copies its weights and computes the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None,
                                 causal: bool = False) -> tuple[Tensor, Tensor]:
    """softmax(q k^T / sqrt(d)) v: q (..., Lq, d), k (..., Lk, d), v (..., Lk, d_v) -> (output, weights).

    mask: boolean, True = may attend, broadcastable to (..., Lq, Lk). causal: query i sees keys j <= i + Lk - Lq
    (aligned at the last key, as in decoding with a KV cache; for Lq == Lk the usual lower triangle). A query
    that may attend no key gets zero weights and a zero output, not NaN.
    """
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, Tensor) or t.dim() < 2 or not t.is_floating_point():
            raise ValueError(f"{name} must be a floating-point tensor (..., L, d), got "
                             f"{getattr(t, 'shape', type(t).__name__)}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"expected q (..., Lq, d), k (..., Lk, d), v (..., Lk, d_v), got q {tuple(q.shape)}, "
                         f"k {tuple(k.shape)}, v {tuple(v.shape)}")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., Lq, Lk)
    allowed = None
    if mask is not None:
        if mask.dtype != torch.bool:
            raise ValueError(f"mask must be boolean (True = may attend), got {mask.dtype}")
        try:
            ok = torch.broadcast_shapes(mask.shape, scores.shape) == scores.shape
        except RuntimeError:
            ok = False
        if not ok:
            raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to the scores' shape "
                             f"(..., Lq, Lk) = {tuple(scores.shape)}")
        allowed = mask
    if causal:
        Lq, Lk = scores.shape[-2:]
        lower = torch.ones(Lq, Lk, dtype=torch.bool, device=q.device).tril(diagonal=Lk - Lq)
        allowed = lower if allowed is None else allowed & lower
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))
    weights = scores.softmax(dim=-1)  # (..., Lq, Lk), each row sums to 1
    if allowed is not None:
        weights = weights.masked_fill(~allowed, 0.0)  # a fully masked row is NaN after softmax: make it 0
    return weights @ v, weights  # (..., Lq, d_v)


@dataclass
class KVCache:
    """Past keys and values of one attention layer, each (B, num_kv_heads, T_past, head_dim); empty at first."""

    k: Tensor | None = None
    v: Tensor | None = None

    def __len__(self) -> int:
        return 0 if self.k is None else self.k.shape[-2]

    def update(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append the new tokens' k, v (B, h, T_new, hd) and return all of them (B, h, T_past + T_new, hd)."""
        if self.k is not None:
            k, v = torch.cat([self.k, k], dim=-2), torch.cat([self.v, v], dim=-2)
        self.k, self.v = k, v
        return k, v


class MultiHeadAttention(nn.Module):
    """Multi-head attention (Vaswani et al. 2017, Sec. 3.2.2): (B, L, dim) -> (B, L, dim).

    num_kv_heads < num_heads shares each key/value head among a group of query heads: grouped-query
    attention (Ainslie et al. 2023); num_kv_heads = 1 is multi-query attention (Shazeer 2019).
    Parameters: dim * (dim + 2 * kv_dim) + dim * dim (+ biases), kv_dim = num_kv_heads * dim / num_heads.
    """

    def __init__(self, dim: int, num_heads: int, *, bias: bool = True, num_kv_heads: int | None = None) -> None:
        super().__init__()
        num_kv_heads = num_heads if num_kv_heads is None else num_kv_heads
        if num_heads < 1 or dim % num_heads != 0:
            raise ValueError(f"dim must be divisible by num_heads, got dim={dim}, num_heads={num_heads}")
        if num_kv_heads < 1 or num_heads % num_kv_heads != 0:
            raise ValueError(f"num_heads must be divisible by num_kv_heads, got {num_heads} and {num_kv_heads}")
        self.dim, self.num_heads, self.num_kv_heads = dim, num_heads, num_kv_heads
        self.head_dim = dim // num_heads
        self.kv_dim = num_kv_heads * self.head_dim
        self.qkv = nn.Linear(dim, dim + 2 * self.kv_dim, bias=bias)  # W_q, W_k, W_v stacked, like in_proj_weight
        self.proj = nn.Linear(dim, dim, bias=bias)  # W_o, like out_proj
        self.last_weights: Tensor | None = None  # (B, num_heads, Lq, Lk) of the last call, for plots
        nn.init.xavier_uniform_(self.qkv.weight)  # nn.MultiheadAttention's initialisation
        if bias:
            nn.init.zeros_(self.qkv.bias)
            nn.init.zeros_(self.proj.bias)

    @classmethod
    def from_torch(cls, mha: nn.MultiheadAttention) -> "MultiHeadAttention":
        """A MultiHeadAttention holding a copy of nn.MultiheadAttention's weights (same outputs)."""
        if not mha._qkv_same_embed_dim or mha.bias_k is not None:
            raise ValueError("from_torch needs kdim = vdim = embed_dim and add_bias_kv=False")
        bias = mha.in_proj_bias is not None
        model = cls(mha.embed_dim, mha.num_heads, bias=bias).to(mha.in_proj_weight)
        with torch.no_grad():
            model.qkv.weight.copy_(mha.in_proj_weight)
            model.proj.weight.copy_(mha.out_proj.weight)
            if bias:
                model.qkv.bias.copy_(mha.in_proj_bias)
                model.proj.bias.copy_(mha.out_proj.bias)
        return model

    def _check(self, t: Tensor, name: str) -> None:
        if not isinstance(t, Tensor) or t.dim() != 3 or t.shape[-1] != self.dim:
            raise ValueError(f"MultiHeadAttention expects {name} of shape (B, L, {self.dim}), got "
                             f"{getattr(t, 'shape', type(t).__name__)}")

    def _split_heads(self, t: Tensor, heads: int) -> Tensor:  # (B, L, heads * hd) -> (B, heads, L, hd)
        return t.unflatten(-1, (heads, self.head_dim)).transpose(1, 2)

    def forward(self, x: Tensor, context: Tensor | None = None, *, mask: Tensor | None = None,
                causal: bool = False, cache: KVCache | None = None) -> Tensor:
        """x (B, Lq, dim) attends to context (B, Lk, dim), or to itself; mask broadcastable to (B, h, Lq, Lk).

        cache (self-attention only): keys and values of earlier calls are reused and the new ones appended.
        """
        self._check(x, "x")
        if context is not None:
            self._check(context, "context")
            if cache is not None:
                raise ValueError("cache is for self-attention; pass context=None")
        source = x if context is None else context
        w_q, w_kv = self.qkv.weight.split([self.dim, 2 * self.kv_dim])
        b_q, b_kv = (None, None) if self.qkv.bias is None else self.qkv.bias.split([self.dim, 2 * self.kv_dim])
        q = self._split_heads(F.linear(x, w_q, b_q), self.num_heads)  # (B, h, Lq, hd)
        k, v = F.linear(source, w_kv, b_kv).chunk(2, dim=-1)  # (B, Lk, kv_dim) each
        k, v = self._split_heads(k, self.num_kv_heads), self._split_heads(v, self.num_kv_heads)  # (B, h_kv, Lk, hd)
        if cache is not None:
            k, v = cache.update(k, v)  # (B, h_kv, T_past + Lq, hd)
        group = self.num_heads // self.num_kv_heads
        if group > 1:  # grouped-query: each key/value head serves `group` query heads
            k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        out, weights = scaled_dot_product_attention(q, k, v, mask=mask, causal=causal)  # (B, h, Lq, hd)
        self.last_weights = weights.detach()
        return self.proj(out.transpose(1, 2).flatten(2))  # heads concatenated: (B, Lq, dim)


def sinusoidal_positions(length: int, dim: int) -> Tensor:
    """Sinusoidal encodings (Vaswani et al. 2017, Sec. 3.5): (length, dim), PE[p, 2i] = sin(p / 10000^(2i/dim)),
    PE[p, 2i+1] = cos(same)."""
    if dim % 2 != 0 or dim < 2 or length < 0:
        raise ValueError(f"dim must be even and >= 2, length >= 0; got length={length}, dim={dim}")
    angles = torch.arange(length, dtype=torch.float32)[:, None] * _frequencies(dim)  # (length, dim/2)
    return torch.stack([angles.sin(), angles.cos()], dim=-1).flatten(-2)  # sin, cos interleaved


def _frequencies(dim: int, base: float = 10000.0, device=None) -> Tensor:  # (dim/2,): base^(-2i/dim)
    return base ** (-torch.arange(0, dim, 2, dtype=torch.float32, device=device) / dim)


def apply_rotary(x: Tensor, positions: Tensor, base: float = 10000.0) -> Tensor:
    """Rotary position embedding (RoPE, Su et al. 2021): rotate the pairs (x[2i], x[2i+1]) by positions * base^(-2i/d).

    x (..., L, d) with d even, positions (L,) or broadcastable to x.shape[:-1] -> same shape as x. The dot product
    of a rotated query at position m and a rotated key at n depends on m - n only.
    """
    d = x.shape[-1]
    positions = torch.as_tensor(positions, device=x.device)
    if d % 2 != 0 or positions.shape[-1:] != x.shape[-2:-1]:
        raise ValueError(f"expected x (..., L, d) with d even and positions (L,), got x {tuple(x.shape)}, "
                         f"positions {tuple(positions.shape)}")
    angles = positions.to(torch.float32)[..., None] * _frequencies(d, base, x.device)  # (..., L, d/2)
    cos, sin = angles.cos(), angles.sin()
    x1, x2 = x[..., 0::2].float(), x[..., 1::2].float()  # the two coordinates of each pair
    rotated = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)  # (..., L, d/2, 2)
    return rotated.flatten(-2).to(x.dtype)


class TransformerBlock(nn.Module):
    """Transformer encoder block: (B, L, dim) -> (B, L, dim). pre_norm=True: x + attn(LN(x)), then x + mlp(LN(x))
    (Xiong et al. 2020; ViT, GPT-2); pre_norm=False: LN(x + attn(x)), LN(x + mlp(x)) (Vaswani et al. 2017)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, *, pre_norm: bool = True,
                 dropout: float = 0.0, activation: str = "gelu", norm_eps: float = 1e-5,
                 num_kv_heads: int | None = None) -> None:
        super().__init__()
        activations = {"gelu": nn.GELU, "relu": nn.ReLU}
        if activation not in activations:
            raise ValueError(f"activation must be one of {sorted(activations)}, got {activation!r}")
        hidden = round(dim * mlp_ratio)
        self.pre_norm = pre_norm
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = MultiHeadAttention(dim, num_heads, num_kv_heads=num_kv_heads)
        self.dropout = nn.Dropout(dropout)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), activations[activation](), nn.Dropout(dropout),
                                 nn.Linear(hidden, dim), nn.Dropout(dropout))

    def forward(self, x: Tensor, *, mask: Tensor | None = None, causal: bool = False,
                cache: KVCache | None = None) -> Tensor:
        if self.pre_norm:
            x = x + self.dropout(self.attn(self.norm1(x), mask=mask, causal=causal, cache=cache))  # (B, L, dim)
            x = x + self.mlp(self.norm2(x))
        else:
            x = self.norm1(x + self.dropout(self.attn(x, mask=mask, causal=causal, cache=cache)))
            x = self.norm2(x + self.mlp(x))
        return x


def window_partition(x: Tensor, window: int) -> Tensor:
    """Cut a map into non-overlapping windows (Swin, Liu et al. 2021): (B, H, W, C) -> (B * H/w * W/w, w, w, C)."""
    if x.dim() != 4 or x.shape[1] % window != 0 or x.shape[2] % window != 0:
        raise ValueError(f"expected a (B, H, W, C) map with H and W divisible by window={window}, "
                         f"got shape {tuple(x.shape)}")
    B, H, W, C = x.shape
    x = x.reshape(B, H // window, window, W // window, window, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window, window, C)  # windows in row-major order


def window_reverse(windows: Tensor, window: int, H: int, W: int) -> Tensor:
    """Inverse of window_partition: (B * H/w * W/w, w, w, C) -> (B, H, W, C)."""
    n = (H // window) * (W // window)
    shape_ok = windows.dim() == 4 and windows.shape[1:3] == (window, window) and windows.shape[0] % n == 0
    if H % window or W % window or not shape_ok:
        raise ValueError(f"expected windows (B * {n}, {window}, {window}, C) for a {H}x{W} map, "
                         f"got shape {tuple(windows.shape)}")
    B = windows.shape[0] // n
    x = windows.reshape(B, H // window, W // window, window, window, -1)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(B, H, W, -1)


def shifted_window_mask(H: int, W: int, window: int, shift: int | tuple[int, int]) -> Tensor:
    """Swin's attention mask for a map rolled by -shift: (num_windows, w*w, w*w), True where both tokens come
    from the same region (were neighbours before the roll); tokens brought together by the wrap-around are blocked.
    shift is one int for both axes or (shift_h, shift_w); 0 on an axis means no roll along it."""
    shift_h, shift_w = (shift, shift) if isinstance(shift, int) else shift
    if H % window or W % window or not (0 <= shift_h < window and 0 <= shift_w < window):
        raise ValueError(f"need H, W divisible by window and 0 <= shift < window, got H={H}, W={W}, "
                         f"window={window}, shift={shift}")
    region = torch.zeros(1, H, W, 1)

    def cuts(s: int) -> tuple[slice, ...]:  # the 3 bands of one axis (1 band when it is not rolled)
        return (slice(0, -window), slice(-window, -s), slice(-s, None)) if s else (slice(None),)

    for i, (h, w) in enumerate((h, w) for h in cuts(shift_h) for w in cuts(shift_w)):
        region[:, h, w, :] = i  # label the (up to) 3 x 3 regions of the rolled map
    labels = window_partition(region, window).flatten(1)  # (num_windows, w*w)
    return labels[:, :, None] == labels[:, None, :]  # (num_windows, w*w, w*w)
