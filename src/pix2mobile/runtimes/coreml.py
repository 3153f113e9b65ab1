"""Run `.mlpackage`/`.mlmodel` artifacts through the numpy evaluator (`runtimes.coreml_eval`): Core ML
itself predicts only on Apple hardware.

`residency(path)` counts the MIL ops (ML Program) or layers (NeuralNetwork) of the spec.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pix2mobile.errors import ExportError
from pix2mobile.manifest import Residency
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


def residency(path: str | Path) -> Residency:
    """What the model runs, from its spec alone (`coreml_eval.read_spec`: no weights read): an ML
    Program's MIL ops by type, nested blocks included, `const` ops (its weights) left out and
    counted in the note; a NeuralNetwork's layers by type. Core ML decides at load time which of
    the CPU, GPU and Neural Engine runs each op, so there is no delegate to count here."""
    from pix2mobile.runtimes.coreml_eval import read_spec

    spec = read_spec(path)
    kind = spec.WhichOneof("Type")
    ops: Counter[str] = Counter()
    if kind == "mlProgram":
        name = spec.description.defaultFunctionName or "main"
        func = spec.mlProgram.functions.get(name)
        if func is None:
            raise ExportError(f"{path}: the ML Program has no function '{name}'")
        blocks = func.block_specializations
        block = blocks[func.opset] if func.opset in blocks else next(iter(blocks.values()))

        def walk(b: Any) -> None:
            for op in b.operations:
                ops[op.type] += 1
                for nested in op.blocks:
                    walk(nested)

        walk(block)
        consts = ops.pop("const", 0)
        return Residency(ops=dict(ops), unit="MIL ops",
                         note=f"{consts} const ops (weights and constants) not counted" if consts else None)
    if kind in ("neuralNetwork", "neuralNetworkRegressor", "neuralNetworkClassifier"):
        for layer in getattr(spec, kind).layers:
            ops[layer.WhichOneof("layer")] += 1
        return Residency(ops=dict(ops), unit="NeuralNetwork layers")
    return Residency(note=f"a '{kind}' model: neither an ML Program nor a NeuralNetwork")
