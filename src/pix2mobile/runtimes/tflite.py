"""Run `.tflite` artifacts with LiteRT's interpreter (`ai_edge_litert`); NHWC I/O is detected from the signature.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from pix2mobile.errors import ExportError
from pix2mobile.models.spec import IOSpec
from pix2mobile.runtimes.common import Runner, call_runner, require

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
