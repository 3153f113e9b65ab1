"""`runtimes.tflite_gpu`: the GPU delegate's rules (LiteRT gpu_compatibility.cc and model_builder.cc),
transcribed, on flatbuffers written field by field with the rule each one breaks, and on a default
fast_style/lite export in fp32 and int8; and `runtimes.tflite.gpu_verdict`, which falls back on them
while LiteRT's analyzer does not check."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

from pix2mobile.runtimes import tflite as tflite_runtime
from pix2mobile.runtimes.tflite_gpu import COMPAT, DELEGATE, GpuIssue, check_gpu

F32, I32, I64, I8 = "FLOAT32", "INT32", "INT64", "INT8"


def build(path: Path, tensors: list[tuple], ops: list[tuple], inputs: list[int], outputs: list[int]) -> Path:
    """A one-subgraph .tflite. tensors: (name, shape, dtype name, constant data or None);
    ops: (op name or "CUSTOM:Name", input indices, output indices[, builtin options[, version]])."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools.flatbuffer_utils import write_model

    model, graph = schema.ModelT(), schema.SubGraphT()
    model.version, model.buffers, model.operatorCodes = 3, [schema.BufferT()], []
    graph.tensors, graph.operators = [], []
    for name, shape, dtype, data in tensors:
        t = schema.TensorT()
        t.name, t.shape, t.type, t.buffer = name, list(shape), getattr(schema.TensorType, dtype), 0
        if data is not None:
            b = schema.BufferT()
            b.data = np.frombuffer(np.asarray(data).tobytes(), np.uint8)
            model.buffers.append(b)
            t.buffer = len(model.buffers) - 1
        graph.tensors.append(t)
    codes: dict[tuple[str, int], int] = {}
    for name, ins, outs, *rest in ops:
        options: Any = rest[0] if rest else None
        version = rest[1] if len(rest) > 1 else 1
        if (name, version) not in codes:
            c = schema.OperatorCodeT()
            custom = name.startswith("CUSTOM:")
            builtin = schema.BuiltinOperator.CUSTOM if custom else getattr(schema.BuiltinOperator, name)
            c.builtinCode, c.deprecatedBuiltinCode, c.version = builtin, min(builtin, 127), version
            c.customCode = name.split(":", 1)[1] if custom else None
            codes[name, version] = len(model.operatorCodes)
            model.operatorCodes.append(c)
        o = schema.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = codes[name, version], list(ins), list(outs)
        if options is not None:
            o.builtinOptionsType = getattr(schema.BuiltinOptions, type(options).__name__[:-1])
            o.builtinOptions = options
        graph.operators.append(o)
    graph.inputs, graph.outputs = inputs, outputs
    model.subgraphs = [graph]
    write_model(model, str(path))
    return path


def options(name: str, **fields: Any) -> Any:
    from ai_edge_litert import schema_py_generated as schema

    o = getattr(schema, name)()
    for k, v in fields.items():
        setattr(o, k, v)
    return o


def unary(path: Path, op: str, x: tuple = (1, 4, 4, 3), dtype: str = F32, version: int = 1) -> Path:
    return build(path, [("x", x, dtype, None), ("y", x, dtype, None)], [(op, [0], [1], None, version)], [0], [1])


def only(issues: list[GpuIssue]) -> GpuIssue:
    assert len(issues) == 1, issues
    return issues[0]


def test_compatible_ops_pass_and_the_verdict_says_whose_rules(tmp_path):
    x = (1, 8, 8, 4)
    path = build(tmp_path / "ok.tflite", [
        ("x", x, F32, None), ("w", (4, 3, 3, 4), F32, np.zeros((4, 3, 3, 4), np.float32)),
        ("b", (4,), F32, np.zeros(4, np.float32)), ("conv", x, F32, None),
        ("axes", (2,), I32, np.array([1, 2], np.int32)), ("mean", (1, 1, 1, 4), F32, None),
        ("centred", x, F32, None), ("rsqrt", x, F32, None),
        ("begin", (4,), I32, np.array([0, 0, 0, 0], np.int32)), ("size", (4,), I32, np.array([1, 8, 8, 2], np.int32)),
        ("half", (1, 8, 8, 2), F32, None), ("y", (1, 8, 8, 6), F32, None),
        ("pads", (4, 2), I32, np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32)),
        ("padded", (1, 10, 10, 6), F32, None),
    ], [
        ("CONV_2D", [0, 1, 2], [3], options("Conv2DOptionsT", strideH=1, strideW=1, fusedActivationFunction=1)),
        ("MEAN", [3, 4], [5], options("ReducerOptionsT", keepDims=True)),
        ("SUB", [3, 5], [6], options("SubOptionsT")),          # [1,8,8,4] - [1,1,1,4]
        ("RSQRT", [6], [7]),
        ("SLICE", [7, 8, 9], [10], options("SliceOptionsT")),
        ("CONCATENATION", [7, 10], [11], options("ConcatenationOptionsT", axis=3)),
        ("MIRROR_PAD", [11, 12], [13], options("MirrorPadOptionsT", mode=0)),          # REFLECT
    ], [0], [13])
    assert check_gpu(path) == []
    compatible, note = tflite_runtime.gpu_verdict(path)
    assert compatible is True
    if not tflite_runtime.analyzer_checks_gpu():
        assert note.startswith("GPU rules (gpu_compatibility.cc + model_builder.cc transcription)")


def test_custom_op_is_refused_by_name(tmp_path):
    path = unary(tmp_path / "custom.tflite", "CUSTOM:Pix2MobileNoSuchOp")
    issue = only(check_gpu(path))
    assert (issue.op_index, issue.op, issue.rule) == (0, "CUSTOM:Pix2MobileNoSuchOp", COMPAT)
    assert issue.reason == "Not supported custom op Pix2MobileNoSuchOp"
    compatible, note = tflite_runtime.gpu_verdict(path)
    assert compatible is False and "Pix2MobileNoSuchOp" in note
    if not tflite_runtime.analyzer_checks_gpu():
        assert note == ("GPU rules (gpu_compatibility.cc transcription): Op#0 CUSTOM:Pix2MobileNoSuchOp: "
                        "Not supported custom op Pix2MobileNoSuchOp")


@pytest.mark.parametrize("case", [
    # An op with no case in CheckGpuDelegateCompatibility's switch.
    SimpleNamespace(op="GATHER_ND", reason="Not supported op GATHER_ND",
                    tensors=[("x", (1, 4, 4, 3), F32, None), ("i", (2, 1), I32, np.zeros((2, 1), np.int32)),
                             ("y", (2, 4, 3), F32, None)], ins=[0, 1], outs=[2]),
    # CUMSUM: the axis must be a constant int32.
    SimpleNamespace(op="CUMSUM", reason="Input/output must be float type and indices must be constant int32 type",
                    tensors=[("x", (1, 4, 4, 3), F32, None), ("axis", (), I32, None), ("y", (1, 4, 4, 3), F32, None)],
                    ins=[0, 1], outs=[2]),
    # MEAN: one runtime input and one constant axes tensor, which must be int32.
    SimpleNamespace(op="MEAN", reason="MEAN supports int32 tensor for axes. But node has INT64",
                    tensors=[("x", (1, 4, 4, 3), F32, None), ("axes", (2,), I64, np.array([1, 2], np.int64)),
                             ("y", (1, 1, 1, 3), F32, None)], ins=[0, 1], outs=[2]),
    SimpleNamespace(op="MEAN", reason="Expected 1 const input tensor(s), but node has 0 const input(s).",
                    tensors=[("x", (1, 4, 4, 3), F32, None), ("axes", (2,), I32, None), ("y", (1, 1, 1, 3), F32, None)],
                    ins=[0, 1], outs=[2]),
    # MIRROR_PAD: reflective only (the message prints TfLiteMirrorPaddingMode: 2 = symmetric).
    SimpleNamespace(op="MIRROR_PAD", options=("MirrorPadOptionsT", {"mode": 1}),
                    reason="Only Reflective padding is supported for Mirror Pad operation. But node has 2",
                    tensors=[("x", (1, 4, 4, 3), F32, None),
                             ("pads", (4, 2), I32, np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32)),
                             ("y", (1, 6, 6, 3), F32, None)], ins=[0, 1], outs=[2]),
    # SLICE on a 2-D tensor.
    SimpleNamespace(op="SLICE", reason="SLICE supports for 3 or 4 dimensional tensors only, but node has 2 "
                                       "dimensional tensors.",
                    tensors=[("x", (4, 6), F32, None), ("b", (2,), I32, np.array([0, 0], np.int32)),
                             ("s", (2,), I32, np.array([2, 3], np.int32)), ("y", (2, 3), F32, None)],
                    ins=[0, 1, 2], outs=[3]),
    # STRIDED_SLICE: no shrink_axis_mask.
    SimpleNamespace(op="STRIDED_SLICE", options=("StridedSliceOptionsT", {"shrinkAxisMask": 8}),
                    reason="StridedSlice does not support shrink_axis_mask parameter.",
                    tensors=[("x", (1, 4, 4, 3), F32, None)] + [
                        (n, (4,), I32, np.array(v, np.int32))
                        for n, v in (("b", [0, 0, 0, 0]), ("e", [1, 4, 4, 1]), ("s", [1, 1, 1, 1]))]
                    + [("y", (1, 4, 4), F32, None)], ins=[0, 1, 2, 3], outs=[4]),
    # RESIZE_BILINEAR: not both align_corners and half_pixel_centers.
    SimpleNamespace(op="RESIZE_BILINEAR", options=("ResizeBilinearOptionsT", {"alignCorners": True,
                                                                             "halfPixelCenters": True}),
                    reason="If half_pixel_centers is True, align_corners must be False.",
                    tensors=[("x", (1, 4, 4, 3), F32, None), ("size", (2,), I32, np.array([8, 8], np.int32)),
                             ("y", (1, 8, 8, 3), F32, None)], ins=[0, 1], outs=[2]),
    # CONV_2D: a stride of 0 (no Conv2DOptions at all: ParseOpData leaves the params zeroed).
    SimpleNamespace(op="CONV_2D", options=None,
                    reason="Incorrect stride values: stride_height = 0, stride_width = 0",
                    tensors=[("x", (1, 4, 4, 3), F32, None),
                             ("w", (3, 1, 1, 3), F32, np.zeros((3, 1, 1, 3), np.float32)),
                             ("y", (1, 4, 4, 3), F32, None)], ins=[0, 1], outs=[2]),
    # ADD: shapes that do not broadcast (numpy rules, kEnhancedBroadcast as the offline check runs it).
    SimpleNamespace(op="ADD", options=("AddOptionsT", {}),
                    reason="Doesn't support broadcasting - input0: [1,4,4,3], input1: [4,2]",
                    tensors=[("a", (1, 4, 4, 3), F32, None), ("b", (4, 2), F32, None), ("y", (1, 4, 4, 3), F32, None)],
                    ins=[0, 1], outs=[2]),
], ids=lambda c: f"{c.op}:{c.reason[:24]}")
def test_gpu_compatibility_rules(tmp_path, case):
    opts = getattr(case, "options", None)
    op_options = [options(opts[0], **opts[1])] if opts else []
    path = build(tmp_path / "m.tflite", case.tensors, [(case.op, case.ins, case.outs, *op_options)],
                 [i for i, t in enumerate(case.tensors) if t[3] is None and i not in case.outs], case.outs)
    issue = only(check_gpu(path))
    assert (issue.op, issue.reason, issue.rule) == (case.op, case.reason, COMPAT)
    compatible, note = tflite_runtime.rules_verdict(path)
    assert compatible is False
    assert note == f"GPU rules (gpu_compatibility.cc transcription): Op#0 {case.op}: {case.reason}"


def test_delegate_gate_dtypes_versions_and_comparisons(tmp_path):
    """model_builder.cc: ops gpu_compatibility.cc passes that the delegate still refuses."""
    # Runtime int32 tensors: gpu_compatibility.cc has no dtype rule for ADD; the delegate's tensor gate does.
    path = build(tmp_path / "int.tflite", [("a", (1, 4, 4, 3), I32, None), ("b", (1, 4, 4, 3), I32, None),
                                           ("y", (1, 4, 4, 3), I32, None)],
                 [("ADD", [0, 1], [2], options("AddOptionsT"))], [0, 1], [2])
    assert check_gpu(path, delegate=False) == []
    issue = only(check_gpu(path))
    assert issue.rule == DELEGATE
    assert issue.reason == "OP is supported, but tensor type/shape isn't compatible. (input 0 'a' is INT32)"
    assert tflite_runtime.rules_verdict(path)[1].startswith("GPU rules (model_builder.cc transcription): Op#0 ADD:")
    # Int8 activations pass (the delegate's default options allow quantized ops); rank 5 does not.
    assert check_gpu(unary(tmp_path / "i8.tflite", "QUANTIZE", dtype=I8)) == []
    five = only(check_gpu(unary(tmp_path / "r5.tflite", "RSQRT", x=(1, 2, 4, 4, 3))))
    assert five.reason.endswith("(input 0 'x' has rank 5)") and five.rule == DELEGATE
    # A version above what the delegate's parser takes.
    old = only(check_gpu(unary(tmp_path / "v.tflite", "RSQRT", version=3)))
    assert old.reason == "Max version supported: 2. Requested version 3."
    # A comparison's bool must feed one CAST/SELECT/SELECT_V2 with a float output.
    tensors = [("a", (1, 4, 4, 3), F32, None), ("b", (1, 4, 4, 3), F32, None), ("gt", (1, 4, 4, 3), "BOOL", None),
               ("f", (1, 4, 4, 3), F32, None), ("y", (1, 4, 4, 3), F32, None)]
    good = build(tmp_path / "cmp.tflite", tensors, [("GREATER", [0, 1], [2]), ("CAST", [2], [3]), ("RSQRT", [3], [4])],
                 [0, 1], [4])
    assert check_gpu(good) == []
    bare = only(check_gpu(build(tmp_path / "cmp2.tflite", tensors[:3], [("GREATER", [0, 1], [2])], [0, 1], [2])))
    assert (bare.op, bare.reason, bare.rule) == ("GREATER", "Not supported logical op case", DELEGATE)


@pytest.fixture(scope="module")
def lite_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A default fast_style/lite (untrained, width 8, one residual block) at 32x32 to .tflite fp32 and int8."""
    from pix2mobile.models import MODELS
    from pix2mobile.pipelines.export import export_model

    torch.manual_seed(0)
    spec = MODELS["fast_style/lite"]
    out = tmp_path_factory.mktemp("lite")
    export_model(spec.create(width=8, n_res=1).eval(), spec, 32, ["tflite"], out,
                 precisions={"tflite": ["fp32", "int8"]})
    return out


@pytest.mark.slow
def test_fast_style_lite_fp32_and_int8_are_gpu_compatible(lite_export):
    """The fp32 file is the conv/add/mean/rsqrt/slice/concat net the rules pass; the int8 one adds
    QUANTIZE/DEQUANTIZE and int8 activations, which they pass too (DEQUANTIZE refuses int16 only; the
    delegate's default options take int8)."""
    fp32 = tflite_runtime.residency(lite_export / "lite_fp32.tflite")
    assert {"CONV_2D", "ADD", "MEAN", "RSQRT", "SLICE", "CONCATENATION"} <= set(fp32.ops)
    int8 = tflite_runtime.residency(lite_export / "lite_int8.tflite")
    assert int8.ops["QUANTIZE"] > 0 and int8.ops["DEQUANTIZE"] > 0
    for record in (fp32, int8):
        assert record.gpu_compatible is True and record.clean(), record.note
    assert check_gpu(lite_export / "lite_int8.tflite") == []
