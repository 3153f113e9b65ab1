"""Torch datasets over image folders (or in-memory images), validated before training starts.

Three layouts, as in junyanz/pytorch-CycleGAN-and-pix2pix: a plain folder (`ImageFolder`),
two unpaired folders `trainA/` + `trainB/` (`UnalignedAB`, CycleGAN), and one folder of A|B
side-by-side pairs (`AlignedAB`, pix2pix). Each constructor reads every file's header (and by
default decodes every file) so an empty folder, a bad file, mismatched colour modes or a
non-pair image fail at start-up with one `DataError` line, not an hour into training.

Items are float32 tensors (3, size, size) in [0, 1]; the model's `TensorSpec` maps them onto
its own range. Randomness (crops, flips, B pairing) uses torch's RNG, which the training loop
seeds and `DataLoader` re-seeds per worker.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence, Union, cast

import torch
from PIL import Image
from torch.utils.data import Dataset

from pix2mobile.data.images import (DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES, ImageInfo, crop_box, load_image, probe_image,
                                    resize_shorter, to_rgb, to_tensor)
from pix2mobile.errors import ConfigError, DataError, ImageError

log = logging.getLogger(__name__)

InMemory = Sequence[Union[Image.Image, tuple[str, Image.Image]]]
"""Images already in memory, optionally named (names appear in error messages)."""
Source = Union[str, os.PathLike, InMemory]
"""A folder (searched recursively) or in-memory images."""
Verify = Literal["full", "header"]


@dataclass(frozen=True)
class Crop:
    """How a picture becomes a size x size tensor: resize the shorter side, then crop (and flip).

    Deterministic (centre crop, no flip) unless `random_crop`/`flip` ask for augmentation.
    `load_size` defaults to `size`, or to size * 286/256 with `random_crop` (pix2pix's jitter).
    """

    size: int
    load_size: int | None = None
    random_crop: bool = False
    flip: bool = False

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ConfigError(f"image size must be a positive number of pixels, got {self.size}")
        if self.load_size is not None and self.load_size < self.size:
            raise ConfigError(f"load_size ({self.load_size}) must be at least size ({self.size})")

    @property
    def resize_to(self) -> int:
        if self.load_size is not None:
            return self.load_size
        return round(self.size * 286 / 256) if self.random_crop else self.size

    def sample(self, img_size: tuple[int, int]) -> tuple[tuple[int, int, int, int], bool]:
        """Draw one (crop box, flip) for an image already resized by `prepare`."""
        box = crop_box(img_size, self.size, random=self.random_crop)
        flipped = self.flip and bool(torch.rand(()) < 0.5)
        return box, flipped

    def prepare(self, img: Image.Image) -> Image.Image:
        return resize_shorter(img, self.resize_to)

    def finish(self, img: Image.Image, box: tuple[int, int, int, int], flipped: bool) -> torch.Tensor:
        t = to_tensor(img.crop(box))
        return t.flip(-1) if flipped else t

    def __call__(self, img: Image.Image) -> torch.Tensor:
        img = self.prepare(img)
        return self.finish(img, *self.sample(img.size))


@dataclass(frozen=True)
class ImageSet:
    """A validated list of images (files or in-memory pictures), as `collect` returns it.

    `infos` holds each image's header facts (mode, size) so checks need no second pass; `label`
    names the set in error messages.
    """

    label: str
    sources: tuple[Path | Image.Image, ...]
    infos: tuple[ImageInfo, ...]
    max_pixels: int | None

    def __len__(self) -> int:
        return len(self.sources)

    def load(self, i: int) -> Image.Image:
        src = self.sources[i]
        if isinstance(src, Image.Image):
            return to_rgb(src)
        try:
            return load_image(src, max_pixels=self.max_pixels)
        except ImageError as exc:  # the file changed since validation
            raise DataError(f"{self.label}: {exc}") from exc


def discover_images(root: str | os.PathLike[str]) -> list[Path]:
    """Every image file under `root` (recursive, sorted; hidden files and folders skipped)."""
    folder = Path(root)
    if not folder.exists():
        raise DataError(f"dataset folder {folder} does not exist; check the path")
    if not folder.is_dir():
        raise DataError(f"dataset path {folder} is a file, not a folder of images")
    found = sorted(p for p in folder.rglob("*")
                   if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    if not found:
        raise DataError(f"no images in {folder} (searched recursively for {' '.join(IMAGE_SUFFIXES)}); "
                        f"put training images there or point to the right folder")
    return found


def collect(source: Source, *, max_pixels: int | None = DEFAULT_MAX_PIXELS,
            verify: Verify = "full", label: str | None = None) -> ImageSet:
    """Find and check a dataset's images: every header read, every file decoded with "full"."""
    if verify not in ("full", "header"):
        raise ConfigError(f"verify must be 'full' or 'header', got {verify!r}")
    if isinstance(source, (str, os.PathLike)):
        paths = discover_images(source)
        name = label or str(source)
        infos, bad = [], []
        for p in paths:
            try:
                infos.append(probe_image(p, max_pixels=max_pixels, decode=verify == "full"))
            except ImageError as exc:
                bad.append(exc)
        if bad:
            raise DataError(f"{len(bad)} of {len(paths)} images in {name} cannot be used; first: {bad[0]} "
                            f"(fix or remove the bad files)")
        log.info("%s: %d images", name, len(paths))
        return ImageSet(name, tuple(paths), tuple(infos), max_pixels)
    pictures = list(source)
    name = label or "in-memory images"
    if not pictures:
        raise DataError(f"no images in {name}: the list is empty")
    sources, infos = [], []
    for i, item in enumerate(pictures):
        item_name, img = item if isinstance(item, tuple) else (f"image {i}", item)
        if not isinstance(img, Image.Image):
            raise DataError(f"{name}: item {i} is a {type(img).__name__}, not a PIL image")
        sources.append(img)
        infos.append(ImageInfo(path=Path(item_name), format="memory", mode=img.mode, size=img.size))
    return ImageSet(name, tuple(sources), tuple(infos), max_pixels)


class ImageFolder(Dataset[torch.Tensor]):
    """A folder of images (recursive) or a list of images; items are tensors (3, size, size)."""

    def __init__(self, root: Source, size: int, *, random_crop: bool = False, flip: bool = False,
                 load_size: int | None = None, max_pixels: int | None = DEFAULT_MAX_PIXELS,
                 verify: Verify = "full"):
        self.crop = Crop(size, load_size, random_crop, flip)
        self.items = collect(root, max_pixels=max_pixels, verify=verify)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.crop(self.items.load(i))


class UnalignedAB(Dataset[dict[str, torch.Tensor]]):
    """Two unpaired domains, CycleGAN style; items are {"A": tensor, "B": tensor}.

    `root` is a folder holding `{phase}A/` and `{phase}B/`, or an explicit pair (a, b) of folders
    or image lists. The length is that of the larger domain; the smaller one wraps around. With
    `shuffle_b`, B is drawn at random each time so pairs never repeat in lockstep.
    A folder of only greyscale files against one of only colour files is refused unless
    `allow_mode_mismatch` (say, for colourisation).
    """

    def __init__(self, root: Source | tuple[Source, Source], size: int, *, phase: str = "train",
                 random_crop: bool = False, flip: bool = False, load_size: int | None = None,
                 shuffle_b: bool = False, allow_mode_mismatch: bool = False,
                 max_pixels: int | None = DEFAULT_MAX_PIXELS, verify: Verify = "full"):
        self.crop = Crop(size, load_size, random_crop, flip)
        self.shuffle_b = shuffle_b
        source_a, source_b = _split_ab(root, phase)
        in_memory = (not isinstance(source_a, (str, os.PathLike)), not isinstance(source_b, (str, os.PathLike)))
        self.a = collect(source_a, max_pixels=max_pixels, verify=verify,
                         label="domain A (in memory)" if in_memory[0] else None)
        self.b = collect(source_b, max_pixels=max_pixels, verify=verify,
                         label="domain B (in memory)" if in_memory[1] else None)
        if not allow_mode_mismatch:
            check_same_colour(self.a, self.b)

    def __len__(self) -> int:
        return max(len(self.a), len(self.b))

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        j = int(torch.randint(len(self.b), ())) if self.shuffle_b else i % len(self.b)
        return {"A": self.crop(self.a.load(i % len(self.a))), "B": self.crop(self.b.load(j))}


def _split_ab(root: Source | tuple[Source, Source], phase: str) -> tuple[Source, Source]:
    if isinstance(root, tuple):
        if len(root) != 2:
            raise ConfigError(f"an unaligned dataset takes one root folder or a pair (A, B), got {len(root)} items")
        # a 2-tuple is taken as (A, B); collect() then checks what each side holds
        return cast("tuple[Source, Source]", root)
    if not isinstance(root, (str, os.PathLike)):
        raise ConfigError("an unaligned dataset needs a folder holding trainA/ and trainB/, or a tuple (A, B)")
    folder = Path(root)
    if not folder.is_dir():
        raise DataError(f"dataset folder {folder} does not exist or is not a folder; check the path")
    dirs = (folder / f"{phase}A", folder / f"{phase}B")
    missing = [d.name for d in dirs if not d.is_dir()]
    if missing:
        raise DataError(f"{folder} has no {' or '.join(m + '/' for m in missing)} folder; an unaligned "
                        f"dataset needs {phase}A/ and {phase}B/ (or pass the two folders explicitly)")
    return dirs


def check_same_colour(a: ImageSet, b: ImageSet) -> None:
    """Refuse an all-greyscale domain against an all-colour one (judged from PIL modes)."""
    kinds_a = {info.colour for info in a.infos}
    kinds_b = {info.colour for info in b.infos}
    if len(kinds_a) == 1 and len(kinds_b) == 1 and kinds_a != kinds_b:
        ex_a, ex_b = a.infos[0], b.infos[0]
        raise DataError(
            f"domain A ({a.label}) is all {ex_a.colour} (e.g. {ex_a.path.name}, mode {ex_a.mode}) but "
            f"domain B ({b.label}) is all {ex_b.colour} (e.g. {ex_b.path.name}, mode {ex_b.mode}); both "
            f"are read as RGB, so the generator would have to invent or drop colour: convert one "
            f"folder, or pass allow_mode_mismatch=True if that is the task")


class AlignedAB(Dataset[dict[str, torch.Tensor]]):
    """pix2pix pairs: each image is A|B side by side (width = 2 x height); items are {"A", "B"}.

    `root` is the folder of pairs (or `root/phase` when `phase` is given) or a list of pair
    images. A and B get the same crop and flip. Widths may differ from 2 x height by `tolerance`
    (a fraction of the width, at least 2 pixels) to allow odd sizes.
    """

    def __init__(self, root: Source, size: int, *, phase: str | None = None,
                 random_crop: bool = False, flip: bool = False, load_size: int | None = None,
                 tolerance: float = 0.02, max_pixels: int | None = DEFAULT_MAX_PIXELS,
                 verify: Verify = "full"):
        self.crop = Crop(size, load_size, random_crop, flip)
        if phase is not None and isinstance(root, (str, os.PathLike)):
            root = Path(root) / phase
        self.items = collect(root, max_pixels=max_pixels, verify=verify)
        for info in self.items.infos:
            check_side_by_side(info, tolerance)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        pair = self.items.load(i)
        w, h = pair.size
        half = w // 2
        a = self.crop.prepare(pair.crop((0, 0, half, h)))
        b = self.crop.prepare(pair.crop((half, 0, 2 * half, h)))
        box, flipped = self.crop.sample(a.size)
        return {"A": self.crop.finish(a, box, flipped), "B": self.crop.finish(b, box, flipped)}


def check_side_by_side(info: ImageInfo, tolerance: float = 0.02) -> None:
    w, h = info.size
    if abs(w - 2 * h) > max(2.0, tolerance * w):
        raise DataError(f"{info.path} is {w}x{h}, but an aligned pair is A and B side by side "
                        f"(width = 2 x height, i.e. {2 * h}x{h}); fix or remove it, or use an "
                        f"unaligned dataset for separate A and B images")
