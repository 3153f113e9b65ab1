"""Fixtures of the quantization tests: tiny nets lightly trained once per session, small calibration sets."""

from __future__ import annotations

import copy

import pytest
import torch

from pix2mobile.train.warmup import lightly_train
from pix2mobile.pipelines.export import ModelRef
from pix2mobile.convert.quantize.calibration import builtin_calibration
from quant_nets import CYCLE_IO, SIZE, DeadChannelHead, TinyCycle


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def _trained_cycle() -> torch.nn.Module:
    torch.manual_seed(0)
    return lightly_train(TinyCycle(), CYCLE_IO, SIZE, steps=60, seed=0)


@pytest.fixture
def cycle(_trained_cycle):
    """(module, ModelRef) of the trained TinyCycle; a fresh deep copy per test."""
    return copy.deepcopy(_trained_cycle), ModelRef(family="test", arch="cycle", io=CYCLE_IO)


@pytest.fixture(scope="session")
def _trained_dead() -> torch.nn.Module:
    torch.manual_seed(0)
    return lightly_train(DeadChannelHead(), CYCLE_IO, SIZE, steps=60, seed=0).kill_channel()


@pytest.fixture
def dead_channel(_trained_dead):
    return copy.deepcopy(_trained_dead), ModelRef(family="test", arch="dead", io=CYCLE_IO)


@pytest.fixture(scope="session")
def calib():
    """8 built-in crops at 32 px (the default is 16; tests stay small)."""
    return builtin_calibration(CYCLE_IO, SIZE, 8)
