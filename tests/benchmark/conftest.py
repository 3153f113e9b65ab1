"""Tiny exports the benchmark tests share: a lightly trained fast_style/lite and a morph at 32 px.

Each is saved as a run directory (model.safetensors + model.json, as `pix2mobile train` writes
it) and exported with its checkpoint's sha256, so the harness rebuilds eager PyTorch from them.
Benchmarks run once per session (`fast_style_bench`, `morph_bench`); tests read their reports.
"""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from pix2mobile.benchmark.config import BenchConfig
from pix2mobile.benchmark.eager import checkpoint_sha256
from pix2mobile.checkpoint import save_run
from pix2mobile.pipelines.export import export_model
from pix2mobile.train.warmup import gaussian_blur, lightly_train
from pix2mobile.models import get_variant

SIZE = 32
FAST_STYLE_OPTIONS = {"width": 4, "n_res": 1}
from bench_formats import FAST_STYLE_FORMATS, MORPH_FORMATS
TINY = dict(runs=5, warmup=1, min_seconds=0.0, samples=2, threads=1, peak_size=128, nst_steps=2, morph_frames=3)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _memorise(stack: torch.nn.Module, size: int, steps: int = 80) -> torch.nn.Module:
    """Fit each coordinate MLP of a MorphStack to a different (blurred) photo crop."""
    from pix2mobile.data.builtin import sample_batch

    photos = gaussian_blur(sample_batch(len(stack.mlps), size, seed=3))
    opt = torch.optim.Adam(stack.parameters(), lr=5e-3)
    for _ in range(steps):
        loss = sum(((mlp.render((size, size)) - photos[i:i + 1]) ** 2).mean() for i, mlp in enumerate(stack.mlps))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return stack.eval()


def _export(tmp: Path, family: str, arch: str, module: torch.nn.Module, options: dict, formats: list[str],
            **meta: str) -> SimpleNamespace:
    spec = get_variant(family, arch)
    run = tmp / "run"
    save_run(run, module.state_dict(), {"family": family, "arch": arch, "options": options, **meta})
    manifest = export_model(copy.deepcopy(module), spec, SIZE, formats, tmp / "export", options=options,
                            checkpoint_sha256=checkpoint_sha256(run))
    return SimpleNamespace(run=run, export=tmp / "export", manifest=manifest, module=module)


@pytest.fixture(scope="session")
def fast_style_export(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    torch.manual_seed(0)
    spec = get_variant("fast_style", "lite")
    generator = lightly_train(spec.create(**FAST_STYLE_OPTIONS), spec.io, SIZE, steps=200, lr=2e-2)   # 0..255 out
    return _export(tmp_path_factory.mktemp("fast_style"), "fast_style", "lite", generator, FAST_STYLE_OPTIONS,
                   FAST_STYLE_FORMATS, style="builtin")


@pytest.fixture(scope="session")
def morph_export(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    torch.manual_seed(0)
    options = {"num_images": 2, "fourier": 0}
    stack = _memorise(get_variant("morph", "mlp").create(**options), SIZE)
    return _export(tmp_path_factory.mktemp("morph"), "morph", "mlp", stack, options, MORPH_FORMATS)


@pytest.fixture(scope="session")
def fast_style_bench(fast_style_export, tmp_path_factory):
    from pix2mobile.benchmark import run_bench

    out = tmp_path_factory.mktemp("fast_style_bench")
    cfg = BenchConfig(checkpoint=str(fast_style_export.run), memory=True, **TINY)
    return SimpleNamespace(report=run_bench(fast_style_export.export, out, cfg), out=out, cfg=cfg)


@pytest.fixture(scope="session")
def morph_bench(morph_export, tmp_path_factory):
    """The morph, benchmarked with --adb on a machine without adb (device rows must say so)."""
    from pix2mobile.benchmark import run_bench

    out = tmp_path_factory.mktemp("morph_bench")
    cfg = BenchConfig(checkpoint=str(morph_export.run), memory=False, adb="emulator-5554",
                      adb_path=str(out / "no-such-adb"), **TINY)
    return SimpleNamespace(report=run_bench(morph_export.export, out, cfg), out=out, cfg=cfg)
