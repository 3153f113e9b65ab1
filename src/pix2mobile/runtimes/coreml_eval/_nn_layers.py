"""The NeuralNetwork half of `coreml_eval`: interpret `neuralNetwork.layers` in numpy.

`LAYERS` maps a layer type (the `layer` oneof of NeuralNetwork.proto) to a function of the
layer's params and input arrays: layers that compute here, layers that move data in
`_nn_layout`, parameter decoding in `_nn_params`. A missing layer type is an error, never
skipped. Tensors use the exact-rank mapping coremltools writes since spec version 4 (images are
[1, C, H, W]); legacy layers that name axes as C/H/W count them from the end (-3, -2, -1), as
the proto says.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from pix2mobile.errors import VerificationError
from pix2mobile.runtimes.coreml_eval import _np_kernels as K
from pix2mobile.runtimes.coreml_eval._nn_layout import LAYOUT_LAYERS
from pix2mobile.runtimes.coreml_eval._nn_params import border, decode, pair, unsupported

F32 = np.float32
Layer = Callable[[Any, list[np.ndarray]], "np.ndarray | list[np.ndarray]"]


def check_supported(layers: Sequence[Any]) -> None:
    """Raise before computing anything if the network uses a layer this evaluator lacks."""
    for layer in layers:
        if layer.WhichOneof("layer") not in LAYERS:
            raise unsupported(str(layer.WhichOneof("layer")))


def run_layers(layers: Sequence[Any], env: dict[str, np.ndarray], keep: Sequence[str] | None = None
               ) -> dict[str, np.ndarray]:
    """Evaluate `layers` in order; `env` holds the network inputs and receives every blob.

    With `keep` (the model's output names) a blob is dropped after the last layer that reads it,
    so only live blobs take memory; without it every blob stays in `env`.
    """
    last: dict[str, int] = {}
    if keep is not None:
        for i, layer in enumerate(layers):
            for name in [*layer.output, *layer.input]:
                last[name] = i
        for name in keep:
            last.pop(name, None)
    for i, layer in enumerate(layers):
        kind = layer.WhichOneof("layer")
        fn = LAYERS.get(kind)
        if fn is None:
            raise unsupported(str(kind))
        missing = [name for name in layer.input if name not in env]
        if missing:
            raise VerificationError(f"layer '{layer.name}' reads {missing}, which no earlier layer produced")
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):   # inf/NaN reach the gate
            result = fn(getattr(layer, kind), [env[name] for name in layer.input])
        outs = result if isinstance(result, list) else [result]
        if len(outs) != len(layer.output):
            raise VerificationError(f"layer '{layer.name}' ({kind}) gave {len(outs)} outputs, "
                                    f"the model has {len(layer.output)}")
        for name, value in zip(layer.output, outs):
            arr = np.asarray(value)
            env[name] = arr.astype(F32) if arr.dtype.kind == "f" else arr
        for name in {*layer.input, *layer.output}:
            if last.get(name) == i:
                del env[name]
    return env


def _convolution(p: Any, xs: list[np.ndarray]) -> np.ndarray:
    x = xs[0]
    kernel, strides, dil = pair(p.kernelSize, 3), pair(p.stride, 1), pair(p.dilationFactor, 1)
    groups = int(p.nGroups) or 1
    bias = decode(p.bias, (p.outputChannels,), what="convolution bias") if p.hasBias else None
    padding = p.WhichOneof("ConvolutionPaddingType")
    if not p.isDeconvolution:
        shape = (p.outputChannels, p.kernelChannels, *kernel)
        w = xs[1] if len(xs) > 1 else decode(p.weights, shape, 0, "convolution weights")
        if padding == "same":
            top = p.same.asymmetryMode == 1
            pads = [*K.same_pads(x.shape[-2], kernel[0], strides[0], dil[0], top),
                    *K.same_pads(x.shape[-1], kernel[1], strides[1], dil[1], top)]
        else:
            pads = border(p.valid.paddingAmounts)
        return K.conv2d(x, w, bias, strides, pads, dil, groups)
    if dil != (1, 1):
        raise VerificationError("deconvolution with dilationFactor != 1: NeuralNetwork.proto says Core ML ignores the "
                                "dilation of a deconvolution, so this layer cannot be verified; export an ML Program")
    w = decode(p.weights, (p.kernelChannels, p.outputChannels // groups, *kernel), 1, "deconvolution weights")
    # With outputShape set, valid paddingAmounts still crop first (then the size is fitted,
    # top-left anchored): coremltools writes both for every padded ConvTranspose2d, e.g.
    # k4/s2/p1, and only crop-then-fit gives what PyTorch computes. The proto's "padding type is
    # ignored" is about the size formula.
    out_hw = [int(v) for v in p.outputShape] or None
    if padding == "same" and out_hw is None:
        out_hw = [x.shape[-2] * strides[0], x.shape[-1] * strides[1]]
        full = [(n - 1) * s + k for n, s, k in zip(x.shape[-2:], strides, kernel)]
        crop = [c for f, t in zip(full, out_hw) for c in K.split_pad(f - t, p.same.asymmetryMode == 1)]
    else:
        crop = border(p.valid.paddingAmounts) if padding == "valid" else [0, 0, 0, 0]
    return K.conv_transpose2d(x, w, bias, strides, (1, 1), groups, crop, out_hw)


def _padding(p: Any, xs: list[np.ndarray]) -> np.ndarray:
    t, b, left, right = border(p.paddingAmounts)
    kind = p.WhichOneof("PaddingType")
    mode = {"constant": "constant", "reflection": "reflect", "replication": "replicate"}[kind or "constant"]
    return K.pad(xs[0], [(t, b), (left, right)], mode, p.constant.value if kind == "constant" else 0.0)


def _constant_pad(p: Any, xs: list[np.ndarray]) -> np.ndarray:
    x = xs[0]
    amounts = [int(v) for v in p.padAmounts]
    widths = list(zip(amounts[0::2], amounts[1::2]))
    if p.padToGivenOutputSizeMode:
        dims = x.shape[-len(widths):]
        widths = [(max(a - d, 0) if a else 0, max(b - d, 0) if b else 0) for (a, b), d in zip(widths, dims)]
    return K.pad(x, widths, "constant", p.value)


def _batchnorm(p: Any, xs: list[np.ndarray]) -> np.ndarray:
    x, c = xs[0], int(p.channels)
    gamma, beta = (decode(w, (c,), what=f"batchnorm {n}") for w, n in ((p.gamma, "gamma"), (p.beta, "beta")))
    eps = p.epsilon or 1e-5
    axis = x.ndim - 3
    if p.computeMeanVar:
        axes = (axis + 1, axis + 2) if p.instanceNormalization else tuple(i for i in range(x.ndim) if i != axis)
        y = K.normalize(x, axes, eps)
    else:
        shape = [1] * x.ndim
        shape[axis] = c
        mean = decode(p.mean, (c,), what="batchnorm mean").reshape(shape)
        var = decode(p.variance, (c,), what="batchnorm variance").reshape(shape)
        y = (x - mean) / np.sqrt(var + F32(eps))
    return K.channel_affine(y, gamma, beta, axis)


def _mvn(p: Any, xs: list[np.ndarray]) -> np.ndarray:
    x = xs[0]
    axes = (-3, -2, -1) if p.acrossChannels else (-2, -1)
    if not p.normalizeVariance:
        return x - x.mean(axis=axes, keepdims=True)
    return K.normalize(x, axes, p.epsilon or 1e-6)


def _layer_norm(p: Any, xs: list[np.ndarray]) -> np.ndarray:
    shape = [int(v) for v in p.normalizedShape]
    x = xs[0]
    y = K.normalize(x, tuple(range(x.ndim - len(shape), x.ndim)), p.eps or 1e-5)
    return y * decode(p.gamma, shape, what="layernorm gamma") + decode(p.beta, shape, what="layernorm beta")


def _activation(p: Any, xs: list[np.ndarray]) -> np.ndarray:
    x, kind = xs[0], p.WhichOneof("NonlinearityType")
    q = getattr(p, kind)
    simple: dict[str, Callable[[], np.ndarray]] = {
        "linear": lambda: q.alpha * x + q.beta,
        "ReLU": lambda: np.maximum(x, 0),
        "leakyReLU": lambda: np.where(x >= 0, x, q.alpha * x),
        "thresholdedReLU": lambda: np.where(x >= q.alpha, x, 0),
        "PReLU": lambda: np.where(x >= 0, x, x * _per_channel(q.alpha, x)),
        "tanh": lambda: np.tanh(x),
        "scaledTanh": lambda: q.alpha * np.tanh(q.beta * x),
        "sigmoid": lambda: K.sigmoid(x),
        "sigmoidHard": lambda: np.clip(q.alpha * x + q.beta, 0, 1),
        "ELU": lambda: np.where(x >= 0, x, q.alpha * np.expm1(np.minimum(x, 0))),
        "softsign": lambda: x / (1 + np.abs(x)),
        "softplus": lambda: np.logaddexp(0, x),
    }
    if kind not in simple:
        raise unsupported(f"activation.{kind}")
    return simple[kind]()


def _per_channel(wp: Any, x: np.ndarray) -> np.ndarray:
    n = len(wp.floatValue) or len(wp.float16Value) // 2 or 1
    vec = decode(wp, (n,), what="activation parameter")
    return vec.reshape(-1, 1, 1) if n > 1 else vec


def _elementwise(fn: Callable[[np.ndarray, np.ndarray | np.floating[Any]], np.ndarray], unit: float) -> Layer:
    """Legacy add/multiply/max/min: fold n inputs, or one input with the scalar `alpha`."""
    def run(p: Any, xs: list[np.ndarray]) -> np.ndarray:
        if len(xs) == 1:
            return fn(xs[0], F32(getattr(p, "alpha", unit)))
        out = xs[0]
        for x in xs[1:]:
            out = fn(out, x)
        return out
    return run


def _map(fn: Callable[[np.ndarray], np.ndarray]) -> Layer:
    return lambda p, xs: fn(xs[0])


def _broadcast(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Layer:
    return lambda p, xs: fn(xs[0], xs[1])


def _unary(p: Any, xs: list[np.ndarray]) -> np.ndarray:
    x = (p.scale or 1.0) * xs[0] + p.shift
    eps = F32(p.epsilon or 1e-6)
    ops = {0: lambda: np.sqrt(x), 1: lambda: 1 / np.sqrt(x + eps), 2: lambda: 1 / (x + eps),
           3: lambda: np.power(x, F32(p.alpha)), 4: lambda: np.exp(x), 5: lambda: np.log(x),
           6: lambda: np.abs(x), 7: lambda: np.maximum(x, F32(p.alpha))}
    return ops[int(p.type)]()


def _upsample(p: Any, xs: list[np.ndarray]) -> np.ndarray:
    x = xs[0]
    frac = [float(v) for v in p.fractionalScalingFactor]
    sh, sw = frac if frac else pair(p.scalingFactor, 1)
    oh, ow = int(np.floor(x.shape[-2] * sh)), int(np.floor(x.shape[-1] * sw))
    if p.mode == 0:
        return K.nearest(x, oh, ow)
    modes = {0: "DEFAULT", 1: "STRICT_ALIGN_CORNERS", 2: "UNALIGN_CORNERS"}
    return K.bilinear(x, oh, ow, modes[int(p.linearUpsampleMode)])


def _resize_bilinear(p: Any, xs: list[np.ndarray]) -> np.ndarray:
    oh, ow = pair(p.targetSize, 1)
    # SamplingMode: STRICT_ALIGN_ENDPOINTS, ALIGN_ENDPOINTS, UPSAMPLE, ROI_ALIGN (NeuralNetwork.proto)
    modes = {0: "STRICT_ALIGN_CORNERS", 1: "ALIGN_CORNERS", 2: "DEFAULT", 3: "OFFSET_CORNERS"}
    return K.bilinear(xs[0], oh, ow, modes[int(p.mode.samplingMethod)])


def _inner_product(p: Any, xs: list[np.ndarray]) -> np.ndarray:
    x = xs[0]
    cin, cout = int(p.inputChannels), int(p.outputChannels)
    w = decode(p.weights, (cout, cin), 0, "innerProduct weights")
    b = decode(p.bias, (cout,), what="innerProduct bias") if p.hasBias else 0
    if x.ndim <= 3:
        return x @ w.T + b
    if x.ndim == 4:
        return (x.reshape(x.shape[0], -1) @ w.T + b)[:, :, None, None]
    return (x.reshape(x.shape[0] * x.shape[1], -1) @ w.T + b).reshape(x.shape[0], x.shape[1], cout, 1, 1)


def _batched_matmul(p: Any, xs: list[np.ndarray]) -> np.ndarray:
    if len(xs) == 2:
        a, b = xs
        a = np.swapaxes(a, -1, -2) if p.transposeA and a.ndim > 1 else a
        b = np.swapaxes(b, -1, -2) if p.transposeB and b.ndim > 1 else b
        return np.matmul(a, b)
    rows, cols = int(p.weightMatrixFirstDimension), int(p.weightMatrixSecondDimension)
    w = decode(p.weights, (cols, rows), 0, "batchedMatmul weights").T  # stored column major
    y = np.matmul(xs[0], w)
    return y + decode(p.bias, (cols,), what="batchedMatmul bias") if p.hasBias else y


def _reduce(fn: Callable[..., np.ndarray]) -> Layer:
    def run(p: Any, xs: list[np.ndarray]) -> np.ndarray:
        axes = None if p.reduceAll else tuple(int(a) for a in p.axes)
        return fn(xs[0], axis=axes, keepdims=bool(p.keepDims))
    return run


def _reduce_legacy(p: Any, xs: list[np.ndarray]) -> np.ndarray:
    axes = {0: (-3, -2, -1), 1: (-2, -1), 2: (-3,), 3: (-2,), 4: (-1,)}[int(p.axis)]
    modes: dict[int, Callable[..., np.ndarray]] = {
        0: np.sum, 1: np.mean, 2: np.prod, 3: lambda x, **k: np.log(np.sum(x, **k)),
        4: lambda x, **k: np.sum(x * x, **k), 5: lambda x, **k: np.sum(np.abs(x), **k),
        6: lambda x, **k: np.sqrt(np.sum(x * x, **k)), 7: np.max, 8: np.min}
    if int(p.mode) not in modes:
        raise unsupported(f"reduce mode {p.mode}")
    return modes[int(p.mode)](xs[0], axis=axes, keepdims=True)


def _pooling(p: Any, xs: list[np.ndarray]) -> np.ndarray:
    x = xs[0]
    kind = {0: "max", 1: "avg", 2: "l2"}[int(p.type)]
    if p.globalPooling:
        kernel, strides, pads, ceil = x.shape[-2:], (1, 1), [0, 0, 0, 0], False
    else:
        kernel, strides, ceil = pair(p.kernelSize, 3), pair(p.stride, 1), False
        padding = p.WhichOneof("PoolingPaddingType")
        if padding == "same":
            top = p.same.asymmetryMode == 1
            pads = [*K.same_pads(x.shape[-2], kernel[0], strides[0], 1, top),
                    *K.same_pads(x.shape[-1], kernel[1], strides[1], 1, top)]
        elif padding == "includeLastPixel":
            ph, pw = pair(p.includeLastPixel.paddingAmounts, 0)
            pads, ceil = [ph, ph, pw, pw], True
        else:
            pads = border(p.valid.paddingAmounts)
    return K.pool2d(x, kind, kernel, strides, pads, ceil, bool(p.avgPoolExcludePadding))


def _scale(p: Any, xs: list[np.ndarray]) -> np.ndarray:
    y = xs[0] * _shaped(p.scale, p.shapeScale, "scale")
    return y + _shaped(p.bias, p.shapeBias, "scale bias") if p.hasBias else y


def _shaped(wp: Any, shape: Sequence[int], what: str) -> np.ndarray:
    dims = [int(v) for v in shape] or [1]
    vec = decode(wp, dims, what=what)
    return vec.reshape(-1, 1, 1) if len(dims) == 1 else vec


LAYERS: dict[str, Layer] = {
    "convolution": _convolution, "padding": _padding, "constantPad": _constant_pad,
    "batchnorm": _batchnorm, "mvn": _mvn, "layerNormalization": _layer_norm,
    "l2normalize": lambda p, xs: xs[0] / np.sqrt(np.sum(xs[0] ** 2, axis=(-3, -2, -1), keepdims=True)
                                                 + F32(p.epsilon or 1e-6)),
    "activation": _activation, "unary": _unary,
    "clip": lambda p, xs: np.clip(xs[0], p.minVal, p.maxVal),
    "gelu": lambda p, xs: K.gelu(xs[0], {0: "EXACT", 1: "TANH_APPROXIMATION", 2: "SIGMOID_APPROXIMATION"}[int(p.mode)]),
    "erf": lambda p, xs: K.erf(xs[0]),
    "softmax": lambda p, xs: K.softmax(xs[0], -3), "softmaxND": lambda p, xs: K.softmax(xs[0], int(p.axis)),
    "add": _elementwise(np.add, 0.0), "multiply": _elementwise(np.multiply, 1.0),
    "max": _elementwise(np.maximum, -np.inf), "min": _elementwise(np.minimum, np.inf),
    "average": lambda p, xs: sum(xs[1:], xs[0]) / F32(len(xs)),
    "addBroadcastable": _broadcast(np.add), "subtractBroadcastable": _broadcast(np.subtract),
    "multiplyBroadcastable": _broadcast(np.multiply), "divideBroadcastable": _broadcast(np.divide),
    "maxBroadcastable": _broadcast(np.maximum), "minBroadcastable": _broadcast(np.minimum),
    "powBroadcastable": _broadcast(np.power),
    "scale": _scale, "bias": lambda p, xs: xs[0] + _shaped(p.bias, p.shape, "bias"),
    "upsample": _upsample, "resizeBilinear": _resize_bilinear,
    "innerProduct": _inner_product, "batchedMatmul": _batched_matmul,
    "reduce": _reduce_legacy, "reduceMean": _reduce(np.mean), "reduceSum": _reduce(np.sum),
    "reduceMax": _reduce(np.max), "reduceMin": _reduce(np.min), "reduceProd": _reduce(np.prod),
    "reduceSumSquare": _reduce(lambda x, **k: np.sum(x * x, **k)),
    "reduceL1": _reduce(lambda x, **k: np.sum(np.abs(x), **k)),
    "reduceL2": _reduce(lambda x, **k: np.sqrt(np.sum(x * x, **k))),
    "reduceLogSum": _reduce(lambda x, **k: np.log(np.sum(x, **k))),
    "reduceLogSumExp": _reduce(lambda x, **k: np.log(np.sum(np.exp(x), **k))),
    "pooling": _pooling,
    **LAYOUT_LAYERS,
    "floor": _map(np.floor), "ceil": _map(np.ceil), "round": _map(np.round), "sign": _map(np.sign),
    "exp2": _map(np.exp2), "sin": _map(np.sin), "cos": _map(np.cos), "tan": _map(np.tan),
    "asin": _map(np.arcsin), "acos": _map(np.arccos), "atan": _map(np.arctan), "sinh": _map(np.sinh),
    "cosh": _map(np.cosh), "asinh": _map(np.arcsinh), "acosh": _map(np.arccosh), "atanh": _map(np.arctanh),
}
