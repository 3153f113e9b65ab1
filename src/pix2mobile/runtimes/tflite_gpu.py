"""A static check of a `.tflite` against the rules of LiteRT's GPU delegate, read from the flatbuffer.

`check_gpu(path)` -> `GpuIssue`s (subgraph, op index, op name, reason, which source file's rule),
empty when every operator passes. It exists because the model analyzer of ai-edge-litert 2.x no
longer runs its GPU check (`runtimes.tflite.analyzer_checks_gpu`).

Source transcribed, read (not guessed) from the LiteRT repository, github.com/google-ai-edge/LiteRT:

1. `tflite/tools/versioning/gpu_compatibility.cc` (blob 25ff8337a8b4f00a61852d2c44c64372a8acf192), last
   changed by commit 297707cbe10f8f020afe87005dced0eceaa1f2fc (2026-06-22, "Fix out-of-bounds GPU memory
   reads in SelectV2 ..."), the same file in tags v2.1.6 and v2.2.0 and on main at f67457790c9c (2026-08-21);
   the installed ai-edge-litert is 2.3.0, which has no tag in that snapshot.
   `CheckGpuDelegateCompatibility(op_code, op, subgraph, model)` as the analyzer called it: the op
   signature from the flatbuffer (`tflite/converter/tools/versioning/op_signature.cc`: a tensor is
   constant when its buffer holds data; an input index -1 is a NOTYPE tensor),
   builtin options as `ParseOpData` (`tflite/converter/core/api/flatbuffer_conversions.cc`) fills them:
   zeroed when the operator carries no options of its type, and `GpuCompatibilityFlags::kEnhancedBroadcast`
   (numpy-style broadcasting for ADD/MUL). Every builtin case of its switch is here (`_compat`), with its
   reason texts; anything else is "Not supported op NAME", a custom op other than the four it names is
   "Not supported custom op NAME". Issues from it carry `rule="gpu_compatibility.cc"`.

   The rules are what that file holds, and it holds fewer than one might expect: no dtype rule except
   for CAST, CUMSUM, DEQUANTIZE (no int16), EMBEDDING_LOOKUP, GATHER/axes (int32), ONE_HOT, SELECT(_V2),
   STABLEHLO_*; no axis rule for MEAN/SUM/REDUCE_* (only: one runtime input, one constant int32 axes
   tensor) nor for CONCATENATION; no MEAN over-H/W-only rule. Int8 tensors are not refused by it:
   QUANTIZE needs one runtime input and one output, DEQUANTIZE refuses only an int16 input.

2. The classic GPU delegate's own gate, `tflite/delegates/gpu/common/model_builder.cc` at the same
   commit (`NewOperationParser`, each parser's `IsSupported`, `GetOpsToReplace`/`IsAllAllowedTensors`),
   with the delegate's default options (`TfLiteGpuDelegateOptionsV2Default`: ENABLE_QUANT, so
   QUANTIZE/DEQUANTIZE parse and int8/uint8 tensors pass): the ops it has a parser for, each parser's
   `CheckMaxSupportedOpVersion`, its graph rules for comparison ops (the bool result must feed exactly
   one CAST/SELECT/SELECT_V2 with a float output) and CAST from bool, and the tensor gate: no tensor of
   rank 5 or more, and every non-constant input/output float32/float16 (int8/uint8 with quantized ops;
   bool/int32 where that function adds them). This is where dtypes are decided. Issues from it carry
   `rule="model_builder.cc"`; an op is reported once, its gpu_compatibility.cc reason first. The
   delegate does not call CheckGpuDelegateCompatibility for RELU*/LEAKY_RELU/PRELU/UNPACK: UNPACK and
   RELU_0_TO_1, which it takes, are still refused here, as (1) has no case for them (nor had the analyzer).

Not checked, or checked differently, and why:
- Anything decided when the delegate builds its graph (each parser's `Parse`, not `IsSupported`): e.g.
  BATCH_MATMUL with one constant operand needs it 2-D, PRELU's alpha must match the input's channels;
  and shapes known only at run time (a dynamic `shape_signature`): not transcribed, they are not part
  of the compatibility check and some need tensor values or the built graph.
- What a backend (OpenCL/OpenGL/Metal) then refuses, and the partitioning (max_delegated_partitions=1):
  one issue anywhere means not every op runs on the GPU, which is what the verdict says.
- Buffers stored outside the flatbuffer (large-model `offset`/`size`, `external_buffer`) count as
  constant here, as the interpreter maps them read-only (kTfLiteMmapRo); op_signature.cc would call them
  non-constant because `data` is empty.
- Custom ops read `custom_initial_data` from the op's `custom_options` bytes as the interpreter does
  (a C TfLitePoolParams / TfLiteTransposeConvParams, native int32s); the offline op signature never sets
  it, so the analyzer refused Convolution2DTransposeBias, MaxPoolingWithArgmax2D and MaxUnpooling2D.
- Reason texts print dtype names where the C++ prints a TfLiteType number (DYNAMIC_UPDATE_SLICE).
- Other GPU back ends (the GPU accelerator of LiteRT's CompiledModel API) keep their rules elsewhere:
  not covered.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

COMPAT = "gpu_compatibility.cc"
DELEGATE = "model_builder.cc"
SOURCE = ("google-ai-edge/LiteRT tflite/tools/versioning/gpu_compatibility.cc and "
          "tflite/delegates/gpu/common/model_builder.cc @ 297707cbe10f8f020afe87005dced0eceaa1f2fc")


@dataclass(frozen=True)
class GpuIssue:
    """One operator the GPU delegate's rules refuse: where, what, why, and whose rule (COMPAT or DELEGATE)."""

    subgraph: int
    op_index: int
    op: str
    reason: str
    rule: str = COMPAT

    def __str__(self) -> str:
        where = f"Op#{self.op_index}" if self.subgraph == 0 else f"Subgraph#{self.subgraph} Op#{self.op_index}"
        return f"{where} {self.op}: {self.reason}"


def check_gpu(path: str | Path, delegate: bool = True) -> list[GpuIssue]:
    """Every operator of every subgraph of the `.tflite` at `path` against gpu_compatibility.cc, and
    (`delegate`) against the classic GPU delegate's own gate (model_builder.cc); at most one issue per op."""
    from ai_edge_litert.tools.flatbuffer_utils import read_model_from_bytearray

    model = read_model_from_bytearray(bytearray(Path(path).read_bytes()))
    issues = []
    for s, subgraph in enumerate(model.subgraphs or []):
        graph = _Graph(model, subgraph)
        for i, op in enumerate(subgraph.operators or []):
            sig = graph.signature(op)
            rule, reason = COMPAT, _status(_compat, sig)
            if reason is None and delegate:
                rule, reason = _delegate_gate(graph, sig)
            if reason is not None:
                issues.append(GpuIssue(s, i, sig.label, reason, rule))
    return issues


# --- the op signature (op_signature.cc) -------------------------------------------------------------

NOTYPE = "NOTYPE"


class _Refused(Exception):
    """An absl::Status that is not OK; its message is the reason."""


def _fail(message: str) -> NoReturn:
    raise _Refused(message)


def _status(check: Callable[[_Sig], None], sig: _Sig) -> str | None:
    try:
        check(sig)
    except _Refused as refused:
        return str(refused)
    return None


@dataclass(frozen=True)
class _Spec:
    """OpSignatureTensorSpec: dtype by its TfLiteTypeGetName name (NOTYPE for an absent input)."""

    index: int
    type: str
    dims: tuple[int, ...]
    is_const: bool
    is_variable: bool = False
    name: str = ""


@dataclass(frozen=True)
class _Sig:
    """OpSignature: the builtin code, its name, the typed builtin options (None when the op has none of
    its type: the C++ params are then zeroed), custom name and options, tensors, version."""

    code: int
    name: str
    custom: bool
    custom_name: str
    options: Any
    custom_data: bytes | None
    inputs: tuple[_Spec, ...]
    outputs: tuple[_Spec, ...]
    version: int

    @property
    def label(self) -> str:
        return f"CUSTOM:{self.custom_name or '?'}" if self.custom else self.name

    def input(self, i: int) -> _Spec:
        """`op_sig.inputs.at(i)`: the C++ throws out of range; here that is a refusal."""
        if i >= len(self.inputs):
            _fail(f"Requested index goes beyond array size: {i} vs {len(self.inputs)}")
        return self.inputs[i]

    def opt(self, options_class: str, field: str, default: Any = 0) -> Any:
        """A builtin option as ParseOpData fills the C params: the field, or zero without those options."""
        if self.options is None or type(self.options).__name__ != options_class:
            return default
        return getattr(self.options, field)


class _Graph:
    """One subgraph's tensors, with producers and consumers for the delegate's graph rules."""

    def __init__(self, model: Any, subgraph: Any) -> None:
        from ai_edge_litert import schema_py_generated as schema
        from ai_edge_litert.tools.flatbuffer_utils import get_builtin_code_from_operator_code

        self.schema, self.model, self.subgraph = schema, model, subgraph
        self.codes = [get_builtin_code_from_operator_code(c) for c in model.operatorCodes or []]
        self.type_names = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
        self.op_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
        self.specs: dict[int, _Spec] = {}
        self.producers: dict[int, list[Any]] = {}
        for op in subgraph.operators or []:
            for t in _ints(op.outputs):
                self.producers.setdefault(t, []).append(op)

    def code(self, op: Any) -> int:
        return int(self.codes[op.opcodeIndex])

    def spec(self, index: int) -> _Spec:
        if index < 0 or index >= len(self.subgraph.tensors or []):
            return _Spec(index, NOTYPE, (), False)
        if index not in self.specs:
            t = self.subgraph.tensors[index]
            buffers = self.model.buffers or []
            buffer = buffers[t.buffer] if 0 < t.buffer < len(buffers) else None
            const = buffer is not None and (
                (buffer.data is not None and len(buffer.data) > 0) or (buffer.offset > 1 and buffer.size > 0))
            const = const or bool(getattr(t, "externalBuffer", 0))
            name = t.name.decode(errors="replace") if isinstance(t.name, bytes) else str(t.name or "")
            self.specs[index] = _Spec(index, self.type_names.get(t.type, f"TYPE_{t.type}"),
                                      tuple(int(d) for d in _ints(t.shape)), const, bool(t.isVariable), name)
        return self.specs[index]

    def signature(self, op: Any) -> _Sig:
        code = self.code(op)
        op_code = self.model.operatorCodes[op.opcodeIndex]
        custom, custom_name = code == self.schema.BuiltinOperator.CUSTOM, ""
        if custom:
            raw = op_code.customCode
            custom_name = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw or "")
        data = bytes(bytearray(op.customOptions)) if custom and op.customOptions is not None else None
        name = custom_name if custom else self.op_names.get(code, f"BUILTIN_{code}")
        return _Sig(code, name, custom, custom_name, op.builtinOptions,
                    data or None, tuple(self.spec(int(t)) for t in _ints(op.inputs)),
                    tuple(self.spec(int(t)) for t in _ints(op.outputs)), int(op_code.version))


def _ints(values: Iterable[Any] | None) -> list[int]:
    return [] if values is None else [int(v) for v in values]


# --- gpu_compatibility.cc ---------------------------------------------------------------------------

SIGN_BIT = 5           # ActivationFunctionType.SIGN_BIT -> kTfLiteActSignBit
SIGMOID, TANH = 6, 4   # kTfLiteActSigmoid (no flatbuffer value maps to it), kTfLiteActTanh
TYPE_SIZES = {"FLOAT32": 4, "INT32": 4, "UINT32": 4, "UINT8": 1, "INT64": 8, "UINT64": 8, "BOOL": 1,
              "COMPLEX64": 8, "COMPLEX128": 16, "UINT16": 2, "INT16": 2, "INT8": 1, "FLOAT16": 2,
              "BFLOAT16": 2, "FLOAT64": 8, "UINT4": 1, "INT4": 1, "INT2": 1, "FLOAT8_E4M3FN": 1,
              "FLOAT8_E5M2": 1}                  # util.cc GetSizeOfType
FLOATS = ("FLOAT16", "FLOAT32")


def _activation(value: int) -> int:
    """ConvertActivation: the flatbuffer's NONE..SIGN_BIT (0..5) keep their numbers, others are NONE."""
    return value if 0 <= value <= 5 else 0


def _activation_supported(activation: int) -> None:
    if activation == SIGN_BIT:
        _fail("TfLiteFusedActivation.kTfLiteActSignBit")


def _runtime_inputs(sig: _Sig) -> int:
    return sum(1 for t in sig.inputs if not t.is_const and t.type != NOTYPE)


def _inputs_outputs(sig: _Sig, runtime: int, outputs: int) -> None:
    found = _runtime_inputs(sig)
    if found != runtime:
        _fail(f"Expected {runtime} runtime input tensor(s), but node has {found} runtime input(s).")
    if len(sig.outputs) != outputs:
        _fail(f"Expected {outputs} output tensor(s), but node has {len(sig.outputs)} output(s).")


def _inputs_consts_outputs(sig: _Sig, runtime: int, consts: int, outputs: int) -> None:
    found = sum(1 for t in sig.inputs if t.is_const)
    if found != consts:
        _fail(f"Expected {consts} const input tensor(s), but node has {found} const input(s).")
    _inputs_outputs(sig, runtime, outputs)


def _ok(check: Callable[[], None]) -> bool:
    try:
        check()
    except _Refused:
        return False
    return True


def _tensor_available(sig: _Sig, i: int) -> None:
    if i >= len(sig.inputs):
        _fail(f"Requested index goes beyond array size: {i} vs {len(sig.inputs)}")


def _convolution_io(sig: _Sig) -> None:
    runtime = _runtime_inputs(sig)
    if runtime < 1 or runtime > 2:
        _fail(f"Expected 1 or 2 input tensor(s), but node has {runtime} runtime inputs.")
    if len(sig.outputs) != 1:
        _fail(f"Expected 1 output tensor(s), but node has {len(sig.outputs)} runtime outputs.")
    if runtime == 1:
        _tensor_available(sig, 1)


def _strides(h: int, w: int) -> None:
    if h <= 0 or w <= 0:
        _fail(f"Incorrect stride values: stride_height = {h}, stride_width = {w}")


def _dilation(h: int, w: int) -> None:
    if h <= 0 or w <= 0:
        _fail(f"Incorrect dilation values: dilation_height = {h}, dilation_width = {w}")


def _kernels(h: int, w: int) -> None:
    if h <= 0 or w <= 0:
        _fail(f"Incorrect kernel values: kernel_height = {h}, kernel_width = {w}")


def _axes_int32_const(sig: _Sig, i: int) -> None:
    axes = sig.input(i)
    if not axes.is_const:
        _fail(f"{sig.name} is only supported with constant axes.")
    if axes.type != "INT32":
        _fail(f"{sig.name} supports int32 tensor for axes. But node has {axes.type}")


def _builtin_data(sig: _Sig) -> None:
    """RetrieveBuiltinData: a custom op has none (ParseOpData runs for builtin ops only)."""
    if sig.custom:
        _fail("Unable to retrieve builtin_data.")


def _custom_ints(sig: _Sig, count: int) -> tuple[int, ...]:
    """RetrieveCustomInitialData, read as the C params struct's leading int32 fields."""
    if not sig.custom_data or len(sig.custom_data) < 4 * count:
        _fail("Unable to retrieve custom_initial_data.")
    return struct.unpack_from(f"={count}i", sig.custom_data)


def _pooling(sig: _Sig) -> None:
    if sig.custom_data:      # the custom MaxPoolingWithArgmax2D, indices as a second output
        _padding, sw, sh, fw, fh, act = _custom_ints(sig, 6)
        _inputs_outputs(sig, 1, 2)
    else:
        _builtin_data(sig)
        _inputs_outputs(sig, 1, 1)
        o = "Pool2DOptionsT"
        sw, sh = sig.opt(o, "strideW"), sig.opt(o, "strideH")
        fw, fh = sig.opt(o, "filterWidth"), sig.opt(o, "filterHeight")
        act = _activation(sig.opt(o, "fusedActivationFunction"))
    _kernels(fh, fw)
    _strides(sh, sw)
    _activation_supported(act)


def _conv_like(sig: _Sig, o: str) -> None:
    """The checks CONV_2D and DEPTHWISE_CONV_2D share: I/O, strides, dilation, fused activation."""
    _convolution_io(sig)
    _strides(sig.opt(o, "strideH"), sig.opt(o, "strideW"))
    _dilation(sig.opt(o, "dilationHFactor"), sig.opt(o, "dilationWFactor"))
    _activation_supported(_activation(sig.opt(o, "fusedActivationFunction")))


def _depthwise(sig: _Sig) -> None:
    o = "DepthwiseConv2DOptionsT"
    _conv_like(sig, o)
    multiplier = sig.opt(o, "depthMultiplier")
    x, w = sig.inputs[0], sig.input(1)
    bias = sig.inputs[2] if len(sig.inputs) > 2 else None
    y = sig.outputs[0]
    for name, t in (("input", x), ("filter", w), ("output", y)):
        if len(t.dims) != 4:
            _fail(f"{name}.dims.size != 4")
    if x.dims[0] != y.dims[0]:
        _fail("input.b != output.b")
    if w.dims[3] != y.dims[3]:
        _fail("filter.i != output.c")
    if y.dims[3] != x.dims[3] * multiplier:
        _fail("output.c != input.c * depth_multiplier")
    if bias is not None and _num_elements(bias.dims) != y.dims[3]:   # an absent bias (-1) has 1 element
        _fail("bias.size != output.c")


def _num_elements(dims: Sequence[int]) -> int:
    count = 1
    for d in dims:
        count *= d
    return count


def _cumsum(sig: _Sig) -> None:
    if len(sig.inputs) != 2 or len(sig.outputs) != 1:
        _fail("Expects 2 inputs and 1 output")
    x, axis, y = sig.inputs[0], sig.inputs[1], sig.outputs[0]
    if x.type not in FLOATS or y.type != x.type or axis.type != "INT32" or not axis.is_const:
        _fail("Input/output must be float type and indices must be constant int32 type")


def _one_hot(sig: _Sig) -> None:
    if len(sig.inputs) != 4 or len(sig.outputs) != 1:
        _fail("Expects 4 inputs and 1 output")
    error = ("Indices must be int32 type, on/off tensors must be constant, scalar, float type, "
             "axis must be -1 or last dim")
    indices = sig.inputs[0]
    if indices.type != "INT32":
        _fail(error)
    axis, n = sig.opt("OneHotOptionsT", "axis"), len(indices.dims)
    if axis != -1 and (n == 0 or axis != indices.dims[n - 1]):
        _fail(error)
    for i in range(n - 1):
        if n > 3 and i == 0:
            continue
        if indices.dims[i] != 1:
            _fail(f"Unsupported non-singleton dim at {i}")
    on, off = sig.inputs[2], sig.inputs[3]
    if on.type != "FLOAT32" or off.type != "FLOAT32":
        _fail(error)
    if not on.is_const or not off.is_const or len(on.dims) > 1 or len(off.dims) > 1:
        _fail(error)
    if (on.dims and on.dims[0] > 1) or (off.dims and off.dims[0] > 1):
        _fail(error)


def _select_v2(sig: _Sig) -> None:
    if len(sig.inputs) != 3 or len(sig.outputs) != 1:
        _fail("Expected 3 inputs and 1 output")
    error = ("Cond must be float or bool type, if, else tensors must either be the same shape as output "
             "or constant, scalar.")
    cond, out = sig.inputs[0], sig.outputs[0].dims
    if cond.type not in ("BOOL", *FLOATS):
        _fail(error)
    if cond.dims:
        offset = len(out) - len(cond.dims)
        if offset < 0:
            _fail(error)
        for i, d in enumerate(cond.dims):
            if d != out[offset + i] and d != 1:
                _fail(error)
    for t, which in ((sig.inputs[1], "if"), (sig.inputs[2], "else")):
        if t.dims and t.dims != out and (len(t.dims) > 1 or t.dims[0] > 1):
            _fail(error)
        if not t.is_const and len(t.dims) == 2:
            _fail(f"2-D {which} tensor only supported if constant.")


def _custom(sig: _Sig) -> None:
    name = sig.custom_name
    if name == "Convolution2DTransposeBias":
        _tensor_available(sig, 1)
        _padding, sw, sh = _custom_ints(sig, 3)
        _strides(sh, sw)
    elif name == "MaxPoolingWithArgmax2D":
        _pooling(sig)
    elif name == "MaxUnpooling2D":
        _inputs_outputs(sig, 2, 1)
        _padding, sw, sh, fw, fh = _custom_ints(sig, 5)
        _kernels(fh, fw)
        _strides(sh, sw)
    elif name == "Resampler":
        _inputs_outputs(sig, 2, 1)
        src, warp = sig.inputs[0], sig.inputs[1]
        if len(src.dims) != 4 or len(warp.dims) != 4:
            _fail("src or warp dims size != 4")
        if src.dims[0] != warp.dims[0]:
            _fail("src.b != warp.b")
        if warp.dims[3] < 2:
            _fail("warp.c < 2")
    else:
        _fail(f"Not supported custom op {name}")


def _broadcastable(longer: Sequence[int], shorter: Sequence[int]) -> bool:
    i1, i2 = len(longer) - 1, len(shorter) - 1
    for _ in range(max(i1, i2), -1, -1):
        d1 = 1 if i1 < 0 else longer[i1]
        d2 = 1 if i2 < 0 else shorter[i2]
        if d1 != d2 and d1 != 1 and d2 != 1:
            return False
        i1, i2 = i1 - 1, i2 - 1
    return True


def _add_mul_broadcast(a: _Spec, b: _Spec) -> None:
    """CheckAddMulBroadcastCompatibility with kEnhancedBroadcast, as the offline check runs it."""
    if len(a.dims) > 1 and len(b.dims) > 1 and len(a.dims) != len(b.dims):
        longer, shorter = (a.dims, b.dims) if len(a.dims) >= len(b.dims) else (b.dims, a.dims)
        if not _broadcastable(longer, shorter):
            _fail(f"Doesn't support broadcasting - input0: [{','.join(map(str, a.dims))}], "
                  f"input1: [{','.join(map(str, b.dims))}]")


def _bitcast(sig: _Sig) -> None:
    _inputs_outputs(sig, 1, 1)
    x, y = sig.inputs[0], sig.outputs[0]
    if x.type not in TYPE_SIZES:
        _fail("Could not parse input type")
    if y.type not in TYPE_SIZES:
        _fail("Could not parse output type")
    xs, ys = TYPE_SIZES[x.type], TYPE_SIZES[y.type]
    if xs == ys:
        if x.dims != y.dims:
            _fail("If input and output types have the same element size, they must have the same shapes")
    elif xs > ys:
        if len(x.dims) + 1 != len(y.dims):
            _fail("If input element size is greater than output element size, require that output rank is "
                  "one greater than input rank")
        if any(x.dims[d] != y.dims[d] for d in range(len(x.dims))):
            _fail("Shapes must match in all but last dim")
        if y.dims[-1] * ys != xs:
            _fail("Last output dim must be equal to input element size divided by output element size")
    else:
        if len(x.dims) != len(y.dims) + 1:
            _fail("If output element size is greater than input element size, require that input rank is "
                  "one greater than output rank")
        if any(x.dims[d] != y.dims[d] for d in range(len(y.dims))):
            _fail("Shapes must match in all but last dim")
        if x.dims[-1] * xs != ys:
            _fail("Last input dim must be equal to output element size divided by input element size")


def _cast(sig: _Sig) -> None:
    _inputs_outputs(sig, 1, 1)
    src, dst = sig.inputs[0].type, sig.outputs[0].type
    if src == "BOOL" and dst in FLOATS:
        return
    if src in FLOATS and dst == "BOOL":
        return
    if src in ("FLOAT32", "INT32") and dst in ("FLOAT32", "INT32"):
        return
    _fail(f"Not supported Cast case. Input type: {src} and output type: {dst}")


def _dequantize(sig: _Sig) -> None:
    if len(sig.inputs) != 1 or len(sig.outputs) != 1:
        _fail(f"Expected 1 input & output each from Dequantize, got: {len(sig.inputs)}, {len(sig.outputs)}")
    if sig.inputs[0].type == "INT16":
        _fail("Unsupported dequantization type.")


def _embedding_lookup(sig: _Sig) -> None:
    if len(sig.inputs) != 2:
        _fail(f"Expected 2, but got {len(sig.inputs)} inputs.")
    if len(sig.outputs) != 1:
        _fail(f"Expected 1, but got {len(sig.outputs)} outputs.")
    ids, value, out = sig.inputs[0], sig.inputs[1], sig.outputs[0]
    if len(ids.dims) != 1:
        _fail(f"Expected 1D, but got {len(ids.dims)}D input #0.")
    if len(value.dims) < 2:
        _fail(f"Expected > 1D, but got {len(value.dims)}D input #1.")
    if len(value.dims) != len(out.dims):
        _fail(f"Expected {len(value.dims)}, but got {len(out.dims)} for output.")
    for i in range(1, len(out.dims)):
        if value.dims[i] != out.dims[i]:
            _fail(f"Expected {value.dims[i]}, but got {out.dims[i]} for output.dim[{i}].")
    if value.type not in ("INT8", "INT4", "INT2", "FLOAT32"):
        _fail(f"Expected int8, int4, int2, or float32, but got {value.type} for input #1.")


def _dynamic_update_slice(sig: _Sig) -> None:
    if len(sig.inputs) != 3:
        _fail("DynamicUpdateSlice requires 3 inputs.")
    operand, update, start = sig.inputs
    if operand.type != update.type:
        _fail("Array to update and updated slice must have the same data type, but got: array to update: "
              f"{operand.type}, updated slice: {update.type}")
    if len(start.dims) != 1:
        _fail(f"Start indices must be 1D, but got: {len(start.dims)}")
    if start.type != "INT32":
        _fail("start_indices must be of type int32.")
    if len(update.dims) != len(operand.dims):
        _fail("Operand and update must have the same number of dimensions, but got: operand: "
              f"{len(operand.dims)}, update: {len(update.dims)}")


def _fully_connected(sig: _Sig) -> None:
    if not sig.inputs:
        _fail("Expected at least 1 input")
    o = "FullyConnectedOptionsT"
    weights_format = sig.opt(o, "weightsFormat")
    if weights_format not in (0, 1):         # ParseFullyConnected errors out: no builtin_data
        _fail("Unable to retrieve builtin_data.")
    if weights_format != 0:
        _fail(f"Unsupported FullyConnected weights format: {weights_format}")
    if _runtime_inputs(sig) > 2:
        _fail("FullyConnected doesn't support more than 2 runtime inputs.")
    if sig.inputs[0].is_const:
        _fail("FullyConnected doesn't support constant input.")
    if sig.opt(o, "keepNumDims", False):
        if not sig.outputs:
            _fail("Expected at least 1 output")
        if len(sig.inputs[0].dims) != len(sig.outputs[0].dims):
            _fail("Input and output dimensions different and FullyConnected doesn't support keep_num_dims.")


def _gather(sig: _Sig) -> None:
    if not _ok(lambda: _inputs_consts_outputs(sig, 2, 0, 1)) and not _ok(lambda: _inputs_consts_outputs(sig, 1, 1, 1)):
        _fail("Op can only handle 1 or 2 operand(s).")
    if len(sig.inputs[1].dims) != 1:
        _fail("Only support 1D indices")
    if sig.inputs[1].type != "INT32":
        _fail("Only accept INT32 indices")


def _lstm(sig: _Sig) -> None:
    o = "LSTMOptionsT"
    kernel = sig.opt(o, "kernelType")
    activation = _activation(sig.opt(o, "fusedActivationFunction"))
    if kernel == 0:          # kTfLiteLSTMFullKernel
        if len(sig.inputs) not in (20, 24):
            _fail(f"Expected 20 or 24 input tensors, but node has {len(sig.inputs)} input(s).")
        if len(sig.outputs) != 1:
            _fail(f"Expected 1 output tensor, but node has {len(sig.outputs)} output(s).")
        if activation not in (SIGMOID, TANH):
            _fail(f"Only sigmoid or tanh activation is supported, but node has {activation}")
    elif kernel == 1:        # kTfLiteLSTMBasicKernel
        _inputs_consts_outputs(sig, 3, 2, 4)
        if sig.outputs[3].dims and sig.outputs[3].dims[-1] % 4 != 0:
            _fail("BasicLSTM activation depth must be a multiple of 4.")
        if activation != TANH:
            _fail(f"Only TANH activation is supported. but node has {activation}")
        if sig.opt(o, "cellClip", 0.0) != 0.0:
            _fail("cell_clip is not supported.")
        if sig.opt(o, "projClip", 0.0) != 0.0:
            _fail("proj_clip is not supported.")
    else:                    # ParseLSTM errors out on an unknown kernel type: no builtin_data
        _fail("Unable to retrieve builtin_data.")


def _mul(sig: _Sig) -> None:
    if len(sig.inputs) != 2:
        _fail("MUL requires two input tensors.")
    if len(sig.inputs[0].dims) != len(sig.inputs[1].dims):
        _add_mul_broadcast(sig.inputs[0], sig.inputs[1])
    _activation_supported(_activation(sig.opt("MulOptionsT", "fusedActivationFunction")))


def _add(sig: _Sig) -> None:
    if len(sig.inputs) != 2:
        _fail("ADD requires two input tensors.")
    _add_mul_broadcast(sig.inputs[0], sig.inputs[1])


def _slice(sig: _Sig) -> None:
    if len(sig.inputs) < 3:
        _fail(f"SLICE requires 3 inputs, but node has {len(sig.inputs)} inputs.")
    rank = len(sig.inputs[0].dims)
    if rank not in (3, 4):
        _fail(f"SLICE supports for 3 or 4 dimensional tensors only, but node has {rank} dimensional tensors.")


def _softmax(sig: _Sig) -> None:
    if sig.opt("SoftmaxOptionsT", "beta", 0.0) != 1:
        _fail("Softmax.beta != 1 is not supported.")


def _block_size(sig: _Sig, options: str, name: str) -> None:
    _inputs_outputs(sig, 1, 1)
    block = sig.opt(options, "blockSize")
    if block == 1:
        _fail(f"{name} block_size = 1 is a no-op.")
    if block < 1:
        _fail(f"{name} block_size must be > 1.")


def _strided_slice(sig: _Sig) -> None:
    o = "StridedSliceOptionsT"
    if sig.opt(o, "ellipsisMask"):
        _fail("StridedSlice does not support ellipsis_mask.")
    if sig.opt(o, "newAxisMask"):
        _fail("StridedSlice does not support new_axis_mask.")
    if sig.opt(o, "shrinkAxisMask"):
        _fail("StridedSlice does not support shrink_axis_mask parameter.")
    if len(sig.inputs) < 4:
        _fail("STRIDED_SLICE requires 4 inputs.")
    if len(sig.inputs[0].dims) not in (3, 4):
        _fail("STRIDED_SLICE supports for 3 or 4 dimensional tensors only.")


def _transpose_conv(sig: _Sig) -> None:
    _convolution_io(sig)
    _strides(sig.opt("TransposeConvOptionsT", "strideH"), sig.opt("TransposeConvOptionsT", "strideW"))


def _resize_bilinear(sig: _Sig) -> None:
    _inputs_outputs(sig, 1, 1)
    if sig.opt("ResizeBilinearOptionsT", "alignCorners", False) and \
            sig.opt("ResizeBilinearOptionsT", "halfPixelCenters", False):
        _fail("If half_pixel_centers is True, align_corners must be False.")


MIRROR_MODES = {0: 1, 1: 2}    # MirrorPadMode REFLECT/SYMMETRIC -> kTfLiteMirrorPadding{Reflect,Symmetric}


def _pad(sig: _Sig, mirror: bool) -> None:
    if mirror:
        mode = MIRROR_MODES.get(sig.opt("MirrorPadOptionsT", "mode", None), 0)   # no options: 0, Unknown
        if mode != 1:
            _fail(f"Only Reflective padding is supported for Mirror Pad operation. But node has {mode}")
    _inputs_outputs(sig, 1, 1)
    _tensor_available(sig, 1)
    pads = sig.inputs[1].dims
    if len(pads) != 2:
        _fail(f"Invalid paddings tensor dimension: expected 2 dim, got {len(pads)} dim")
    if pads[0] not in (3, 4) or pads[1] != 2:
        _fail(f"Invalid paddings tensor shape: expected 4x2 or 3x2, got {pads[0]}x{pads[1]}")


def _reduce(sig: _Sig) -> None:
    _inputs_consts_outputs(sig, 1, 1, 1)
    _axes_int32_const(sig, 1)


UNARY = ("ABS", "CEIL", "COS", "ELU", "EXP", "FLOOR", "GELU", "LOG", "LOGICAL_NOT", "LOGISTIC", "NEG", "ROUND",
         "RSQRT", "SIGN", "SIN", "SQRT", "SQUARE", "TANH")
BINARY = ("ATAN2", "DIV", "EQUAL", "FLOOR_DIV", "FLOOR_MOD", "GREATER", "GREATER_EQUAL", "LOGICAL_AND",
          "LOGICAL_OR", "LESS", "LESS_EQUAL", "MAXIMUM", "MINIMUM", "NOT_EQUAL", "POW", "RIGHT_SHIFT",
          "STABLEHLO_REMAINDER", "STABLEHLO_SHIFT_LEFT", "SQUARED_DIFFERENCE", "SUB")
REDUCE = ("REDUCE_ALL", "REDUCE_ANY", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "SUM")


def _binary(sig: _Sig) -> None:
    if not _ok(lambda: _inputs_consts_outputs(sig, 2, 0, 1)) and not _ok(lambda: _inputs_consts_outputs(sig, 1, 1, 1)):
        _fail("Op can only handle 1 or 2 operand(s).")
    options = {"DIV": "DivOptionsT", "SUB": "SubOptionsT"}.get(sig.name)
    if options:
        _activation_supported(_activation(sig.opt(options, "fusedActivationFunction")))


def _broadcast_in_dim(sig: _Sig) -> None:
    if not _ok(lambda: _inputs_consts_outputs(sig, 1, 1, 1)):
        _fail("requires one runtime input, one const input, and one output")
    indices = sig.inputs[1]
    if len(indices.dims) != 1:
        _fail("Only support 1D indices")
    if indices.type != "INT32":
        _fail("Only support int32 indices")
    if len(sig.inputs[0].dims) != indices.dims[0]:
        _fail("Require size(indices) = rank(operand)")


def _cbrt(sig: _Sig) -> None:
    _inputs_consts_outputs(sig, 1, 0, 1)
    if sig.inputs[0].type not in ("FLOAT16", "FLOAT32", "BFLOAT16"):
        _fail("Only support float inputs")
    if sig.inputs[0].type != sig.outputs[0].type:
        _fail("Input and output types must match")


def _clamp(sig: _Sig) -> None:
    _inputs_consts_outputs(sig, 3, 0, 1)
    lo, x, hi = sig.inputs[0], sig.inputs[1], sig.inputs[2]
    if lo.type != x.type or x.type != hi.type:
        _fail("Clamp tensors must all be the same type")
    if lo.dims != x.dims and _num_elements(lo.dims) != 1:
        _fail("Min tensor must be the same shape as the input, or a scalar")
    if hi.dims != x.dims and _num_elements(hi.dims) != 1:
        _fail("Max tensor must be the same shape as the input, or a scalar")


def _conv2d(sig: _Sig) -> None:
    _conv_like(sig, "Conv2DOptionsT")


def _nothing(sig: _Sig) -> None:
    return None


def _io(runtime: int, outputs: int) -> Callable[[_Sig], None]:
    return lambda sig: _inputs_outputs(sig, runtime, outputs)


def _io_consts(runtime: int, consts: int, outputs: int) -> Callable[[_Sig], None]:
    return lambda sig: _inputs_consts_outputs(sig, runtime, consts, outputs)


def _add_n(sig: _Sig) -> None:
    if len(sig.inputs) != 2:
        _fail("ADD_N only supports 2 inputs.")


def _batch_matmul(sig: _Sig) -> None:
    if not (len(sig.inputs) == 2 and len(sig.outputs) == 1):
        _fail(f"Expected 2 inputs and 1 output, got: {len(sig.inputs)} inputs and {len(sig.outputs)} outputs")


def _mean(sig: _Sig) -> None:
    _inputs_consts_outputs(sig, 1, 1, 1)
    _axes_int32_const(sig, 1)


COMPAT_RULES: dict[str, Callable[[_Sig], None]] = {
    "ADD": _add, "ADD_N": _add_n, "AVERAGE_POOL_2D": _pooling, "BATCH_MATMUL": _batch_matmul,
    "BITCAST": _bitcast, "CAST": _cast, "CONCATENATION": _nothing, "CONV_2D": _conv2d, "CUMSUM": _cumsum,
    "DENSIFY": _io(0, 1), "DEPTHWISE_CONV_2D": _depthwise,
    "DEPTH_TO_SPACE": lambda sig: _block_size(sig, "DepthToSpaceOptionsT", "DEPTH_TO_SPACE"),
    "DEQUANTIZE": _dequantize, "EMBEDDING_LOOKUP": _embedding_lookup, "DYNAMIC_UPDATE_SLICE": _dynamic_update_slice,
    "FULLY_CONNECTED": _fully_connected, "GATHER": _gather, "HARD_SWISH": _io(1, 1), "LSTM": _lstm,
    "MAX_POOL_2D": _pooling, "MEAN": _mean, "MUL": _mul, "PACK": _nothing, "ONE_HOT": _one_hot,
    "QUANTIZE": _io(1, 1), "RELU_N1_TO_1": _nothing, "PRELU": _nothing, "RESHAPE": _io(1, 1),
    "SELECT": _select_v2, "SELECT_V2": _select_v2, "SLICE": _slice, "SOFTMAX": _softmax,
    "SPACE_TO_DEPTH": lambda sig: _block_size(sig, "SpaceToDepthOptionsT", "SPACE_TO_DEPTH"),
    "SPLIT": _nothing, "SPLIT_V": _nothing, "STRIDED_SLICE": _strided_slice, "TILE": _io(1, 1),
    "TOPK_V2": _io(1, 2), "TRANSPOSE": _io(1, 1), "TRANSPOSE_CONV": _transpose_conv,
    "RESIZE_BILINEAR": _resize_bilinear, "RESIZE_NEAREST_NEIGHBOR": _io(1, 1),
    "RELU": _nothing, "RELU6": _nothing, "LEAKY_RELU": _nothing,
    "PAD": lambda sig: _pad(sig, False), "PADV2": lambda sig: _pad(sig, False),
    "MIRROR_PAD": lambda sig: _pad(sig, True), "REVERSE_V2": _reduce,
    "STABLEHLO_BROADCAST_IN_DIM": _broadcast_in_dim, "STABLEHLO_CBRT": _cbrt, "STABLEHLO_CLAMP": _clamp,
    **{name: _reduce for name in REDUCE}, **{name: _io_consts(1, 0, 1) for name in UNARY},
    **{name: _binary for name in BINARY},
}


def _compat(sig: _Sig) -> None:
    """CheckGpuDelegateCompatibility(op_sig, kEnhancedBroadcast): raises `_Refused` with its reason."""
    if sig.custom:
        _custom(sig)
        return
    rule = COMPAT_RULES.get(sig.name)
    if rule is None:
        _fail(f"Not supported op {sig.name}")
    rule(sig)


# --- model_builder.cc: the classic GPU delegate's own gate --------------------------------------------

ELEMENTWISE = ("ABS", "ADD", "ADD_N", "COS", "DIV", "EQUAL", "ELU", "EXP", "FLOOR", "FLOOR_DIV", "FLOOR_MOD",
               "GELU", "GREATER", "GREATER_EQUAL", "LESS", "LESS_EQUAL", "LOGISTIC", "LOG", "LOGICAL_AND",
               "MAXIMUM", "MINIMUM", "MUL", "NEG", "NOT_EQUAL", "POW", "RSQRT", "SIGN", "SIN", "SQRT", "SQUARE",
               "SQUARED_DIFFERENCE", "SUB", "TANH")
LOGICAL = ("GREATER", "GREATER_EQUAL", "LESS", "LESS_EQUAL", "EQUAL", "NOT_EQUAL")   # IsLogicalCode
# NewOperationParser's builtin ops -> the max version its parser's IsSupported accepts (None: no check).
DELEGATE_PARSERS: dict[str, int | None] = {
    **{name: 3 if name == "MUL" else 2 for name in ELEMENTWISE},
    "AVERAGE_POOL_2D": 2, "MAX_POOL_2D": 2, "BATCH_MATMUL": None, "CAST": None, "CONCATENATION": 2,
    "CONV_2D": 6, "CUMSUM": 1, "DENSIFY": 1, "DEPTHWISE_CONV_2D": 6, "DEPTH_TO_SPACE": None, "DEQUANTIZE": 3,
    "FULLY_CONNECTED": 9, "GATHER": 1, "HARD_SWISH": None, "LSTM": 4, "MEAN": None, "MIRROR_PAD": 2, "PAD": 2,
    "PADV2": 2, "ONE_HOT": 1, "PACK": None, "REDUCE_MAX": None, "REDUCE_MIN": None, "REDUCE_PROD": None,
    "SUM": None, "QUANTIZE": 2, "RELU": 2, "RELU6": 2, "RELU_0_TO_1": 2, "RELU_N1_TO_1": 2, "LEAKY_RELU": 2,
    "PRELU": 1, "RESHAPE": 1, "RESIZE_BILINEAR": 3, "RESIZE_NEAREST_NEIGHBOR": 3, "SELECT": 1, "SELECT_V2": 1,
    "SLICE": 2, "SOFTMAX": 2, "SPACE_TO_DEPTH": 2, "SPLIT": None, "SPLIT_V": None, "STRIDED_SLICE": 4,
    "TILE": None, "TRANSPOSE": 4, "TRANSPOSE_CONV": 3, "UNPACK": None,
}
DELEGATE_CUSTOM: dict[str, int | None] = {"Convolution2DTransposeBias": None, "MaxPoolingWithArgmax2D": 2,
                                          "MaxUnpooling2D": None, "Resampler": None}
TENSOR_GATE = "OP is supported, but tensor type/shape isn't compatible."


def _delegate_gate(graph: _Graph, sig: _Sig) -> tuple[str, str | None]:
    """GetOpsToReplace's node check for an op gpu_compatibility.cc passes: (rule, reason or None)."""
    if sig.custom:
        if sig.custom_name not in DELEGATE_CUSTOM:
            return DELEGATE, sig.custom_name                   # UnimplementedOperationParser(op_name)
        max_version = DELEGATE_CUSTOM[sig.custom_name]
    elif sig.name not in DELEGATE_PARSERS:
        return DELEGATE, "Operation is not supported."         # UnsupportedOperationParser
    else:
        max_version = DELEGATE_PARSERS[sig.name]
    if max_version is not None and sig.version > max_version:
        return DELEGATE, f"Max version supported: {max_version}. Requested version {sig.version}."
    context = _graph_rule(graph, sig)
    if context is not None:
        return DELEGATE, context
    allowed_in, allowed_out = {"FLOAT32", "FLOAT16", "INT8", "UINT8"}, {"FLOAT32", "FLOAT16", "INT8", "UINT8"}
    if sig.name in LOGICAL:
        allowed_out.add("BOOL")
    if sig.name == "CAST":
        allowed_in |= {"BOOL", "INT32"}
        allowed_out |= {"INT32", "BOOL"}
    if sig.name == "ONE_HOT" or sig.name == "GATHER":
        allowed_in.add("INT32")
    if sig.name in ("SELECT", "SELECT_V2"):
        allowed_in.add("BOOL")
    if sig.name == "LOGICAL_AND":
        allowed_in.add("BOOL")
        allowed_out.add("BOOL")
    for side, tensors, allowed in (("input", sig.inputs, allowed_in), ("output", sig.outputs, allowed_out)):
        for k, t in enumerate(tensors):
            if t.index < 0:                                    # kTfLiteOptionalTensor
                continue
            if len(t.dims) >= 5:
                return DELEGATE, f"{TENSOR_GATE} ({side} {k} '{t.name}' has rank {len(t.dims)})"
            if not t.is_const and not t.is_variable and t.type not in allowed:   # kTfLiteArenaRw
                return DELEGATE, f"{TENSOR_GATE} ({side} {k} '{t.name}' is {t.type})"
    return DELEGATE, None


def _graph_rule(graph: _Graph, sig: _Sig) -> str | None:
    """The parsers' IsSupported rules that look at neighbouring ops (GetTensorInfo)."""
    if sig.name in LOGICAL:
        out = sig.outputs[0].index if sig.outputs else -1
        producers, consumers = graph.producers.get(out, []), _uses(graph, out)
        if len(producers) != 1 or len(consumers) != 1:
            return "Not supported logical op case"
        nxt = consumers[0]
        dst = graph.spec(_ints(nxt.outputs)[0]).type if _ints(nxt.outputs) else NOTYPE
        name = graph.op_names.get(graph.code(nxt), "")
        if name in ("CAST", "SELECT", "SELECT_V2") and dst in FLOATS:
            return None
        return "Not supported logical op case."
    if sig.name == "CAST" and sig.inputs and sig.outputs and sig.inputs[0].type == "BOOL" \
            and sig.outputs[0].type in FLOATS:
        src = sig.inputs[0].index
        producers = graph.producers.get(src, [])
        if len(producers) != 1 or len(_uses(graph, src)) != 1:
            return "Not supported cast case"
        if len(_uses(graph, sig.outputs[0].index)) != 1:
            return "Cast from bool not supported for outputs"
    return None


def _uses(graph: _Graph, tensor: int) -> list[Any]:
    """GetTensorInfo's consumers: one entry per input slot that reads `tensor`."""
    return [op for op in graph.subgraph.operators or [] for t in _ints(op.inputs) if t == tensor]
