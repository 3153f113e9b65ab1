"""The format table: one row per artifact format, every per-format fact in it.

`FORMATS` is keyed by name; the CLI, docs, verification, quantization and benchmark iterate it
and never refer to a format by name or position. A new format is its exporter
(`convert/<fmt>.py`), its runner (`runtimes/<fmt>.py`) and one row here:

    export_fn(module, example_inputs, io, out_path, opts) -> Exported   (path-like)
    runner_fn(path, io) -> run(inputs) -> list[np.ndarray]               (IOSpec layout and ranges)

and the row's precisions (`native`, and `quantized` recipes carrying the callable that makes
each), `auto_order`, its residency inspector (`residency_fn(path) -> manifest.Residency`: where
the file's ops run, recorded in every manifest row with a file; or None, `residency` saying why),
host timing (`runtimes.timing.Runtime` with its opener, or `NotTimed` and why), on-device tool
(`runtimes.device.DeviceTool`, or a sentence saying why there is none) and plot colour.
`pix2mobile info` and `docs/formats.md` print `format_table()`:

    python -m pix2mobile.convert.formats > docs/formats.md

Importing this module imports no converter library and no runtime (each imports its own inside
its functions). `pipelines.export.export_model` exports, verifies and writes `manifest.json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pix2mobile.convert import coreml, onnx, pte, ptl, tflite
from pix2mobile.convert.common import Exported, ExportOptions
from pix2mobile.convert.quantize import coreml as coreml_quantize
from pix2mobile.convert.quantize import pte as pte_quantize
from pix2mobile.convert.quantize import ptl as ptl_quantize
from pix2mobile.convert.quantize import tflite as tflite_quantize
from pix2mobile.convert.quantize.recipes import Recipe
from pix2mobile.errors import ConfigError
from pix2mobile.manifest import Residency
from pix2mobile.models.spec import IOSpec
from pix2mobile.runtimes import coreml as coreml_runtime
from pix2mobile.runtimes import onnx as onnx_runtime
from pix2mobile.runtimes import pte as pte_runtime
from pix2mobile.runtimes import ptl as ptl_runtime
from pix2mobile.runtimes import timing
from pix2mobile.runtimes import tflite as tflite_runtime
from pix2mobile.runtimes.common import Runner
from pix2mobile.runtimes.device import (NOT_ON_ANDROID, DeviceTool, parse_benchmark_model, parse_executor_runner,
                                        parse_speed_benchmark_torch)
from pix2mobile.runtimes.timing import NotTimed, Runtime


def _never(io: IOSpec) -> str | None:
    return None


@dataclass(frozen=True)
class ExportFormat:
    """One row of the format table.

    native: the precisions this format's converter makes; the first is the default.
    quantized: recipes for the precisions it does not make natively (`convert.quantize.recipes`),
      each holding the callable that does the work. `precisions` is native then quantized.
    auto_order: the order `--auto` tries precisions, smallest file first (default: `precisions`).
    converter: distributions whose versions the manifest records for this format.
    runtime: the distribution (or module) whose runtime verifies the artifact.
    timing: how the host benchmark times it (`Runtime`), `NotTimed` with the reason it is not,
      or None (not timed, no particular reason).
    device: the on-device benchmark tool, a sentence saying why there is none, or None.
    colour: its colour in the benchmark plots (a matplotlib colour).
    disabled(io) -> reason or None: a model this format cannot take, decided before exporting.
    read_io(path) -> (io, size) or None: the IOSpec export wrote into the file itself, for
      `pix2mobile quantize FILE` without a manifest beside it (None: the format keeps none).
    sizes: how its exporter makes an artifact accept several sizes (`export --size A B` or a
      range); what a given artifact accepts is measured and recorded in its manifest `shapes`.
    residency_fn(path) -> Residency: where the file's ops run, read from the file (the manifest
      row's `residency`; `bench --require-resident` gates on its `problems()`), or None.
    residency: what that record holds, or why the format has none.
    """

    key: str
    suffix: str
    is_dir: bool
    native: tuple[str, ...]
    converter: tuple[str, ...]
    runtime: str
    export_fn: Callable[..., Exported]
    runner_fn: Callable[[str | Path, IOSpec], Runner]
    description: str = ""
    disabled: Callable[[IOSpec], str | None] = _never
    quantized: tuple[Recipe, ...] = ()
    auto_order: tuple[str, ...] = ()
    timing: Runtime | NotTimed | None = None
    device: DeviceTool | str | None = None
    colour: str = "grey"
    read_io: Callable[[Path], tuple[IOSpec, tuple[int, int]] | None] | None = None
    sizes: str = "the export size only"
    residency_fn: Callable[[Path], Residency] | None = None
    residency: str = "none"

    def __post_init__(self) -> None:
        for r in self.quantized:
            if r.format != self.key or r.base_precision not in self.native or r.precision in self.native:
                raise ConfigError(f"recipe {r.format}/{r.precision} does not fit format {self.key}: its base "
                                  f"precision {r.base_precision} must be native ({', '.join(self.native)})")
        if not self.auto_order:
            object.__setattr__(self, "auto_order", self.precisions)

    @property
    def precisions(self) -> tuple[str, ...]:
        return self.native + tuple(r.precision for r in self.quantized)

    @property
    def default_precision(self) -> str:
        return self.precisions[0]


def _tflite_recipe(precision: str, calibrated: bool, description: str) -> Recipe:
    return Recipe("tflite", precision, "artifact", "fp32", calibrated, "ai-edge-quantizer", description,
                  ("ai-edge-quantizer",), transform=tflite_quantize.transform)


def _mlpackage_recipe(precision: str, description: str) -> Recipe:
    return Recipe("mlpackage", precision, "artifact", "fp16", False, "coremltools.optimize", description,
                  ("coremltools",), transform=coreml_quantize.transform_mlpackage)


def _mlmodel_recipe(precision: str, description: str) -> Recipe:
    return Recipe("mlmodel", precision, "artifact", "fp32", False, "coremltools quantization_utils", description,
                  ("coremltools",), transform=coreml_quantize.transform_mlmodel)


FORMATS: dict[str, ExportFormat] = {
    "ptl": ExportFormat(
        key="ptl", suffix=".ptl", is_dir=False, native=("fp32",), converter=("torch",),
        runtime="torch.jit.mobile", export_fn=ptl.export, runner_fn=ptl_runtime.load_runner,
        description="TorchScript Lite (PyTorch Mobile), trace + freeze",
        quantized=(Recipe("ptl", "int8", "module", "fp32", True, "torch.ao FX (qnnpack)",
                          "static int8, quantized:: kernels in the lite interpreter", ("torch",),
                          prepare=ptl_quantize.prepare, after_export=ptl_quantize.after_export),),
        auto_order=("int8", "fp32"),
        timing=Runtime("torch.jit.mobile (lite interpreter)", "torch", "torch", "torch.set_num_threads(N)",
                       open=timing.open_ptl),
        device=DeviceTool("PyTorch speed_benchmark_torch", "speed_benchmark_torch", "speed_benchmark_torch.sh",
                          parse_speed_benchmark_torch, input_shapes=True, sets_threads=False),
        colour="tab:orange",
        sizes="the traced graph, declared (list or range) when it matches eager at every size asked",
        residency="none: the lite interpreter runs every op on its own CPU kernels (no delegate to count)"),
    "tflite": ExportFormat(
        key="tflite", suffix=".tflite", is_dir=False, native=("fp32",), converter=("litert-torch", "torch"),
        runtime="ai-edge-litert", export_fn=tflite.export, runner_fn=tflite_runtime.load_runner,
        description="TFLite via litert-torch (no TensorFlow), NHWC image I/O by default",
        quantized=(_tflite_recipe("fp16", False, "fp16 weights, fp32 compute"),
                   _tflite_recipe("w8", False, "int8 weights, fp32 compute"),
                   _tflite_recipe("int8-dynamic", False, "int8 weights, activations quantized at run time"),
                   _tflite_recipe("int8", True, "static int8 (calibrated activations), normalisation layers "
                                                "float, float I/O")),
        auto_order=("int8", "int8-dynamic", "w8", "fp16", "fp32"),
        timing=Runtime("ai-edge-litert", "ai_edge_litert.interpreter", "ai-edge-litert",
                       "Interpreter(num_threads=N), default XNNPACK delegate", open=timing.open_tflite),
        device=DeviceTool("TFLite benchmark_model", "benchmark_model", "tflite_benchmark_model.sh",
                          parse_benchmark_model),
        colour="tab:green", residency_fn=tflite_runtime.residency,
        residency="ops by builtin name, layout TRANSPOSE count, GPU delegate verdict (LiteRT's rules; "
                  "clean: 0 TRANSPOSE, not GPU-incompatible)",
        sizes="the fixed graph resized at load time (resize_tensor_input) where it runs, else litert-torch "
              "dynamic_shapes; fixed with a note when neither matches eager (nearest upsampling, slices)"),
    "mlpackage": ExportFormat(
        key="mlpackage", suffix=".mlpackage", is_dir=True, native=("fp16", "fp32"),
        converter=("coremltools", "torch"), runtime="pix2mobile.runtimes.coreml_eval",
        export_fn=coreml.export_mlpackage, runner_fn=coreml_runtime.load_runner,
        description="Core ML ML Program (iOS 16+), image I/O as raw RGB pixels",
        quantized=(_mlpackage_recipe("w8", "int8 weights, fp16 compute"),
                   _mlpackage_recipe("palette6", "6-bit k-means palettes, fp16 compute"),
                   _mlpackage_recipe("palette4", "4-bit k-means palettes, fp16 compute")),
        auto_order=("palette4", "palette6", "w8", "fp16", "fp32"),
        timing=timing.CORE_ML, device=NOT_ON_ANDROID, colour="tab:purple", read_io=coreml_runtime.read_io,
        residency_fn=coreml_runtime.residency, residency="MIL ops by type (consts not counted); Core ML places "
                                                           "them at load time",
        sizes="ct.EnumeratedShapes on the image input (a range: its verified sizes; Neural Engine-friendly)"),
    "mlmodel": ExportFormat(
        key="mlmodel", suffix=".mlmodel", is_dir=False, native=("fp32",), converter=("coremltools", "torch"),
        runtime="pix2mobile.runtimes.coreml_eval", export_fn=coreml.export_mlmodel,
        runner_fn=coreml_runtime.load_runner,
        description="Core ML NeuralNetwork (iOS 13/14), image I/O as raw RGB pixels",
        quantized=(_mlmodel_recipe("fp16", "fp16 weights"),
                   _mlmodel_recipe("w8", "8-bit linear weights"),
                   _mlmodel_recipe("palette6", "6-bit lookup-table weights"),
                   _mlmodel_recipe("palette4", "4-bit lookup-table weights")),
        auto_order=("palette4", "palette6", "w8", "fp16", "fp32"),
        timing=timing.CORE_ML, device=NOT_ON_ANDROID, colour="tab:brown", read_io=coreml_runtime.read_io,
        residency_fn=coreml_runtime.residency, residency="NeuralNetwork layers by type",
        sizes="enumerated image sizes (input and output; a range: its verified sizes)"),
    "onnx": ExportFormat(
        key="onnx", suffix=".onnx", is_dir=False, native=("fp32",), converter=("torch", "onnxscript", "onnx"),
        runtime="onnxruntime", export_fn=onnx.export, runner_fn=onnx_runtime.load_runner,
        description="ONNX (dynamo exporter), the desktop baseline",
        timing=Runtime("onnxruntime", "onnxruntime", "onnxruntime",
                       "CPUExecutionProvider, intra-op threads = N, 1 inter-op thread, spinning off",
                       open=timing.open_onnx),
        colour="tab:blue", residency_fn=onnx_runtime.residency, residency="nodes by op_type",
        sizes="dynamic H and W axes (torch.export Dim bounded by the sizes asked)"),
    "pte": ExportFormat(
        key="pte", suffix=".pte", is_dir=False, native=("fp32",), converter=("executorch", "torch"),
        runtime="executorch", export_fn=pte.export, runner_fn=pte_runtime.load_runner,
        description="ExecuTorch with the XNNPACK delegate",
        quantized=(Recipe("pte", "int8", "module", "fp32", True, "torchao PT2E + XNNPACKQuantizer",
                          "static int8 per-channel weights, calibrated activations, XNNPACK kernels",
                          ("torchao", "executorch"), prepare=pte_quantize.prepare,
                          after_export=pte_quantize.after_export),),
        auto_order=("int8", "fp32"),
        timing=Runtime("executorch.runtime", "executorch.runtime", "executorch",
                       "XNNPACK delegate, pybindings threadpool reset to N", open=timing.open_pte,
                       imports=("executorch.extension.pybindings.portable_lib",)),
        device=DeviceTool("ExecuTorch executor_runner", "executor_runner", "executorch_runner.sh",
                          parse_executor_runner),
        colour="tab:red", residency_fn=pte_runtime.residency,
        residency="XNNPACK delegate segments and portable-kernel calls (clean: 1 segment, 0 calls)",
        sizes="bounded dynamic shapes (torch.export Dim; memory planned for the largest)"),
}


def format_for_suffix(suffix: str) -> ExportFormat | None:
    """The row whose artifacts end in `suffix` (".tflite"), or None."""
    return next((f for f in FORMATS.values() if f.suffix == suffix), None)


def timed_runtimes() -> dict[str, Runtime]:
    """The host timing runtime of every format that is timed, by format."""
    return {k: f.timing for k, f in FORMATS.items() if isinstance(f.timing, Runtime)}


def _names(value: tuple[str, ...] | str) -> str:
    return ", ".join(value) if isinstance(value, tuple) else value


def format_table() -> list[dict[str, str]]:
    """One dict per format, the columns `pix2mobile info` and `docs/formats.md` show."""
    rows = []
    for key, f in FORMATS.items():
        quantized = [f"{r.precision} ({r.tool})" for r in f.quantized]
        timed = (f.timing.label if isinstance(f.timing, Runtime) else
                 f"no: {f.timing.reason}" if isinstance(f.timing, NotTimed) else "no")
        device = (f"{f.device.label} (`{f.device.script}`)" if isinstance(f.device, DeviceTool) else
                  f"none: {f.device}" if isinstance(f.device, str) else "none")
        rows.append({"key": key, "suffix": f.suffix + ("/" if f.is_dir else ""),
                     "precisions": ", ".join([*f.native, *quantized]), "converter": _names(f.converter),
                     "runtime": f.runtime, "timed on host": timed, "device tool": device,
                     "several sizes": f.sizes, "residency": f.residency})
    return rows


def formats_markdown() -> str:
    """`docs/formats.md`: the format table as Markdown, one row per format."""
    rows = format_table()
    cols = list(rows[0]) if rows else []
    cell = lambda text: text.replace("|", "\\|")   # noqa: E731
    lines = ["# Export formats", "",
             "<!-- Generated from pix2mobile.convert.formats.FORMATS; do not edit. Regenerate with:",
             "     python -m pix2mobile.convert.formats > docs/formats.md -->", "",
             "Native precisions come first; a quantized one names the tool that makes it.", "",
             "| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(cell(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


__all__ = ["FORMATS", "ExportFormat", "ExportOptions", "Exported", "Runner", "format_for_suffix", "format_table",
           "formats_markdown", "timed_runtimes"]


if __name__ == "__main__":
    print(formats_markdown(), end="")
