"""Image arguments as users type them: a path, or `builtin[:NAME]` for a bundled photo or a generated painting.
"""

from __future__ import annotations

from typing import Literal

from PIL import Image

from pix2mobile.errors import ConfigError


def open_image_arg(value: str, kind: Literal["content", "style"], max_pixels: int | None = None) -> Image.Image:
    """A path, or `builtin[:NAME]`: a bundled photo (content) or a generated painting (style)."""
    from pix2mobile.data import builtin, images

    if value == "builtin" or value.startswith("builtin:"):
        name = value.partition(":")[2]
        if kind == "style":
            return builtin.style_image(name or "builtin")
        photos = dict(builtin.content_images())
        name = name or next(iter(photos))
        if name not in photos:
            raise ConfigError(f"unknown built-in content image '{name}': choose one of {', '.join(photos)}")
        return photos[name]
    kwargs = {} if max_pixels is None else {"max_pixels": max_pixels}
    return images.load_image(value, **kwargs)
