"""Fixtures of the export tests: the tiny models of `export_nets`, lightly trained once per session."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from export_nets import SIZE, TINY
from pix2mobile.train.warmup import lightly_train
from pix2mobile.pipelines.export import ModelRef


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def trained() -> dict[str, tuple[nn.Module, ModelRef]]:
    """Each tiny model, lightly trained once per session (callers get deep copies via `tiny`)."""
    out = {}
    for name, (cls, io) in TINY.items():
        torch.manual_seed(0)
        module = lightly_train(cls(), io, SIZE, steps=100, seed=0)
        out[name] = (module, ModelRef(family="test", arch=name, io=io))
    return out


@pytest.fixture
def tiny(trained):
    def get(name: str) -> tuple[nn.Module, ModelRef]:
        module, ref = trained[name]
        return copy.deepcopy(module), ref
    return get


@pytest.fixture(scope="session")
def cycle_export(trained, tmp_path_factory):
    """The CycleLike model exported once to all six formats (many tests read this)."""
    from pix2mobile.pipelines.export import export_model

    module, ref = trained["cycle"]
    out = tmp_path_factory.mktemp("cycle_all")
    manifest = export_model(copy.deepcopy(module), ref, SIZE, None, out)
    return module, ref, out, manifest
