"""Run saved Core ML models with numpy, so Linux can check they compute what PyTorch computes.

coremltools converts on Linux but `MLModel.predict` needs macOS. This module reads what an app
would ship, a `.mlpackage` (ML Program) or a `.mlmodel` (NeuralNetwork), and evaluates it:
ML Programs op by op (`_mil_ops`, weights read by coremltools' own milproto loader, compressed
weights decompressed by `_mil_constexpr`), NeuralNetworks layer by layer (`_nn_layers`, weights
decoded by `_nn_params`). An op or layer it does not know raises `VerificationError`; nothing is
skipped. `CoreMLModel(path)` reads a file once and `.predict(feed)` evaluates it; `run_coreml`
does both for one feed. Tensors no later op reads are dropped and convolutions work in tiles
(`_np_kernels.conv2d`), so johnson evaluates at 1024^2 in under 2 GB.

Precision. An ML Program's ops compute in the type the program gives them, as Core ML runs them
on a phone's GPU and Neural Engine (fp16 is coremltools' default `compute_precision`):
- fp32 ops compute in float32.
- fp16 ops (`_mil_ops.Args.half`: the op's output is typed fp16): every value stored in an fp16
  tensor is rounded through float16, the op's inputs and outputs included, and beyond 65504 it
  becomes inf. Inside the composite kernels every elementwise intermediate is an fp16 value as
  well: instance_norm / layer_norm (x - mean, its square, var + eps, 1/sqrt, the product, gamma,
  beta), batch_norm (x - mean, 1/sqrt(var + eps), the products), softmax (x - max, exp),
  reduce_sum_square / reduce_l2_norm (the squares), reduce_log_sum_exp (the exponentials, taken
  without a max shift), l2 pooling (the squares). Sums and dot products (conv,
  matmul, linear, the reductions' accumulators) run in float32 and are rounded once at the end:
  a kernel accumulating in fp16 would overflow summing the squares of any 256^2 channel of
  unit values, which fp16 models on devices do not do. Why: an fp16 kernel can overflow where
  neither the op's input nor its output does (coremltools maintainers on apple/coremltools#2110:
  "the converted model could still overflow on some intermediate tensors"); the canonical case
  is InstanceNorm on activations of a few hundred, whose squared deviations pass 65504 and
  collapse the channel (the same failure as ml-explore/mlx#4228 for MLX's fp16 InstanceNorm;
  coremltools rescales rms_norm by max|x| for the same reason, apple/coremltools#2821, and
  apple/coremltools#2726 reports reduce_log_sum_exp overflowing its fp16 exp on the ANE).
  Apple does not document its kernels: the variance is emulated in the two-pass form
  mean((x - mean)^2), the most forgiving fp16 one, so an overflow here is one on any fp16
  kernel, while a one-pass mean(x^2) - mean^2 kernel would overflow earlier (|x| > 256) than
  shown. Elementwise activations (sigmoid, tanh, gelu, silu, ...) compute in float32 and are
  rounded once: their intermediates stay bounded or saturate to the same result. The first op
  that produces inf or NaN is logged; the parity gate then fails on the non-finite output.
- NeuralNetwork `.mlmodel` files compute in float32, fp16-stored weights (`float16Value`)
  included: they are widened at load. That is what Core ML does on the CPU, and what the
  coremltools guide says of weight-compressed NeuralNetworks ("the intermediate tensors are kept
  in float precision (float 32 or float 16 depending on execution unit)"): unlike an ML Program,
  the file does not fix a precision, the compute unit does. On a GPU (fp16 storage, fp32
  accumulation) or the ANE a NeuralNetwork runs in fp16, which is not emulated: the figure is
  the CPU's. pix2mobile exports NeuralNetworks as fp32 only.

Inputs, by model input name:
- multiarray: an array of the declared shape; cast to the declared type (fp16 rounds).
- image: raw pixel values 0..255 in RGB order, as an app's bitmap holds them: N x C x H x W
  (N = 1), H x W x C, or H x W for grayscale. Like Core ML, the evaluator hands a BGR model its
  channels in BGR order and applies the model's scale and bias: a NeuralNetwork's preprocessing
  scaler, or the `mul`/`add` ops the converter wrote into an ML Program.
- Sizes: a fixed feature takes its declared shape only; a flexible one (enumerated sizes or
  shapes, as `ct.EnumeratedShapes` writes them, or a size range) takes exactly what it declares
  and nothing else, as Core ML refuses other sizes. The program itself runs at the fed size.
Outputs: arrays by output name (floats as float32). An image output is the raw N x C x H x W
tensor the model computes, in the model's channel order, before Core ML clips and rounds it
into a pixel buffer.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from pix2mobile.errors import ConfigError, ExportError, MissingDependencyError, Pix2MobileError, VerificationError

log = logging.getLogger(__name__)

F32 = np.float32
_ARRAY_DTYPES = {"FLOAT32": np.float32, "FLOAT16": np.float16, "DOUBLE": np.float64, "INT32": np.int32, "INT8": np.int8}


class CoreMLModel:
    """A saved Core ML model read once, evaluated any number of times: `CoreMLModel(path).predict(feed)`.

    Parsing the spec and, for an ML Program, building coremltools' pymil program from weight.bin
    takes longer than evaluating a small model, and a verification runs every sample through the
    same file, so the file is read here once. Unsupported ops or layers raise here, before any
    sample is fed.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.suffix == ".mlpackage":
            self.spec, weights = _read_package(self.path)
            from pix2mobile.runtimes.coreml_eval import _mil_ops

            _mil_ops.check_supported(_op_types(self.spec))
            self._func: Any = _load_function(self.spec, weights, self.path)
        elif self.path.suffix == ".mlmodel":
            self.spec = _parse(self.path)
            self._net: Any = _network(self.spec, self.path)
            from pix2mobile.runtimes.coreml_eval import _nn_layers

            _nn_layers.check_supported(self._net.layers)
        else:
            raise ConfigError(f"{self.path}: not a Core ML model; pass a .mlpackage or .mlmodel path")

    @property
    def is_program(self) -> bool:
        return self.path.suffix == ".mlpackage"

    def predict(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Outputs by name for one feed (see the module docstring for what inputs hold)."""
        feeds = _feeds(self.spec.description.input, inputs, self.path)
        if self.is_program:
            from pix2mobile.runtimes.coreml_eval import _mil_ops

            outs = _mil_ops.run_function(self._func, feeds)
            log.debug("evaluated %s: %d ops", self.path, len(self._func.operations))
            return _results(self.spec.description.output, outs, self.path)
        from pix2mobile.runtimes.coreml_eval import _nn_layers

        for feature in self.spec.description.input:
            if feature.type.WhichOneof("Type") == "imageType":
                feeds[feature.name] = _preprocess(feeds[feature.name], self._net, feature)
        keep = [f.name for f in self.spec.description.output]
        env = _nn_layers.run_layers(self._net.layers, feeds, keep)
        log.debug("evaluated %s: %d layers", self.path, len(self._net.layers))
        return _results(self.spec.description.output, env, self.path)

    def describe(self) -> dict[str, Any]:
        """What `describe(path)` says, from the model already read."""
        features = self.spec.description.input
        if self.is_program:
            affine = {name: _program_preprocessing(self._func, name) for name in _image_names(features)}
        else:
            affine = {name: _scaler_preprocessing(self._net, features, name) for name in _image_names(features)}
        return _description(self.path, self.spec, affine)


def run_coreml(path: str | Path, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Evaluate a `.mlpackage` or `.mlmodel`, chosen by suffix, once (read it with `CoreMLModel` to run it often)."""
    return CoreMLModel(path).predict(inputs)


def run_mlpackage(path: str | Path, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Evaluate the `main` function of an ML Program package."""
    if Path(path).suffix != ".mlpackage":
        raise ConfigError(f"{path}: not an ML Program package; pass a .mlpackage path")
    return run_coreml(path, inputs)


def run_mlmodel(path: str | Path, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Evaluate a NeuralNetwork `.mlmodel`."""
    if Path(path).suffix != ".mlmodel":
        raise ConfigError(f"{path}: not a NeuralNetwork model; pass a .mlmodel path")
    return run_coreml(path, inputs)


def describe(path: str | Path) -> dict[str, Any]:
    """Inputs and outputs as the app sees them: name, kind (image / multiarray), shape, dtype; for
    image inputs also color_layout, and the scale and per-channel bias (in the model's channel
    order, B, G, R for BGR) that turn raw pixels into what the network sees."""
    path = Path(path)
    if path.suffix == ".mlpackage":
        spec, weights = _read_package(path)
        names = _image_names(spec.description.input)
        func = _load_function(spec, weights, path) if names else None
        affine = {name: _program_preprocessing(func, name) for name in names}
    elif path.suffix == ".mlmodel":
        spec = _parse(path)
        net = _network(spec, path)
        features = spec.description.input
        affine = {name: _scaler_preprocessing(net, features, name) for name in _image_names(features)}
    else:
        raise ConfigError(f"{path}: not a Core ML model; pass a .mlpackage or .mlmodel path")
    return _description(path, spec, affine)


def _description(path: Path, spec: Any, affine: Mapping[str, tuple[float, list[float]]]) -> dict[str, Any]:
    return {"path": str(path), "type": spec.WhichOneof("Type"), "specification_version": int(spec.specificationVersion),
            "inputs": [_feature_info(f, affine.get(f.name)) for f in spec.description.input],
            "outputs": [_feature_info(f, None) for f in spec.description.output]}


# ---------------------------------------------------------------- reading files

def _proto() -> Any:
    try:
        from coremltools.proto import FeatureTypes_pb2, Model_pb2
    except ImportError:
        raise MissingDependencyError("coremltools", "Checking Core ML models") from None
    return Model_pb2, FeatureTypes_pb2


def _parse(path: Path) -> Any:
    model_pb2, _ = _proto()
    from google.protobuf.message import DecodeError

    try:
        data = path.read_bytes()
    except OSError as e:
        raise ExportError(f"{path}: cannot read the Core ML model ({e.strerror}); export it again") from None
    spec = model_pb2.Model()
    try:
        spec.ParseFromString(data)
    except DecodeError as e:
        raise ExportError(f"{path}: not a Core ML model spec ({e}); export it again") from None
    return spec


def read_spec(path: str | Path) -> Any:
    """The model spec (`Model_pb2.Model`) of a `.mlpackage` (its root model) or a `.mlmodel`, parsed
    only: no weights read, nothing evaluated."""
    path = Path(path)
    return _read_package(path)[0] if path.suffix == ".mlpackage" or path.is_dir() else _parse(path)


def _read_package(path: Path) -> tuple[Any, Path]:
    """The root model spec of a package (Manifest.json names it) and its weights folder."""
    if not path.is_dir():
        raise ExportError(f"{path}: no .mlpackage directory there; export it again")
    rel = "com.apple.CoreML/model.mlmodel"
    manifest = path / "Manifest.json"
    if manifest.is_file():
        try:
            info = json.loads(manifest.read_text())
            rel = info["itemInfoEntries"][info["rootModelIdentifier"]]["path"]
        except (ValueError, KeyError, TypeError):
            raise ExportError(f"{path}: Manifest.json does not name a root model; export it again") from None
    model = path / "Data" / rel
    return _parse(model), model.parent / "weights"


def _op_types(spec: Any) -> set[str]:
    if spec.WhichOneof("Type") != "mlProgram":
        raise ExportError(f"a .mlpackage holding a '{spec.WhichOneof('Type')}' model is not an ML Program; "
                          f"pass the .mlmodel path of a NeuralNetwork instead")
    found: set[str] = set()

    def walk(block: Any) -> None:
        for op in block.operations:
            found.add(op.type)
            for nested in op.blocks:
                walk(nested)

    func = spec.mlProgram.functions.get(_function_name(spec))
    if func is None:
        raise ExportError(f"the ML Program has no function '{_function_name(spec)}'; export it again")
    for block in func.block_specializations.values():
        walk(block)
    return found


def _function_name(spec: Any) -> str:
    return spec.description.defaultFunctionName or "main"


def _load_function(spec: Any, weights: Path, path: Path) -> Any:
    """The pymil Function coremltools' milproto loader builds from the spec and weight.bin."""
    _proto()
    from coremltools.converters.mil.frontend.milproto.load import load

    try:
        program = load(spec, spec.specificationVersion, file_weights_dir=str(weights))
    except Pix2MobileError:
        raise
    except Exception as e:  # a third-party reader: any failure means the file is unusable
        raise ExportError(f"{path}: coremltools cannot read this ML Program ({type(e).__name__}: {e}); "
                          f"export it again") from e
    return program.functions[_function_name(spec)]


def _network(spec: Any, path: Path) -> Any:
    kind = spec.WhichOneof("Type")
    if kind not in ("neuralNetwork", "neuralNetworkRegressor"):
        raise VerificationError(f"{path}: a '{kind}' model is not supported by pix2mobile's Core ML evaluator "
                                f"(it runs NeuralNetwork .mlmodel files and ML Program .mlpackage files)")
    net = getattr(spec, kind)
    kinds = {f.type.WhichOneof("Type") for f in spec.description.input}
    if ("multiArrayType" in kinds and net.arrayInputShapeMapping != 1) or \
            ("imageType" in kinds and net.imageInputShapeMapping != 1):
        raise VerificationError(f"{path}: legacy rank-5 input mapping is not supported by pix2mobile's Core ML "
                                f"evaluator; convert with coremltools >= 4")
    return net


# ---------------------------------------------------------------- inputs and outputs

def _feeds(features: Any, inputs: Mapping[str, np.ndarray], path: Path) -> dict[str, np.ndarray]:
    names = [f.name for f in features]
    unknown = sorted(set(inputs) - set(names))
    if unknown:
        raise ConfigError(f"{path}: no input named {unknown}; the model's inputs are {names}")
    feeds = {}
    for feature in features:
        if feature.name not in inputs:
            raise ConfigError(f"{path}: input '{feature.name}' is missing; the model's inputs are {names}")
        kind = feature.type.WhichOneof("Type")
        if kind == "imageType":
            feeds[feature.name] = _image(feature.name, inputs[feature.name], feature.type.imageType)
        elif kind == "multiArrayType":
            feeds[feature.name] = _array(feature.name, inputs[feature.name], feature.type.multiArrayType)
        else:
            raise VerificationError(f"{path}: input '{feature.name}' of type {kind} is not supported by "
                                    f"pix2mobile's Core ML evaluator")
    return feeds


def _colour(image_type: Any) -> str:
    _, feature_types = _proto()
    return str(feature_types.ImageFeatureType.ColorSpace.Name(image_type.colorSpace))


def _image(name: str, value: Any, image_type: Any) -> np.ndarray:
    """Raw RGB pixels -> the 1 x C x H x W float32 tensor Core ML hands the model."""
    colour = _colour(image_type)
    channels = 1 if colour.startswith("GRAYSCALE") else 3
    arr = np.asarray(value, np.float64)
    if arr.ndim == 2:
        arr = arr[None, None]
    elif arr.ndim == 3:
        arr = arr.transpose(2, 0, 1)[None]
    if arr.ndim != 4 or arr.shape[:2] != (1, channels):
        raise ConfigError(f"image input '{name}' must be one {colour} image (1 x {channels} x H x W or H x W x "
                          f"{channels}), got shape {np.shape(value)}")
    allowed = _image_sizes_allowed(image_type, (int(arr.shape[2]), int(arr.shape[3])))
    if allowed is not None:
        raise ConfigError(f"image input '{name}' must be {allowed}, got {arr.shape[2]} x {arr.shape[3]}")
    if colour != "GRAYSCALE_FLOAT16" and arr.size and (arr.min() < 0 or arr.max() > 255):
        raise ConfigError(f"image input '{name}' holds values outside 0..255: pass raw pixel values, "
                          f"the model applies its own scale and bias")
    if colour == "BGR":
        arr = arr[:, ::-1]
    if colour == "GRAYSCALE_FLOAT16":
        arr = arr.astype(np.float16)
    return np.ascontiguousarray(arr, dtype=F32)


def _array(name: str, value: Any, array_type: Any) -> np.ndarray:
    _, feature_types = _proto()
    dtype_name = feature_types.ArrayFeatureType.ArrayDataType.Name(array_type.dataType)
    if dtype_name not in _ARRAY_DTYPES:
        raise VerificationError(f"input '{name}' of type {dtype_name} is not supported by pix2mobile's "
                                f"Core ML evaluator")
    dtype = np.dtype(_ARRAY_DTYPES[dtype_name])
    arr = np.asarray(value)
    shape = tuple(int(d) for d in array_type.shape)
    flexibility = array_type.WhichOneof("ShapeFlexibility")
    if shape and flexibility is None and arr.shape != shape:
        raise ConfigError(f"input '{name}' must have shape {shape}, got {arr.shape}")
    if flexibility == "enumeratedShapes":
        shapes = [tuple(int(d) for d in s.shape) for s in array_type.enumeratedShapes.shapes]
        if tuple(arr.shape) not in shapes:
            raise ConfigError(f"input '{name}' must have one of the shapes {shapes}, got {arr.shape}")
    elif flexibility == "shapeRange":
        ranges = [(int(r.lowerBound), int(r.upperBound)) for r in array_type.shapeRange.sizeRanges]
        if len(ranges) != arr.ndim or not all(lo <= d and (hi < 0 or d <= hi)
                                              for d, (lo, hi) in zip(arr.shape, ranges)):
            raise ConfigError(f"input '{name}' must have a shape within {ranges} (-1: unbounded), got {arr.shape}")
    arr = arr.astype(dtype)
    return arr.astype(F32) if dtype.kind == "f" else arr


def _image_sizes_allowed(image_type: Any, size: tuple[int, int]) -> str | None:
    """None when an image of `size` (H, W) fits the feature, else what it accepts, in words.

    Fixed: its height x width. Enumerated sizes (`ct.EnumeratedShapes`): one of them, as Core ML
    refuses any other. A size range: within it (an upper bound of -1 is unbounded)."""
    h, w = size
    flexibility = image_type.WhichOneof("SizeFlexibility")
    if flexibility == "enumeratedSizes":
        sizes = [(int(s.height), int(s.width)) for s in image_type.enumeratedSizes.sizes]
        return None if (h, w) in sizes else "one of " + ", ".join(f"{a} x {b}" for a, b in sizes)
    if flexibility == "imageSizeRange":
        hr, wr = image_type.imageSizeRange.heightRange, image_type.imageSizeRange.widthRange

        def inside(v: int, r: Any) -> bool:
            return int(r.lowerBound) <= v and (int(r.upperBound) < 0 or v <= int(r.upperBound))

        return None if inside(h, hr) and inside(w, wr) else (
            f"within {hr.lowerBound}..{hr.upperBound} x {wr.lowerBound}..{wr.upperBound} (-1: unbounded)")
    if (h, w) != (image_type.height, image_type.width):
        return f"{image_type.height} x {image_type.width}"
    return None


def _preprocess(x: np.ndarray, net: Any, feature: Any) -> np.ndarray:
    """NeuralNetwork image preprocessing: scale * pixel + per-channel bias, or minus a mean image."""
    for pre in net.preprocessing:
        if pre.featureName not in ("", feature.name):
            continue
        if pre.WhichOneof("preprocessor") == "scaler":
            scale, bias = _scaler(pre.scaler, _colour(feature.type.imageType))
            x = x * F32(scale) + np.asarray(bias, F32).reshape(1, -1, 1, 1)
        elif pre.WhichOneof("preprocessor") == "meanImage":
            x = x - np.asarray(pre.meanImage.meanImage, F32).reshape(x.shape[1:])
    return x


def _scaler(scaler: Any, colour: str) -> tuple[float, list[float]]:
    """The scaler's biases in the order of the tensor channels (NeuralNetwork.proto)."""
    if colour.startswith("GRAYSCALE"):
        return float(scaler.channelScale), [float(scaler.grayBias)]
    rgb = [float(scaler.redBias), float(scaler.greenBias), float(scaler.blueBias)]
    return float(scaler.channelScale), rgb[::-1] if colour == "BGR" else rgb


def _results(features: Any, values: Mapping[str, Any], path: Path) -> dict[str, np.ndarray]:
    out = {}
    for feature in features:
        if feature.name not in values:
            raise VerificationError(f"{path}: the model declares output '{feature.name}' but computes no such tensor")
        arr = np.asarray(values[feature.name])
        out[feature.name] = arr.astype(F32) if arr.dtype.kind == "f" else arr
    return out


# ---------------------------------------------------------------- describe

def _image_names(features: Any) -> list[str]:
    return [f.name for f in features if f.type.WhichOneof("Type") == "imageType"]


def _program_preprocessing(func: Any, name: str) -> tuple[float, list[float]]:
    """Scale and bias the converter wrote into the program as `<input>__scaled__`/`__biased__`."""
    scale, bias = 1.0, [0.0]
    for op in func.operations:
        out = op.outputs[0].name
        if out == f"{name}__scaled__" and op.op_type == "mul":
            scale = float(np.asarray(op.y.val))
        elif out == f"{name}__biased__" and op.op_type == "add":
            bias = [float(v) for v in np.ravel(op.y.val)]
    return scale, bias


def _scaler_preprocessing(net: Any, features: Any, name: str) -> tuple[float, list[float]]:
    colour = next(_colour(f.type.imageType) for f in features if f.name == name)
    for pre in net.preprocessing:
        if pre.featureName in ("", name) and pre.WhichOneof("preprocessor") == "scaler":
            return _scaler(pre.scaler, colour)
    return 1.0, [0.0]


def _feature_info(feature: Any, affine: tuple[float, list[float]] | None) -> dict[str, Any]:
    kind = feature.type.WhichOneof("Type")
    info: dict[str, Any] = {"name": feature.name, "kind": kind}
    if kind == "imageType":
        image = feature.type.imageType
        colour = _colour(image)
        info.update(kind="image", color_layout=colour,
                    shape=[1, 1 if colour.startswith("GRAYSCALE") else 3, int(image.height), int(image.width)],
                    dtype="float16" if colour == "GRAYSCALE_FLOAT16" else "uint8")
        if image.WhichOneof("SizeFlexibility") == "enumeratedSizes":
            info["sizes"] = [[int(s.height), int(s.width)] for s in image.enumeratedSizes.sizes]
        if affine is not None:
            scale, bias = affine
            info.update(scale=scale, bias=bias if len(bias) > 1 else bias * info["shape"][1])
    elif kind == "multiArrayType":
        _, feature_types = _proto()
        array = feature.type.multiArrayType
        dtype = feature_types.ArrayFeatureType.ArrayDataType.Name(array.dataType)
        info.update(kind="multiarray", shape=[int(d) for d in array.shape],
                    dtype=np.dtype(_ARRAY_DTYPES[dtype]).name if dtype in _ARRAY_DTYPES else dtype.lower())
    return info
