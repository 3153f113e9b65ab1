"""Run `.onnx` artifacts with ONNX Runtime (CPU execution provider), as the parity gate and `apply` do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from pix2mobile.models.spec import IOSpec
from pix2mobile.runtimes.common import Runner, call_runner, require


def load_runner(path: str | Path, io: IOSpec) -> Runner:
    ort = require("onnxruntime", "onnxruntime", "ONNX verification")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])

    def run(inputs: Sequence[object]) -> list[np.ndarray]:
        def feed(named: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            names = [o.name for o in session.get_outputs()]
            return dict(zip(names, session.run(names, named)))
        return call_runner(feed, io, inputs)

    return run
