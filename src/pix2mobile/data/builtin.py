"""Built-in sample data that works offline: demos, tests, export parity and calibration.

Content photos are the colour photographs shipped *inside* the installed scikit-image and
scikit-learn packages. scikit-image's are read straight from its package folder rather than
through `skimage.data.<name>()`, whose fallback can try to download with pooch; nothing here
ever touches the network. Styles and the other domains are generated (`generated.py`).

The photos are split in two disjoint sets, so that the export gate judges artifacts on images
nothing was fitted to:

- `content_images()` (`SKIMAGE_PHOTOS` + `SKLEARN_PHOTOS`, 8 photos): what training on the
  built-in data (`builtin_dataset`, hence the demo), `sample_batch` and int8 calibration
  (`convert.quantize.calibration.builtin_crops`) use;
- `parity_images()` (`PARITY_PHOTOS`, 4 photos): held out for the parity gate
  (`pipelines.export.parity_inputs`) and nothing else.
"""

from __future__ import annotations

import functools
import importlib.resources
import logging
from typing import Callable, Literal, Union, overload

import torch
from PIL import Image

from pix2mobile.data.datasets import AlignedAB, ImageFolder, UnalignedAB
from pix2mobile.data.generated import edges_photo_pair, painterly, suprematist, swirl_painting
from pix2mobile.data.images import crop_box, load_image, resize_shorter, to_tensor
from pix2mobile.errors import ConfigError, DataError, ImageError

log = logging.getLogger(__name__)

SKIMAGE_PHOTOS: tuple[str, ...] = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg",
                                   "hubble_deep_field.jpg", "motorcycle_left.png")
"""Colour photos bundled in scikit-image's wheel (skimage/data/), checked to load offline."""
SKLEARN_PHOTOS: tuple[str, ...] = ("china.jpg", "flower.jpg")
"""Photos bundled in scikit-learn (sklearn/datasets/images/)."""

PARITY_PHOTOS: tuple[tuple[str, str], ...] = (("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
                                               ("skimage", "data/ihc.png"), ("skimage", "data/retina.jpg"),
                                               ("skimage", "data/camera.png"))
"""Held-out photos of the parity gate, as (package, path inside it): a portrait, a stained tissue
section, a retina fundus and the (greyscale) cameraman; none is a training or calibration photo."""

BUILTIN_KINDS: tuple[str, ...] = ("content", "edges2photo", "photo2painting", "suprematist")
BuiltinKind = Literal["content", "edges2photo", "photo2painting", "suprematist"]
BuiltinSet = Union[ImageFolder, AlignedAB, UnalignedAB, list[Image.Image]]


def content_images() -> list[tuple[str, Image.Image]]:
    """The built-in content photos as (name, RGB image), in a fixed order; fresh copies each call."""
    return [(name, img.copy()) for name, img in _photos()]


@functools.lru_cache(maxsize=1)
def _photos() -> tuple[tuple[str, Image.Image], ...]:
    photos = []
    folder = importlib.resources.files("skimage.data")
    for filename in SKIMAGE_PHOTOS:
        with importlib.resources.as_file(folder / filename) as path:
            try:
                photos.append((filename.rsplit(".", 1)[0], load_image(path)))
            except ImageError as exc:
                raise DataError(f"the installed scikit-image does not ship a usable {filename} ({exc}); "
                                f"reinstall scikit-image (see constraints.txt)") from exc
    from sklearn.datasets import load_sample_image

    for filename in SKLEARN_PHOTOS:
        photos.append((filename.rsplit(".", 1)[0], Image.fromarray(load_sample_image(filename)).convert("RGB")))
    log.debug("loaded %d built-in photos", len(photos))
    return tuple(photos)


def parity_images() -> list[tuple[str, Image.Image]]:
    """The held-out parity photos as (name, RGB image), in a fixed order; fresh copies each call."""
    return [(name, img.copy()) for name, img in _parity_photos()]


@functools.lru_cache(maxsize=1)
def _parity_photos() -> tuple[tuple[str, Image.Image], ...]:
    photos = []
    for package, rel in PARITY_PHOTOS:
        with importlib.resources.as_file(importlib.resources.files(package).joinpath(rel)) as path:
            try:
                photos.append((path.stem, load_image(path)))
            except ImageError as exc:
                raise DataError(f"the installed {package} does not ship a usable {rel} ({exc}); "
                                f"reinstall {package} (see constraints.txt)") from exc
    return tuple(photos)


def parity_batch(n: int, size: int, seed: int = 0) -> tuple[torch.Tensor, list[str]]:
    """(n, 3, size, size) crops in [0, 1] of the held-out parity photos, and the photo of each.

    Crop i shows photo i % 4, so any n >= 4 covers every parity photo. The first round is each
    photo scaled to `size` on its shorter side and centre-cropped (the whole scene); later rounds
    take seeded random scales and positions.
    """
    if n < 1 or size < 1:
        raise ConfigError(f"parity_batch needs n >= 1 and size >= 1, got n={n}, size={size}")
    g = torch.Generator().manual_seed(seed)
    photos = _parity_photos()
    batch = torch.empty(n, 3, size, size)
    names = []
    for i in range(n):
        name, photo = photos[i % len(photos)]
        if i < len(photos):
            img = resize_shorter(photo, size)
            box = crop_box(img.size, size, random=False)
        else:
            largest = max(size, min(min(photo.size), 3 * size))
            img = resize_shorter(photo, int(torch.randint(size, largest + 1, (), generator=g)))
            box = crop_box(img.size, size, generator=g, random=True)
        batch[i] = to_tensor(img.crop(box))
        names.append(name)
    return batch, names


STYLES: dict[str, Callable[[int], Image.Image]] = {
    "builtin": lambda size: swirl_painting(seed=0, size=size),
    "suprematist": lambda size: suprematist(seed=7, size=size),
}
"""Built-in style images by name, generated (so strong texture and colour, and no licence)."""


def style_image(name: str = "builtin", size: int = 512) -> Image.Image:
    """A built-in style image for neural style transfer ("builtin": swirling brush strokes)."""
    if name not in STYLES:
        raise ConfigError(f"unknown built-in style {name!r}; choose one of {', '.join(STYLES)} "
                          f"or pass a path to a style image")
    return _style(name, size).copy()


@functools.lru_cache(maxsize=4)
def _style(name: str, size: int) -> Image.Image:
    return STYLES[name](size)


def sample_batch(n: int, size: int, seed: int = 0) -> torch.Tensor:
    """A (n, 3, size, size) batch in [0, 1] of random crops of the built-in photos.

    Deterministic in `seed`: export parity checks and quantisation calibration use it to get
    real-image statistics without a dataset. Each crop also draws a random scale, so the batch
    mixes close-ups and wider views.
    """
    if n < 1 or size < 1:
        raise ConfigError(f"sample_batch needs n >= 1 and size >= 1, got n={n}, size={size}")
    g = torch.Generator().manual_seed(seed)
    photos = _photos()
    batch = torch.empty(n, 3, size, size)
    for i in range(n):
        _, photo = photos[int(torch.randint(len(photos), (), generator=g))]
        largest = max(size, min(min(photo.size), 3 * size))
        shorter = int(torch.randint(size, largest + 1, (), generator=g))
        img = resize_shorter(photo, shorter)
        batch[i] = to_tensor(img.crop(crop_box(img.size, size, generator=g, random=True)))
    return batch


@overload
def builtin_dataset(kind: Literal["content"], size: int, *, random_crop: bool = ..., flip: bool = ...,
                    n: int = ...) -> ImageFolder: ...
@overload
def builtin_dataset(kind: Literal["edges2photo"], size: int, *, random_crop: bool = ..., flip: bool = ...,
                    n: int = ...) -> AlignedAB: ...
@overload
def builtin_dataset(kind: Literal["photo2painting"], size: int, *, random_crop: bool = ...,
                    flip: bool = ..., n: int = ...) -> UnalignedAB: ...
@overload
def builtin_dataset(kind: Literal["suprematist"], size: int, *, random_crop: bool = ..., flip: bool = ...,
                    n: int = ...) -> list[Image.Image]: ...
@overload
def builtin_dataset(kind: str, size: int, *, random_crop: bool = ..., flip: bool = ...,
                    n: int = ...) -> BuiltinSet: ...
def builtin_dataset(kind: str, size: int, *, random_crop: bool = False, flip: bool = False,
                    n: int = 16) -> BuiltinSet:
    """A ready-made training set that needs no files.

    "content": the built-in photos (ImageFolder); "edges2photo": Canny edges | photo pairs
    (AlignedAB); "photo2painting": photos vs painterly repaintings of *other* photos
    (UnalignedAB); "suprematist": `n` generated compositions (a list of images, for the morph).
    """
    if kind not in BUILTIN_KINDS:
        raise ConfigError(f"unknown built-in dataset {kind!r}; choose one of {', '.join(BUILTIN_KINDS)}")
    if kind == "suprematist":
        if n < 1:
            raise ConfigError(f"the suprematist set needs n >= 1 images, got {n}")
        return [suprematist(seed, size) for seed in range(n)]
    if kind == "content":
        return ImageFolder(content_images(), size, random_crop=random_crop, flip=flip)
    if kind == "edges2photo":
        return AlignedAB(list(_edge_pairs(size)), size, random_crop=random_crop, flip=flip)
    photos, paintings = _paintings(round(size * 286 / 256) if random_crop else size)
    return UnalignedAB((list(photos), list(paintings)), size, random_crop=random_crop, flip=flip)



@functools.lru_cache(maxsize=2)
def _edge_pairs(size: int) -> tuple[tuple[str, Image.Image], ...]:
    """Up to three crops per photo (start, middle, end of its longer side), as edges | photo."""
    pairs = []
    for name, photo in _photos():
        img = resize_shorter(photo, size)
        w, h = img.size
        offsets = sorted({0, (max(w, h) - size) // 2, max(w, h) - size})
        for k, off in enumerate(offsets):
            box = (off, 0, off + size, size) if w >= h else (0, off, size, off + size)
            pairs.append((f"{name}-{k}", edges_photo_pair(img.crop(box), size)))
    return tuple(pairs)


@functools.lru_cache(maxsize=2)
def _paintings(shorter: int) -> tuple[tuple[tuple[str, Image.Image], ...], tuple[tuple[str, Image.Image], ...]]:
    """Photos (A) and paintings (B); B[i] repaints photo i+1, so no pair shows the same scene."""
    photos = [(name, resize_shorter(img, shorter)) for name, img in _photos()]
    rolled = photos[1:] + photos[:1]
    paintings = [(f"{name}-painted", painterly(img, seed=i)) for i, (name, img) in enumerate(rolled)]
    return tuple(photos), tuple(paintings)
