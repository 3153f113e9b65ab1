"""Small models and hand-built files whose residency is known by construction.

- `Clean`: Conv2d + ReLU. XNNPACK takes the whole graph (one delegate segment, no portable call);
  litert-torch writes one CONV_2D with the ReLU fused (no TRANSPOSE).
- `Portable`: Conv2d, cumsum, sigmoid. XNNPACK has no cumsum, so it splits the program in two
  delegate segments around one portable `aten::cumsum.out` call.
- `hand_tflite`: a flatbuffer written field by field: TRANSPOSE x2, ADD, and optionally a custom op
  no GPU delegate has.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from pix2mobile.models.spec import IOSpec, TensorSpec

IO = IOSpec((TensorSpec("image"),), (TensorSpec("out"),))
SIZE = 16
CUSTOM_OP = "Pix2MobileTestOp"


class Clean(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Portable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.conv(x).cumsum(-1))


def lower_pte(module: nn.Module, path: Path) -> list[str]:
    """Lower `module` with ExecuTorch's XNNPACK partitioner straight from the library (not through
    pix2mobile's converter), write the program to `path`; return the lowering's delegation notes."""
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    from pix2mobile.convert.pte import _delegation_notes

    program = torch.export.export(module.eval(), (torch.rand(1, 3, SIZE, SIZE),))
    edge = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
    notes = _delegation_notes(edge.exported_program().graph_module)
    path.write_bytes(edge.to_executorch().buffer)
    return notes


def hand_tflite(path: Path, custom: bool = False) -> Path:
    """x -> TRANSPOSE(NHWC->NCHW) -> TRANSPOSE(back) -> ADD(x) [-> custom op] -> y, shapes [1, 4, 4, 3]."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools.flatbuffer_utils import write_model

    def tensor(name: str, shape: tuple[int, ...], buffer: int = 0, dtype: int = schema.TensorType.FLOAT32):
        t = schema.TensorT()
        t.name, t.shape, t.buffer, t.type = name, list(shape), buffer, dtype
        return t

    def buffer(data: np.ndarray | None = None):
        b = schema.BufferT()
        b.data = None if data is None else np.frombuffer(data.tobytes(), np.uint8)
        return b

    def code(builtin: int, custom_name: str | None = None):
        c = schema.OperatorCodeT()
        c.builtinCode, c.deprecatedBuiltinCode, c.version = builtin, min(builtin, 127), 1
        c.customCode = custom_name
        return c

    def op(index: int, inputs: list[int], outputs: list[int], options_type: int = 0, options=None):
        o = schema.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = index, inputs, outputs
        o.builtinOptionsType, o.builtinOptions = options_type, options
        return o

    T, ADD = schema.BuiltinOptions.TransposeOptions, schema.BuiltinOptions.AddOptions
    model, graph = schema.ModelT(), schema.SubGraphT()
    model.version, model.description = 3, "pix2mobile residency test"
    model.buffers = [buffer(), buffer(), buffer(np.array([0, 3, 1, 2], np.int32)),
                     buffer(np.array([0, 2, 3, 1], np.int32))]
    graph.tensors = [tensor("x", (1, 4, 4, 3), 1), tensor("to_nchw", (4,), 2, schema.TensorType.INT32),
                     tensor("nchw", (1, 3, 4, 4)), tensor("to_nhwc", (4,), 3, schema.TensorType.INT32),
                     tensor("nhwc", (1, 4, 4, 3)), tensor("sum", (1, 4, 4, 3)), tensor("y", (1, 4, 4, 3))]
    graph.inputs, graph.outputs = [0], [6]
    model.operatorCodes = [code(schema.BuiltinOperator.TRANSPOSE), code(schema.BuiltinOperator.ADD)]
    graph.operators = [op(0, [0, 1], [2], T, schema.TransposeOptionsT()),
                       op(0, [2, 3], [4], T, schema.TransposeOptionsT()),
                       op(1, [4, 0], [5 if custom else 6], ADD, schema.AddOptionsT())]
    if custom:
        model.operatorCodes.append(code(schema.BuiltinOperator.CUSTOM, CUSTOM_OP))
        graph.operators.append(op(2, [5], [6]))
    model.subgraphs = [graph]
    write_model(model, path)
    return path
