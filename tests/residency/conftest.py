"""Exports the residency tests share, made once per session.

- `style_export`: a lightly trained tiny fast_style/lite at 32x32 exported the current way to pte,
  tflite (fp32 and the quantized fp16), onnx and mlpackage (fp16). The fp16 gate is set out of
  reach (200 dB), so those two rows fail on parity and keep their `.failed` files.
- `clean_export` / `portable_export`: `residency_nets.Clean` to pte + tflite and
  `residency_nets.Portable` to pte, through `export_model` with a tuple spec.
"""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
import torch

from pix2mobile.models import get_variant
from pix2mobile.pipelines.export import export_model
from pix2mobile.train.warmup import lightly_train
from residency_nets import IO, SIZE, Clean, Portable

STYLE_OPTIONS = {"width": 8, "n_res": 1}
STYLE_SIZE = 32


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def style_export(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    torch.manual_seed(0)
    spec = get_variant("fast_style", "lite")
    generator = lightly_train(spec.create(**STYLE_OPTIONS), spec.io, STYLE_SIZE, steps=60, seed=0)
    out = tmp_path_factory.mktemp("style")
    manifest = export_model(copy.deepcopy(generator), spec, STYLE_SIZE, ["pte", "tflite", "onnx", "mlpackage"], out,
                            options=STYLE_OPTIONS, precisions={"tflite": ["fp32", "fp16"], "mlpackage": ["fp16"]},
                            thresholds={"fp16": 200.0})
    return SimpleNamespace(out=out, manifest=manifest)


def _export(tmp_path_factory: pytest.TempPathFactory, module: torch.nn.Module, arch: str,
            formats: list[str]) -> SimpleNamespace:
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp(arch)
    manifest = export_model(module.eval(), (IO, "test", arch), SIZE, formats, out)
    return SimpleNamespace(out=out, manifest=manifest)


@pytest.fixture(scope="session")
def clean_export(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    torch.manual_seed(0)
    return _export(tmp_path_factory, Clean(), "clean", ["pte", "tflite"])


@pytest.fixture(scope="session")
def portable_export(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    torch.manual_seed(0)
    return _export(tmp_path_factory, Portable(), "portable", ["pte"])
