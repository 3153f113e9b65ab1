"""8-bit RGB pixels <-> float32 tensors, exactly as `docs/preprocessing.md` ("Pixels to tensor",
"Tensor to pixels") writes them.

The arithmetic is spelled out operation by operation in float32, `(v * (hi - lo)) / 255 + lo`, not
`v / 255 * (hi - lo) + lo`: with this order a [0, 255] range gives back the integer exactly and
every language that rounds each float32 operation (Kotlin, Swift, numpy; JavaScript with
`Math.fround`) produces the same bits.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from pix2mobile.errors import ConfigError

LAYOUTS = ("NCHW", "NHWC")


def check_rgb(pixels: np.ndarray) -> np.ndarray:
    """An (H, W, 3) uint8 array (an (H, W, 4) one loses its alpha: it is dropped, not composited)."""
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise ConfigError(f"expected 8-bit RGB(A) pixels of shape (H, W, 3|4), got {pixels.dtype} {pixels.shape}")
    return pixels[..., :3]


def to_tensor(pixels: np.ndarray, value_range: Sequence[float], layout: str = "NCHW") -> np.ndarray:
    """(H, W, 3|4) uint8 -> (1, 3, H, W) or (1, H, W, 3) float32 in `value_range`."""
    rgb = check_rgb(pixels)
    lo, hi = np.float32(value_range[0]), np.float32(value_range[1])
    span = np.float32(hi - lo)
    x = (rgb.astype(np.float32) * span) / np.float32(255.0) + lo
    return _layout(x, layout)


def to_pixels(tensor: np.ndarray, value_range: Sequence[float], layout: str = "NCHW") -> np.ndarray:
    """(1, 3, H, W) or (1, H, W, 3) values in `value_range` -> (H, W, 3) uint8.

    float32 u = ((y - lo) * 255) / (hi - lo); pixel = floor(u + 0.5) in float64, clamped to
    [0, 255]; NaN becomes 0. Values outside the range clamp (a generator may overshoot)."""
    y = np.asarray(tensor, dtype=np.float32)
    if y.ndim != 4 or y.shape[0] != 1:
        raise ConfigError(f"expected one image tensor (1, C, H, W) or (1, H, W, C), got shape {y.shape}")
    hwc = y[0].transpose(1, 2, 0) if layout == "NCHW" else y[0]
    if layout not in LAYOUTS:
        raise ConfigError(f"image layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if hwc.shape[2] != 3:
        raise ConfigError(f"expected 3 colour channels in {layout}, got shape {y.shape}")
    lo, hi = np.float32(value_range[0]), np.float32(value_range[1])
    with np.errstate(invalid="ignore", over="ignore"):
        u = ((hwc - lo) * np.float32(255.0)) / np.float32(hi - lo)
        v = np.floor(u.astype(np.float64) + 0.5)
    v = np.where(np.isnan(v), 0.0, np.clip(v, 0.0, 255.0))
    return v.astype(np.uint8)


def _layout(hwc: np.ndarray, layout: str) -> np.ndarray:
    if layout == "NCHW":
        return np.ascontiguousarray(hwc.transpose(2, 0, 1)[None])
    if layout == "NHWC":
        return np.ascontiguousarray(hwc[None])
    raise ConfigError(f"image layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
