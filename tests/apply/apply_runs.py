"""Small, lightly trained run directories of every family, as `pix2mobile train` writes them.

`lightly_train` (100 Adam steps towards a blurred identity on real photos) gives outputs with the
structure of photographs, so comparisons below judge real pictures, not a random init's grey.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pix2mobile.checkpoint import save_run
from pix2mobile.models import get_variant
from pix2mobile.train.loop import export_meta
from pix2mobile.train.warmup import lightly_train

SIZE = 64
SIZES = {"bicyclegan": 128}       # unet_128 halves 7 times: H and W must be multiples of 128
VARIANTS = {
    "fast_style": ("fast_style", "lite", {"width": 8, "n_res": 2}),
    "cyclegan": ("cyclegan", "resnet_6blocks", {"ngf": 8}),
    "bicyclegan": ("bicyclegan", "unet_128", {"ngf": 8}),
    "morph": ("morph", "mlp", {"hidden": 32}),
}


def make_run(root: Path, name: str, steps: int = 60) -> Path:
    family, arch, options = VARIANTS[name]
    spec = get_variant(family, arch)
    size = SIZES.get(name, SIZE)
    torch.manual_seed(0)
    gen = spec.create(**options)
    if family == "morph":
        trained = lightly_train(spec.exportable(gen, (size, size)), spec.io, size, steps=steps, seed=0)
        del trained          # the renderer shares the stack's parameters: training it trained `gen`
    else:
        lightly_train(gen, spec.io, size, steps=steps, seed=0)
    meta = export_meta(spec, {**spec.defaults, **options}, size,
                       **({"direction": "a2b"} if family == "cyclegan" else {}))
    others = {}
    if family == "cyclegan":                 # a second, differently trained generator: B -> A
        torch.manual_seed(1)
        g_b = spec.create(**options)
        lightly_train(g_b, spec.io, size, steps=steps, seed=1)
        others["b2a"] = g_b.state_dict()
    return save_run(root / name, gen.state_dict(), meta, others)


def photo(size_wh: tuple[int, int] = (1500, 1000)) -> np.ndarray:
    """scikit-learn's china.jpg (640x427, a real photo) resized to `size_wh`, as 8-bit RGB."""
    from sklearn.datasets import load_sample_image

    return np.asarray(Image.fromarray(load_sample_image("china.jpg")).resize(size_wh, Image.BICUBIC))


def write_photo(path: Path, size_wh: tuple[int, int] = (1500, 1000)) -> Path:
    Image.fromarray(photo(size_wh)).save(path)
    return path
