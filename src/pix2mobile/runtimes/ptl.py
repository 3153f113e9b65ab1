"""Run `.ptl` artifacts with PyTorch's lite interpreter, the runtime of PyTorch Mobile.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from pix2mobile.models.spec import IOSpec
from pix2mobile.runtimes.common import Runner, as_outputs, to_numpy, to_tensor


def load_runner(path: str | Path, io: IOSpec) -> Runner:
    from torch.jit.mobile import _load_for_lite_interpreter

    lite = _load_for_lite_interpreter(str(path))

    def run(inputs: Sequence[object]) -> list[np.ndarray]:
        with torch.no_grad():
            out = lite(*[to_tensor(x) for x in inputs])
        return [to_numpy(y) for y in as_outputs(out, io)]

    return run
