"""Swin Transformer (Liu et al. 2021, "Swin Transformer: Hierarchical Vision Transformer using Shifted Windows"):
attention inside 7x7 windows, shifted by half a window every other block, a learned relative position bias, and
patch merging that halves the map and doubles the channels from stage to stage, as a CNN does.

The window partition and the shifted-window mask come from `dlnotes.models.attention`. Maps inside the network
are channels-last, (B, H, W, C), as LayerNorm and the linear layers want them. swin_t has the parameter count
(28,288,354 for 1000 classes) and output shape of torchvision's swin_t and computes the same function given the
same weights: its state_dict lists the same tensors in the same order (the relative position index included).
Unlike torchvision, which pads, it takes only images whose every stage splits into whole windows (224x224 for
swin_t) and says so otherwise.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .attention import shifted_window_mask, window_partition, window_reverse
from .checks import check_images
from .mobile_blocks import drop_path
from .vit import PatchEmbed

# Liu et al. 2021, Sec. 3.3: Swin-T has C = 96, layer numbers {2, 2, 6, 2}, 32 channels per head
SWIN_T_TABLE = [
    # dim, depth, heads
    (96, 2, 3),
    (192, 2, 6),
    (384, 6, 12),
    (768, 2, 24),
]


def relative_position_index(window: int) -> Tensor:
    """Row of the bias table for each pair of tokens in a window: (w*w * w*w,), flattened from (w*w, w*w).

    Two tokens at (y1, x1) and (y2, x2) get row (y1 - y2 + w - 1) * (2w - 1) + (x1 - x2 + w - 1): one row for each
    of the (2w - 1)^2 possible offsets, shared by every pair with that offset (Liu et al. 2021, Sec. 3.2)."""
    ys, xs = torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
    coords = torch.stack([ys.flatten(), xs.flatten()])  # (2, w*w)
    offset = coords[:, :, None] - coords[:, None, :] + (window - 1)  # (2, w*w, w*w), each in [0, 2w - 2]
    return (offset[0] * (2 * window - 1) + offset[1]).flatten()


class WindowAttention(nn.Module):
    """(Shifted-)window multi-head self-attention with relative position bias (W-MSA / SW-MSA, Liu et al. 2021,
    Sec. 3.2): (B, H, W, dim) -> (B, H, W, dim), H and W divisible by window.

    shift > 0 rolls the map by -shift before cutting windows and masks the pairs the roll brought together; an axis
    no longer than one window is not rolled (as in torchvision and the official code).
    """

    def __init__(self, dim: int, num_heads: int, window: int = 7, shift: int = 0) -> None:
        super().__init__()
        if num_heads < 1 or dim % num_heads:
            raise ValueError(f"dim must be divisible by num_heads, got dim={dim}, num_heads={num_heads}")
        if window < 1 or not 0 <= shift < window:
            raise ValueError(f"need window >= 1 and 0 <= shift < window, got window={window}, shift={shift}")
        self.dim, self.num_heads, self.window, self.shift = dim, num_heads, window, shift
        self.qkv = nn.Linear(dim, 3 * dim)  # W_q, W_k, W_v stacked
        self.proj = nn.Linear(dim, dim)
        # one learned bias per head for each of the (2w - 1)^2 relative offsets between two tokens of a window
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer("relative_position_index", relative_position_index(window))

    def relative_position_bias(self) -> Tensor:
        """The bias added to each head's attention scores: (heads, w*w, w*w)."""
        n = self.window ** 2
        bias = self.relative_position_bias_table[self.relative_position_index]  # (w*w * w*w, heads)
        return bias.view(n, n, self.num_heads).permute(2, 0, 1)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[-1] != self.dim or x.shape[1] % self.window or x.shape[2] % self.window:
            raise ValueError(f"WindowAttention expects a (B, H, W, {self.dim}) map with H and W divisible by "
                             f"window={self.window}, got shape {tuple(x.shape)}")
        B, H, W, C = x.shape
        w, heads = self.window, self.num_heads
        shift = (self.shift if H > w else 0, self.shift if W > w else 0)  # a single window is not rolled
        if any(shift):
            x = x.roll((-shift[0], -shift[1]), dims=(1, 2))  # cyclic shift: the windows now straddle the old ones
        tokens = window_partition(x, w).flatten(1, 2)  # (B * nW, w*w, C), nW = H/w * W/w windows
        q, k, v = self.qkv(tokens).unflatten(-1, (3, heads, C // heads)).permute(2, 0, 3, 1, 4)  # (B*nW, h, w*w, hd)
        scores = (q * (C // heads) ** -0.5) @ k.transpose(-2, -1)  # (B*nW, h, w*w, w*w)
        scores = scores + self.relative_position_bias()  # the same bias in every window
        if any(shift):  # pairs brought together by the wrap-around may not attend each other
            mask = shifted_window_mask(H, W, w, shift).to(x.device)  # (nW, w*w, w*w)
            scores = scores.unflatten(0, (B, -1)).masked_fill(~mask[:, None], float("-inf")).flatten(0, 1)
        out = scores.softmax(dim=-1) @ v  # (B*nW, h, w*w, hd)
        out = self.proj(out.transpose(1, 2).flatten(2))  # heads concatenated: (B*nW, w*w, C)
        x = window_reverse(out.unflatten(1, (w, w)), w, H, W)  # (B, H, W, C)
        if any(shift):
            x = x.roll(shift, dims=(1, 2))  # undo the cyclic shift
        return x


class SwinBlock(nn.Module):
    """Swin Transformer block (Liu et al. 2021, Fig. 3b): x + (S)W-MSA(LN(x)), then x + MLP(LN(x)), each branch
    dropped per sample with probability drop_path in training: (B, H, W, dim) -> (B, H, W, dim)."""

    def __init__(self, dim: int, num_heads: int, *, window: int = 7, shift: int = 0, mlp_ratio: float = 4.0,
                 drop_path: float = 0.0) -> None:
        super().__init__()
        self.drop_path = drop_path
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, num_heads, window, shift)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: Tensor) -> Tensor:
        x = x + drop_path(self.attn(self.norm1(x)), self.drop_path, self.training)  # (B, H, W, dim)
        x = x + drop_path(self.mlp(self.norm2(x)), self.drop_path, self.training)
        return x


class PatchMerging(nn.Module):
    """Patch merging (Liu et al. 2021, Sec. 3.1): concatenate each 2x2 group of neighbours, LayerNorm, then a linear
    map 4*in_dim -> out_dim (2*in_dim in the paper): (B, H, W, in_dim) -> (B, H/2, W/2, out_dim)."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.reduction = nn.Linear(4 * in_dim, out_dim, bias=False)  # registered first, as in torchvision
        self.norm = nn.LayerNorm(4 * in_dim)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] % 2 or x.shape[2] % 2:
            raise ValueError(f"PatchMerging expects a (B, H, W, C) map with even H and W, got {tuple(x.shape)}")
        # the four neighbours of each 2x2 group, in torchvision's order: (0,0), (1,0), (0,1), (1,1)
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        return self.reduction(self.norm(x))  # (B, H/2, W/2, 4C) -> (B, H/2, W/2, out_dim)


class SwinTransformer(nn.Module):
    """Swin Transformer: (B, in_channels, H, W) -> (B, num_classes), H and W divisible by
    patch_size * 2^(stages - 1) * window (224 for swin_t).

    stages: (dim, depth, heads) per stage; stage 1 starts from the patch embedding (a patch_size-strided conv and
    LayerNorm), every later stage from a patch merging. Blocks alternate W-MSA and SW-MSA (shift = window // 2);
    drop_path rises linearly from 0 in the first block to drop_path in the last. The head classifies the mean token.
    """

    def __init__(self, stages: list[tuple[int, int, int]], num_classes: int = 1000, *, patch_size: int = 4,
                 window: int = 7, mlp_ratio: float = 4.0, in_channels: int = 3, drop_path: float = 0.0) -> None:
        super().__init__()
        if not stages:
            raise ValueError("stages must list at least one (dim, depth, heads)")
        self.patch_size, self.window, self.in_channels = patch_size, window, in_channels
        self.multiple = patch_size * 2 ** (len(stages) - 1) * window  # H and W must be multiples of this
        self.patch_embed = PatchEmbed(patch_size, stages[0][0], in_channels=in_channels)
        self.patch_norm = nn.LayerNorm(stages[0][0])
        total, done = sum(depth for _, depth, _ in stages), 0
        self.stages = nn.ModuleList()
        for i, (dim, depth, heads) in enumerate(stages):
            layers: list[nn.Module] = [PatchMerging(stages[i - 1][0], dim)] if i > 0 else []
            for j in range(depth):
                rate = drop_path * (done + j) / max(total - 1, 1)
                layers.append(SwinBlock(dim, heads, window=window, shift=0 if j % 2 == 0 else window // 2,
                                        mlp_ratio=mlp_ratio, drop_path=rate))
            done += depth
            self.stages.append(nn.Sequential(*layers))
        self.norm = nn.LayerNorm(stages[-1][0])
        self.head = nn.Linear(stages[-1][0], num_classes)
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def features(self, X: Tensor) -> Tensor:
        """The last stage's map after the final LayerNorm: (B, C, H, W) -> (B, H/32, W/32, 768) for swin_t."""
        check_images(X, in_channels=self.in_channels, model="SwinTransformer")
        H, W = X.shape[2:]
        if H % self.multiple or W % self.multiple:
            n = len(self.stages)
            raise ValueError(f"SwinTransformer expects H and W divisible by {self.multiple} (patch_size "
                             f"{self.patch_size} x 2^{n - 1} patch merges x window {self.window}), so that every "
                             f"stage's map splits into whole {self.window}x{self.window} windows; got {H}x{W}")
        x = self.patch_embed(X).unflatten(1, (H // self.patch_size, W // self.patch_size))  # (B, H/4, W/4, C)
        x = self.patch_norm(x)
        for stage in self.stages:
            x = stage(x)  # (B, H/4, W/4, 96) -> (B, H/8, W/8, 192) -> ... for swin_t
        return self.norm(x)

    def forward(self, X: Tensor) -> Tensor:
        return self.head(self.features(X).mean(dim=(1, 2)))  # average over all tokens -> (B, num_classes)


def swin_t(num_classes: int = 1000, *, drop_path: float = 0.2) -> SwinTransformer:
    """Swin-T (Liu et al. 2021, Sec. 3.3; SWIN_T_TABLE, window 7): (B, 3, 224, 224) -> (B, num_classes);
    28,288,354 parameters for 1000 classes, as torchvision's swin_t."""
    return SwinTransformer(SWIN_T_TABLE, num_classes, patch_size=4, window=7, drop_path=drop_path)
