"""Request bytes -> 8-bit RGB pixels, and pixels -> PNG bytes, in memory only.

Decoding follows `data.images.load_image` step by step (Pillow decode, EXIF orientation, alpha over
white, wide greys scaled; `to_rgb` is the same function), so a photo posted to the server gives the
pixels `pix2mobile apply` reads from the same file. What differs is where the bytes come from
(a request body, never a file on disk) and that every refusal is an `ApiError` carrying its HTTP
status: the pixel count is checked on the header, before any pixel is decoded.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from pix2mobile.data.images import to_rgb
from pix2mobile.errors import Pix2MobileError

DEFAULT_MAX_BYTES = 20_000_000
"""Largest request body (20 MB): bigger uploads are refused with 413 while the body streams in."""
DEFAULT_MAX_PIXELS = 40_000_000
"""Largest photo (width x height, 40 megapixels: past any phone camera's 12-24 MP and a 50 MP
sensor's binned output). Checked on the header; a larger one is refused as a decompression bomb
before decoding. Running it costs about 40 bytes a pixel at the peak (float64 resampling)."""

_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, IndexError, TypeError)


class ApiError(Pix2MobileError):
    """A refusal the API answers with `status` and {"error": message}."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def decode(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Image file bytes -> (H, W, 3) uint8 RGB, or ApiError 400 (empty, corrupt, too many pixels)
    or 415 (not an image Pillow knows)."""
    if not data:
        raise ApiError(400, "the request body is empty: send the photo's bytes (a PNG, JPEG, WebP, ... file)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ApiError(415, "not an image: Pillow recognises none of its formats in the body") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ApiError(400, f"refused as a possible decompression bomb ({exc})") from None
    except _DECODE_ERRORS as exc:
        raise ApiError(400, f"the image is corrupt ({_one_line(exc)})") from None
    with img:
        width, height = img.size
        if width * height > max_pixels:
            raise ApiError(400, f"{width}x{height} = {width * height} pixels is over this server's limit of "
                                f"{max_pixels} (decompression-bomb guard, checked before decoding); send a "
                                "smaller photo")
        try:
            img.load()
            rgb = to_rgb(ImageOps.exif_transpose(img))
            return np.asarray(rgb, dtype=np.uint8).copy()
        except _DECODE_ERRORS as exc:
            text = _one_line(exc)
            what = "truncated" if "truncated" in text.lower() else "corrupt"
            raise ApiError(400, f"the image is {what} ({text})") from None


def encode_png(pixels: np.ndarray) -> bytes:
    """(H, W, 3) uint8 -> PNG bytes (lossless: the pixels read back exactly)."""
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG", compress_level=3)
    return buf.getvalue()


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
