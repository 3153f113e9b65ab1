"""generated: seeded procedural images that look like their domain."""

from __future__ import annotations

import time

import numpy as np
from PIL import Image

from pix2mobile.data import canny_edges, edges_photo_pair, painterly, suprematist, swirl_painting

INKS = np.array([(22, 22, 24), (196, 36, 30), (32, 58, 150), (236, 190, 42)], dtype=np.float32)


def _photo(size: int = 64) -> Image.Image:
    """A smooth, structured picture: a gradient with a disc and a bar."""
    y, x = np.mgrid[0:size, 0:size] / size
    a = np.stack([x, y, 1 - x], axis=-1) * 200
    a[(x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.08] = (240, 220, 30)
    a[int(size * 0.8):int(size * 0.9), :] = (20, 20, 60)
    return Image.fromarray(a.astype(np.uint8), "RGB")


def test_suprematist_is_seeded_and_looks_like_malevich() -> None:
    first = suprematist(0, 64)
    assert first.size == (64, 64) and first.mode == "RGB"
    assert first.tobytes() == suprematist(0, 64).tobytes()
    assert len({suprematist(s, 64).tobytes() for s in range(8)}) == 8
    a = np.asarray(suprematist(3, 128), dtype=np.float32).reshape(-1, 3)
    background = (a.min(axis=1) > 200).mean()
    assert 0.3 < background < 0.97  # mostly off-white canvas, with shapes on it
    near_ink = np.linalg.norm(a[:, None, :] - INKS[None], axis=-1).min(axis=1) < 30
    assert near_ink.mean() > 0.03


def test_canny_edges_black_on_white() -> None:
    edges = canny_edges(_photo())
    a = np.asarray(edges)
    assert edges.size == (64, 64) and edges.mode == "RGB"
    assert set(np.unique(a)) <= {0, 255}
    assert 0.5 < (a[..., 0] == 255).mean() < 0.99
    assert (np.asarray(canny_edges(_photo(), per_channel=True)) == 0).sum() >= (a == 0).sum()


def test_edges_photo_pair_layout() -> None:
    pair = edges_photo_pair(_photo(96), 48)
    assert pair.size == (96, 48)
    right = np.asarray(pair)[:, 48:]
    assert np.array_equal(right, np.asarray(_photo(96).resize((48, 48), Image.Resampling.BICUBIC,
                                                              reducing_gap=3.0)))
    assert (np.asarray(pair)[:, :48] == 255).mean() > 0.5


def test_painterly_is_seeded_cheap_and_changes_the_photo() -> None:
    photo = _photo(256)
    start = time.perf_counter()
    painted = painterly(photo, seed=1)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0  # ~0.1 s on one core; the bound leaves room for a busy machine
    assert painted.size == photo.size and painted.mode == "RGB"
    assert painted.tobytes() == painterly(photo, seed=1).tobytes()
    assert painted.tobytes() != painterly(photo, seed=2).tobytes()
    diff = np.abs(np.asarray(painted, np.float32) - np.asarray(photo, np.float32)).mean()
    assert 3 < diff < 60  # clearly repainted, still the same scene


def test_swirl_painting_is_seeded() -> None:
    assert swirl_painting(0, 64).tobytes() == swirl_painting(0, 64).tobytes()
    assert swirl_painting(0, 64).tobytes() != swirl_painting(1, 64).tobytes()
