"""Numpy kernels shared by the ML Program and NeuralNetwork evaluators of `coreml_eval`.

Everything computes in float32 on NCHW arrays; kernels with a `half` flag can instead keep their
intermediates in fp16, as `coreml_eval.evaluator` explains. Padding, output sizes and sampling grids follow
the Core ML specification texts (MIL op docs in coremltools, NeuralNetwork.proto), not PyTorch,
so a converter that got a rule wrong shows up as a mismatch.
"""

from __future__ import annotations

import logging
import math
from typing import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from pix2mobile.errors import VerificationError

log = logging.getLogger(__name__)

F32 = np.float32
TILE_BYTES = 32 << 20
"""The most a conv's im2col tile may take: a memory bound (no size from 4 to 64 MiB was consistently
faster on johnson's layers at 512^2)."""


def conv2d(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, strides: Sequence[int],
           pads: Sequence[int], dilations: Sequence[int], groups: int) -> np.ndarray:
    """Grouped, strided, dilated 2-D convolution; `pads` is (top, bottom, left, right) of zeros.

    im2col in tiles of output rows: each tile's columns (C/groups * kH * kW, rows * W_out) are
    copied into one reused buffer of at most `TILE_BYTES` and multiplied by the weight matrix in
    one GEMM. The whole im2col array is what made johnson's last 9x9 conv need 11 GB at 1024^2;
    a tile keeps the extra memory at the buffer plus the output whatever the image size. The
    columns are laid out as the whole im2col's were, so results equal the untiled ones to float
    round-off (bit for bit on johnson's layers at 256^2). One matmul per kernel tap (no copies at
    all for stride 1) was as fast on johnson's layers at 256^2 but sums in another order and needs
    a copy per tap once strided.
    """
    x = np.pad(np.asarray(x, F32), ((0, 0), (0, 0), (pads[0], pads[1]), (pads[2], pads[3])))
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    if c != cg * groups or o % groups:
        raise VerificationError(f"conv: {c} input channels do not fit weights {w.shape} with {groups} groups")
    (sh, sw), (dh, dw) = strides, dilations
    eh, ew = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    ho, wo = (h - eh) // sh + 1, (wd - ew) // sw + 1
    if ho <= 0 or wo <= 0:
        raise VerificationError(f"conv: kernel {eh}x{ew} is larger than the padded input {h}x{wd}")
    # numpy's stub types `axis` as one index; numpy documents and accepts a tuple of axes
    win = sliding_window_view(x, (eh, ew), axis=(2, 3))  # type: ignore[call-overload]
    win = win[:, :, ::sh, ::sw, ::dh, ::dw][:, :, :ho, :wo]
    og, k = o // groups, cg * kh * kw
    weights = np.asarray(w, F32).reshape(groups, og, k)
    out = np.empty((n, o, ho, wo), F32)
    rows = max(1, min(ho, TILE_BYTES // (max(k, og) * wo * 4)))   # the GEMM's result is bounded too
    buf = np.empty((cg, kh, kw, rows, wo), F32)
    for b in range(n):
        for g in range(groups):
            for r0 in range(0, ho, rows):
                r1 = min(ho, r0 + rows)
                cols = buf[:, :, :, :r1 - r0]
                np.copyto(cols, win[b, g * cg:(g + 1) * cg, r0:r1].transpose(0, 3, 4, 1, 2))
                out[b, g * og:(g + 1) * og, r0:r1] = (weights[g] @ cols.reshape(k, -1)).reshape(og, r1 - r0, wo)
    return _add_channel_bias(out, bias)


def conv_transpose2d(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, strides: Sequence[int],
                     dilations: Sequence[int], groups: int, crop: Sequence[int],
                     out_hw: Sequence[int] | None = None) -> np.ndarray:
    """Transposed convolution: scatter every input pixel, crop `crop` (top, bottom, left, right),
    then, when `out_hw` is given, cut or zero-extend at the bottom/right to that size.

    `w` is (C_in, C_out/groups, kH, kW). Top-left anchoring of `out_hw` is what the PyTorch and
    TF converters assume when they encode `output_padding` as an explicit output shape.
    """
    n, c, h, wd = x.shape
    cw, og, kh, kw = w.shape
    if c != cw or c % groups:
        raise VerificationError(f"conv_transpose: {c} input channels do not fit weights {w.shape}")
    (sh, sw), (dh, dw) = strides, dilations
    full_h, full_w = (h - 1) * sh + (kh - 1) * dh + 1, (wd - 1) * sw + (kw - 1) * dw + 1
    out = np.zeros((n, og * groups, full_h, full_w), F32)
    xg = x.reshape(n, groups, c // groups, h, wd)
    wg = w.reshape(groups, c // groups, og, kh, kw)
    for i in range(kh):
        for j in range(kw):
            part = np.einsum("ngchw,gco->ngohw", xg, wg[..., i, j]).reshape(n, og * groups, h, wd)
            out[:, :, i * dh:i * dh + (h - 1) * sh + 1:sh, j * dw:j * dw + (wd - 1) * sw + 1:sw] += part
    top, bottom, left, right = crop
    out = out[:, :, top:full_h - bottom, left:full_w - right]
    if out_hw is not None:
        th, tw = int(out_hw[0]), int(out_hw[1])
        out = out[:, :, :th, :tw]
        out = np.pad(out, ((0, 0), (0, 0), (0, th - out.shape[2]), (0, tw - out.shape[3])))
    return _add_channel_bias(out, bias)


def same_pads(size: int, kernel: int, stride: int, dilation: int = 1, top_heavy: bool = False) -> tuple[int, int]:
    """'same' padding: output ceil(size/stride); the odd pixel goes bottom/right unless `top_heavy`."""
    eff = (kernel - 1) * dilation + 1
    return split_pad((math.ceil(size / stride) - 1) * stride + eff - size, top_heavy)


def split_pad(total: int, top_heavy: bool = False) -> tuple[int, int]:
    """Split `total` (at least 0) padding between before and after; the odd one goes after
    unless `top_heavy`."""
    total = max(total, 0)
    small = total // 2
    return (total - small, small) if top_heavy else (small, total - small)


def pad(x: np.ndarray, widths: Sequence[tuple[int, int]], mode: str, value: float = 0.0) -> np.ndarray:
    """Pad the last len(widths) axes; mode is constant, reflect (no edge repeat) or replicate."""
    full = [(0, 0)] * (x.ndim - len(widths)) + [(int(a), int(b)) for a, b in widths]
    if mode == "constant":
        return np.pad(x, full, mode="constant", constant_values=value)
    if mode in ("reflect", "replicate"):
        return np.pad(x, full, mode="reflect" if mode == "reflect" else "edge")
    raise VerificationError(f"pad mode '{mode}' is not supported by pix2mobile's Core ML evaluator")


def pool2d(x: np.ndarray, kind: str, kernel: Sequence[int], strides: Sequence[int], pads: Sequence[int],
           ceil_mode: bool = False, exclude_pad: bool = False, half: bool = False) -> np.ndarray:
    """max / avg / l2 pooling over the last two axes; `pads` is (top, bottom, left, right).

    With `ceil_mode` a last partial window is kept when it starts inside the input or top/left pad.
    Averages divide by the window's cells inside the padded input, or inside the input alone
    when `exclude_pad`. `half`: l2 pooling squares into fp16 values (sums stay float32).
    """
    h, w = x.shape[-2:]
    (kh, kw), (sh, sw) = kernel, strides
    t, b, left, right = pads
    sizes = []
    for size, k, s, lo, hi in ((h, kh, sh, t, b), (w, kw, sw, left, right)):
        span = size + lo + hi - k
        out = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (out - 1) * s >= size + lo:
            out -= 1
        sizes.append(out)
    ho, wo = sizes
    extra_h, extra_w = max((ho - 1) * sh + kh - (h + t + b), 0), max((wo - 1) * sw + kw - (w + left + right), 0)
    widths = ((t, b + extra_h), (left, right + extra_w))
    fill = -np.inf if kind == "max" else 0.0
    xp = pad(x, widths, "constant", fill)
    # numpy's stub types `axis` as one index; numpy documents and accepts a tuple of axes
    win = sliding_window_view(xp, (kh, kw), axis=(-2, -1))  # type: ignore[call-overload]
    win = win[..., ::sh, ::sw, :, :][..., :ho, :wo, :, :]
    if kind == "max":
        return win.max(axis=(-2, -1))
    if kind == "l2":
        return np.sqrt((fp16 if half else _same)(np.square(win)).sum(axis=(-2, -1)))
    if exclude_pad:
        inside = np.pad(np.ones((h, w), F32), widths)
    else:
        inside = np.pad(np.ones((h + t + b, w + left + right), F32), ((0, extra_h), (0, extra_w)))
    count = sliding_window_view(inside, (kh, kw))[::sh, ::sw][:ho, :wo].sum(axis=(-2, -1))
    return win.sum(axis=(-2, -1)) / np.maximum(count, 1.0)


def grid(n_in: int, n_out: int, mode: str) -> np.ndarray:
    """Source coordinates of `n_out` samples over an axis of `n_in` (Core ML sampling modes)."""
    i = np.arange(n_out, dtype=np.float64)
    if mode in ("STRICT_ALIGN_CORNERS", "ALIGN_CORNERS"):
        if n_out == 1:
            pos = np.full(1, (n_in - 1) / 2 if mode == "ALIGN_CORNERS" else 0.0)
        else:
            pos = i * (n_in - 1) / (n_out - 1)
    elif mode == "DEFAULT":
        pos = i * ((n_in - n_in / n_out) / (n_out - 1)) if n_out > 1 else np.zeros(1)
    elif mode == "OFFSET_CORNERS":
        delta = max(1, n_in - 1) / n_out
        pos = 0.5 * delta + i * delta
    elif mode == "UNALIGN_CORNERS":
        spacing = n_in / n_out
        pos = i * spacing + 0.5 * spacing - 0.5
    else:
        raise VerificationError(f"sampling mode '{mode}' is not supported by pix2mobile's Core ML evaluator")
    return np.clip(pos, 0, n_in - 1)


def bilinear(x: np.ndarray, out_h: int, out_w: int, mode: str) -> np.ndarray:
    """Resize the last two axes by linear interpolation on the `grid` of `mode`."""
    for axis, n_out in ((-2, out_h), (-1, out_w)):
        pos = grid(x.shape[axis], n_out, mode)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, x.shape[axis] - 1)
        frac = (pos - lo).astype(F32)
        shape = [1] * x.ndim
        shape[axis] = n_out
        frac = frac.reshape(shape)
        x = np.take(x, lo, axis=axis) * (1 - frac) + np.take(x, hi, axis=axis) * frac
    return x.astype(F32)


def nearest(x: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Nearest-neighbour resize of the last two axes: source index floor(i * in / out).

    Sizes, not the op's float scale factor: converters write factors nudged up (2.5000062 for
    16 -> 40) so that floor(in * factor) lands on the size they want, and dividing by the nudged
    factor would pick the wrong pixel.
    """
    for axis, n_out in ((-2, out_h), (-1, out_w)):
        n_in = x.shape[axis]
        idx = np.minimum((np.arange(n_out) * n_in) // n_out, n_in - 1)
        x = np.take(x, idx, axis=axis)
    return x


def normalize(x: np.ndarray, axes: tuple[int, ...], eps: float, half: bool = False) -> np.ndarray:
    """(x - mean) / sqrt(var + eps) over `axes`, with the biased variance.

    `half`: as an fp16 kernel computes it (see `coreml_eval.evaluator`): sums accumulate in float32, every
    elementwise intermediate (x - mean, its square, var + eps, the reciprocal root, the product)
    is an fp16 value, so a deviation from the mean above 256 squares to inf.
    """
    r = fp16 if half else _same
    mean = r(x.mean(axis=axes, keepdims=True, dtype=F32))
    d = r(x - mean)
    var = r(r(np.square(d)).mean(axis=axes, keepdims=True, dtype=F32))
    if half and not np.isfinite(var).all():
        log.warning("fp16 overflow: a normalisation saw |x - mean| above 256, so its fp16 variance is inf and "
                    "%d of %d channels come out as 0 on an fp16 device", int((~np.isfinite(var)).sum()), var.size)
    return r(d * r(1.0 / r(np.sqrt(r(var + F32(eps))))))


def fp16(x: np.ndarray) -> np.ndarray:
    """Round to float16 and back: what storing a value in an fp16 tensor does (beyond 65504: inf)."""
    with np.errstate(over="ignore"):
        return np.asarray(x).astype(np.float16).astype(F32)


def _same(x: np.ndarray) -> np.ndarray:
    return x


def channel_affine(x: np.ndarray, gamma: np.ndarray | None, beta: np.ndarray | None, axis: int = 1) -> np.ndarray:
    """x * gamma + beta with per-channel vectors along `axis`."""
    shape = [1] * x.ndim
    shape[axis] = -1
    if gamma is not None:
        x = x * np.asarray(gamma, F32).reshape(shape)
    if beta is not None:
        x = x + np.asarray(beta, F32).reshape(shape)
    return x


def _add_channel_bias(out: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    out = out.astype(F32, copy=False)
    return out if bias is None else channel_affine(out, None, bias)


def erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7, below float32 resolution): numpy has no erf."""
    x64 = np.asarray(x, np.float64)
    t = 1.0 / (1.0 + 0.3275911 * np.abs(x64))
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return (np.sign(x64) * (1.0 - poly * np.exp(-x64 * x64))).astype(F32)


def sigmoid(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return (1.0 / (1.0 + np.exp(-x))).astype(F32)


def gelu(x: np.ndarray, mode: str) -> np.ndarray:
    if mode == "EXACT":
        return 0.5 * x * (1.0 + erf(x / np.sqrt(F32(2.0))))
    if mode == "TANH_APPROXIMATION":
        return 0.5 * x * (1.0 + np.tanh(F32(math.sqrt(2 / math.pi)) * (x + F32(0.044715) * x ** 3)))
    if mode == "SIGMOID_APPROXIMATION":
        return x * sigmoid(F32(1.702) * x)
    raise VerificationError(f"gelu mode '{mode}' is not supported by pix2mobile's Core ML evaluator")


def softmax(x: np.ndarray, axis: int, half: bool = False) -> np.ndarray:
    """exp(x - max) / sum; with `half`, the exponentials and their sum are fp16 values (sum in float32)."""
    r = fp16 if half else _same
    e = r(np.exp(r(x - x.max(axis=axis, keepdims=True))))
    return e / r(e.sum(axis=axis, keepdims=True, dtype=F32))


def depth_to_space(x: np.ndarray, block: int, pixel_shuffle: bool) -> np.ndarray:
    """DCR order (TF depth_to_space) or, with `pixel_shuffle`, CRD order (PyTorch PixelShuffle)."""
    n, c, h, w = x.shape
    oc = c // (block * block)
    if pixel_shuffle:
        y = x.reshape(n, oc, block, block, h, w).transpose(0, 1, 4, 2, 5, 3)
    else:
        y = x.reshape(n, block, block, oc, h, w).transpose(0, 3, 4, 1, 5, 2)
    return y.reshape(n, oc, h * block, w * block)


def space_to_depth(x: np.ndarray, block: int, pixel_unshuffle: bool) -> np.ndarray:
    """Inverse of `depth_to_space` for the same order."""
    n, c, h, w = x.shape
    y = x.reshape(n, c, h // block, block, w // block, block)
    y = y.transpose(0, 1, 3, 5, 2, 4) if pixel_unshuffle else y.transpose(0, 3, 5, 1, 2, 4)
    return y.reshape(n, c * block * block, h // block, w // block)
