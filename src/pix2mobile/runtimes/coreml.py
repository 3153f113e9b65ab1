"""Run `.mlpackage`/`.mlmodel` artifacts through the numpy evaluator (`runtimes.coreml_eval`): Core ML
itself predicts only on Apple hardware.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from pix2mobile.errors import ExportError
from pix2mobile.models.spec import IOSpec
from pix2mobile.runtimes.common import Runner, from_pixels, to_numpy, to_pixels


def load_runner(path: str | Path, io: IOSpec) -> Runner:
    """Run through `coreml_eval.CoreMLModel` (numpy), reading the file once for every sample the
    runner is given; image I/O is fed and read as 0..255 pixels.

    Image outputs come back unrounded (the tensor before Core ML fills the app's pixel buffer),
    so the gate measures conversion error the same way for every format; `parity.compare` clips
    to the declared range as the pixel buffer does. The 8-bit rounding itself (~59 dB on the full
    range) is the same for every format once an app displays the result.
    """
    from pix2mobile.runtimes.coreml_eval import evaluator as coreml_check
    path = Path(path)
    model = coreml_check.CoreMLModel(path)
    described = model.describe()
    image_in = {f["name"] for f in described["inputs"] if f["kind"] == "image"}
    image_out = {f["name"] for f in described["outputs"] if f["kind"] == "image"}

    def run(inputs: Sequence[object]) -> list[np.ndarray]:
        feed = {}
        for spec, x in zip(io.inputs, inputs):
            arr = to_numpy(x)
            feed[spec.name] = to_pixels(arr, spec) if spec.name in image_in else arr
        out = model.predict(feed)
        result = []
        for spec in io.outputs:
            if spec.name not in out:
                raise ExportError(f"{path}: the Core ML model has no output '{spec.name}' (has {sorted(out)})")
            y = np.asarray(out[spec.name], dtype=np.float32)
            result.append(from_pixels(y, spec) if spec.name in image_out else y)
        return result

    return run


def read_io(path: str | Path) -> tuple[IOSpec, tuple[int, int]] | None:
    """The IOSpec and size export wrote into the file's `pix2mobile.io` metadata, or None."""
    import json

    from pix2mobile.runtimes.common import require

    ct = require("coremltools", "coremltools", "reading Core ML metadata")
    meta = ct.models.MLModel(str(path), skip_model_load=True).user_defined_metadata
    if "pix2mobile.io" not in meta:
        return None
    return IOSpec.from_json(json.loads(meta["pix2mobile.io"]))
