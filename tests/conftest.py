"""Fixtures shared by every test: seeded, CPU, and the optional ../shared/data images."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _seeded() -> None:
    """One thread (converters run their own pools; tiny tensors gain nothing from more) and seed 0."""
    torch.set_num_threads(1)
    torch.manual_seed(0)


@pytest.fixture
def shared_data() -> Path:
    """../shared/data (style images, a content photo): present for developers and CI, absent on a
    user's fresh machine, where the tests that need it skip."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside this checkout")
    return SHARED_DATA
