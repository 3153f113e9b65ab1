"""Calibration data: the real model inputs that calibrated precisions measure activations on.

A `CalibrationSet` holds batch-1 input tuples in the model's IOSpec (NCHW images in their
declared range, latents, scalars), built from

- a folder of images (`folder_calibration`, `--calibration DIR`): every image file under it
  (recursive, as `data.datasets.ImageFolder` finds them), `count` of them spread evenly over the
  sorted list, resized on the shorter side and centre-cropped; or
- the built-in photos (`builtin_calibration`): crops of each of the 8 photos in turn, at random
  scales and positions (seed 1). The parity gate crops the same photos at random (seed 0), so
  calibration and gate see different crops of the same scenes.

Images are rounded to 8 bits, as a bitmap holds them. Latent inputs draw N(0, 1) clipped to
their range and scalars draw uniformly, seeded. `count` also bounds the auto mode's PSNR
estimate, which runs on these samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from pix2mobile.errors import ConfigError, DataError
from pix2mobile.models.spec import IOSpec

DEFAULT_COUNT = 16
BUILTIN_SEED = 1


@dataclass(frozen=True, eq=False)
class CalibrationSet:
    """Batch-1 input tuples in IOSpec order, and where they came from (for the manifest notes)."""

    samples: tuple[tuple[torch.Tensor, ...], ...]
    source: str
    size: tuple[int, int]

    def __post_init__(self) -> None:
        if not self.samples:
            raise ConfigError("a calibration set needs at least one sample")

    def __len__(self) -> int:
        return len(self.samples)

    def describe(self) -> str:
        return f"{len(self.samples)} calibration images from {self.source} at {self.size[0]}x{self.size[1]}"


def _size(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, int):
        return (size, size)
    h, w = (int(s) for s in size)
    return (h, w)


def _check_count(count: int) -> None:
    if count < 1:
        raise ConfigError(f"calibration count must be >= 1, got {count}")


def builtin_crops(n: int, size: int, seed: int = BUILTIN_SEED) -> torch.Tensor:
    """(n, 3, size, size) crops in [0, 1] of the built-in photos taken in turn (photo i % 8), each
    at a random scale and position, seeded. Taking the photos in turn keeps rare scenes in the set:
    a dark, low-contrast sky is what static int8 handles worst."""
    from pix2mobile.data.builtin import content_images
    from pix2mobile.data.images import crop_box, resize_shorter, to_tensor

    photos = [img for _, img in content_images()]
    gen = torch.Generator().manual_seed(seed)
    out = torch.empty(n, 3, size, size)
    for i in range(n):
        photo = photos[i % len(photos)]
        largest = max(size, min(min(photo.size), 3 * size))
        img = resize_shorter(photo, int(torch.randint(size, largest + 1, (), generator=gen)))
        out[i] = to_tensor(img.crop(crop_box(img.size, size, generator=gen, random=True)))
    return out


def builtin_calibration(io: IOSpec, size: int | Sequence[int], count: int = DEFAULT_COUNT,
                        seed: int = BUILTIN_SEED) -> CalibrationSet:
    """`count` samples from crops of the built-in photos, every photo in turn (no files needed)."""
    _check_count(count)
    h, w = _size(size)
    n_images = max(1, sum(1 for s in io.inputs if s.kind == "image"))
    photos = builtin_crops(count * n_images, max(h, w), seed=seed)[..., :h, :w]
    return CalibrationSet(io.samples_from_photos(photos, seed), f"built-in photos (seed {seed})", (h, w))


def folder_calibration(folder: str | Path, io: IOSpec, size: int | Sequence[int],
                       count: int = DEFAULT_COUNT) -> CalibrationSet:
    """`count` samples from the images under `folder` (all of them when it holds fewer)."""
    from pix2mobile.data.datasets import ImageFolder

    _check_count(count)
    h, w = _size(size)
    n_images = max(1, sum(1 for s in io.inputs if s.kind == "image"))
    images = ImageFolder(str(folder), max(h, w), verify="header")
    wanted = min(count * n_images, len(images))
    if wanted < n_images:
        raise DataError(f"calibration folder {folder}: the model takes {n_images} images per sample but the "
                          f"folder holds {len(images)}")
    picks = sorted({round(i * (len(images) - 1) / max(wanted - 1, 1)) for i in range(wanted)})
    photos = torch.stack([images[i][:, :h, :w] for i in picks])
    return CalibrationSet(io.samples_from_photos(photos), f"{Path(folder)} ({len(images)} images there)", (h, w))


def load_calibration(source: str | Path | None, io: IOSpec, size: int | Sequence[int],
                     count: int = DEFAULT_COUNT) -> CalibrationSet:
    """What `--calibration DIR --calibration-count N` asks for: a folder, or the built-in photos (None)."""
    if source is None or str(source) in ("", "builtin"):
        return builtin_calibration(io, size, count)
    return folder_calibration(source, io, size, count)
