"""Fixtures for the data tests: tiny images written to tmp_path, and a machine with no network."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from PIL import Image


def _noise_image(width: int, height: int, seed: int = 0, mode: str = "RGB") -> Image.Image:
    """Random pixels: every crop differs, and compression cannot make it trivially small."""
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "L": 1}[mode]
    a = rng.integers(0, 256, size=(height, width, channels), dtype=np.uint8)
    return Image.fromarray(a[..., 0] if channels == 1 else a, mode)


@pytest.fixture
def noise_image() -> Callable[..., Image.Image]:
    """noise_image(width, height, seed=0, mode="RGB") -> a random-pixel image."""
    return _noise_image


@pytest.fixture
def write_image(tmp_path: Path) -> Callable[..., Path]:
    """write_image("sub/a.png", width, height, mode="RGB", seed=0) -> path under tmp_path."""

    def write(name: str, width: int = 40, height: int = 30, mode: str = "RGB", seed: int = 0) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        _noise_image(width, height, seed, mode).save(path)
        return path

    return write


class _NoSocket(socket.socket):
    """Still a class (ssl subclasses socket.socket at import), but constructing one fails."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a socket or resolve a host fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "socket", _NoSocket)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
