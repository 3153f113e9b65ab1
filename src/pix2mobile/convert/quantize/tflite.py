"""TFLite precisions: ai-edge-quantizer rewrites the float `.tflite` that `export.tflite` wrote.

- fp16: weights cast to float16 and dequantized at load time; fp32 compute.
- w8: int8 per-channel weights, dequantized explicitly; fp32 compute.
- int8-dynamic: int8 per-channel weights, activations quantized per inference (XNNPACK's QD8 kernels).
- int8: int8 per-channel weights and int8 per-tensor activations calibrated on real images.
  Inputs and outputs stay float32 in the IOSpec layout, so apps feed the same tensors as fp32.

Two changes from ai-edge-quantizer's static defaults, each measured on lightly trained generators:
1. Normalisation layers stay float. Its default recipe quantizes InstanceNorm's mean, variance
   and rsqrt steps (the op names carry the torch class, `...InstanceNorm2d_in1;3`); that cost a
   johnson net 30 dB. Convolutions around them stay int8. (`convert.mobile_graph` writes
   InstanceNorm out as `ExplicitInstanceNorm2d`; its ops are found the same way.)
2. Calibration ranges come from every calibration image, not a moving average: its calibrator
   smooths min/max with a 0.95 moving average, so ranges follow the first image and clip the
   others (johnson: 23 dB -> 42 dB). From the histogram over the global min/max we take the
   range with the least expected squared error (`clip_range`; like PyTorch's HistogramObserver,
   which PT2E uses): a junyanz ResNet with 4 convs in float went from 29.7 to 36.8 dB. Image
   inputs are pinned to their declared range.

`keep_float` names torch modules (as `named_modules()` spells them) whose ops stay float. Op
names record the module path (`ClassName_attr/ClassName_attr;k`; export drops the Python package
before each class name, older files still carry it), which is how they are found (a layer that
writes a graph output is named after the output; its weights still carry the path).
The float region spreads to the single-input ops without weights around a kept op (the tanh
after a last conv, the pad before it), so no int8 round trip is left between them.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from pix2mobile.errors import ConfigError, ExportError
from pix2mobile.files import atomic_path
from pix2mobile.models.spec import IOSpec
from pix2mobile.runtimes.common import first_line, require, to_numpy
from pix2mobile.runtimes.tflite import SIGNATURE
from pix2mobile.runtimes.tflite import is_nhwc

HISTOGRAM_BINS = 1024
PRECISIONS = ("fp16", "w8", "int8-dynamic", "int8")
NORM_SCOPE = r"(?:^|[./;])((?:Explicit)?InstanceNorm[123]d|GroupNorm|LayerNorm)_"
"""Op scopes of normalisation layers, kept float by the int8 recipe."""
WEIGHTED_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "FULLY_CONNECTED",
                          "BATCH_MATMUL", "EMBEDDING_LOOKUP"})


def quantize_tflite(float_path: str | Path, out_path: str | Path, precision: str, io: IOSpec, *,
                    calibration: Any = None, keep_float: Sequence[str] = ()) -> list[str]:
    """Write `out_path`, the `precision` version of the float model at `float_path`; return notes.

    calibration: a `CalibrationSet` (int8 needs one; the others ignore it).
    keep_float: torch module names whose ops stay float.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"tflite quantization makes {', '.join(PRECISIONS)}, not {precision}")
    aeq = require("ai_edge_quantizer", "ai-edge-quantizer", "TFLite quantization")
    from ai_edge_quantizer.utils import tfl_flatbuffer_utils as fb

    data = Path(float_path).read_bytes()
    graph = _Graph(fb, data)
    if graph.quantized:
        raise ConfigError(f"{float_path} is already quantized; quantize the float (fp32) .tflite instead")
    kept = graph.module_ops(keep_float)
    unmatched = [n for n in keep_float if not kept.get(n)]
    if unmatched:
        raise ConfigError(f"keep_float names no ops of this .tflite: {', '.join(unmatched)} (names are torch "
                          f"module paths as named_modules() spells them)")
    float_ops = graph.grow({i for ops in kept.values() for i in ops})
    notes = []
    if keep_float:
        notes.append(f"kept float: {', '.join(keep_float)} ({len(float_ops)} ops, with the pads and "
                     f"activations next to them)")
    if precision == "int8":
        norm_ops = {i for i, scope in enumerate(graph.scopes) if re.search(NORM_SCOPE, scope)}
        if norm_ops:
            notes.append(f"{len(norm_ops)} normalisation ops kept float (int8 mean/variance/rsqrt cost most "
                         f"of the accuracy)")
        float_ops |= norm_ops
    recipe = _recipe(aeq, precision, [graph.scopes[i] for i in sorted(float_ops)])
    quantizer = aeq.quantizer.Quantizer(data, recipe)
    qsvs = None
    if quantizer.need_calibration:
        if calibration is None:
            raise ConfigError("int8 needs calibration images; pass a CalibrationSet")
        qsvs = _cached_calibration(data, io, calibration)
        notes.append(f"activation ranges: least-squared-error clipping of histograms over {calibration.describe()}; "
                     f"image inputs pinned to their declared range")
    try:
        result = quantizer.quantize(qsvs, enable_progress_bar=False, enable_progress_report=False)
    except Exception as exc:
        raise ExportError(f"ai-edge-quantizer could not quantize to {precision}: {first_line(exc)}") from exc
    with atomic_path(out_path) as tmp:
        tmp.write_bytes(bytes(result.quantized_model))
    return [DESCRIPTIONS[precision], *notes]


DESCRIPTIONS = {
    "fp16": "ai-edge-quantizer: fp16 weights (float casting), fp32 compute",
    "w8": "ai-edge-quantizer: int8 per-channel weights, dequantized to fp32 for compute",
    "int8-dynamic": "ai-edge-quantizer: int8 per-channel weights, activations quantized at run time (dynamic range)",
    "int8": "ai-edge-quantizer: static int8, per-channel weights, calibrated per-tensor activations, float I/O",
}


def _recipe(aeq: Any, precision: str, float_scopes: Iterable[str]) -> list[dict[str, Any]]:
    qt = aeq.qtyping
    op = qt.TFLOperationName
    manager = aeq.recipe_manager.RecipeManager()
    if precision == "fp16":
        manager.add_quantization_config(
            ".*", op.ALL_SUPPORTED,
            qt.OpQuantizationConfig(weight_tensor_config=qt.TensorQuantizationConfig(
                num_bits=16, dtype=qt.TensorDataType.FLOAT), compute_precision=qt.ComputePrecision.FLOAT,
                explicit_dequantize=True),
            aeq.algorithm_manager.AlgorithmName.FLOAT_CASTING)
    elif precision == "w8":
        manager.add_weight_only_config(".*", op.ALL_SUPPORTED, 8)
    elif precision == "int8-dynamic":
        manager.add_dynamic_config(".*", op.ALL_SUPPORTED, 8)
    else:
        manager.add_static_config(".*", op.ALL_SUPPORTED, activation_num_bits=8, weight_num_bits=8)
        for io_op in (op.INPUT, op.OUTPUT):
            manager.add_quantization_config(".*", io_op, None, aeq.algorithm_manager.AlgorithmName.NO_QUANTIZE)
    for scope in sorted(set(float_scopes)):
        manager.add_quantization_config("^" + re.escape(scope) + "$", op.ALL_SUPPORTED, None,
                                        aeq.algorithm_manager.AlgorithmName.NO_QUANTIZE)
    return manager.get_quantization_recipe()


class _Graph:
    """The main subgraph of a .tflite: op types, op scopes (as ai-edge-quantizer names them), edges."""

    def __init__(self, fb: Any, data: bytes):
        model = fb.read_model(data)
        sub = model.subgraphs[0]
        codes = model.operatorCodes
        self.types = [fb.TFL_OP_CODE_TO_NAME.get(codes[o.opcodeIndex].builtinCode, "?") for o in sub.operators]
        self.scopes = [fb.get_op_scope(o, sub.tensors) for o in sub.operators]
        self.inputs = [[int(t) for t in o.inputs if t >= 0] for o in sub.operators]
        self.outputs = [[int(t) for t in o.outputs if t >= 0] for o in sub.operators]
        self.producer = {t: i for i, outs in enumerate(self.outputs) for t in outs}
        self.consumers: dict[int, list[int]] = {}
        for i, ins in enumerate(self.inputs):
            for t in ins:
                self.consumers.setdefault(t, []).append(i)
        self.graph_inputs = {int(t) for t in sub.inputs}
        # names of constant inputs (weights): a layer whose output is a graph output is named after the
        # signature output, but its weights still carry the module path
        self.weight_names = [";".join(fb.get_tensor_name(sub.tensors[t]) for t in ins
                                      if t not in self.producer and t not in self.graph_inputs)
                             for ins in self.inputs]
        self.quantized = any(t.quantization is not None and t.quantization.scale is not None
                             and len(t.quantization.scale) for t in sub.tensors)

    def activations(self, op: int) -> list[int]:
        return [t for t in self.inputs[op] if t in self.producer or t in self.graph_inputs]

    def module_ops(self, names: Sequence[str]) -> dict[str, set[int]]:
        """Ops whose scope lies under each torch module path."""
        found = {}
        for name in names:
            levels = "/".join(rf"[^/;]*_{re.escape(part)}" for part in name.split("."))
            pattern = re.compile(rf"(?:^|;)[^/;]*NamedIO/[^/;]*_module/{levels}(?:[/;]|$)")
            found[name] = {i for i, scope in enumerate(self.scopes) if pattern.search(scope)
                           or (self.types[i] in WEIGHTED_OPS and pattern.search(self.weight_names[i]))}
        return found

    def grow(self, seeds: set[int]) -> set[int]:
        """Seeds plus the single-input weightless ops chained to them on either side."""
        region = set(seeds)
        todo = list(seeds)
        while todo:
            i = todo.pop()
            for t in self.outputs[i]:                     # forward: tanh, relu, reshape after
                for c in self.consumers.get(t, ()):
                    if c not in region and self.types[c] not in WEIGHTED_OPS and len(self.activations(c)) == 1:
                        region.add(c)
                        todo.append(c)
            for t in self.activations(i):                 # backward: pad, transpose before
                p = self.producer.get(t)
                if (p is not None and p not in region and self.types[p] not in WEIGHTED_OPS
                        and len(self.activations(p)) == 1 and len(self.consumers.get(t, ())) == 1):
                    region.add(p)
                    todo.append(p)
        return region


_LAST_CALIBRATION: list[tuple[str, Any, dict[str, dict[str, np.ndarray]]]] = []


def _cached_calibration(model: bytes, io: IOSpec, calibration: Any) -> dict[str, dict[str, np.ndarray]]:
    """`calibrate`, remembered for the last (model bytes, calibration set): `--auto` requantizes one
    float model many times with different float layers, and the ranges do not change."""
    import hashlib

    digest = hashlib.sha256(model).hexdigest()
    for key, cal, qsvs in _LAST_CALIBRATION:
        if key == digest and cal is calibration:
            return qsvs
    qsvs = calibrate(model, io, calibration.samples)
    _LAST_CALIBRATION[:] = [(digest, calibration, qsvs)]
    return qsvs


def calibrate(model: bytes, io: IOSpec, samples: Sequence[Sequence[Any]],
              bins: int = HISTOGRAM_BINS) -> dict[str, dict[str, np.ndarray]]:
    """{tensor name: {"min", "max"}} for every float activation of the model, from `samples`.

    Two passes: the global min/max of each tensor, then its histogram over that span, from
    which `clip_range` picks the int8 range with the least expected squared error (rounding
    inside, clipping outside). Image inputs take their declared range.
    """
    from ai_edge_quantizer.utils import tfl_flatbuffer_utils as fb
    from ai_edge_quantizer.utils import tfl_interpreter_utils as tiu

    flat = fb.read_model(model)
    sub = flat.subgraphs[0]
    names = {fb.get_tensor_name(t) for t in sub.tensors
             if fb.get_tensor_data(t, flat.buffers) is None and t.type == 0}   # 0: FLOAT32 activations
    with warnings.catch_warnings():   # "preserve_all_tensors is intended for debugging": it is what calibration needs
        warnings.simplefilter("ignore", UserWarning)
        interpreter = tiu.create_tfl_interpreter(model, use_xnnpack=False, num_threads=1, preserve_all_tensors=True)
    feed = _feeder(interpreter, io)

    def activations() -> Iterable[tuple[str, np.ndarray]]:
        for sample in samples:
            tiu.invoke_interpreter_signature(interpreter, feed(sample), SIGNATURE)
            for name, value in tiu.get_tensor_name_to_content_map(interpreter, 0).items():
                if name in names and value is not None and np.size(value):
                    yield name, np.asarray(value)

    lo: dict[str, float] = {}
    hi: dict[str, float] = {}
    ranks: dict[str, int] = {}
    for name, value in activations():
        lo[name] = min(lo.get(name, np.inf), float(np.min(value)))
        hi[name] = max(hi.get(name, -np.inf), float(np.max(value)))
        ranks[name] = value.ndim
    hists: dict[str, np.ndarray] = {}
    for name, value in activations():
        if hi[name] > lo[name]:
            h, _ = np.histogram(value, bins=bins, range=(lo[name], hi[name]))
            hists[name] = hists.get(name, 0) + h
    ranges = {name: clip_range(lo[name], hi[name], hists[name]) if name in hists else (lo[name], hi[name])
              for name in lo}
    details = interpreter.get_signature_runner(SIGNATURE).get_input_details()
    for spec in io.inputs:
        if spec.kind == "image" and spec.name in details:
            ranges[details[spec.name]["name"]] = (float(spec.range[0]), float(spec.range[1]))
    return {name: {"min": np.full((1,) * ranks.get(name, 1), r[0], np.float32),
                   "max": np.full((1,) * ranks.get(name, 1), r[1], np.float32)} for name, r in ranges.items()}


def clip_range(lo: float, hi: float, hist: np.ndarray, levels: int = 256, steps: int = 33) -> tuple[float, float]:
    """The [min, max] to quantize a tensor with histogram `hist` over [lo, hi] into `levels` steps.

    Candidates shrink each end of the span (which always contains 0) by 0..60% in `steps` steps
    (clipping harder scored lower end to end on a junyanz ResNet: the rounding noise a clipped
    range saves is less than what clipping costs once InstanceNorm rescales it);
    the expected squared error of a candidate is step^2 / 12 for the values inside it plus the
    squared distance to the nearest end for the values outside (clipping). Min/max itself is a
    candidate, so this never does worse than min/max on the calibration data.
    """
    lo0, hi0 = min(lo, 0.0), max(hi, 0.0)
    p = np.asarray(hist, np.float64)
    if p.sum() <= 0:
        return lo0, hi0
    p = p / p.sum()
    edges = np.linspace(lo, hi, len(p) + 1)
    centers = (edges[:-1] + edges[1:]) / 2
    keep = 1.0 - np.linspace(0.0, 0.6, steps)
    qlo = (lo0 * keep)[:, None]                                           # (steps, 1)
    qhi = (hi0 * keep)[None, :]                                           # (1, steps)
    step = np.maximum(qhi - qlo, 1e-12) / (levels - 1)                    # (steps, steps)
    below = np.maximum(qlo[..., None] - centers, 0.0)                     # (steps, 1, bins)
    above = np.maximum(centers - qhi[..., None], 0.0)                     # (1, steps, bins)
    clipped = below ** 2 + above ** 2
    inside = (below == 0) & (above == 0)
    err = (p * (clipped + inside * (step[..., None] ** 2) / 12.0)).sum(axis=-1)
    i, j = np.unravel_index(int(np.argmin(err)), err.shape)
    return float(qlo[i, 0]), float(qhi[0, j])


def _feeder(interpreter: Any, io: IOSpec) -> Any:
    """Turn an IOSpec sample (NCHW images) into the signature's named inputs (NHWC where it takes NHWC)."""
    details = interpreter.get_signature_runner(SIGNATURE).get_input_details()
    missing = [s.name for s in io.inputs if s.name not in details]
    if missing:
        raise ExportError(f"the .tflite signature lacks inputs {missing} (has {sorted(details)})")
    nhwc = {s.name: s.kind == "image" and is_nhwc(tuple(details[s.name]["shape"]), s.channels) for s in io.inputs}

    def feed(sample: Sequence[Any]) -> dict[str, np.ndarray]:
        out = {}
        for spec, x in zip(io.inputs, sample):
            arr = to_numpy(x)
            out[spec.name] = np.ascontiguousarray(arr.transpose(0, 2, 3, 1)) if nhwc[spec.name] else arr
        return out

    return feed


def transform(float_path: str | Path, out_path: str | Path, precision: str, io: IOSpec, *, calibration: Any = None,
              keep_float: Sequence[str] = (), module: Any = None) -> list[str]:
    """The tflite rows' artifact-stage recipe (`Recipe.transform`): `quantize_tflite`."""
    return quantize_tflite(float_path, out_path, precision, io, calibration=calibration, keep_float=keep_float)
