"""The one resampler of the contract: separable triangle filter, float64, fixed summation order.

Why not PIL or OpenCV: Android's `Bitmap.createScaledBitmap`, Core Image, the browser's canvas and
PIL each resample differently (and some change between versions), so a letterboxed tensor would
differ by several levels between Python and an app. This filter is short enough to write in any
language from `docs/preprocessing.md` and, computed in float64 in the stated order with only
+ - * / and floor, gives the same bits everywhere. It is PIL's BILINEAR with antialiasing:
when shrinking, the triangle widens to the scale factor, so a 4032-px photo shrunk to 256 px
averages every source pixel instead of aliasing.
"""

from __future__ import annotations

import math

import numpy as np

from pix2mobile.errors import ConfigError

ROWS_PER_CHUNK = 256
"""Output rows computed at once in the vertical pass (bounds memory on 12-megapixel photos)."""


def axis_weights(n_in: int, n_out: int) -> tuple[list[int], list[list[float]]]:
    """For each output index: the first input index and the normalised tap weights.

    scale = n_in / n_out; support = max(scale, 1); centre = (i + 0.5) * scale;
    first = max(0, floor(centre - support + 0.5)); last = min(n_in, floor(centre + support + 0.5));
    w_j = max(0, 1 - |((j + 0.5) - centre) / support|) for j in [first, last), then each divided by
    their sum (summed from the first tap)."""
    if n_in < 1 or n_out < 1:
        raise ConfigError(f"cannot resize {n_in} pixels to {n_out}")
    scale = n_in / n_out
    support = max(scale, 1.0)
    firsts, weights = [], []
    for i in range(n_out):
        centre = (i + 0.5) * scale
        first = max(0, math.floor(centre - support + 0.5))
        last = min(n_in, math.floor(centre + support + 0.5))
        w = []
        for j in range(first, last):
            t = abs(((j + 0.5) - centre) / support)
            w.append(1.0 - t if t < 1.0 else 0.0)
        total = 0.0
        for x in w:
            total += x
        firsts.append(first)
        weights.append([x / total for x in w])
    return firsts, weights


def _pass(src: np.ndarray, n_out: int, axis: int) -> np.ndarray:
    """Resample float64 `src` along `axis` (0: rows, 1: columns) to `n_out`."""
    n_in = src.shape[axis]
    firsts, weights = axis_weights(n_in, n_out)
    taps = max(len(w) for w in weights)
    # pad every output's taps to the same count with zero weights on index `first` (adds +0.0, exact)
    idx = np.zeros((n_out, taps), dtype=np.int64)
    wts = np.zeros((n_out, taps), dtype=np.float64)
    for i, (f, w) in enumerate(zip(firsts, weights)):
        idx[i, :len(w)] = np.arange(f, f + len(w))
        idx[i, len(w):] = f
        wts[i, :len(w)] = w
    if axis == 1:
        out = np.zeros((src.shape[0], n_out, src.shape[2]), dtype=np.float64)
        for k in range(taps):                     # acc = acc + w_k * in_k, taps in order
            out = out + wts[None, :, k, None] * src[:, idx[:, k], :]
        return out
    out = np.zeros((n_out, src.shape[1], src.shape[2]), dtype=np.float64)
    for lo in range(0, n_out, ROWS_PER_CHUNK):
        hi = min(n_out, lo + ROWS_PER_CHUNK)
        acc = np.zeros((hi - lo, src.shape[1], src.shape[2]), dtype=np.float64)
        for k in range(taps):
            acc = acc + wts[lo:hi, k, None, None] * src[idx[lo:hi, k], :, :]
        out[lo:hi] = acc
    return out


def round_pixels(x: np.ndarray) -> np.ndarray:
    """float64 -> uint8: floor(x + 0.5) clamped to [0, 255]."""
    return np.clip(np.floor(x + 0.5), 0.0, 255.0).astype(np.uint8)


def resize(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, C) uint8 -> (h, w, C) uint8: columns first, then rows, one rounding at the end.
    An axis whose length does not change is copied, not filtered."""
    h, w = int(size[0]), int(size[1])
    if pixels.dtype != np.uint8 or pixels.ndim != 3:
        raise ConfigError(f"resize takes (H, W, C) uint8 pixels, got {pixels.dtype} {pixels.shape}")
    if (h, w) == pixels.shape[:2]:
        return pixels.copy()
    x = pixels.astype(np.float64)
    if w != pixels.shape[1]:
        x = _pass(x, w, axis=1)
    if h != pixels.shape[0]:
        x = _pass(x, h, axis=0)
    return round_pixels(x)
