"""Helpers of the training tests: tiny images, loss recorders, resume-vs-uninterrupted checks."""

from __future__ import annotations

import dataclasses
import os
import signal
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import torch
from PIL import Image

from pix2mobile.checkpoint import load_run
from pix2mobile.train.loop import TrainingInterrupted


def smooth_image(width: int, height: int, seed: int = 0) -> Image.Image:
    """Low-frequency colour blobs: learnable at 32 px, different for every seed."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
    return Image.fromarray(small, "RGB").resize((width, height), Image.Resampling.BICUBIC)


def first_last(losses: list[float], k: int = 3) -> tuple[float, float]:
    return float(np.mean(losses[:k])), float(np.mean(losses[-k:]))


def record(name: str) -> tuple[list[float], Callable[[int, dict[str, float]], None]]:
    """(values, hook): the hook appends losses[name] after every step."""
    values: list[float] = []

    def hook(step: int, losses: dict[str, float]) -> None:
        values.append(losses[name] if isinstance(name, str) else sum(losses[n] for n in name))
    return values, hook


def interrupt_at(step: int) -> Callable[[int, dict[str, float]], None]:
    """A hook that sends this process SIGINT after `step`, as Ctrl-C would."""
    def hook(done: int, losses: dict[str, float]) -> None:
        if done == step:
            os.kill(os.getpid(), signal.SIGINT)
    return hook


def assert_resume_matches(train: Callable[..., Path], cfg: Any, tmp_path: Path, stop: int) -> None:
    """Uninterrupted run == run interrupted by SIGINT after `stop` steps, then resumed (bitwise)."""
    full = train(dataclasses.replace(cfg, out=str(tmp_path / "full")))
    part = tmp_path / "part"
    with pytest.raises(TrainingInterrupted) as info:
        train(dataclasses.replace(cfg, out=str(part)), on_step=interrupt_at(stop))
    assert info.value.step == stop
    assert load_run(part)[0]["steps_done"] == stop
    train(dataclasses.replace(cfg, out=None, resume=str(part)))
    meta_full, w_full = load_run(full)
    meta_part, w_part = load_run(part)
    assert meta_full["steps_done"] == meta_part["steps_done"] == meta_full["config"]["steps"] * \
        (len(meta_full.get("images", [None])) if meta_full["family"] == "morph" else 1)
    assert w_full.keys() == w_part.keys()
    for key in w_full:
        assert torch.equal(w_full[key], w_part[key]), f"{key} differs after resume"
    full_state = torch.load(full / "train_state.pt", weights_only=True)
    part_state = torch.load(part / "train_state.pt", weights_only=True)
    _assert_nested_equal(full_state["model"], part_state["model"])


def _assert_nested_equal(a: Any, b: Any, path: str = "") -> None:
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), f"training state {path} differs after resume"
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _assert_nested_equal(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_nested_equal(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a} != {b}"


def rebuild_generator(run: Path) -> tuple[dict[str, Any], torch.nn.Module]:
    """The export path: model.json + model.safetensors -> registry -> strict load."""
    from pix2mobile.checkpoint import load_state_dict_strict
    from pix2mobile.models import get_variant

    meta, weights = load_run(run)
    net = get_variant(meta["family"], meta["arch"]).create(**meta["options"])
    load_state_dict_strict(net, weights, source=str(run))
    return meta, net.eval()
