"""Each format's own runtime, opened for timing: a zero-argument call that runs the artifact once.

This module imports no runtime at module level, so a child process that measures one artifact
(`memory.py`) pays only for the runtime it needs: onnxruntime alone weighs far less than torch.

Thread settings, one per runtime (all get the same count):
- onnxruntime: `intra_op_num_threads`, one inter-op thread, and `session.intra_op.allow_spinning`
  off, so its pool does not spin after a run and steal the CPU from the next runtime.
- ai-edge-litert: `num_threads`; the default op resolver applies the XNNPACK delegate.
- PyTorch lite interpreter and eager: `torch.set_num_threads` (OpenMP; the children run with
  `OMP_WAIT_POLICY=PASSIVE`).
- ExecuTorch: the XNNPACK threadpool of its Python bindings, reset to the count.

Core ML is not timed: it runs only on Apple hardware, and on Linux `coreml_check` is a numpy
*reference evaluator* that re-reads the model on every call; its time says nothing about a
phone, so the report gives Core ML latency and memory as null with `COREML_UNTIMED` as reason.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

EAGER = "pytorch"
COREML_UNTIMED = ("latency and peak memory not measured: Core ML runs only on Apple devices; on Linux the numpy "
                  "reference evaluator (export.coreml_check) checks parity, and its speed says nothing about a phone")

RunOnce = Callable[[], Any]


@dataclass(frozen=True)
class Runtime:
    """How one format is timed on the host: the module to import, its distribution, its loader."""

    label: str
    module: str
    distribution: str
    settings: str

    def version(self) -> str | None:
        try:
            return importlib.metadata.version(self.distribution)
        except importlib.metadata.PackageNotFoundError:
            return None

    def describe(self) -> str:
        v = self.version()
        return f"{self.label} {v}" if v else self.label


RUNTIMES: dict[str, Runtime] = {
    "onnx": Runtime("onnxruntime", "onnxruntime", "onnxruntime",
                    "CPUExecutionProvider, intra-op threads = N, 1 inter-op thread, spinning off"),
    "tflite": Runtime("ai-edge-litert", "ai_edge_litert.interpreter", "ai-edge-litert",
                      "Interpreter(num_threads=N), default XNNPACK delegate"),
    "ptl": Runtime("torch.jit.mobile (lite interpreter)", "torch", "torch", "torch.set_num_threads(N)"),
    "pte": Runtime("executorch.runtime", "executorch.runtime", "executorch",
                   "XNNPACK delegate, pybindings threadpool reset to N"),
    EAGER: Runtime("PyTorch eager fp32", "torch", "torch", "torch.set_num_threads(N), inference_mode"),
}


def import_runtime(fmt: str) -> None:
    """Import what timing `fmt` needs (so a caller can measure memory before the model is loaded)."""
    importlib.import_module(RUNTIMES[fmt].module)
    if fmt == "pte":
        importlib.import_module("executorch.extension.pybindings.portable_lib")


def open_runtime(fmt: str, path: str | Path | None, feed: Mapping[str, np.ndarray], order: Sequence[str],
                 threads: int, eager: Mapping[str, Any] | None = None) -> RunOnce:
    """Load one artifact with its runtime and return a call that runs it once on `feed`.

    feed: inputs by name, already in the artifact's own layout (NHWC for channel-last tflite).
    order: input names in positional order (PyTorch and ExecuTorch take positional inputs).
    eager: for fmt "pytorch", the rebuild recipe (`eager.EagerRecipe.to_json()`).
    """
    if fmt == "onnx":
        return _onnx(path, feed, threads)
    if fmt == "tflite":
        return _tflite(path, feed, threads)
    if fmt == "ptl":
        return _ptl(path, feed, order, threads)
    if fmt == "pte":
        return _pte(path, feed, order, threads)
    if fmt == EAGER:
        return _eager(eager or {}, feed, order, threads)
    raise ValueError(f"no host runtime times format {fmt!r}")


def _onnx(path: Any, feed: Mapping[str, np.ndarray], threads: int) -> RunOnce:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    fed = {k: np.ascontiguousarray(v) for k, v in feed.items()}
    return lambda: session.run(names, fed)


def _tflite(path: Any, feed: Mapping[str, np.ndarray], threads: int) -> RunOnce:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    runner = interpreter.get_signature_runner("serving_default")
    fed = {k: np.ascontiguousarray(v) for k, v in feed.items()}
    return lambda: runner(**fed)


def _tensors(feed: Mapping[str, np.ndarray], order: Sequence[str]) -> list[Any]:
    import torch

    return [torch.from_numpy(np.ascontiguousarray(feed[name])) for name in order]


def _ptl(path: Any, feed: Mapping[str, np.ndarray], order: Sequence[str], threads: int) -> RunOnce:
    import torch
    from torch.jit.mobile import _load_for_lite_interpreter

    torch.set_num_threads(threads)
    lite = _load_for_lite_interpreter(str(path))
    inputs = _tensors(feed, order)

    def run() -> Any:
        with torch.no_grad():
            return lite(*inputs)
    return run


def _pte(path: Any, feed: Mapping[str, np.ndarray], order: Sequence[str], threads: int) -> RunOnce:
    from executorch.extension.pybindings import portable_lib
    from executorch.runtime import Runtime as EtRuntime

    portable_lib._unsafe_reset_threadpool(threads)
    method = EtRuntime.get().load_program(Path(path)).load_method("forward")
    inputs = _tensors(feed, order)
    return lambda: method.execute(inputs)


def _eager(recipe: Mapping[str, Any], feed: Mapping[str, np.ndarray], order: Sequence[str], threads: int) -> RunOnce:
    import torch

    from .eager import EagerRecipe

    torch.set_num_threads(threads)
    module = EagerRecipe.from_json(recipe).build().module
    inputs = _tensors(feed, order)

    def run() -> Any:
        with torch.inference_mode():
            return module(*inputs)
    return run
