"""Convolution written out from scratch; tests/test_conv.py checks each function against PyTorch/torchvision.

Everything works on batched images ``(B, C, H, W)``. Like PyTorch, "convolution" here means
cross-correlation: the kernel is not flipped.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

Pair = int | tuple[int, int]


# --------------------------------------------------------------------------- input checks
def _pair(fn: str, name: str, value, *, low: int) -> tuple[int, int]:
    """An int or a pair of ints, each >= low, as a pair."""
    pair = (value, value) if isinstance(value, int) and not isinstance(value, bool) else value
    if (not isinstance(pair, tuple) or len(pair) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair)):
        raise ValueError(f"{fn}: {name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < low:
        raise ValueError(f"{fn}: {name} must be >= {low}, got {value!r}")
    return pair


def _check_image(fn: str, name: str, x) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}: {name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{fn}: {name} must have shape (B, C, H, W), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{fn}: {name} must be a floating-point tensor, got dtype {x.dtype}")


def _check_bias(fn: str, bias: Tensor | None, out_channels: int) -> None:
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise ValueError(f"{fn}: bias must have shape ({out_channels},), got {tuple(bias.shape)}")


def _same_padding(kernel: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) padding that keeps the size at stride 1; the extra pixel goes right/bottom."""
    total_h, total_w = (d * (k - 1) for k, d in zip(kernel, dilation))
    return (total_w // 2, total_w - total_w // 2, total_h // 2, total_h - total_h // 2)


# --------------------------------------------------------------------------- sizes
def conv_output_size(size: int, *, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of a convolution or pooling along one axis: floor((n + 2p - d(k-1) - 1) / s) + 1."""
    for name, value, low in [("size", size, 1), ("kernel", kernel, 1), ("stride", stride, 1),
                             ("padding", padding, 0), ("dilation", dilation, 1)]:
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"conv_output_size: {name} must be an int >= {low}, got {value!r}")
    span = dilation * (kernel - 1) + 1  # what the (dilated) kernel covers
    if size + 2 * padding < span:
        raise ValueError(f"conv_output_size: the kernel spans {span} pixels, more than the padded "
                         f"input ({size} + 2*{padding} = {size + 2 * padding})")
    return (size + 2 * padding - span) // stride + 1


# --------------------------------------------------------------------------- convolution
def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, *, stride: Pair = 1,
           padding: Pair | str = 0, dilation: Pair = 1, groups: int = 1) -> Tensor:
    """Cross-correlation (B, C_in, H, W) * (C_out, C_in/groups, kh, kw) -> (B, C_out, H', W'), like F.conv2d.

    ``padding`` is an int, a pair, "valid" (no padding) or "same" (stride 1 only; an even kernel
    gets its extra pixel on the right/bottom, as in PyTorch).
    """
    fn = "conv2d"
    _check_image(fn, "x", x)
    if not isinstance(weight, Tensor) or weight.ndim != 4:
        raise ValueError(f"{fn}: weight must have shape (C_out, C_in/groups, kh, kw), got "
                         f"{tuple(weight.shape) if isinstance(weight, Tensor) else type(weight).__name__}")
    if not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{fn}: groups must be a positive int, got {groups!r}")
    batch, c_in, _, _ = x.shape
    c_out, c_in_group, kh, kw = weight.shape
    if c_in % groups or c_out % groups:
        raise ValueError(f"{fn}: groups={groups} must divide both C_in={c_in} and C_out={c_out}")
    if c_in_group != c_in // groups:
        raise ValueError(f"{fn}: weight expects {c_in_group * groups} input channels "
                         f"({c_in_group} per group x {groups} groups), x has {c_in}")
    _check_bias(fn, bias, c_out)
    sh, sw = _pair(fn, "stride", stride, low=1)
    dh, dw = _pair(fn, "dilation", dilation, low=1)
    if padding == "valid":
        pads = (0, 0, 0, 0)
    elif padding == "same":
        if (sh, sw) != (1, 1):
            raise ValueError(f"{fn}: padding='same' needs stride 1, got stride {stride!r}")
        pads = _same_padding((kh, kw), (dh, dw))
    else:
        ph, pw = _pair(fn, "padding", padding, low=0)
        pads = (pw, pw, ph, ph)
    x = F.pad(x, pads)  # zeros around the image: (B, C_in, H + top + bottom, W + left + right)
    h_out = conv_output_size(x.shape[2], kernel=kh, stride=sh, dilation=dh)
    w_out = conv_output_size(x.shape[3], kernel=kw, stride=sw, dilation=dw)

    # Slide the kernel one tap at a time: tap (i, j) sees a strided view of the padded input.
    x = x.reshape(batch, groups, c_in // groups, *x.shape[2:])        # (B, g, C_in/g, H, W)
    w = weight.reshape(groups, c_out // groups, c_in_group, kh, kw)   # (g, C_out/g, C_in/g, kh, kw)
    out = x.new_zeros(batch, groups, c_out // groups, h_out, w_out)
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (h_out - 1) + 1, sh)
            cols = slice(j * dw, j * dw + sw * (w_out - 1) + 1, sw)
            patch = x[:, :, :, rows, cols]                             # (B, g, C_in/g, H', W')
            out = out + torch.einsum("bgchw,goc->bgohw", patch, w[..., i, j])
    out = out.reshape(batch, c_out, h_out, w_out)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


def transposed_conv_by_zero_insertion(x: Tensor, weight: Tensor, bias: Tensor | None = None, *,
                                      stride: Pair = 1, padding: Pair = 0, output_padding: Pair = 0,
                                      dilation: Pair = 1, groups: int = 1) -> Tensor:
    """Transposed convolution as an ordinary one, like F.conv_transpose2d; weight is (C_in, C_out/groups, kh, kw).

    Recipe: put s-1 zeros between neighbouring inputs, pad d(k-1)-p zeros on each side (plus
    output_padding on the right/bottom), then run a stride-1 convolution with the flipped kernel.
    """
    fn = "transposed_conv_by_zero_insertion"
    _check_image(fn, "x", x)
    if not isinstance(weight, Tensor) or weight.ndim != 4:
        raise ValueError(f"{fn}: weight must have shape (C_in, C_out/groups, kh, kw), got "
                         f"{tuple(weight.shape) if isinstance(weight, Tensor) else type(weight).__name__}")
    if not isinstance(groups, int) or groups < 1 or x.shape[1] % groups or weight.shape[0] != x.shape[1]:
        raise ValueError(f"{fn}: weight must have C_in={x.shape[1]} rows and groups must divide C_in; "
                         f"got weight {tuple(weight.shape)}, groups={groups!r}")
    batch, c_in, h, w = x.shape
    _, c_out_group, kh, kw = weight.shape
    _check_bias(fn, bias, c_out_group * groups)
    sh, sw = _pair(fn, "stride", stride, low=1)
    ph, pw = _pair(fn, "padding", padding, low=0)
    oh, ow = _pair(fn, "output_padding", output_padding, low=0)
    dh, dw = _pair(fn, "dilation", dilation, low=1)
    if oh >= max(sh, dh) or ow >= max(sw, dw):
        raise ValueError(f"{fn}: output_padding must be smaller than stride or dilation, got {output_padding!r}")

    # 1. insert s-1 zeros between neighbouring pixels: (B, C_in, (H-1)s+1, (W-1)s+1)
    spread = x.new_zeros(batch, c_in, (h - 1) * sh + 1, (w - 1) * sw + 1)
    spread[:, :, ::sh, ::sw] = x
    # 2. pad d(k-1)-p on every side (a negative amount crops), output_padding extra at the right/bottom
    top, left = dh * (kh - 1) - ph, dw * (kw - 1) - pw
    h_out = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oh + 1
    w_out = (w - 1) * sw - 2 * pw + dw * (kw - 1) + ow + 1
    if min(h_out, w_out) < 1:
        raise ValueError(f"{fn}: padding {padding!r} leaves an empty output ({h_out} x {w_out})")
    spread = F.pad(spread, (left, left + ow, top, top + oh))
    # 3. stride-1 convolution with the flipped kernel, in/out channels swapped within each group
    flipped = weight.flip(2, 3).reshape(groups, c_in // groups, c_out_group, kh, kw)
    flipped = flipped.transpose(1, 2).reshape(groups * c_out_group, c_in // groups, kh, kw)
    return conv2d(spread, flipped, bias, dilation=(dh, dw), groups=groups)


# --------------------------------------------------------------------------- deformable convolution
def bilinear_sample(x: Tensor, ys: Tensor, xs: Tensor) -> Tensor:
    """Values of x (B, C, H, W) at real positions ys, xs (B, *S) -> (B, C, *S); zero outside the image."""
    batch, channels, height, width = x.shape
    y0, x0 = ys.floor(), xs.floor()
    flat = x.reshape(batch, channels, height * width)
    out = 0
    for dy in (0, 1):  # the four neighbouring pixels, each weighted by its closeness
        for dx in (0, 1):
            yi, xi = y0 + dy, x0 + dx
            weight = (1 - (ys - yi).abs()) * (1 - (xs - xi).abs())                 # (B, *S)
            inside = (yi >= 0) & (yi <= height - 1) & (xi >= 0) & (xi <= width - 1)
            index = (yi.clamp(0, height - 1) * width + xi.clamp(0, width - 1)).long()
            values = flat.gather(2, index.reshape(batch, 1, -1).expand(-1, channels, -1))
            out = out + values.reshape(batch, channels, *ys.shape[1:]) * (weight * inside).unsqueeze(1)
    return out


def deform_conv2d(x: Tensor, offset: Tensor, weight: Tensor, bias: Tensor | None = None, *,
                  stride: Pair = 1, padding: Pair = 0, dilation: Pair = 1, mask: Tensor | None = None) -> Tensor:
    """Deformable convolution (Dai et al. 2017; with ``mask``, v2 of Zhu et al. 2019), like torchvision.ops.deform_conv2d.

    x (B, C_in, H, W); offset (B, 2*G*kh*kw, H', W') holding (dy, dx) per tap for G offset groups;
    weight (C_out, C_in/groups, kh, kw); mask (B, G*kh*kw, H', W') -> (B, C_out, H', W').
    """
    fn = "deform_conv2d"
    _check_image(fn, "x", x)
    _check_image(fn, "offset", offset)
    if not isinstance(weight, Tensor) or weight.ndim != 4:
        raise ValueError(f"{fn}: weight must have shape (C_out, C_in/groups, kh, kw)")
    batch, c_in, height, width = x.shape
    c_out, c_in_group, kh, kw = weight.shape
    taps = kh * kw
    if c_in % c_in_group or c_out % (c_in // c_in_group):
        raise ValueError(f"{fn}: weight {tuple(weight.shape)} does not fit {c_in} input channels")
    groups = c_in // c_in_group
    _check_bias(fn, bias, c_out)
    sh, sw = _pair(fn, "stride", stride, low=1)
    ph, pw = _pair(fn, "padding", padding, low=0)
    dh, dw = _pair(fn, "dilation", dilation, low=1)
    h_out = conv_output_size(height, kernel=kh, stride=sh, padding=ph, dilation=dh)
    w_out = conv_output_size(width, kernel=kw, stride=sw, padding=pw, dilation=dw)
    offset_groups = offset.shape[1] // (2 * taps)
    if (offset.shape[0] != batch or offset.shape[1] != 2 * taps * offset_groups or offset_groups < 1
            or c_in % offset_groups or tuple(offset.shape[2:]) != (h_out, w_out)):
        raise ValueError(f"{fn}: offset must have shape ({batch}, 2*G*{taps}, {h_out}, {w_out}) with G "
                         f"dividing {c_in}, got {tuple(offset.shape)}")
    if mask is not None and tuple(mask.shape) != (batch, offset_groups * taps, h_out, w_out):
        raise ValueError(f"{fn}: mask must have shape {(batch, offset_groups * taps, h_out, w_out)}, "
                         f"got {tuple(mask.shape)}")

    # Where each tap of each output pixel looks on the regular grid (no padding added: outside = 0).
    ky, kx = torch.meshgrid(torch.arange(kh) * dh, torch.arange(kw) * dw, indexing="ij")
    oy, ox = torch.meshgrid(torch.arange(h_out) * sh - ph, torch.arange(w_out) * sw - pw, indexing="ij")
    grid_y = (ky.reshape(taps, 1, 1) + oy).to(x)                                 # (taps, H', W')
    grid_x = (kx.reshape(taps, 1, 1) + ox).to(x)
    offset = offset.reshape(batch, offset_groups, taps, 2, h_out, w_out)
    ys = grid_y + offset[:, :, :, 0]                                               # (B, G, taps, H', W')
    xs = grid_x + offset[:, :, :, 1]

    # Bilinear sampling, offset group by offset group: columns (B, C_in, taps, H', W')
    per_group = c_in // offset_groups
    columns = torch.cat([bilinear_sample(x[:, g * per_group:(g + 1) * per_group], ys[:, g], xs[:, g])
                         for g in range(offset_groups)], dim=1)
    if mask is not None:  # modulation: one scalar per tap, shared by the channels of an offset group
        columns = columns * mask.reshape(batch, offset_groups, 1, taps, h_out, w_out).repeat_interleave(
            per_group, dim=2).reshape(batch, c_in, taps, h_out, w_out)

    # An ordinary (grouped) convolution on the sampled columns.
    columns = columns.reshape(batch, groups, c_in_group, taps, h_out, w_out)
    w = weight.reshape(groups, c_out // groups, c_in_group, taps)
    out = torch.einsum("bgcthw,goct->bgohw", columns, w).reshape(batch, c_out, h_out, w_out)
    return out if bias is None else out + bias.view(1, -1, 1, 1)
