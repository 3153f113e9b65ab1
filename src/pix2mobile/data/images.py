"""The one image loader, and the few conversions every other module needs.

Everything that reads a picture goes through `load_image`, so every caller gets the same
guarantees: RGB out, EXIF orientation applied, alpha flattened onto white, 16-bit and float
images scaled (not clipped) to 8 bit, and one `ImageError` line naming the file for anything
that cannot be used. Tensors are float32 (3, H, W) in [0, 1]; mapping onto a model's range is
the model's `TensorSpec`'s job, not this module's.
"""

from __future__ import annotations

import contextlib
import logging
import os
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from pix2mobile import files
from pix2mobile.errors import ImageError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES: tuple[str, ...] = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")
"""Suffixes (lower case) that dataset discovery treats as images."""

DEFAULT_MAX_PIXELS = 64_000_000
"""Decompression-bomb guard: larger images are refused before their pixels are decoded."""

_GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_ROTATED_ORIENTATIONS = frozenset({5, 6, 7, 8})  # EXIF orientations that swap width and height
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error,
                  IndexError, TypeError)  # what Pillow's plugins raise on damaged data


@dataclass(frozen=True)
class ImageInfo:
    """What a file's header says, read without decoding its pixels (unless asked to)."""

    path: Path
    format: str
    mode: str
    size: tuple[int, int]  # (width, height) after EXIF orientation

    @property
    def colour(self) -> str:
        """'greyscale' or 'colour', judged from the PIL mode alone (palette images count as colour)."""
        return "greyscale" if self.mode in _GREY_MODES else "colour"


def load_image(path: str | os.PathLike[str], *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Read any image file as a fully decoded RGB image, or raise one clear `ImageError`.

    `max_pixels` (None: no limit of ours) is checked on the header, before decoding. Pillow's own
    decompression-bomb limit (`PIL.Image.MAX_IMAGE_PIXELS`) is reported the same way.
    """
    p = Path(path)
    with _opened(p, max_pixels) as img:
        try:
            img.load()  # full decode here, so truncation is caught here
            img = ImageOps.exif_transpose(img)
            return to_rgb(img)
        except _DECODE_ERRORS as exc:
            raise ImageError(_describe_failure(p, exc)) from exc


def probe_image(path: str | os.PathLike[str], *, max_pixels: int | None = DEFAULT_MAX_PIXELS,
                decode: bool = False) -> ImageInfo:
    """Read a file's header (format, mode, oriented size); with `decode`, also decode every pixel.

    Datasets call this on every file before training so a bad file fails the run at start-up.
    """
    p = Path(path)
    with _opened(p, max_pixels) as img:
        try:
            size = img.size
            if _header_orientation(img) in _ROTATED_ORIENTATIONS:
                size = (size[1], size[0])
            if decode:
                img.load()
            return ImageInfo(path=p, format=img.format or "?", mode=img.mode, size=size)
        except _DECODE_ERRORS as exc:
            raise ImageError(_describe_failure(p, exc)) from exc


def _header_orientation(img: Image.Image) -> int | None:
    """The EXIF orientation if the header already holds it (`getexif()` may decode a PNG)."""
    if "exif" in img.info:
        exif = Image.Exif()
        exif.load(img.info["exif"])
        return exif.get(0x0112)
    tags = getattr(img, "tag_v2", None)  # TIFF keeps orientation among its own tags
    return tags.get(0x0112) if tags is not None else None


@contextlib.contextmanager
def _opened(p: Path, max_pixels: int | None) -> Iterator[Image.Image]:
    """`Image.open` (header only) with every way of failing turned into one `ImageError` line."""
    if not p.exists():
        raise ImageError(f"cannot read image {p}: no such file; check the path")
    if p.is_dir():
        raise ImageError(f"cannot read image {p}: it is a directory, not an image file")
    if p.stat().st_size == 0:
        raise ImageError(f"cannot read image {p}: the file is empty (0 bytes); re-copy or remove it")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(p)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"cannot read image {p}: refused as a possible decompression bomb "
                         f"({exc}); shrink the image or raise PIL.Image.MAX_IMAGE_PIXELS") from exc
    except UnidentifiedImageError as exc:
        raise ImageError(f"cannot read image {p}: not an image file (Pillow does not recognise "
                         f"its contents, whatever its suffix)") from exc
    except PermissionError as exc:
        raise ImageError(f"cannot read image {p}: permission denied") from exc
    except _DECODE_ERRORS as exc:
        raise ImageError(_describe_failure(p, exc)) from exc
    try:
        width, height = img.size
        if max_pixels is not None and width * height > max_pixels:
            raise ImageError(f"cannot read image {p}: {width}x{height} = {width * height} pixels is "
                             f"over the limit of {max_pixels} (decompression-bomb guard); shrink the "
                             f"image or raise max_pixels")
        yield img
    finally:
        img.close()


def _describe_failure(path: Path, exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if "truncated" in text.lower():
        return f"cannot read image {path}: the file is truncated ({text}); re-copy or remove it"
    return f"cannot read image {path}: the file is corrupt ({text}); re-copy or remove it"


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB: alpha over white, wide greys scaled to 0..255."""
    if img.mode == "RGB" and "transparency" not in img.info:
        return img
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        return Image.fromarray(_wide_grey_to_uint8(img)).convert("RGB")
    if img.mode in _ALPHA_MODES or "transparency" in img.info:
        rgba = img.convert("LA").convert("RGBA") if img.mode == "La" else img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    try:
        return img.convert("RGB")
    except ValueError as exc:
        name = getattr(img, "filename", "") or "image"
        raise ImageError(f"cannot convert {name} from mode {img.mode} to RGB ({exc})") from exc


def _wide_grey_to_uint8(img: Image.Image) -> np.ndarray:
    """Scale a 16-bit, 32-bit integer or float greyscale image to uint8 without clipping.

    I;16: full 0..65535 range. I: 0..255 kept, 0..65535 scaled, anything else stretched min..max.
    F: 0..1 scaled, 0..255 kept, anything else stretched min..max.
    """
    a = np.asarray(img).astype(np.float64)
    if img.mode.startswith("I;16"):
        return np.round(a * (255.0 / 65535.0)).astype(np.uint8)
    a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if img.mode == "F" and lo >= 0.0 and hi <= 1.0:
        scaled = a * 255.0
    elif lo >= 0.0 and hi <= 255.0:
        scaled = a
    elif img.mode == "I" and lo >= 0.0 and hi <= 65535.0:
        scaled = a * (255.0 / 65535.0)
    else:
        scaled = (a - lo) * (255.0 / (hi - lo))
    return np.clip(np.round(scaled), 0, 255).astype(np.uint8)


def to_tensor(img: Image.Image) -> torch.Tensor:
    """PIL image -> float32 tensor (3, H, W) in [0, 1]."""
    a = np.asarray(to_rgb(img), dtype=np.uint8)
    return torch.from_numpy(a.copy()).permute(2, 0, 1).float().div_(255.0)


def to_pil(tensor: torch.Tensor) -> Image.Image:
    """Tensor (3, H, W), (1, 3, H, W) or (H, W) in [0, 1] -> RGB image (values outside are clamped)."""
    t = tensor.detach().to("cpu", torch.float32)
    if t.dim() == 4 and t.shape[0] == 1:
        t = t[0]
    if t.dim() == 2:
        t = t.unsqueeze(0)
    if t.dim() != 3 or t.shape[0] not in (1, 3):
        raise ValueError(f"to_pil needs a (3, H, W) or (1, 3, H, W) tensor, got shape {tuple(tensor.shape)}")
    if t.shape[0] == 1:
        t = t.expand(3, -1, -1)
    a = t.clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(np.ascontiguousarray(a), "RGB")


def save_image(image: torch.Tensor | Image.Image, path: str | os.PathLike[str], *, quality: int = 95) -> Path:
    """Write an image atomically (temp file + rename); the format comes from the suffix."""
    final = Path(path)
    fmt = Image.registered_extensions().get(final.suffix.lower())
    if fmt is None or fmt not in Image.SAVE:
        raise ImageError(f"cannot save image {final}: unknown suffix '{final.suffix}'; "
                         f"use one of {', '.join(IMAGE_SUFFIXES)}")
    img = to_pil(image) if isinstance(image, torch.Tensor) else to_rgb(image)
    options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    with files.atomic_path(final) as tmp:
        img.save(tmp, format=fmt, **options)
    log.debug("saved %s (%dx%d)", final, *img.size)
    return final


def resize_shorter(img: Image.Image, n: int) -> Image.Image:
    """Resize so the shorter side is `n` pixels, keeping the aspect ratio."""
    w, h = img.size
    scale = n / min(w, h)
    size = (max(n, round(w * scale)), max(n, round(h * scale)))
    return img if size == (w, h) else img.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)


def resize_longer(img: Image.Image, n: int) -> Image.Image:
    """Resize so the longer side is `n` pixels, keeping the aspect ratio."""
    w, h = img.size
    scale = n / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return img if size == (w, h) else img.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)


def crop_box(img_size: tuple[int, int], size: int, *, generator: torch.Generator | None = None,
             random: bool = False) -> tuple[int, int, int, int]:
    """A size x size box (left, top, right, bottom): centred, or uniformly random with `random`."""
    w, h = img_size
    if w < size or h < size:
        raise ValueError(f"cannot crop {size}x{size} from a {w}x{h} image")
    if random:
        left = int(torch.randint(0, w - size + 1, (1,), generator=generator))
        top = int(torch.randint(0, h - size + 1, (1,), generator=generator))
    else:
        left, top = (w - size) // 2, (h - size) // 2
    return left, top, left + size, top + size


def center_crop(img: Image.Image, size: int) -> Image.Image:
    return img.crop(crop_box(img.size, size))


def random_crop(img: Image.Image, size: int, generator: torch.Generator | None = None) -> Image.Image:
    return img.crop(crop_box(img.size, size, generator=generator, random=True))
