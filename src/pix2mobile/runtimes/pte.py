"""Run `.pte` artifacts with ExecuTorch's Python runtime (the XNNPACK delegate is linked in).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from pix2mobile.errors import ExportError
from pix2mobile.models.spec import IOSpec
from pix2mobile.runtimes.common import Runner, as_outputs, require, to_numpy, to_tensor

METHOD = "forward"


def load_runner(path: str | Path, io: IOSpec) -> Runner:
    runtime_mod = require("executorch.runtime", "executorch", "ExecuTorch verification")
    program = runtime_mod.Runtime.get().load_program(Path(path))
    if METHOD not in program.method_names:
        raise ExportError(f"{path}: no '{METHOD}' method (has {sorted(program.method_names)})")
    method = program.load_method(METHOD)

    def run(inputs: Sequence[object]) -> list[np.ndarray]:
        outs = method.execute([to_tensor(x) for x in inputs])
        return [to_numpy(y) for y in as_outputs(list(outs), io)]

    return run
