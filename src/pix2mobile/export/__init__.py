"""pix2mobile.export: one declarative format table, one module per format, a parity gate, a manifest.

`FORMATS` is keyed by name; the CLI, docs, verification and benchmark iterate it and never
refer to a format by position. Each row names the module functions that export and run it:

    export_fn(module, example_inputs, io, out_path, opts) -> Exported   (path-like)
    runner_fn(path, io) -> run(inputs) -> list[np.ndarray]               (IOSpec layout and ranges)

Importing this package imports no converter; each format imports its own inside its functions.
`export_model` (pipeline.py) exports, verifies and writes `manifest.json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..models.spec import IOSpec
from . import coreml, onnx, pte, ptl, tflite
from ._common import Exported, ExportOptions, Runner


def _never(io: IOSpec) -> str | None:
    return None


@dataclass(frozen=True)
class ExportFormat:
    """One row of the format table.

    precisions: the precisions this format exports; the first is the default. Those its converter
      does not make natively are built by `pix2mobile.quantize` (its RECIPES table says how).
    converter: distributions whose versions the manifest records for this format.
    runtime: the distribution (or module) whose runtime verifies the artifact.
    disabled(io) -> reason or None: a model this format cannot take, decided before exporting.
    """

    key: str
    suffix: str
    is_dir: bool
    precisions: tuple[str, ...]
    converter: tuple[str, ...]
    runtime: str
    export_fn: Callable[..., Exported]
    runner_fn: Callable[[str | Path, IOSpec], Runner]
    description: str = ""
    disabled: Callable[[IOSpec], str | None] = _never

    @property
    def default_precision(self) -> str:
        return self.precisions[0]


FORMATS: dict[str, ExportFormat] = {
    "ptl": ExportFormat(
        key="ptl", suffix=".ptl", is_dir=False, precisions=("fp32", "int8"), converter=("torch",),
        runtime="torch.jit.mobile", export_fn=ptl.export, runner_fn=ptl.load_runner,
        description="TorchScript Lite (PyTorch Mobile), trace + freeze"),
    "tflite": ExportFormat(
        key="tflite", suffix=".tflite", is_dir=False,
        precisions=("fp32", "fp16", "w8", "int8-dynamic", "int8"), converter=("litert-torch", "torch"),
        runtime="ai-edge-litert", export_fn=tflite.export, runner_fn=tflite.load_runner,
        description="TFLite via litert-torch (no TensorFlow), NHWC image I/O by default"),
    "mlpackage": ExportFormat(
        key="mlpackage", suffix=".mlpackage", is_dir=True,
        precisions=("fp16", "fp32", "w8", "palette6", "palette4"),
        converter=("coremltools", "torch"), runtime="pix2mobile.export.coreml_check",
        export_fn=coreml.export_mlpackage, runner_fn=coreml.load_runner,
        description="Core ML ML Program (iOS 16+), image I/O as raw RGB pixels"),
    "mlmodel": ExportFormat(
        key="mlmodel", suffix=".mlmodel", is_dir=False,
        precisions=("fp32", "fp16", "w8", "palette6", "palette4"), converter=("coremltools", "torch"),
        runtime="pix2mobile.export.coreml_check", export_fn=coreml.export_mlmodel, runner_fn=coreml.load_runner,
        description="Core ML NeuralNetwork (iOS 13/14), image I/O as raw RGB pixels"),
    "onnx": ExportFormat(
        key="onnx", suffix=".onnx", is_dir=False, precisions=("fp32",), converter=("torch", "onnxscript", "onnx"),
        runtime="onnxruntime", export_fn=onnx.export, runner_fn=onnx.load_runner,
        description="ONNX (dynamo exporter), the desktop baseline"),
    "pte": ExportFormat(
        key="pte", suffix=".pte", is_dir=False, precisions=("fp32", "int8"), converter=("executorch", "torch"),
        runtime="executorch", export_fn=pte.export, runner_fn=pte.load_runner,
        description="ExecuTorch with the XNNPACK delegate"),
}

from .manifest import ArtifactEntry, Manifest, ModelInfo, Parity, TensorInfo  # noqa: E402
from .pipeline import ModelRef, export_model  # noqa: E402

__all__ = ["FORMATS", "ExportFormat", "ExportOptions", "Exported", "Runner", "export_model", "ModelRef",
           "Manifest", "ArtifactEntry", "ModelInfo", "Parity", "TensorInfo"]
