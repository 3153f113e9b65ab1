"""Shared fixtures for the model-zoo tests: one thread, a fixed seed, tiny tensors."""

from __future__ import annotations

from typing import Callable

import pytest
import torch
from torch import nn


def _randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    """Perturb the 1-D parameters (norm scales/shifts, biases), which init leaves at 1 or 0,
    so a mis-wired affine InstanceNorm or bias cannot hide behind its identity init."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            if p.ndim == 1:
                p.add_(0.1 * torch.randn(p.shape, generator=gen))
    return module


@pytest.fixture
def randomize() -> Callable[..., nn.Module]:
    return _randomize
