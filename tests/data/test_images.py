"""images: every bad file gives one clear ImageError naming it; every mode becomes correct RGB."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pix2mobile.data import images
from pix2mobile.data.images import (center_crop, load_image, probe_image, random_crop, resize_longer, resize_shorter,
                                    save_image, to_pil, to_rgb, to_tensor)
from pix2mobile.errors import ImageError



def noise_image(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8), "RGB")


def _truncated(tmp_path: Path, suffix: str) -> Path:
    good = tmp_path / f"good{suffix}"
    noise_image(64, 64).save(good)
    data = good.read_bytes()
    bad = tmp_path / f"cut{suffix}"
    bad.write_bytes(data[: len(data) // 2])
    return bad


def _corrupt(tmp_path: Path) -> Path:
    good = tmp_path / "good.png"
    noise_image(64, 64).save(good)
    data = bytearray(good.read_bytes())
    data[100:160] = b"\x00" * 60  # inside the first IDAT chunk: header intact, pixels broken
    bad = tmp_path / "corrupt.png"
    bad.write_bytes(bytes(data))
    return bad


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


BAD_FILES = {
    "truncated jpeg": (lambda t: _truncated(t, ".jpg"), "truncated"),
    "truncated png": (lambda t: _truncated(t, ".png"), "truncated"),
    "corrupt png": (_corrupt, "corrupt"),
    "random bytes": (lambda t: _write(t, "noise.png", bytes(range(256)) * 8), "not an image"),
    "empty file": (lambda t: _write(t, "empty.jpg", b""), "empty (0 bytes)"),
    "text as jpg": (lambda t: _write(t, "notes.jpg", b"this is not a picture\n" * 20), "not an image"),
    "missing": (lambda t: t / "nowhere.png", "no such file"),
    "directory": (lambda t: (t / "folder.png").mkdir() or t / "folder.png", "directory"),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_bad_file_raises_one_clear_line_naming_it(tmp_path: Path, kind: str) -> None:
    make, phrase = BAD_FILES[kind]
    path = make(tmp_path)
    with pytest.raises(ImageError) as info:
        load_image(path)
    message = str(info.value)
    assert str(path) in message
    assert phrase in message
    assert "\n" not in message


def test_header_probe_reports_the_same_errors(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="empty"):
        probe_image(_write(tmp_path, "e.png", b""))
    cut = _truncated(tmp_path, ".png")
    assert probe_image(cut).size == (64, 64)  # the header alone is fine ...
    with pytest.raises(ImageError, match="truncated"):
        probe_image(cut, decode=True)  # ... decoding is not


def test_max_pixels_is_checked_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.png"
    noise_image(50, 40).save(path)
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self) or None)
    with pytest.raises(ImageError, match=r"50x40 = 2000 pixels is over the limit of 1999") as info:
        load_image(path, max_pixels=1999)
    assert str(path) in str(info.value)
    assert decoded == []


def test_max_pixels_limit_can_be_raised_or_disabled(tmp_path: Path) -> None:
    path = tmp_path / "ok.png"
    noise_image(50, 40).save(path)
    assert load_image(path, max_pixels=2000).size == (50, 40)
    assert load_image(path, max_pixels=None).size == (50, 40)


@pytest.mark.parametrize("pil_limit", [1500, 500])  # 2000 px: over 1500 warns, over 2 x 500 errors
def test_pillow_decompression_bomb_guard_becomes_image_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            pil_limit: int) -> None:
    path = tmp_path / "bomb.png"
    noise_image(50, 40).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", pil_limit)
    with pytest.raises(ImageError, match="decompression bomb") as info:
        load_image(path, max_pixels=None)
    assert str(path) in str(info.value)


# ---- modes ---------------------------------------------------------------------------------

def _load_saved(img: Image.Image, tmp_path: Path, name: str, **save: object) -> np.ndarray:
    path = tmp_path / name
    img.save(path, **save)
    out = load_image(path)
    assert out.mode == "RGB"
    return np.asarray(out).astype(int)


def test_greyscale_l_and_bilevel(tmp_path: Path) -> None:
    a = _load_saved(Image.new("L", (4, 4), 100), tmp_path, "l.png")
    assert (a == 100).all()
    one = Image.new("1", (4, 4), 0)
    one.putpixel((1, 1), 1)
    b = _load_saved(one, tmp_path, "one.png")
    assert (b[1, 1] == 255).all() and (b[0, 0] == 0).all()


def test_alpha_is_composited_on_white(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 128))
    rgba.putpixel((0, 0), (0, 0, 255, 0))
    a = _load_saved(rgba, tmp_path, "rgba.png")
    assert np.abs(a[1, 1] - [255, 127, 127]).max() <= 1
    assert (a[0, 0] == 255).all()  # fully transparent -> white, whatever its colour
    la = Image.new("LA", (4, 4), (40, 255))
    la.putpixel((0, 0), (40, 0))
    b = _load_saved(la, tmp_path, "la.png")
    assert (b[1, 1] == 40).all() and (b[0, 0] == 255).all()


def test_palette_with_and_without_transparency(tmp_path: Path) -> None:
    p = Image.new("P", (4, 4), 1)
    p.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    p.putpixel((0, 0), 0)
    a = _load_saved(p, tmp_path, "p.png")
    assert (a[1, 1] == [10, 200, 30]).all() and (a[0, 0] == 0).all()
    a = _load_saved(p, tmp_path, "p_transparent.png", transparency=0)
    assert (a[0, 0] == 255).all() and (a[1, 1] == [10, 200, 30]).all()
    b = _load_saved(p, tmp_path, "p_transparent.gif", transparency=0)
    assert (b[0, 0] == 255).all() and (b[1, 1] == [10, 200, 30]).all()


@pytest.mark.parametrize("suffix", [".tif", ".jpg"])
def test_cmyk_pure_cyan_is_rgb_cyan(tmp_path: Path, suffix: str) -> None:
    a = _load_saved(Image.new("CMYK", (8, 8), (255, 0, 0, 0)), tmp_path, f"cmyk{suffix}")
    assert np.abs(a[4, 4] - [0, 255, 255]).max() <= 3


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_sixteen_bit_ramp_scales_to_full_eight_bit_ramp(tmp_path: Path, suffix: str) -> None:
    ramp = np.round(np.linspace(0, 65535, 256)).astype(np.uint16)
    img = Image.fromarray(np.tile(ramp, (3, 1)))
    assert img.mode == "I;16"
    a = _load_saved(img, tmp_path, f"ramp16{suffix}")
    assert np.abs(a[1, :, 0] - np.arange(256)).max() <= 1
    assert (a[..., 0] == a[..., 2]).all()


def test_thirty_two_bit_int_and_float(tmp_path: Path) -> None:
    wide = np.tile(np.linspace(0, 65535, 256).astype(np.int32), (2, 1))
    a = _load_saved(Image.fromarray(wide, "I"), tmp_path, "i32.tif")
    assert np.abs(a[0, :, 0] - np.arange(256)).max() <= 1
    narrow = np.tile(np.arange(256, dtype=np.int32), (2, 1))
    b = _load_saved(Image.fromarray(narrow, "I"), tmp_path, "i8.tif")
    assert (b[0, :, 1] == np.arange(256)).all()
    unit = np.tile(np.linspace(0, 1, 256, dtype=np.float32), (2, 1))
    c = _load_saved(Image.fromarray(unit, "F"), tmp_path, "f.tif")
    assert np.abs(c[0, :, 2] - np.arange(256)).max() <= 1
    odd = np.tile(np.linspace(-5, 5, 256, dtype=np.float32), (2, 1))
    d = _load_saved(Image.fromarray(odd, "F"), tmp_path, "f_odd.tif")
    assert d[0, 0, 0] == 0 and d[0, -1, 0] == 255  # stretched, not clipped


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    img = Image.new("RGB", (40, 20), (200, 0, 0))
    img.paste((0, 0, 200), (0, 0, 10, 20))  # blue band on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "rotated.jpg"
    img.save(path, exif=exif.tobytes(), quality=95)
    out = load_image(path)
    assert out.size == (20, 40)
    r, g, b = out.getpixel((10, 3))  # the left band is now on top
    assert b > 150 and r < 60
    assert probe_image(path).size == (20, 40)


# ---- tensors, saving, geometry -------------------------------------------------------------

def test_tensor_round_trip() -> None:
    img = noise_image(7, 5)
    t = to_tensor(img)
    assert t.shape == (3, 5, 7) and t.dtype == torch.float32
    assert 0.0 <= float(t.min()) and float(t.max()) <= 1.0
    assert np.array_equal(np.asarray(to_pil(t)), np.asarray(img))
    assert np.array_equal(np.asarray(to_pil(t.unsqueeze(0))), np.asarray(img))
    assert to_tensor(Image.new("L", (3, 2), 255)).shape == (3, 2, 3)
    assert np.asarray(to_pil(torch.full((3, 2, 2), 2.0))).max() == 255  # clamped
    with pytest.raises(ValueError, match="shape"):
        to_pil(torch.zeros(4, 5, 5))


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp", ".bmp"])
def test_save_image_by_suffix(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / "out" / f"sample{suffix}"
    save_image(torch.rand(3, 16, 24), path)
    assert load_image(path).size == (24, 16)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp files left
    rgba = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    save_image(rgba, path)  # RGBA into JPEG works: flattened first
    assert np.asarray(load_image(path)).min() > 240


def test_save_image_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "keep.png"
    save_image(Image.new("RGB", (4, 4), (1, 2, 3)), path)
    before = path.read_bytes()

    def broken_save(self: Image.Image, fp: object, *args: object, **kwargs: object) -> None:
        Path(str(fp)).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_image(Image.new("RGB", (4, 4)), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"]


def test_save_image_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match=r"unknown suffix '\.xyz'"):
        save_image(torch.rand(3, 4, 4), tmp_path / "a.xyz")


def test_resize_and_crops() -> None:
    img = noise_image(100, 50)
    assert resize_longer(img, 40).size == (40, 20)
    assert resize_shorter(img, 40).size == (80, 40)
    assert center_crop(img, 50).size == (50, 50)
    assert np.array_equal(np.asarray(center_crop(img, 50)), np.asarray(img)[:, 25:75])
    g = torch.Generator().manual_seed(3)
    first = np.asarray(random_crop(img, 20, g))
    again = np.asarray(random_crop(img, 20, torch.Generator().manual_seed(3)))
    assert first.shape == (20, 20, 3) and np.array_equal(first, again)
    with pytest.raises(ValueError, match="cannot crop"):
        center_crop(img, 60)


def test_to_rgb_passes_rgb_through_and_suffixes_are_lower_case() -> None:
    img = noise_image(3, 3)
    assert to_rgb(img) is img
    assert all(s == s.lower() and s.startswith(".") for s in images.IMAGE_SUFFIXES)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    assert buf.getvalue()
