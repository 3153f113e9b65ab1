"""Fixtures for the training tests: one thread, a fixed seed, tiny image folders."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
import torch

from train_helpers import smooth_image


@pytest.fixture
def image_folder(tmp_path: Path) -> Callable[..., Path]:
    """image_folder(name, n=1, size=(w, h), seed=0) -> a folder of n smooth PNGs."""
    def make(name: str, n: int = 1, size: tuple[int, int] = (40, 40), seed: int = 0) -> Path:
        folder = tmp_path / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            smooth_image(*size, seed=seed + i).save(folder / f"{i:02d}.png")
        return folder
    return make
