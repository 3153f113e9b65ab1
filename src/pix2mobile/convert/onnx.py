"""ONNX (.onnx) with the dynamo exporter (`torch.onnx.export(..., dynamo=True)`), verified with
onnxruntime on CPU: the desktop baseline every mobile artifact can be compared against.

Inputs and outputs carry the IOSpec names; the value ranges go into the model's
`metadata_props` (`pix2mobile.io`) so the file documents itself.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from torch import nn

from pix2mobile.convert.common import Exported, ExportOptions, plain_io, size_of
from pix2mobile.errors import ExportError
from pix2mobile.files import atomic_path
from pix2mobile.models.spec import IOSpec
from pix2mobile.runtimes.common import as_outputs, first_line, require

log = logging.getLogger(__name__)


def export(module: nn.Module, example_inputs: tuple[torch.Tensor, ...], io: IOSpec, out_path: Path,
           opts: ExportOptions) -> Exported:
    if opts.precision != "fp32":
        raise ExportError(f"onnx exports fp32 only, not {opts.precision}")
    onnx = require("onnx", "onnx", "ONNX export")
    require("onnxscript", "onnxscript", "ONNX export (dynamo)")
    module = module.eval()
    try:
        with torch.no_grad():
            program = torch.onnx.export(module, example_inputs, dynamo=True, verbose=False,
                                        input_names=[s.name for s in io.inputs],
                                        output_names=[s.name for s in io.outputs])
    except Exception as exc:
        raise ExportError(f"torch.onnx.export(dynamo=True) failed: {first_line(exc)}") from exc
    if program is None:
        raise ExportError("torch.onnx.export returned no program")
    proto = program.model_proto
    with torch.no_grad():
        outputs = as_outputs(module(*example_inputs), io)
    meta = {"pix2mobile.io": json.dumps(io.to_json(size_of(example_inputs, io, outputs))),
            **{f"pix2mobile.{k}": str(v) for k, v in opts.metadata.items()}}
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    with atomic_path(out_path) as tmp:
        onnx.save(proto, str(tmp))
    inputs_info, outputs_info = plain_io(io, example_inputs, outputs)
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    return Exported(Path(out_path), inputs_info, outputs_info, (f"ONNX opset {opset}",))

