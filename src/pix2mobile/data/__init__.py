"""Image I/O and datasets: one loader, three dataset layouts, built-in offline data.

- `images`: `load_image` (the only way pix2mobile reads a picture), tensor <-> PIL, atomic save.
- `datasets`: `ImageFolder`, `UnalignedAB` (CycleGAN), `AlignedAB` (pix2pix), validated up front.
- `builtin`: photos bundled with scikit-image/scikit-learn, a style image, `sample_batch`.
- `generated`: procedural domains (suprematist, edges, painterly, swirls), seeded.
"""

from pix2mobile.data.builtin import BUILTIN_KINDS, STYLES, builtin_dataset, content_images, sample_batch, style_image
from pix2mobile.data.datasets import AlignedAB, Crop, ImageFolder, ImageSet, UnalignedAB, collect, discover_images
from pix2mobile.data.generated import canny_edges, edges_photo_pair, painterly, suprematist, swirl_painting
from pix2mobile.data.images import (DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES, ImageInfo, center_crop, crop_box, load_image,
                                    probe_image, random_crop, resize_longer, resize_shorter, save_image, to_pil, to_rgb,
                                    to_tensor)

__all__ = [
    "AlignedAB", "BUILTIN_KINDS", "Crop", "DEFAULT_MAX_PIXELS", "IMAGE_SUFFIXES", "ImageFolder",
    "ImageInfo", "ImageSet", "STYLES", "UnalignedAB", "builtin_dataset", "canny_edges", "center_crop",
    "collect", "content_images", "crop_box", "discover_images", "edges_photo_pair", "load_image",
    "painterly", "probe_image", "random_crop", "resize_longer", "resize_shorter", "sample_batch",
    "save_image", "style_image", "suprematist", "swirl_painting", "to_pil", "to_rgb", "to_tensor",
]
