"""builtin: real photos and generated sets, all with the network switched off."""

from __future__ import annotations

import socket

import numpy as np
import pytest
import torch
from PIL import Image

from pix2mobile.data import (AlignedAB, ImageFolder, UnalignedAB, builtin_dataset, content_images, sample_batch,
                             style_image)
from pix2mobile.data import builtin
from pix2mobile.errors import ConfigError

pytestmark = pytest.mark.usefixtures("no_network")


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    """Load from disk inside each test, so the no-network guard really covers the loading."""
    builtin._photos.cache_clear()
    builtin._edge_pairs.cache_clear()
    builtin._paintings.cache_clear()
    builtin._style.cache_clear()


def test_the_network_really_is_off() -> None:
    with pytest.raises(AssertionError, match="network access attempted"):
        socket.socket()
    with pytest.raises(AssertionError, match="network access attempted"):
        socket.create_connection(("example.com", 80))


def test_content_images_are_real_bundled_photos() -> None:
    photos = content_images()
    names = [name for name, _ in photos]
    assert names == ["astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "motorcycle_left",
                     "china", "flower"]
    for name, img in photos:
        a = np.asarray(img, dtype=np.float32) / 255.0
        assert img.mode == "RGB" and min(img.size) >= 300, name
        assert a.std() > 0.1, name  # a photo, not a flat placeholder
        assert np.abs(a[..., 0] - a[..., 2]).mean() > 0.02, name  # colour, not grey
    photos[0][1].paste((0, 0, 0), (0, 0, 50, 50))
    assert content_images()[0][1].getpixel((0, 0)) != (0, 0, 0)  # callers get copies


def test_style_image_is_colourful_and_textured() -> None:
    img = style_image(size=128)
    assert img.size == (128, 128) and img.mode == "RGB"
    hsv = np.asarray(img.convert("HSV"), dtype=np.float32) / 255.0
    assert hsv[..., 1].mean() > 0.4  # saturated colour
    grey = np.asarray(img.convert("L"), dtype=np.float32)
    assert np.abs(np.diff(grey, axis=1)).mean() > 10  # strong local texture
    assert np.array_equal(np.asarray(style_image(size=128)), np.asarray(img))
    assert style_image("suprematist", size=64).size == (64, 64)
    with pytest.raises(ConfigError, match="builtin, suprematist"):
        style_image("starry")


def test_sample_batch_is_deterministic_real_image_crops() -> None:
    batch = sample_batch(6, 32, seed=3)
    assert batch.shape == (6, 3, 32, 32) and batch.dtype == torch.float32
    assert 0.0 <= float(batch.min()) and float(batch.max()) <= 1.0
    assert torch.equal(batch, sample_batch(6, 32, seed=3))
    assert not torch.equal(batch, sample_batch(6, 32, seed=4))
    assert float(batch.std()) > 0.1
    assert all(not torch.equal(batch[0], batch[i]) for i in range(1, 6))
    with pytest.raises(ConfigError):
        sample_batch(0, 32)


def test_builtin_content_and_pairs() -> None:
    content = builtin_dataset("content", 32)
    assert isinstance(content, ImageFolder) and len(content) == 8
    assert content[0].shape == (3, 32, 32)
    pairs = builtin_dataset("edges2photo", 32, random_crop=True, flip=True)
    assert isinstance(pairs, AlignedAB) and len(pairs) > 8
    item = pairs[0]
    assert item["A"].shape == item["B"].shape == (3, 32, 32)
    assert float(item["A"].mean()) > 0.7  # mostly white paper ...
    assert float(item["A"].min()) == 0.0  # ... with black edges


def test_builtin_photo2painting_and_suprematist() -> None:
    p2p = builtin_dataset("photo2painting", 32)
    assert isinstance(p2p, UnalignedAB) and len(p2p) == 8
    item = p2p[0]
    assert item["A"].shape == item["B"].shape == (3, 32, 32)
    assert not torch.allclose(item["A"], item["B"], atol=0.1)
    shapes = builtin_dataset("suprematist", 24, n=5)
    assert len(shapes) == 5 and all(isinstance(s, Image.Image) and s.size == (24, 24) for s in shapes)
    assert len({s.tobytes() for s in shapes}) == 5
    with pytest.raises(ConfigError, match="content, edges2photo, photo2painting, suprematist"):
        builtin_dataset("horse2zebra", 32)
