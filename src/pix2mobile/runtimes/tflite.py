"""Run `.tflite` artifacts with LiteRT's interpreter (`ai_edge_litert`); NHWC I/O is detected from the signature.

`residency(path)` reads the flatbuffer itself: operators by name, TRANSPOSE count, GPU verdict (LiteRT's
analyzer where it checks, else pix2mobile's transcription of the GPU delegate's rules, `tflite_gpu`).
"""

from __future__ import annotations

import functools
import tempfile
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

from pix2mobile.errors import ExportError
from pix2mobile.manifest import Residency
from pix2mobile.models.spec import IOSpec
from pix2mobile.runtimes.common import Runner, call_runner, require
from pix2mobile.runtimes.tflite_gpu import check_gpu

SIGNATURE = "serving_default"


def load_runner(path: str | Path, io: IOSpec) -> Runner:
    """Run with `ai_edge_litert.interpreter`; NHWC is detected from the signature's shapes."""
    interpreter_lib = require("ai_edge_litert.interpreter", "ai-edge-litert", "TFLite verification")
    interpreter = interpreter_lib.Interpreter(model_path=str(path))
    signatures = interpreter.get_signature_list()
    if SIGNATURE not in signatures:
        raise ExportError(f"{path}: no '{SIGNATURE}' signature (has {sorted(signatures)})")
    runner = interpreter.get_signature_runner(SIGNATURE)
    details = runner.get_input_details()
    missing = [s.name for s in io.inputs if s.name not in details]
    if missing:
        raise ExportError(f"{path}: signature lacks inputs {missing} (has {sorted(details)})")
    nhwc = {s.name: is_nhwc(tuple(details[s.name]["shape"]), s.channels)
            for s in io.inputs if s.kind == "image"}
    out_details = runner.get_output_details()
    out_nhwc = {s.name: s.kind == "image" and is_nhwc(tuple(out_details[s.name]["shape"]), s.channels)
                for s in io.outputs if s.name in out_details}

    def run(inputs: Sequence[object]) -> list[np.ndarray]:
        def feed(named: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            fed = {k: (np.ascontiguousarray(v.transpose(0, 2, 3, 1)) if nhwc.get(k) else v) for k, v in named.items()}
            out = runner(**fed)
            return {s.name: (out[s.name].transpose(0, 3, 1, 2) if out_nhwc.get(s.name) else out[s.name])
                    for s in io.outputs}
        return call_runner(feed, io, inputs)

    return run


def is_nhwc(shape: tuple[int, ...], channels: int) -> bool:
    return len(shape) == 4 and shape[-1] == channels and shape[1] != channels


def residency(path: str | Path) -> Residency:
    """The model's operators by builtin name (a custom op as "CUSTOM:NAME"), every subgraph counted,
    read from the flatbuffer itself (no interpreter); its TRANSPOSE count; and its GPU delegate
    verdict (`gpu_verdict`)."""
    require("ai_edge_litert.interpreter", "ai-edge-litert", "reading a .tflite model")
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools.flatbuffer_utils import get_builtin_code_from_operator_code

    model = schema.Model.GetRootAs(Path(path).read_bytes(), 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    ops: Counter[str] = Counter()
    for i in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(i)
        for j in range(subgraph.OperatorsLength()):
            code = model.OperatorCodes(subgraph.Operators(j).OpcodeIndex())
            builtin = get_builtin_code_from_operator_code(code)
            if builtin == schema.BuiltinOperator.CUSTOM:
                ops[f"CUSTOM:{(code.CustomCode() or b'?').decode(errors='replace')}"] += 1
            else:
                ops[names.get(builtin, f"BUILTIN_{builtin}")] += 1
    gpu, note = gpu_verdict(path)
    return Residency(ops=dict(ops), unit="ops", layout_transposes=ops.get("TRANSPOSE", 0), gpu_compatible=gpu,
                     note=note)


GPU_WARNING = "GPU COMPATIBILITY WARNING:"
GPU_OK = "compatible with GPU delegate"


def gpu_verdict(path: str | Path) -> tuple[bool | None, str | None]:
    """(compatible, note): from LiteRT's model analyzer with its GPU delegate check on where that
    analyzer checks, else from `rules_verdict` (pix2mobile's transcription of the rules).

    From the analyzer: False with the first incompatible op and its reason as the note, True when it
    says the model "looks compatible", None when it gives no verdict. ai-edge-litert 2.x ships an
    analyzer that never calls the GPU check (`model_analyzer.cc`) and calls every model compatible:
    `analyzer_checks_gpu` feeds it a model with a custom op no GPU delegate has, and when it passes
    that (or the analyzer, a private module of ai_edge_litert, is missing) the rules decide."""
    try:
        from ai_edge_litert import _pywrap_analyzer_wrapper as analyzer
    except ImportError:
        return rules_verdict(path, "LiteRT's analyzer is not importable")
    if not analyzer_checks_gpu():
        return rules_verdict(path)
    return parse_gpu_report(analyzer.ModelAnalyzer(str(path), True, True))


RULES = "GPU rules ({} transcription)"


def rules_verdict(path: str | Path, why: str = "this ai-edge-litert's analyzer does not check"
                  ) -> tuple[bool | None, str | None]:
    """(compatible, note) from `tflite_gpu.check_gpu`: LiteRT's gpu_compatibility.cc and the GPU
    delegate's model_builder.cc gate, transcribed. False with the first issue as the note, prefixed
    with whose rule it is ("GPU rules (gpu_compatibility.cc transcription): Op#12 CUSTOM:X: ...");
    True with a note saying where the verdict came from (and `why` not from LiteRT); None when the
    file cannot be read."""
    try:
        issues = check_gpu(path)
    except Exception as exc:  # a file the rules cannot read: no verdict, and the note says why
        return None, f"GPU compatibility not checked: {type(exc).__name__}: {exc}"
    if not issues:
        return True, f"{RULES.format('gpu_compatibility.cc + model_builder.cc')}: every op passes ({why})"
    more = f" (+{len(issues) - 1} more)" if len(issues) > 1 else ""
    return False, f"{RULES.format(issues[0].rule)}: {issues[0]}{more}"


def parse_gpu_report(text: str) -> tuple[bool | None, str | None]:
    """The analyzer's report -> (compatible, the first incompatible op and why, or None)."""
    last_op, reasons = "", []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("Op#"):
            last_op = stripped.split("(", 1)[0]
        elif stripped.startswith(GPU_WARNING):
            reason = stripped[len(GPU_WARNING):].strip()
            if "has GPU delegate compatibility issues" not in reason:
                reasons.append(f"{last_op}: {reason}" if last_op else reason)
    if reasons or GPU_WARNING in text:
        return False, reasons[0] if reasons else "the GPU analyzer reports compatibility issues"
    if GPU_OK in text:
        return True, None
    return None, "GPU compatibility not checked: the analyzer gave no verdict"


@functools.lru_cache(maxsize=1)
def analyzer_checks_gpu() -> bool:
    """Whether LiteRT's analyzer fails a model it must fail: one op, a custom op no GPU delegate has."""
    from ai_edge_litert import _pywrap_analyzer_wrapper as analyzer
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools.flatbuffer_utils import convert_object_to_bytearray

    model, subgraph, code, op = schema.ModelT(), schema.SubGraphT(), schema.OperatorCodeT(), schema.OperatorT()
    tensors = []
    for name in ("x", "y"):
        t = schema.TensorT()
        t.name, t.shape, t.type, t.buffer = name, [1, 4], schema.TensorType.FLOAT32, 0
        tensors.append(t)
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    code.customCode, code.version = "Pix2MobileNoGpuCanary", 1
    op.opcodeIndex, op.inputs, op.outputs = 0, [0], [1]
    subgraph.tensors, subgraph.inputs, subgraph.outputs, subgraph.operators = tensors, [0], [1], [op]
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, [code], [subgraph], [schema.BufferT()]
    with tempfile.TemporaryDirectory(prefix="pix2mobile-gpu-") as tmp:
        canary = Path(tmp) / "canary.tflite"
        canary.write_bytes(bytes(convert_object_to_bytearray(model)))
        verdict, _ = parse_gpu_report(analyzer.ModelAnalyzer(str(canary), True, True))
    return verdict is False
