"""ExecuTorch (.pte): `torch.export` -> `to_edge_transform_and_lower` with the XNNPACK partitioner.

Verified with `executorch.runtime.Runtime`. The fixed-size program is lowered from
`mobile_graph.mobile_graph(module, PLAN)`: reflection padding as slices, InstanceNorm written out,
nearest upsampling as concatenations (and, for speed, johnson's upsample + 3x3 conv layers as
stride-2 transposed convs, a last conv to 3 channels as a stride-2 conv per output parity: johnson
153 -> 105 ms at 256x256), so every op of the registry's generators lands in one
XNNPACK delegate segment (lowered as they are, a fast_style/lite program had 31 segments and
239 portable-kernel calls, and ran slower than eager PyTorch; see `mobile_graph`). Ops XNNPACK
still does not take stay on the portable CPU kernels; the notes list them so a slow artifact can
be explained, and the manifest's residency record counts them.

Several sizes (`ExportOptions.sizes`): `torch.export` with bounded dynamic H and W
(`multiple * Dim`, upper bound = the largest size asked: ExecuTorch plans memory for it), lowered
without the rewrites (XNNPACK takes no slice or reshape of a dynamic shape, and the upsampling
rewrite fixes the grid), then the written program is run at every size to check (`probe_sizes`). When the
dynamic export, the lowering or that run fails, the program is re-exported at the primary size
and `shapes.note` says why.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pix2mobile.convert.common import (Exported, ExportOptions, dynamic_hw, flexible_request, plain_io,
                                      probe_sizes)
from pix2mobile.convert.mobile_graph import MobilePlan, mobile_graph
from pix2mobile.errors import ExportError
from pix2mobile.files import atomic_path
from pix2mobile.models.spec import IOSpec
from pix2mobile.runtimes.common import as_outputs, first_line, require

log = logging.getLogger(__name__)

PLAN = MobilePlan(reflection_pad=True, instance_norm=True, nearest_upsample=True, broadcast_add=True,
                  fold_constants=True, upsample_conv=True, narrow_conv=True)
"""fp32 XNNPACK on a phone CPU: no fp16 scaling needed."""


def export(module: nn.Module, example_inputs: tuple[torch.Tensor, ...], io: IOSpec, out_path: Path,
           opts: ExportOptions) -> Exported:
    if opts.precision != "fp32":
        raise ExportError(f"pte exports fp32 only, not {opts.precision}")
    exir = require("executorch.exir", "executorch", "ExecuTorch export")
    partition = require("executorch.backends.xnnpack.partition.xnnpack_partitioner", "executorch",
                        "ExecuTorch XNNPACK lowering")
    module = module.eval()
    try:
        mobile, rewrite_notes = mobile_graph(module, example_inputs, PLAN, "pte")
    except Exception as exc:
        raise ExportError(f"the mobile graph rewrite failed before ExecuTorch lowering: {first_line(exc)}") from exc

    def lower(dynamic_shapes: Any = None) -> tuple[Any, list[str]]:
        with torch.no_grad():
            program = torch.export.export(module if dynamic_shapes is not None else mobile, example_inputs,
                                          dynamic_shapes=dynamic_shapes)
        edge = exir.to_edge_transform_and_lower(program, partitioner=[partition.XnnpackPartitioner()])
        return edge.to_executorch(), _delegation_notes(edge.exported_program().graph_module)

    def write(et_program: Any) -> None:
        with atomic_path(out_path) as tmp:
            with open(tmp, "wb") as fh:
                et_program.write_to_file(fh)

    request = flexible_request(opts, io)
    shapes, problem = None, None
    if request is not None:
        try:
            dims = dynamic_hw(request, io)
            et_program, notes = lower(tuple(dims[s.name] for s in io.inputs))
            write(et_program)
            from pix2mobile.runtimes.pte import load_runner

            run = load_runner(out_path, io)
            problem = probe_sizes(run, module, io, example_inputs, request.checked)
            if problem:
                problem = f"the bounded dynamic-shape program fails {problem}"
        except Exception as exc:
            problem = f"the bounded dynamic-shape export failed ({first_line(exc, 200)})"
        if problem is None:
            shapes = request.shapes()
            notes.append("bounded dynamic H and W (torch.export Dim); memory planned for the largest size")
        else:
            log.warning("pte: %s; exporting the primary size only", problem)
            shapes = request.fixed(f"pte: {problem}")
    if shapes is None or problem is not None:
        try:
            et_program, notes = lower()
        except Exception as exc:
            raise ExportError(f"ExecuTorch lowering failed: {first_line(exc)}") from exc
        notes = rewrite_notes + notes
        write(et_program)
    with torch.no_grad():
        outputs = as_outputs(module(*example_inputs), io)
    inputs_info, outputs_info = plain_io(io, example_inputs, outputs)
    return Exported(Path(out_path), inputs_info, outputs_info, tuple(notes), shapes)


def _delegation_notes(graph_module: Any) -> list[str]:
    delegated, portable = 0, Counter[str]()
    for node in graph_module.graph.nodes:
        if node.op != "call_function":
            continue
        name = getattr(node.target, "__name__", str(node.target))
        if "call_delegate" in name:
            delegated += 1
        elif name not in ("getitem", "alloc"):   # alloc: memory planning's, no kernel call
            # "aten.sub.Tensor" -> "sub"; other namespaces keep theirs
            portable[name.split(".")[1] if name.startswith("aten.") else name.rsplit(".", 1)[0]] += 1
    notes = [f"XNNPACK delegate: {delegated} partition(s)"]
    if portable:
        ops = ", ".join(f"{k} x{v}" for k, v in sorted(portable.items()))
        notes.append(f"ops left on portable kernels: {ops}")
    return notes

