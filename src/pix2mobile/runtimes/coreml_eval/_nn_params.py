"""Decode NeuralNetwork layer parameters: `WeightParams` (float32, float16, linear- and
LUT-quantized) to float32 arrays, border amounts and [H, W] pairs.

Quantized weights keep n-bit indices in `rawValue`, packed most significant bit first: the first
weight takes the top bits of byte 0. NeuralNetwork.proto does not spell the order out; it is the
order coremltools' `quantization_utils`, Apple's reference writer, packs
(`_convert_array_to_nbit_quantized_bytes`) and reads back (`_unpack_to_bytes`).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from pix2mobile.errors import VerificationError

F32 = np.float32


def unpack_msb_first(raw: bytes, nbits: int, count: int) -> np.ndarray:
    """`count` unsigned `nbits`-bit values, each stored most significant bit first."""
    bits = np.unpackbits(np.frombuffer(raw, np.uint8), bitorder="big")
    if bits.size < count * nbits:
        raise VerificationError(f"quantized weights hold {bits.size} bits where {count * nbits} are needed: "
                                f"the model is corrupt")
    bits = bits[:count * nbits].reshape(count, nbits).astype(np.int64)
    return bits @ (1 << np.arange(nbits - 1, -1, -1, dtype=np.int64))


def decode(wp: Any, shape: Sequence[int], channel_axis: int = 0, what: str = "weights") -> np.ndarray:
    """The float32 tensor of `shape` a WeightParams holds.

    Linear quantization: W = q * scale + bias, scale/bias of length 1 or shape[channel_axis].
    LUT quantization: W = lut[q] with a lut of 2^nbits entries.
    """
    shape = tuple(int(s) for s in shape)
    count = int(np.prod(shape))
    if len(wp.floatValue):
        values = np.asarray(wp.floatValue, F32)
    elif len(wp.float16Value):
        values = np.frombuffer(wp.float16Value, "<f2").astype(F32)
    elif len(wp.rawValue) or len(wp.int8RawValue):
        values = _dequantize(wp, shape, channel_axis, what)
    else:
        values = np.zeros(0, F32)
    if values.size != count:
        raise VerificationError(f"{what}: {values.size} values where the layer needs {count} {list(shape)}: "
                                f"the model is corrupt")
    return values.reshape(shape)


def _dequantize(wp: Any, shape: tuple[int, ...], channel_axis: int, what: str) -> np.ndarray:
    q = wp.quantization
    kind = q.WhichOneof("QuantizationType")
    count = int(np.prod(shape))
    if len(wp.int8RawValue):
        scale = np.asarray(q.linearQuantization.scale, F32)
        if kind != "linearQuantization" or scale.size != 1:
            raise VerificationError(f"{what}: int8RawValue needs one linear scale")
        return np.frombuffer(wp.int8RawValue, np.int8).astype(F32) * scale[0]
    nbits = int(q.numberOfBits)
    if not 1 <= nbits <= 8 or kind is None:
        raise VerificationError(f"{what}: rawValue without a usable quantization ({nbits} bits, {kind}) is not "
                                f"supported by pix2mobile's Core ML evaluator")
    idx = np.frombuffer(wp.rawValue, np.uint8)[:count].astype(np.int64) if nbits == 8 else \
        unpack_msb_first(wp.rawValue, nbits, count)
    if idx.size != count:
        raise VerificationError(f"{what}: {idx.size} quantized values where the layer needs {count}: "
                                f"the model is corrupt")
    if kind == "lookupTableQuantization":
        lut = np.asarray(q.lookupTableQuantization.floatValue, F32)
        if lut.size != 1 << nbits:
            raise VerificationError(f"{what}: a {nbits}-bit lookup table needs {1 << nbits} entries, has {lut.size}")
        return lut[idx]
    scale = np.asarray(q.linearQuantization.scale, F32)
    bias = np.asarray(q.linearQuantization.bias, F32) if len(q.linearQuantization.bias) else np.zeros(1, F32)
    return (idx.reshape(shape) * _per_channel(scale, shape, channel_axis, f"{what} scale")
            + _per_channel(bias, shape, channel_axis, f"{what} bias")).reshape(-1)


def _per_channel(vec: np.ndarray, shape: tuple[int, ...], axis: int, what: str) -> np.ndarray:
    """One value for the tensor, or one per channel along `axis`, shaped to broadcast."""
    if vec.size == 1:
        return vec.reshape([1] * len(shape))
    if not shape or vec.size != shape[axis]:
        raise VerificationError(f"{what}: {vec.size} values for {shape[axis] if shape else 1} channels")
    view = [1] * len(shape)
    view[axis] = -1
    return vec.reshape(view)


def pair(values: Sequence[int], default: int) -> tuple[int, int]:
    """An [H, W] field; unset means (default, default), as the proto says."""
    vals = [int(v) for v in values] or [default, default]
    return vals[0], vals[1]


def border(amounts: Any) -> list[int]:
    """(top, bottom, left, right) from a BorderAmounts [H, W]."""
    edges = list(amounts.borderAmounts)
    if not edges:
        return [0, 0, 0, 0]
    return [int(getattr(edges[axis], edge)) for axis in (0, 1) for edge in ("startEdgeSize", "endEdgeSize")]


def unsupported(kind: str) -> VerificationError:
    return VerificationError(f"NeuralNetwork layer '{kind}' is not supported by pix2mobile's Core ML evaluator, so "
                             f"the model cannot be verified: add it to LAYERS in pix2mobile/export/_nn_layers.py")
