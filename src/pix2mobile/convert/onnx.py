"""ONNX (.onnx) with the dynamo exporter (`torch.onnx.export(..., dynamo=True)`), verified with
onnxruntime on CPU: the desktop baseline every mobile artifact can be compared against.

Inputs and outputs carry the IOSpec names; the value ranges go into the model's
`metadata_props` (`pix2mobile.io`) so the file documents itself.

Several sizes (`ExportOptions.sizes`): H and W of every image input become dynamic axes,
exported as `multiple * torch.export.Dim` bounded by the request (the graph's own guards then
hold for every size in the bounds). A list of sizes is declared "enumerated" (those sizes are
the ones gated), a range "range". When the dynamic export fails the file is the fixed one and
`shapes.note` carries the exporter's first line.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pix2mobile.convert.common import (Exported, ExportOptions, dynamic_hw, flexible_request, plain_io,
                                      size_of)
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
    request = flexible_request(opts, io)
    shapes = None if request is None else request.fixed()
    notes: list[str] = []

    def convert(dynamic_shapes: Any = None) -> Any:
        with torch.no_grad():
            return torch.onnx.export(module, example_inputs, dynamo=True, verbose=False,
                                     input_names=[s.name for s in io.inputs],
                                     output_names=[s.name for s in io.outputs], dynamic_shapes=dynamic_shapes)

    program = None
    if request is not None:
        try:
            dims = dynamic_hw(request, io)
            program = convert(tuple(dims[s.name] for s in io.inputs))
            shapes = request.shapes()
            notes.append("dynamic H and W (torch.export Dim, bounded by the requested sizes)")
        except Exception as exc:
            log.warning("onnx: dynamic H/W export failed, exporting the primary size only: %s", first_line(exc))
            shapes = request.fixed(f"onnx: the dynamic H/W export failed ({first_line(exc, 200)})")
            program = None
    if program is None:
        try:
            program = convert()
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
    return Exported(Path(out_path), inputs_info, outputs_info, (f"ONNX opset {opset}", *notes), shapes)

