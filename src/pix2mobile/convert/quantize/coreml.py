"""Core ML precisions: compress the weights of a float `.mlpackage` or `.mlmodel` that `export.coreml` wrote.

ML Program (`.mlpackage`, iOS 16 ops), via `coremltools.optimize.coreml`:
- w8: `linear_quantize_weights`, symmetric per-channel int8 -> `constexpr_affine_dequantize`.
- palette6 / palette4: `palettize_weights`, per-tensor k-means with 64 / 16 entries
  -> `constexpr_lut_to_dense`.
Compute precision is the float artifact's (fp16, the format's default).

NeuralNetwork (`.mlmodel`), via `coremltools.models.neural_network.quantization_utils.quantize_weights`:
- fp16: float16 weights. w8: linear per-channel 8-bit. palette6 / palette4: 6 / 4-bit lookup tables.

Two workarounds for coremltools 9.0's NeuralNetwork path, both tested:
- `quantization_mode="kmeans"` crashes with `TypeError: [0.028] has type ndarray, but expected one
  of: float` (quantization_utils.py:643): `_get_kmeans_lookup_table_and_weight` builds the table
  with shape (2^n, 1) and the proto wants floats. We pass `quantization_mode="custom_lut"` with
  `kmeans_lut`, our 1-D k-means that returns a flat table.
- Layers of kind batchnorm (how instance norm converts, with empty mean/variance) crash
  `quantization_mode="dequantization"` and gain nothing elsewhere: `WeightLayerSelector`
  picks convolution and inner-product layers only.

Only weights of convolution / linear layers with more than `WEIGHT_THRESHOLD` elements are
compressed; biases and norm parameters stay as they are. `keep_float` names torch modules whose
weights stay uncompressed: ML Program weight constants are named after the parameter
(`p_module_<path>_weight...`); NeuralNetwork layers are matched by weight values, which needs the module.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from torch import nn

from pix2mobile.convert.coreml import save_mlpackage
from pix2mobile.errors import ConfigError, ExportError
from pix2mobile.files import atomic_path
from pix2mobile.runtimes.common import first_line, require

WEIGHT_THRESHOLD = 512
"""Weights with at most this many elements (biases, tiny layers) stay as they are."""
MLPACKAGE_PRECISIONS = ("w8", "palette6", "palette4")
MLMODEL_PRECISIONS = ("fp16", "w8", "palette6", "palette4")
PALETTE_BITS = {"palette6": 6, "palette4": 4}
WEIGHTED_OPS = ("conv", "conv_transpose", "linear", "matmul")


# ---------------------------------------------------------------- ML Program

def quantize_mlpackage(float_path: str | Path, out_path: str | Path, precision: str, *,
                       keep_float: Sequence[str] = ()) -> list[str]:
    """Write `out_path`, the `precision` version of the float ML Program at `float_path`; return notes."""
    if precision not in MLPACKAGE_PRECISIONS:
        raise ConfigError(f"mlpackage compression makes {', '.join(MLPACKAGE_PRECISIONS)}, not {precision}")
    ct = require("coremltools", "coremltools", "Core ML weight compression")
    cto = require("coremltools.optimize.coreml", "coremltools", "Core ML weight compression")
    model = ct.models.MLModel(str(float_path), skip_model_load=True)
    if model.get_spec().WhichOneof("Type") != "mlProgram":
        raise ConfigError(f"{float_path} is not an ML Program; use the .mlmodel path for NeuralNetworks")
    skip = _kept_constants(model, keep_float)
    if precision == "w8":
        op_config = cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8", granularity="per_channel",
                                                weight_threshold=WEIGHT_THRESHOLD)
        note = "coremltools.optimize: int8 symmetric per-channel weights (constexpr_affine_dequantize)"
    else:
        op_config = cto.OpPalettizerConfig(mode="kmeans", nbits=PALETTE_BITS[precision], granularity="per_tensor",
                                           weight_threshold=WEIGHT_THRESHOLD)
        note = (f"coremltools.optimize: {PALETTE_BITS[precision]}-bit k-means palettes per tensor "
                f"(constexpr_lut_to_dense)")
    config = cto.OptimizationConfig(op_type_configs={op: op_config for op in WEIGHTED_OPS},
                                    op_name_configs={name: None for name in skip})
    try:
        compressed = (cto.linear_quantize_weights if precision == "w8" else cto.palettize_weights)(model, config)
    except Exception as exc:
        raise ExportError(f"coremltools could not compress the weights to {precision}: {first_line(exc)}") from exc
    out_path = Path(out_path)
    save_mlpackage(compressed, out_path)
    notes = [note, f"weights with more than {WEIGHT_THRESHOLD} elements compressed; compute precision unchanged"]
    if keep_float:
        notes.append(f"kept float: {', '.join(keep_float)}")
    return notes


def _program_constants(model: Any) -> list[str]:
    from coremltools.converters.mil.frontend.milproto.load import load

    spec = model.get_spec()
    program = load(spec, spec.specificationVersion, file_weights_dir=model.weights_dir)
    func = program.functions[spec.description.defaultFunctionName or "main"]
    return [op.name for op in func.operations if op.op_type == "const"]


def _kept_constants(model: Any, keep_float: Sequence[str]) -> list[str]:
    """Names of the weight constants of `keep_float` modules (the torch.export converter names
    them `p_module_<path with _>_weight`, after the parameter of the exported wrapper)."""
    if not keep_float:
        return []
    consts = _program_constants(model)
    found, missing = [], []
    for name in keep_float:
        pattern = re.compile(rf"^p_module_{re.escape(name.replace('.', '_'))}_weight(?:_|$)")
        hits = [c for c in consts if pattern.match(c)]
        (found.extend(hits) if hits else missing.append(name))
    if missing:
        raise ConfigError(f"keep_float names no weight constant of this ML Program: {', '.join(missing)}")
    return found


# ---------------------------------------------------------------- NeuralNetwork

def kmeans_lut(nbits: int, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The `lut_function` for `quantization_mode="custom_lut"`: coremltools' own k-means (the one its
    "kmeans" mode runs), with the (2^nbits, 1) table it returns flattened to the 2^nbits floats the
    proto stores, and uint8 indices."""
    from coremltools.models.neural_network.quantization_utils import _get_kmeans_lookup_table_and_weight

    lut, indices = _get_kmeans_lookup_table_and_weight(nbits, np.asarray(weights, np.float32))
    return np.asarray(lut, np.float32).reshape(-1), np.asarray(indices).reshape(-1).astype(np.uint8)


def _selector_class(qu: Any) -> Any:
    class WeightLayerSelector(qu.QuantizedLayerSelector):
        """Convolution and inner-product layers with enough weights, minus the kept ones."""

        def __init__(self, skip: set[str]):
            super().__init__()
            self.skip = skip

        def do_quantize(self, layer: Any, **kwargs: Any) -> bool:
            kind = layer.WhichOneof("layer")
            if kind not in ("convolution", "innerProduct") or layer.name in self.skip:
                return False
            return _weight_count(layer) > WEIGHT_THRESHOLD

    return WeightLayerSelector


def weight_layer_selector(skip: Sequence[str] = ()) -> Any:
    """A `QuantizedLayerSelector` for convolution / inner-product layers (never batchnorm)."""
    from coremltools.models.neural_network import quantization_utils as qu

    return _selector_class(qu)(set(skip))


def _weight_count(layer: Any) -> int:
    params = getattr(layer, layer.WhichOneof("layer"))
    wp = params.weights
    return max(len(wp.floatValue), len(wp.float16Value) // 2, len(wp.rawValue))


def _layer_weights(layer: Any) -> np.ndarray | None:
    wp = getattr(layer, layer.WhichOneof("layer")).weights
    if len(wp.floatValue):
        return np.asarray(wp.floatValue, np.float32)
    return None


def _kept_layers(spec: Any, keep_float: Sequence[str], module: nn.Module | None) -> list[str]:
    """Layer names whose weights equal (as a multiset) the weights of the `keep_float` modules."""
    if not keep_float:
        return []
    if module is None:
        raise ConfigError("keep_float on a .mlmodel needs the PyTorch module (NeuralNetwork layers do not "
                          "record module names)")
    modules = dict(module.named_modules())
    layers = [(layer.name, w) for layer in spec.neuralNetwork.layers
              if layer.WhichOneof("layer") in ("convolution", "innerProduct")
              and (w := _layer_weights(layer)) is not None]
    found, missing = [], []
    for name in keep_float:
        param = getattr(modules.get(name), "weight", None)
        if param is None:
            missing.append(name)
            continue
        target = np.sort(param.detach().cpu().numpy().astype(np.float32).ravel())
        hits = [n for n, w in layers if w.size == target.size and np.allclose(np.sort(w), target, atol=1e-6)]
        (found.extend(hits) if hits else missing.append(name))
    if missing:
        raise ConfigError(f"keep_float names no convolution/linear layer of this NeuralNetwork: {', '.join(missing)}")
    return found


def quantize_mlmodel(float_path: str | Path, out_path: str | Path, precision: str, *,
                     keep_float: Sequence[str] = (), module: nn.Module | None = None) -> list[str]:
    """Write `out_path`, the `precision` version of the float NeuralNetwork at `float_path`; return notes."""
    if precision not in MLMODEL_PRECISIONS:
        raise ConfigError(f"mlmodel compression makes {', '.join(MLMODEL_PRECISIONS)}, not {precision}")
    ct = require("coremltools", "coremltools", "Core ML weight compression")
    qu = require("coremltools.models.neural_network.quantization_utils", "coremltools", "Core ML weight compression")
    model = ct.models.MLModel(str(float_path), skip_model_load=True)
    spec = model.get_spec()
    if spec.WhichOneof("Type") != "neuralNetwork":
        raise ConfigError(f"{float_path} is not a NeuralNetwork .mlmodel")
    selector = _selector_class(qu)(set(_kept_layers(spec, keep_float, module)))
    if precision == "fp16":
        kwargs: dict[str, Any] = {"nbits": 16, "quantization_mode": "linear"}
        note = "quantization_utils: float16 weights"
    elif precision == "w8":
        kwargs = {"nbits": 8, "quantization_mode": "linear"}
        note = "quantization_utils: 8-bit linear per-channel weights"
    else:
        kwargs = {"nbits": PALETTE_BITS[precision], "quantization_mode": "custom_lut", "lut_function": kmeans_lut}
        note = (f"quantization_utils: {PALETTE_BITS[precision]}-bit k-means lookup tables through custom_lut with "
                f"the table flattened (coremltools 9.0's kmeans mode writes a (2^n, 1) table the proto rejects)")
    try:
        compressed = qu.quantize_weights(model, selector=selector, **kwargs)
    except Exception as exc:
        raise ExportError(f"coremltools could not compress the weights to {precision}: {first_line(exc)}") from exc
    with atomic_path(out_path) as tmp:
        compressed.save(str(tmp))
    notes = [note, f"convolution/linear weights with more than {WEIGHT_THRESHOLD} elements compressed"]
    if keep_float:
        notes.append(f"kept float: {', '.join(keep_float)}")
    return notes


def transform_mlpackage(float_path: str | Path, out_path: str | Path, precision: str, io: Any, *,
                        calibration: Any = None, keep_float: Sequence[str] = (),
                        module: nn.Module | None = None) -> list[str]:
    """The mlpackage rows' artifact-stage recipe (`Recipe.transform`): `quantize_mlpackage`."""
    return quantize_mlpackage(float_path, out_path, precision, keep_float=keep_float)


def transform_mlmodel(float_path: str | Path, out_path: str | Path, precision: str, io: Any, *,
                      calibration: Any = None, keep_float: Sequence[str] = (),
                      module: nn.Module | None = None) -> list[str]:
    """The mlmodel rows' artifact-stage recipe (`Recipe.transform`): `quantize_mlmodel`."""
    return quantize_mlmodel(float_path, out_path, precision, keep_float=keep_float, module=module)
