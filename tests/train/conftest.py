"""Fixtures for the training tests: one thread, a fixed seed, tiny image folders."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import pytest
import torch

try:  # importable once installed (`make venv`); from a bare checkout, use the src tree
    import pix2mobile  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from train_helpers import smooth_image


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)


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
