"""Each format's own runtime, opened for timing: a zero-argument call that runs the artifact once.

A format row (`convert.formats.FORMATS[...].timing`) holds its `Runtime`: label, module,
distribution, thread settings and the opener `open(path, feed, order, threads) -> RunOnce`
(the openers of the built-in formats are here), or a `NotTimed` with the reason it is not
timed. Eager PyTorch is not a format: `EAGER_RUNTIME` and `open_eager` are its own.
A timing child process gets the opener as a `module:qualname` reference (`opener_ref`) and
resolves it (`resolve_opener`), so it never imports the format table.

This module imports no runtime at module level, so a child process that measures one artifact
(`memory.py`) pays only for the runtime it needs: onnxruntime alone weighs far less than torch.

Thread settings, one per runtime (all get the same count):
- onnxruntime: `intra_op_num_threads`, one inter-op thread, and `session.intra_op.allow_spinning`
  off, so its pool does not spin after a run and steal the CPU from the next runtime.
- ai-edge-litert: `num_threads`; the default op resolver applies the XNNPACK delegate.
- PyTorch lite interpreter and eager: `torch.set_num_threads` (OpenMP; the children run with
  `OMP_WAIT_POLICY=PASSIVE`).
- ExecuTorch: the XNNPACK threadpool of its Python bindings, reset to the count.

Core ML is not timed: it runs only on Apple hardware, and on Linux `coreml_eval` is a numpy
*reference evaluator* that re-reads the model on every call; its time says nothing about a
phone, so the report gives Core ML latency and memory as null with `COREML_UNTIMED` as reason
(the Core ML rows' `NotTimed`).
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
                  "reference evaluator (runtimes.coreml_eval) checks parity, and its speed says nothing about a phone")

RunOnce = Callable[[], Any]
Opener = Callable[[Any, Mapping[str, np.ndarray], Sequence[str], int], RunOnce]
"""open(path, feed, order, threads) -> RunOnce: load one artifact; feed is in the artifact's own
layout (NHWC for channel-last tflite), order the input names in positional order."""


@dataclass(frozen=True)
class Runtime:
    """How one format is timed on the host: the modules to import, its distribution, its opener.

    module: imported before the inputs are read (so a memory child's baseline holds the runtime);
    imports: further modules imported then. open: None only for eager PyTorch (`open_eager`).
    """

    label: str
    module: str
    distribution: str
    settings: str
    open: Opener | None = None
    imports: tuple[str, ...] = ()

    def version(self) -> str | None:
        try:
            return importlib.metadata.version(self.distribution)
        except importlib.metadata.PackageNotFoundError:
            return None

    def describe(self) -> str:
        v = self.version()
        return f"{self.label} {v}" if v else self.label

    @property
    def modules(self) -> tuple[str, ...]:
        return (self.module, *self.imports)

    def opener_ref(self) -> str:
        """`module:qualname` of the opener, for a child process to resolve."""
        if self.open is None:
            raise ValueError(f"{self.label} has no opener")
        return f"{self.open.__module__}:{self.open.__qualname__}"


@dataclass(frozen=True)
class NotTimed:
    """A format that is deliberately not timed on the host: the label its rows show, and why."""

    label: str
    reason: str


EAGER_RUNTIME = Runtime("PyTorch eager fp32", "torch", "torch", "torch.set_num_threads(N), inference_mode")
CORE_ML = NotTimed("runtimes.coreml_eval (numpy reference evaluator: parity only)", COREML_UNTIMED)


def import_runtime(modules: Sequence[str]) -> None:
    """Import what timing needs (so a caller can measure memory before the model is loaded)."""
    for name in modules:
        importlib.import_module(name)


def resolve_opener(ref: str) -> Opener:
    """The opener a `Runtime.opener_ref()` names."""
    module, _, qualname = ref.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def open_eager(module: Any, feed: Mapping[str, np.ndarray], order: Sequence[str], threads: int) -> RunOnce:
    """Eager PyTorch: run `module` (the benchmark rebuilds it from the manifest) once on `feed`."""
    if module is None:
        raise ValueError("timing eager PyTorch needs the module")
    return _eager(module, feed, order, threads)


def open_onnx(path: Any, feed: Mapping[str, np.ndarray], order: Sequence[str], threads: int) -> RunOnce:
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


def open_tflite(path: Any, feed: Mapping[str, np.ndarray], order: Sequence[str], threads: int) -> RunOnce:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    runner = interpreter.get_signature_runner("serving_default")
    fed = {k: np.ascontiguousarray(v) for k, v in feed.items()}
    return lambda: runner(**fed)


def _tensors(feed: Mapping[str, np.ndarray], order: Sequence[str]) -> list[Any]:
    import torch

    return [torch.from_numpy(np.ascontiguousarray(feed[name])) for name in order]


def open_ptl(path: Any, feed: Mapping[str, np.ndarray], order: Sequence[str], threads: int) -> RunOnce:
    import torch
    from torch.jit.mobile import _load_for_lite_interpreter

    torch.set_num_threads(threads)
    lite = _load_for_lite_interpreter(str(path))
    inputs = _tensors(feed, order)

    def run() -> Any:
        with torch.no_grad():
            return lite(*inputs)
    return run


def open_pte(path: Any, feed: Mapping[str, np.ndarray], order: Sequence[str], threads: int) -> RunOnce:
    from executorch.extension.pybindings import portable_lib
    from executorch.runtime import Runtime as EtRuntime

    portable_lib._unsafe_reset_threadpool(threads)
    method = EtRuntime.get().load_program(Path(path)).load_method("forward")
    inputs = _tensors(feed, order)
    return lambda: method.execute(inputs)


def _eager(module: Any, feed: Mapping[str, np.ndarray], order: Sequence[str], threads: int) -> RunOnce:
    import torch

    torch.set_num_threads(threads)
    inputs = _tensors(feed, order)

    def run() -> Any:
        with torch.inference_mode():
            return module(*inputs)
    return run
