"""NeuralNetwork layers that move data rather than compute: reshape, permute, concat, split,
slice, crop, constants. Part of the layer table of `_nn_layers`; legacy layers that name axes
as C/H/W count them from the end (-3, -2, -1), as NeuralNetwork.proto says.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from pix2mobile.runtimes.coreml_eval import _np_kernels as K
from pix2mobile.runtimes.coreml_eval._nn_params import border, decode, pair, unsupported


def _reshape_static(p: Any, xs: list[np.ndarray]) -> np.ndarray:
    return xs[0].reshape([int(v) for v in p.targetShape])


def _rank_preserving_reshape(p: Any, xs: list[np.ndarray]) -> np.ndarray:
    x = xs[0]
    return x.reshape([x.shape[i] if int(v) == 0 else int(v) for i, v in enumerate(p.targetShape)])


def _reshape_legacy(p: Any, xs: list[np.ndarray]) -> np.ndarray:
    x, target = xs[0], [int(v) for v in p.targetShape]
    if p.mode != 0 or len(target) != 3:
        raise unsupported("reshape (channel-last or rank-5 target)")
    return x.reshape(*x.shape[:-3], *target)


def _permute(p: Any, xs: list[np.ndarray]) -> np.ndarray:
    """Legacy permute of [Seq, C, H, W] with batch fixed, on a rank-4 [B, C, H, W] blob."""
    x = xs[0]
    if x.ndim != 4:
        raise unsupported(f"permute on rank {x.ndim}")
    where = {0: 0, 1: 2, 2: 3, 3: 4}
    order = [int(a) for a in p.axis]
    perm = [where[order[0]], 1, where[order[1]], where[order[2]], where[order[3]]]
    y = x[None].transpose(perm)
    if y.shape[0] != 1:
        raise unsupported("permute into the sequence axis")
    return y[0]


def _concat(p: Any, xs: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(xs, axis=-5 if p.sequenceConcat else -3)


def _concat_nd(p: Any, xs: list[np.ndarray]) -> np.ndarray:
    axis = int(p.axis)
    if not p.interleave:
        return np.concatenate(xs, axis=axis)
    axis %= xs[0].ndim
    shape = list(xs[0].shape)
    shape[axis] *= len(xs)
    return np.stack(xs, axis=axis + 1).reshape(shape)


def _split_nd(p: Any, xs: list[np.ndarray]) -> list[np.ndarray]:
    sizes = [int(v) for v in p.splitSizes]
    if sizes:
        return np.split(xs[0], np.cumsum(sizes)[:-1], axis=int(p.axis))
    return np.split(xs[0], int(p.numSplits), axis=int(p.axis))


def _slice(p: Any, xs: list[np.ndarray]) -> np.ndarray:
    x = xs[0]
    axis = {0: -3, 1: -2, 2: -1}[int(p.axis)]
    index = [slice(None)] * x.ndim
    index[axis] = slice(int(p.startIndex), int(p.endIndex), int(p.stride) or 1)
    return x[tuple(index)]


def _slice_static(p: Any, xs: list[np.ndarray]) -> np.ndarray:
    x = xs[0]
    index: list[Any] = []
    for i in range(x.ndim):
        if len(p.squeezeMasks) and p.squeezeMasks[i]:
            index.append(int(p.beginIds[i]))
            continue
        begin = None if p.beginMasks[i] else int(p.beginIds[i])
        end = None if p.endMasks[i] else int(p.endIds[i])
        index.append(slice(begin, end, int(p.strides[i])))
    return x[tuple(index)]


def _crop(p: Any, xs: list[np.ndarray]) -> np.ndarray:
    x = xs[0]
    if len(xs) == 2:
        oh, ow = pair(p.offset, 0)
        th, tw = xs[1].shape[-2:]
        return x[..., oh:oh + th, ow:ow + tw]
    t, b, left, right = border(p.cropAmounts)
    return x[..., t:x.shape[-2] - b, left:x.shape[-1] - right]


def _expand_dims(p: Any, xs: list[np.ndarray]) -> np.ndarray:
    rank = xs[0].ndim + len(p.axes)
    return np.expand_dims(xs[0], tuple(sorted(int(a) % rank for a in p.axes)))


def _squeeze(p: Any, xs: list[np.ndarray]) -> np.ndarray:
    return np.squeeze(xs[0]) if p.squeezeAll else np.squeeze(xs[0], tuple(int(a) for a in p.axes))


def _load_constant(p: Any, xs: list[np.ndarray]) -> np.ndarray:
    return decode(p.data, [int(v) for v in p.shape], what="loadConstant data")


def _reorganize(p: Any, xs: list[np.ndarray]) -> np.ndarray:
    block, mode = int(p.blockSize), int(p.mode)
    if mode == 0:
        return K.space_to_depth(xs[0], block, False)
    return K.depth_to_space(xs[0], block, mode == 2)


def _flatten(p: Any, xs: list[np.ndarray]) -> np.ndarray:
    x = xs[0]
    y = x if p.mode == 0 else np.moveaxis(x, -3, -1)
    return y.reshape(*x.shape[:-3], -1, 1, 1)


LAYOUT_LAYERS: dict[str, Callable[[Any, list[np.ndarray]], Any]] = {
    "reshape": _reshape_legacy, "reshapeStatic": _reshape_static, "rankPreservingReshape": _rank_preserving_reshape,
    "flatten": _flatten, "flattenTo2D": lambda p, xs: xs[0].reshape(int(np.prod(xs[0].shape[:int(p.axis)])), -1),
    "permute": _permute, "transpose": lambda p, xs: np.transpose(xs[0], [int(a) for a in p.axes]),
    "concat": _concat, "concatND": _concat_nd,
    "split": lambda p, xs: np.split(xs[0], int(p.nOutputs), axis=-3), "splitND": _split_nd,
    "slice": _slice, "sliceStatic": _slice_static, "crop": _crop,
    "tile": lambda p, xs: np.tile(xs[0], [int(r) for r in p.reps]),
    "expandDims": _expand_dims, "squeeze": _squeeze, "copy": lambda p, xs: xs[0],
    "loadConstant": _load_constant, "loadConstantND": _load_constant,
    "reverse": lambda p, xs: np.flip(xs[0], tuple(i for i, r in enumerate(p.reverseDim) if r)),
    "reorganizeData": _reorganize,
}
