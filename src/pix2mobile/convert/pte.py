"""ExecuTorch (.pte): `torch.export` -> `to_edge_transform_and_lower` with the XNNPACK partitioner.

Verified with `executorch.runtime.Runtime`. Ops XNNPACK does not take (reflection padding,
instance norm pieces, ...) stay on the portable CPU kernels; the notes list them so a slow
artifact can be explained.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pix2mobile.convert.common import Exported, ExportOptions, plain_io
from pix2mobile.errors import ExportError
from pix2mobile.files import atomic_path
from pix2mobile.models.spec import IOSpec
from pix2mobile.runtimes.common import as_outputs, first_line, require

log = logging.getLogger(__name__)


def export(module: nn.Module, example_inputs: tuple[torch.Tensor, ...], io: IOSpec, out_path: Path,
           opts: ExportOptions) -> Exported:
    if opts.precision != "fp32":
        raise ExportError(f"pte exports fp32 only, not {opts.precision}")
    exir = require("executorch.exir", "executorch", "ExecuTorch export")
    partition = require("executorch.backends.xnnpack.partition.xnnpack_partitioner", "executorch",
                        "ExecuTorch XNNPACK lowering")
    module = module.eval()
    try:
        with torch.no_grad():
            program = torch.export.export(module, example_inputs)
        edge = exir.to_edge_transform_and_lower(program, partitioner=[partition.XnnpackPartitioner()])
        notes = _delegation_notes(edge.exported_program().graph_module)
        et_program = edge.to_executorch()
    except Exception as exc:
        raise ExportError(f"ExecuTorch lowering failed: {first_line(exc)}") from exc
    with atomic_path(out_path) as tmp:
        with open(tmp, "wb") as fh:
            et_program.write_to_file(fh)
    with torch.no_grad():
        outputs = as_outputs(module(*example_inputs), io)
    inputs_info, outputs_info = plain_io(io, example_inputs, outputs)
    return Exported(Path(out_path), inputs_info, outputs_info, tuple(notes))


def _delegation_notes(graph_module: Any) -> list[str]:
    delegated, portable = 0, Counter[str]()
    for node in graph_module.graph.nodes:
        if node.op != "call_function":
            continue
        name = getattr(node.target, "__name__", str(node.target))
        if "call_delegate" in name:
            delegated += 1
        elif name != "getitem":   # "aten.sub.Tensor" -> "sub"; other namespaces keep theirs
            portable[name.split(".")[1] if name.startswith("aten.") else name.rsplit(".", 1)[0]] += 1
    notes = [f"XNNPACK delegate: {delegated} partition(s)"]
    if portable:
        ops = ", ".join(f"{k} x{v}" for k, v in sorted(portable.items()))
        notes.append(f"ops left on portable kernels: {ops}")
    return notes

