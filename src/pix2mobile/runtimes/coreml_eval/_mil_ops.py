"""The ML Program half of `coreml_eval`: interpret a pymil `main` function op by op in numpy.

`OPS` maps a MIL op type to a small function of the op's inputs: elementwise math and tensor
layout here, layers in `_mil_layers`, weight decompression in `_mil_constexpr`. An op type
missing from it is an error, never skipped. Values are float32; a value the program types fp16
is rounded through float16 when it is stored (beyond 65504 it becomes inf), and an op whose
output is fp16 (`Args.half`) keeps the intermediates of its composite kernels in fp16 as well:
which ones, and why, is in `coreml_eval.evaluator`'s docstring. After each op the result's shape is
checked against the shape coremltools inferred, so an evaluator that disagrees with Core ML's
shape rules fails loudly instead of computing something else. A value is dropped after its last
reader, so a program holds only its live tensors, as Core ML's own allocator does.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from pix2mobile.errors import VerificationError
from pix2mobile.runtimes.coreml_eval import _np_kernels as K
from pix2mobile.runtimes.coreml_eval._mil_constexpr import CONSTEXPR_OPS, along
from pix2mobile.runtimes.coreml_eval._mil_layers import LAYER_OPS

log = logging.getLogger(__name__)
F32 = np.float32


class Args:
    """The inputs of one op by parameter name: numpy values, or `str` for string constants."""

    def __init__(self, op: Any, env: Mapping[str, Any]):
        self.op = op
        self._env = env

    @property
    def half(self) -> bool:
        """The op computes in fp16: its (first) output is typed fp16, as every op of an fp16 program is."""
        from coremltools.converters.mil.mil import types

        return bool(self.op.outputs) and self.op.outputs[0].dtype == types.fp16

    def has(self, name: str) -> bool:
        return name in self.op.inputs

    def get(self, name: str, default: Any = None) -> Any:
        if name not in self.op.inputs:
            return default
        var = self.op.inputs[name]
        return [self._value(v) for v in var] if isinstance(var, (list, tuple)) else self._value(var)

    def __getitem__(self, name: str) -> Any:
        if name not in self.op.inputs:
            raise VerificationError(f"op '{self.op.name}' ({self.op.op_type}) lacks its input '{name}'")
        return self.get(name)

    def ints(self, name: str, default: Iterable[int] = ()) -> list[int]:
        return [int(v) for v in np.ravel(self.get(name, list(default)))]

    def num(self, name: str, default: float | None = None) -> float:
        value = self.get(name, default)
        if value is None:
            raise VerificationError(f"op '{self.op.name}' ({self.op.op_type}) lacks its input '{name}'")
        return float(np.asarray(value).item())

    def _value(self, var: Any) -> Any:
        if var.name in self._env:
            return self._env[var.name]
        if var.val is not None:
            return as_value(var.val)
        raise VerificationError(f"op '{self.op.name}' reads '{var.name}' before anything produced it")


def as_value(val: Any) -> Any:
    return val if isinstance(val, str) else np.asarray(val)


def unsupported(op_type: str) -> VerificationError:
    return VerificationError(f"ML Program op '{op_type}' is not supported by pix2mobile's Core ML evaluator, so the "
                             f"model cannot be verified: add it to OPS in pix2mobile/runtimes/coreml_eval/_mil_ops.py")


def check_supported(op_types: Iterable[str]) -> None:
    """Raise before any weight is read if the program uses an op this evaluator lacks."""
    for op_type in op_types:
        if op_type not in OPS:
            raise unsupported(op_type)


def run_function(func: Any, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Evaluate a pymil Function on `feeds` (one array per function input); outputs by var name."""
    env: dict[str, Any] = {}
    for name, var in func.inputs.items():
        env[name] = _store(feeds[name], var, f"input '{name}'")
    last = last_reads(func)
    overflowed = False
    for i, op in enumerate(func.operations):
        fn = OPS.get(op.op_type)
        if fn is None:
            raise unsupported(op.op_type)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):   # inf/NaN reach the gate
            result = fn(Args(op, env))
        outs = list(result) if isinstance(result, (list, tuple)) else [result]
        if len(outs) != len(op.outputs):
            raise VerificationError(f"op '{op.name}' ({op.op_type}) gave {len(outs)} outputs, "
                                    f"the model has {len(op.outputs)}")
        for var, value in zip(op.outputs, outs):
            env[var.name] = stored = _store(value, var, f"op '{op.name}' ({op.op_type})")
            if not overflowed and _non_finite(stored):
                overflowed = True
                log.warning("op '%s' (%s) computed inf or NaN%s; everything after it follows", op.name,
                            op.op_type, " (its intermediates overflow fp16)" if Args(op, env).half else "")
        for name in last.get(i, ()):
            env.pop(name, None)
    return {var.name: env[var.name] for var in func.outputs}


def last_reads(func: Any) -> dict[int, list[str]]:
    """{op index: names of the values no later op reads}; function outputs are never listed."""
    last: dict[str, int] = {}
    for i, op in enumerate(func.operations):
        for out in op.outputs:      # a value nobody reads goes right after the op that made it
            last[out.name] = i
        for var in op.inputs.values():
            for v in var if isinstance(var, (list, tuple)) else (var,):
                last[v.name] = i
    keep = {var.name for var in func.outputs}
    by_op: dict[int, list[str]] = {}
    for name, i in last.items():
        if name not in keep:
            by_op.setdefault(i, []).append(name)
    return by_op


def _non_finite(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind == "f" and not np.isfinite(value).all()


def _store(value: Any, var: Any, where: str) -> Any:
    """Cast to the var's declared type (fp16 rounds through float16; floats stay float32)."""
    from coremltools.converters.mil.mil import types

    if isinstance(value, str) or var.dtype == types.str:
        return value
    arr = np.asarray(value)
    try:
        np_type = np.dtype(types.nptype_from_builtin(var.dtype))
    except (TypeError, KeyError):
        np_type = arr.dtype
    if np_type.kind == "f":
        arr = K.fp16(arr) if np_type.itemsize == 2 else arr.astype(F32)
    elif np_type.kind in "iub":
        arr = arr.astype(np_type)
    shape = tuple(var.shape) if types.is_tensor(var.sym_type) else ()
    if all(isinstance(d, (int, np.integer)) for d in shape) and arr.shape != shape:
        raise VerificationError(f"{where} produced shape {arr.shape} where the model declares {shape}")
    return arr


# ---------------------------------------------------------------- elementwise

def _binary(fn: Callable[[Any, Any], Any]) -> Callable[[Args], np.ndarray]:
    return lambda a: fn(a["x"], a["y"])


def _unary(fn: Callable[[np.ndarray], Any]) -> Callable[[Args], np.ndarray]:
    return lambda a: fn(a["x"])


def _with_eps(fn: Callable[[np.ndarray, float], Any], default: float) -> Callable[[Args], np.ndarray]:
    return lambda a: fn(a["x"], a.num("epsilon", default))


def _cast(a: Args) -> np.ndarray:
    dtype = str(a["dtype"])
    x = a["x"]
    if dtype.startswith(("int", "uint")):
        return np.trunc(x).astype(np.dtype(dtype))
    targets = {"fp16": np.float16, "fp32": F32, "fp64": F32, "bool": np.bool_}
    if dtype not in targets:
        raise VerificationError(f"cast to '{dtype}' is not supported by pix2mobile's Core ML evaluator")
    return x.astype(targets[dtype])


def _prelu(a: Args) -> np.ndarray:
    x = a["x"]
    return np.where(x >= 0, x, K.channel_affine(x, a["alpha"], None))


def _quantize(a: Args) -> np.ndarray:
    x = a["input"]
    axis = int(a.get("axis", -1)) % x.ndim
    scale = along(a["scale"], x.ndim, axis)
    zero = along(a.get("zero_point", 0), x.ndim, axis)
    info = np.iinfo(np.dtype(str(a["output_dtype"])))
    return np.clip(np.round(x / scale) + zero, info.min, info.max)


def _dequantize(a: Args) -> np.ndarray:
    x = np.asarray(a["input"], F32)
    axis = int(a.get("axis", -1)) % x.ndim
    return (x - along(a.get("zero_point", 0), x.ndim, axis)) * along(a["scale"], x.ndim, axis)


def _act(fn: Callable[..., np.ndarray], **defaults: float) -> Callable[[Args], np.ndarray]:
    return lambda a: fn(a["x"], *(a.num(k, d) for k, d in defaults.items()))


# ---------------------------------------------------------------- tensor layout

def _reshape(a: Args) -> np.ndarray:
    """0 copies the input dim at the same position counted from the right (iOS 17 rule; the
    same as iOS 15/16 where shape and input have equal rank); -1 is inferred."""
    x, shape = a["x"], a.ints("shape")
    for i, s in enumerate(shape):
        if s == 0:
            j = x.ndim - (len(shape) - i)
            shape[i] = x.shape[j] if j >= 0 else 1
    return x.reshape(shape)


def _expand_dims(a: Args) -> np.ndarray:
    x, axes = a["x"], a.ints("axes")
    rank = x.ndim + len(axes)
    return np.expand_dims(x, tuple(sorted(ax % rank for ax in axes)))


def _squeeze(a: Args) -> np.ndarray:
    x = a["x"]
    return np.squeeze(x, tuple(a.ints("axes"))) if a.has("axes") else np.squeeze(x)


def _concat(a: Args) -> np.ndarray:
    values, axis = a["values"], int(a["axis"])
    if any(np.ndim(v) == 0 for v in values):    # shape arithmetic: scalars (gather of one dim) concatenate as 1-D
        values = [np.atleast_1d(v) for v in values]
    if not bool(a.get("interleave", False)):
        return np.concatenate(values, axis=axis)
    axis %= values[0].ndim
    stacked = np.stack(values, axis=axis + 1)
    shape = list(values[0].shape)
    shape[axis] *= len(values)
    return stacked.reshape(shape)


def _split(a: Args) -> list[np.ndarray]:
    x, axis = a["x"], int(a.get("axis", 0))
    if a.has("split_sizes"):
        sizes = a.ints("split_sizes")
        return np.split(x, np.cumsum(sizes)[:-1], axis=axis)
    return np.split(x, int(a["num_splits"]), axis=axis)


def _pad(a: Args) -> np.ndarray:
    pads = a.ints("pad")
    widths = list(zip(pads[0::2], pads[1::2]))
    return K.pad(a["x"], widths, str(a.get("mode", "constant")), a.num("constant_val", 0.0))


def _crop(a: Args) -> np.ndarray:
    (t, b), (left, right) = a.ints("crop_height", (0, 0)), a.ints("crop_width", (0, 0))
    x = a["x"]
    return x[..., t:x.shape[-2] - b, left:x.shape[-1] - right]


def _slice_by_index(a: Args) -> np.ndarray:
    x = a["x"]
    rank = x.ndim
    begin, end = a.ints("begin"), a.ints("end")
    stride = a.ints("stride", [1] * rank)
    bmask = [bool(v) for v in np.ravel(a.get("begin_mask", [False] * rank))]
    emask = [bool(v) for v in np.ravel(a.get("end_mask", [False] * rank))]
    smask = [bool(v) for v in np.ravel(a.get("squeeze_mask", [False] * rank))]
    index: list[Any] = []
    for i in range(rank):
        if smask[i]:
            index.append(begin[i])
        else:
            index.append(slice(None if bmask[i] else begin[i], None if emask[i] else end[i], stride[i]))
    return x[tuple(index)]


def _slice_by_size(a: Args) -> np.ndarray:
    x = a["x"]
    index = tuple(slice(b, None if s == -1 else b + s) for b, s in zip(a.ints("begin"), a.ints("size")))
    return x[index]


def _gather(a: Args) -> np.ndarray:
    if int(a.get("batch_dims", 0)) != 0:
        raise VerificationError("gather with batch_dims is not supported by pix2mobile's Core ML evaluator")
    return np.take(a["x"], np.asarray(a["indices"]).astype(np.int64), axis=int(a.get("axis", 0)))


OPS: dict[str, Callable[[Args], Any]] = {
    "const": lambda a: as_value(a.op.outputs[0].val),
    **CONSTEXPR_OPS,
    # elementwise binary (numpy broadcasting is MIL's broadcasting)
    "add": _binary(np.add), "sub": _binary(np.subtract), "mul": _binary(np.multiply),
    "real_div": _binary(np.divide), "pow": _binary(np.power), "maximum": _binary(np.maximum),
    "minimum": _binary(np.minimum), "floor_div": _binary(np.floor_divide), "mod": _binary(np.mod),
    "equal": _binary(np.equal), "not_equal": _binary(np.not_equal), "less": _binary(np.less),
    "less_equal": _binary(np.less_equal), "greater": _binary(np.greater),
    "greater_equal": _binary(np.greater_equal), "logical_and": _binary(np.logical_and),
    "logical_or": _binary(np.logical_or), "logical_xor": _binary(np.logical_xor),
    # elementwise unary and activations
    "abs": _unary(np.abs), "ceil": _unary(np.ceil), "floor": _unary(np.floor), "round": _unary(np.round),
    "sign": _unary(np.sign), "exp": _unary(np.exp), "exp2": _unary(np.exp2), "sqrt": _unary(np.sqrt),
    "square": _unary(np.square), "tanh": _unary(np.tanh), "sin": _unary(np.sin), "cos": _unary(np.cos),
    "tan": _unary(np.tan), "sinh": _unary(np.sinh), "cosh": _unary(np.cosh), "asin": _unary(np.arcsin),
    "acos": _unary(np.arccos), "atan": _unary(np.arctan), "atanh": _unary(np.arctanh), "erf": _unary(K.erf),
    "logical_not": _unary(np.logical_not), "identity": _unary(lambda x: x),
    "rsqrt": _with_eps(lambda x, e: 1.0 / np.sqrt(x + F32(e)), 1e-12),
    "inverse": _with_eps(lambda x, e: 1.0 / (x + F32(e)), 1e-4),
    "log": _with_eps(lambda x, e: np.log(x + F32(e)), 1e-45),
    "relu": _unary(lambda x: np.maximum(x, 0)), "relu6": _unary(lambda x: np.clip(x, 0, 6)),
    "sigmoid": _unary(K.sigmoid), "silu": _unary(lambda x: x * K.sigmoid(x)),
    "softplus": _unary(lambda x: np.logaddexp(0, x)), "softsign": _unary(lambda x: x / (1 + np.abs(x))),
    "gelu": lambda a: K.gelu(a["x"], str(a.get("mode", "EXACT"))),
    "leaky_relu": _act(lambda x, al: np.where(x >= 0, x, al * x), alpha=0.01),
    "elu": _act(lambda x, al: np.where(x > 0, x, al * np.expm1(np.minimum(x, 0))), alpha=1.0),
    "prelu": _prelu,
    "clamped_relu": _act(lambda x, al, be: np.minimum(np.where(x >= 0, x, al * x), be), alpha=0.0, beta=6.0),
    "sigmoid_hard": _act(lambda x, al, be: np.clip(al * x + be, 0, 1), alpha=0.2, beta=0.5),
    "linear_activation": _act(lambda x, al, be: al * x + be, alpha=1.0, beta=0.0),
    "scaled_tanh": _act(lambda x, al, be: al * np.tanh(be * x), alpha=1.0, beta=1.0),
    "thresholded_relu": _act(lambda x, al: np.where(x > al, x, 0), alpha=1.0),
    "threshold": _act(lambda x, al: np.maximum(x, al), alpha=0.0),
    "clip": lambda a: np.clip(a["x"], a.num("alpha"), a.num("beta")),
    "softmax": lambda a: K.softmax(a["x"], int(a.get("axis", -1)), a.half),
    "cast": _cast,
    "quantize": _quantize, "dequantize": _dequantize,
    # tensor layout
    "reshape": _reshape, "transpose": lambda a: np.transpose(a["x"], a.ints("perm")),
    "expand_dims": _expand_dims, "squeeze": _squeeze, "concat": _concat, "split": _split,
    "stack": lambda a: np.stack(a["values"], axis=int(a["axis"])),
    "tile": lambda a: np.tile(a["x"], a.ints("reps")), "pad": _pad, "crop": _crop,
    "slice_by_index": _slice_by_index, "slice_by_size": _slice_by_size,
    "reverse": lambda a: np.flip(a["x"], tuple(a.ints("axes")) if a.has("axes") else None),
    "flatten2d": lambda a: a["x"].reshape(int(np.prod(a["x"].shape[:int(a.get("axis", 1))])), -1),
    "pixel_shuffle": lambda a: K.depth_to_space(a["x"], int(a["upscale_factor"]), True),
    "pixel_unshuffle": lambda a: K.space_to_depth(a["x"], int(a["downscale_factor"]), True),
    "depth_to_space": lambda a: K.depth_to_space(a["x"], int(a["block_size"]), False),
    "space_to_depth": lambda a: K.space_to_depth(a["x"], int(a["block_size"]), False),
    "gather": _gather, "shape": lambda a: np.asarray(a["x"].shape, np.int32),
    "fill": lambda a: np.full(a.ints("shape"), a.num("value", 0.0), F32),
    # select(cond, a, b): elementwise a where cond else b, broadcasting (what an enumerated-shape program
    # holds where torch's graph branched on a size: BicycleGAN's z map at 256 and 512)
    "select": lambda a: np.where(a["cond"], a["a"], a["b"]),
    **LAYER_OPS,
}
