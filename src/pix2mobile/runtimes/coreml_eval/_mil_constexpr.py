"""Decompression of compressed ML Program weights (the MIL `constexpr_*` ops), in numpy.

`coremltools.optimize.coreml` emits, per deployment target:
- iOS 16/17: `constexpr_affine_dequantize` (linear int8/uint8), `constexpr_lut_to_dense` with
  1-D LUT and uint8-packed indices (palettization), `constexpr_sparse_to_dense`, `constexpr_cast`.
- iOS 18: `constexpr_blockwise_shift_scale` (linear, per-channel or per-block, int4/int8),
  `constexpr_lut_to_dense` with per-group / vector LUTs and uint1..uint8 indices,
  `constexpr_sparse_to_dense` with a uint1 mask.

The iOS 16 forms store packed bits that are unpacked here, LSB first as the op docs specify.
The iOS 18 forms carry sub-byte types that coremltools' milproto loader unpacks into one
element per index when it reads weight.bin; these functions start from those arrays.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from pix2mobile.errors import VerificationError

F32 = np.float32


def unpack_lsb_first(packed: np.ndarray, nbits: int, count: int) -> np.ndarray:
    """`count` unsigned `nbits`-bit values packed from the least significant bit of byte 0 upward."""
    bits = np.unpackbits(np.asarray(packed, np.uint8).reshape(-1), bitorder="little")
    if bits.size < count * nbits:
        raise VerificationError(f"packed data holds {bits.size} bits where {count * nbits} are needed: "
                                f"the weights are corrupt")
    bits = bits[:count * nbits].reshape(count, nbits).astype(np.int64)
    return bits @ (1 << np.arange(nbits, dtype=np.int64))


def along(vec: Any, rank: int, axis: int) -> np.ndarray:
    """A scalar or a vector broadcast along `axis` of a rank-`rank` tensor."""
    arr = np.asarray(vec, F32)
    if arr.ndim == 0:
        return arr
    shape = [1] * rank
    shape[axis] = -1
    return arr.reshape(shape)


def affine_dequantize(a: Any) -> np.ndarray:
    """iOS 16: scale * (quantized - zero_point), scale/zero_point scalar or per-`axis` vector."""
    q = np.asarray(a["quantized_data"])
    axis = int(a["axis"]) % q.ndim
    return (along(a["scale"], q.ndim, axis) * (q.astype(F32) - along(a["zero_point"], q.ndim, axis))).astype(F32)


def _repeat_blocks(param: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    for axis, (full, part) in enumerate(zip(shape, param.shape)):
        if full % part:
            raise VerificationError(f"block parameter shape {param.shape} does not tile data shape {shape}")
        param = np.repeat(param, full // part, axis=axis)
    return param


def blockwise_shift_scale(a: Any) -> np.ndarray:
    """iOS 18: scale * (data - offset) with scale/offset repeated over blocks of `data`."""
    data = np.asarray(a["data"]).astype(F32)
    scale = np.asarray(a["scale"], F32)
    if scale.ndim != data.ndim:
        raise VerificationError(f"blockwise scale rank {scale.ndim} differs from data rank {data.ndim}")
    offset = a.get("offset")
    if offset is not None:
        data = data - _repeat_blocks(np.asarray(offset, F32), data.shape)
    return (_repeat_blocks(scale, data.shape) * data).astype(F32)


def lut_to_dense(a: Any) -> np.ndarray:
    """Palettized weights: iOS 16 form (packed indices, 1-D lut, shape) or iOS 18 form."""
    lut = np.asarray(a["lut"])
    if a.has("shape"):
        shape = tuple(int(s) for s in np.ravel(a["shape"]))
        nbits = int(np.log2(lut.size))
        if lut.ndim != 1 or 1 << nbits != lut.size:
            raise VerificationError(f"iOS16 lut_to_dense needs a 1-D lut of 2^n entries, got shape {lut.shape}")
        idx = unpack_lsb_first(a["indices"], nbits, int(np.prod(shape)))
        return lut[idx].reshape(shape).astype(F32)
    return _lut_ios18(np.asarray(a["indices"]).astype(np.int64), lut, a.get("vector_axis"))


def _lut_ios18(indices: np.ndarray, lut: np.ndarray, vector_axis: Any) -> np.ndarray:
    """lut has shape [*groups, 2^nbits, vector]; group g of axis i covers indices i // (dim/groups)."""
    rank = indices.ndim
    if lut.ndim != rank + 2:
        raise VerificationError(f"lut rank {lut.ndim} must be indices rank {rank} + 2")
    if indices.max(initial=0) >= lut.shape[-2]:
        raise VerificationError("palette index beyond the lut: the weights are corrupt")
    group = []
    for axis in range(rank):
        dim, groups = indices.shape[axis], lut.shape[axis]
        if dim % groups:
            raise VerificationError(f"lut groups {lut.shape[:rank]} do not tile indices {indices.shape}")
        shape = [1] * rank
        shape[axis] = dim
        group.append((np.arange(dim) // (dim // groups)).reshape(shape))
    out = lut[(*group, indices)]  # indices.shape + (vector,)
    vector = lut.shape[-1]
    if vector == 1:
        return out[..., 0].astype(F32)
    if vector_axis is None:
        raise VerificationError("vector palettization without vector_axis")
    axis = int(vector_axis) % rank
    out = np.moveaxis(out, -1, axis + 1)
    shape = list(indices.shape)
    shape[axis] *= vector
    return out.reshape(shape).astype(F32)


def sparse_to_dense(a: Any) -> np.ndarray:
    """Zeros except where the mask bit is set; the set positions take `nonzero_data` in order."""
    data = np.asarray(a["nonzero_data"]).astype(F32)
    if a.has("shape"):
        shape = tuple(int(s) for s in np.ravel(a["shape"]))
        mask = unpack_lsb_first(a["mask"], 1, int(np.prod(shape))).astype(bool)
    else:
        mask = np.asarray(a["mask"]).astype(bool)
        shape = mask.shape
    if int(mask.sum()) != data.size:
        raise VerificationError(f"sparse mask has {int(mask.sum())} set bits for {data.size} values: "
                                f"the weights are corrupt")
    out = np.zeros(mask.size, F32)
    out[mask.reshape(-1)] = data
    return out.reshape(shape)


def cast(a: Any) -> np.ndarray:
    """fp16 weights widened to fp32 at load time."""
    if str(a["output_dtype"]) != "fp32":
        raise VerificationError(f"constexpr_cast to {a['output_dtype']} is not supported by pix2mobile's "
                                f"Core ML evaluator")
    return np.asarray(a["source_val"]).astype(F32)


CONSTEXPR_OPS: dict[str, Callable[[Any], np.ndarray]] = {
    "constexpr_affine_dequantize": affine_dequantize,
    "constexpr_blockwise_shift_scale": blockwise_shift_scale,
    "constexpr_lut_to_dense": lut_to_dense,
    "constexpr_sparse_to_dense": sparse_to_dense,
    "constexpr_cast": cast,
}
