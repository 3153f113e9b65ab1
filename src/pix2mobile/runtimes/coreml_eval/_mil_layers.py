"""MIL ops that are layers rather than elementwise math or layout: convolution, normalization,
pooling, reduction, resizing. Part of the op table of `_mil_ops`; padding and output-size
rules follow the MIL op docs in coremltools (`converters/mil/mil/ops/defs`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from pix2mobile.errors import VerificationError
from pix2mobile.runtimes.coreml_eval import _np_kernels as K

if TYPE_CHECKING:
    from pix2mobile.runtimes.coreml_eval._mil_ops import Args

F32 = np.float32


def _upsample_nearest(a: Args) -> np.ndarray:
    x = a["x"]
    sh, sw = a.num("scale_factor_height", 1), a.num("scale_factor_width", 1)
    return K.nearest(x, int(np.floor(x.shape[-2] * sh)), int(np.floor(x.shape[-1] * sw)))


def _upsample_bilinear(a: Args) -> np.ndarray:
    x = a["x"]
    oh = int(np.floor(x.shape[-2] * a.num("scale_factor_height", 1)))
    ow = int(np.floor(x.shape[-1] * a.num("scale_factor_width", 1)))
    aligned = bool(a.get("align_corners", True))
    return K.bilinear(x, oh, ow, "STRICT_ALIGN_CORNERS" if aligned else "UNALIGN_CORNERS")


def _resize(a: Args) -> np.ndarray:
    """iOS 17 `resize` over the last one or two dims."""
    x, shape, dims = a["x"], a.ints("shape"), int(a["resized_dims"])
    if dims not in (1, 2):
        raise VerificationError(f"resize over {dims} dims is not supported by pix2mobile's Core ML evaluator")
    target = [x.shape[x.ndim - len(shape) + i] if s == 0 else s for i, s in enumerate(shape)][-dims:]
    oh, ow = (x.shape[-2], target[0]) if dims == 1 else target
    if str(a.get("interpolation_mode", "LINEAR")) == "NEAREST_NEIGHBOR":
        return K.nearest(x, oh, ow)
    return K.bilinear(x, oh, ow, str(a.get("sampling_mode", "DEFAULT")))


def _spatial(a: Args, kernel: list[int], size: list[int], dilations: list[int], strides: list[int],
             one_d: bool) -> list[int]:
    """(top, bottom, left, right) pads from pad_type/pad."""
    pad_type = str(a.get("pad_type", "valid"))
    if pad_type == "valid":
        return [0, 0, 0, 0]
    if pad_type == "custom":
        return _hw_pads(a.ints("pad", [0, 0] * (2 - one_d)), one_d)
    if pad_type in ("same", "same_lower"):
        return [p for s, k, st, d in zip(size, kernel, strides, dilations)
                for p in K.same_pads(s, k, st, d, pad_type == "same_lower")]
    raise VerificationError(f"pad_type '{pad_type}' is not supported by pix2mobile's Core ML evaluator")


def _hw(values: list[int], one_d: bool) -> list[int]:
    """A 1-D op's per-axis values (strides, sizes) on 2-D, with a unit height axis first."""
    return [1] + values if one_d else values


def _hw_pads(values: list[int], one_d: bool) -> list[int]:
    """A 1-D op's (before, after) pads on 2-D: no padding of the unit height."""
    return [0, 0] + values if one_d else values


def _geometry(a: Args, what: str) -> tuple[np.ndarray, np.ndarray, list[int], list[int], bool]:
    """x and weight as 2-D (a 1-D op gets a unit height), its strides and dilations."""
    x, w = a["x"], a["weight"]
    one_d = x.ndim == 3
    if one_d:
        x, w = x[:, :, None, :], w[:, :, None, :]
    elif x.ndim != 4:
        raise VerificationError(f"{what} on rank {x.ndim} is not supported by pix2mobile's Core ML evaluator")
    strides = _hw(a.ints("strides", [1] * (2 - one_d)), one_d)
    dilations = _hw(a.ints("dilations", [1] * (2 - one_d)), one_d)
    return x, w, strides, dilations, one_d


def _conv(a: Args) -> np.ndarray:
    x, w, strides, dil, one_d = _geometry(a, "conv")
    pads = _spatial(a, list(w.shape[2:]), list(x.shape[2:]), dil, strides, one_d)
    y = K.conv2d(x, w, a.get("bias"), strides, pads, dil, int(a.get("groups", 1)))
    return y[:, :, 0, :] if one_d else y


def _conv_transpose(a: Args) -> np.ndarray:
    """Scatter, then crop `pad` ('custom') or centre on in*stride ('same'), then fit output_shape."""
    x, w, strides, dil, one_d = _geometry(a, "conv_transpose")
    out_hw = _hw(a.ints("output_shape")[2:], one_d) if a.has("output_shape") else None
    pad_type = str(a.get("pad_type", "valid"))
    if pad_type == "same":
        full = [(n - 1) * s + (k - 1) * d + 1 for n, s, k, d in zip(x.shape[2:], strides, w.shape[2:], dil)]
        out_hw = out_hw or [n * s for n, s in zip(x.shape[2:], strides)]
        crop = [c for f, t in zip(full, out_hw) for c in K.split_pad(f - t)]
    elif pad_type == "custom":
        crop = _hw_pads(a.ints("pad", [0, 0] * (2 - one_d)), one_d)
    elif pad_type == "valid":
        crop = [0, 0, 0, 0]
    else:
        raise VerificationError(f"conv_transpose pad_type '{pad_type}' is not supported by pix2mobile's "
                                f"Core ML evaluator")
    y = K.conv_transpose2d(x, w, a.get("bias"), strides, dil, int(a.get("groups", 1)), crop, out_hw)
    return y[:, :, 0, :] if one_d else y


def _matmul(a: Args) -> np.ndarray:
    x, y = np.asarray(a["x"], F32), np.asarray(a["y"], F32)
    if bool(a.get("transpose_x", False)) and x.ndim > 1:
        x = np.swapaxes(x, -1, -2)
    if bool(a.get("transpose_y", False)) and y.ndim > 1:
        y = np.swapaxes(y, -1, -2)
    return np.matmul(x, y)


def _linear(a: Args) -> np.ndarray:
    y = np.matmul(a["x"], np.asarray(a["weight"], F32).T)
    return y if a.get("bias") is None else y + a["bias"]


def _batch_norm(a: Args) -> np.ndarray:
    x = a["x"]
    r = K.fp16 if a.half else (lambda v: v)
    shape = [1, -1] + [1] * (x.ndim - 2)
    mean, var = (np.asarray(a[k], F32).reshape(shape) for k in ("mean", "variance"))
    y = r(r(x - mean) * r(1.0 / r(np.sqrt(r(var + F32(a.num("epsilon", 1e-5)))))))
    return _affine(a, y, [1, -1] + [1] * (x.ndim - 2), r)


def _instance_norm(a: Args) -> np.ndarray:
    x = a["x"]
    y = K.normalize(x, tuple(range(2, x.ndim)), a.num("epsilon", 1e-5), a.half)
    return _affine(a, y, [1, -1] + [1] * (x.ndim - 2), K.fp16 if a.half else (lambda v: v))


def _layer_norm(a: Args) -> np.ndarray:
    x = a["x"]
    axes = tuple(sorted(ax % x.ndim for ax in (a.ints("axes") if a.has("axes") else range(x.ndim))))
    y = K.normalize(x, axes, a.num("epsilon", 1e-5), a.half)
    return _affine(a, y, [x.shape[i] if i in axes else 1 for i in range(x.ndim)], K.fp16 if a.half else (lambda v: v))


def _affine(a: Args, y: np.ndarray, shape: list[int], r: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """y * gamma + beta, each step rounded by `r` (fp16 for an fp16 op)."""
    if a.get("gamma") is not None:
        y = r(y * np.asarray(a["gamma"], F32).reshape(shape))
    if a.get("beta") is not None:
        y = r(y + np.asarray(a["beta"], F32).reshape(shape))
    return y


def _pool(kind: str) -> Callable[[Args], np.ndarray]:
    def run(a: Args) -> np.ndarray:
        x = a["x"]
        one_d = x.ndim == 3
        if one_d:
            x = x[:, :, None, :]
        elif x.ndim != 4:
            raise VerificationError(f"{kind}_pool on rank {x.ndim} is not supported by pix2mobile's "
                                    f"Core ML evaluator")
        kernel = _hw(a.ints("kernel_sizes"), one_d)
        strides = _hw(a.ints("strides", [1] * (2 - one_d)), one_d)
        pads = _spatial(a, kernel, list(x.shape[2:]), [1, 1], strides, one_d)
        y = K.pool2d(x, kind, kernel, strides, pads, bool(a.get("ceil_mode", False)),
                     bool(a.get("exclude_padding_from_average", False)), a.half)
        return y[:, :, 0, :] if one_d else y
    return run


def _reduce(fn: Callable[..., np.ndarray], inner: Callable[[np.ndarray], np.ndarray] | None = None,
            outer: Callable[[np.ndarray], np.ndarray] | None = None) -> Callable[[Args], np.ndarray]:
    """outer(fn(inner(x))) over `axes`: `fn` accumulates in float32; for an fp16 op the elementwise
    `inner` result (a square, an exponential) is an fp16 tensor, so it overflows where the device's does."""
    def run(a: Args) -> np.ndarray:
        x = a["x"]
        axes = tuple(a.ints("axes")) if a.get("axes") is not None else None
        if inner is not None:
            x = K.fp16(inner(x)) if a.half else inner(x)
        y = fn(x, axis=axes, keepdims=bool(a.get("keep_dims", False)))
        if outer is not None:
            y = outer(K.fp16(y) if a.half else y)
        return y
    return run


def _arg_reduce(fn: Callable[..., np.ndarray]) -> Callable[[Args], np.ndarray]:
    def run(a: Args) -> np.ndarray:
        return fn(a["x"], axis=int(a.get("axis", -1)), keepdims=bool(a.get("keep_dims", False))).astype(np.int32)
    return run


def _resize_bilinear(a: Args) -> np.ndarray:
    size = int(a.get("target_size_height", 1)), int(a.get("target_size_width", 1))
    return K.bilinear(a["x"], *size, str(a.get("sampling_mode", "DEFAULT")))


LAYER_OPS: dict[str, Callable[[Args], Any]] = {
    "upsample_nearest_neighbor": _upsample_nearest,
    "resize_nearest_neighbor": lambda a: K.nearest(a["x"], int(a["target_size_height"]),
                                                   int(a["target_size_width"])),
    "upsample_bilinear": _upsample_bilinear, "resize_bilinear": _resize_bilinear,
    "resize": _resize,
    "conv": _conv, "conv_transpose": _conv_transpose, "linear": _linear, "matmul": _matmul,
    "batch_norm": _batch_norm, "instance_norm": _instance_norm, "layer_norm": _layer_norm,
    "avg_pool": _pool("avg"), "max_pool": _pool("max"), "l2_pool": _pool("l2"),
    "reduce_mean": _reduce(np.mean), "reduce_sum": _reduce(np.sum), "reduce_max": _reduce(np.max),
    "reduce_min": _reduce(np.min), "reduce_prod": _reduce(np.prod),
    "reduce_sum_square": _reduce(np.sum, np.square), "reduce_l1_norm": _reduce(np.sum, np.abs),
    "reduce_l2_norm": _reduce(np.sum, np.square, np.sqrt), "reduce_log_sum": _reduce(np.sum, None, np.log),
    "reduce_log_sum_exp": _reduce(np.sum, np.exp, np.log),
    "reduce_argmax": _arg_reduce(np.argmax), "reduce_argmin": _arg_reduce(np.argmin),
}
