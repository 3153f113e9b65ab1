"""Core ML: `.mlpackage` (ML Program) and `.mlmodel` (NeuralNetwork) through coremltools.

Both convert from `torch.export.export(...).run_decompositions({})`; when that path fails the
traced TorchScript module is converted instead and the notes say why.

- Image inputs are `ct.ImageType` (RGB) with scale/bias from the IOSpec range, so the app feeds
  raw 0..255 pixels; image outputs are `ct.ImageType` too (the module is wrapped to emit
  0..255), so the app gets a pixel buffer back. Latent and scalar inputs stay tensors.
- ML Program: fp16 compute precision by default, fp32 on request; iOS 16 target. An fp16 program
  is converted from `mobile_graph(FP16_PLAN)`: InstanceNorm written out with d = x - mean scaled
  by 2^-k before it is squared. Core ML's own `instance_norm` squares x - mean in fp16 on the GPU
  and Neural Engine, and johnson's first norm sees |x - mean| of 350-560 on 0..255 photos: its
  variance was inf and half its channels came out 0 (about 20 dB). fp32 programs and the
  NeuralNetwork keep the single `instance_norm` op; reflection padding stays Core ML's own pad.
- fp32 islands in an fp16 program: where the sample photo drives a tensor past
  `FP16_ISLAND_LIMIT` (65504 / 4), the op making it and every op reading it stay fp32
  (`ct.transform.FP16ComputePrecision(op_selector=...)`, op names = the `torch.export` node
  names), found by running the exported graph once in torch (`fp32_islands`). cyclegan/vgg_unet
  needs it: its encoder is VGG19 with Caffe weights on 0..255 inputs, activations reach 8.6e6
  and the decoder's first convs 2e7 (no power-of-two scaling fits that into fp16 without
  changing every norm's eps); its all-fp16 program computed inf. With 54 fp32 ops it scores
  66.1 dB at 256x256 and 65.7 dB at 512x512 (`benchmark.coreml_fp16`). The Neural Engine
  computes fp16 only: such ops run on the GPU or CPU, and the notes name them. Ops of a traced
  (TorchScript fallback) conversion have other names: it gets no islands.
- NeuralNetwork: fp32, iOS 13 target (iOS 14 if 13 cannot express the model).
- Author, licence, description, version and per-input/output descriptions go into the model
  metadata; `pix2mobile.io` holds the IOSpec as JSON.

coremltools converts on Linux but cannot predict there; `coreml_eval.CoreMLModel` (a numpy
evaluator of saved models, fp16 programs with fp16 intermediates) is the runner.

Several sizes (`ExportOptions.sizes`): the image input takes `ct.EnumeratedShapes` (the
requested sizes, the primary as default), converted from `torch.export` with dynamic H and W
(coremltools refuses enumerated shapes over a static program), else from the trace. Enumerated,
not `ct.RangeDim`, even for a range: Core ML compiles each enumerated shape ahead and each can
run on the Neural Engine, while a RangeDim model runs there only at its default shape (others
fall back to GPU/CPU, per Apple's Core ML engineers); so a range is declared as the sizes it
verified (`SizeRequest.checked`), at most 128 (coremltools' limit). Below iOS 18 only one input
may be enumerated: latents and scalars stay fixed. The NeuralNetwork converter cannot give an
image output symbolic dimensions ("Image output ... has symbolic dimensions"), so a flexible
`.mlmodel` is converted with tensor outputs and its image outputs are then declared as images
with the same enumerated sizes, the fields the converter itself writes for a fixed image output.
When no flexible conversion succeeds the file is the fixed one and `shapes.note` says why.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from pix2mobile.convert.common import (Exported, ExportOptions, NamedIO, SizeRequest, dynamic_hw, flexible_request,
                                      size_of, tensor_info, with_input_names)
from pix2mobile.convert.mobile_graph import MobilePlan, mobile_graph
from pix2mobile.errors import ExportError
from pix2mobile.files import atomic_dir, atomic_path
from pix2mobile.manifest import Shapes
from pix2mobile.models.spec import IOSpec, TensorSpec
from pix2mobile.runtimes.common import as_outputs, first_line, require

log = logging.getLogger(__name__)

FP16_PLAN = MobilePlan(instance_norm=True, fp16_safe=True)
"""What an fp16 ML Program is converted from (see the module docstring)."""
FP16_ISLAND_LIMIT = 65504.0 / 4.0
"""A tensor whose largest |value| on the sample photo passes this is computed in fp32 (4x headroom)."""


def fp32_islands(program: Any, example_inputs: tuple[torch.Tensor, ...],
                 limit: float = FP16_ISLAND_LIMIT) -> dict[str, float]:
    """Nodes of an exported program to keep fp32, with the largest |value| that put them there.

    A node is kept when its own output passes `limit` on `example_inputs` or when it reads one
    that does (an fp16 op reading it would cast it to fp16 first: inf)."""
    peaks: dict[str, float] = {}

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n: Any) -> Any:
            out = super().run_node(n)
            if isinstance(out, torch.Tensor) and out.is_floating_point() and out.numel():
                peaks[n.name] = float(out.detach().abs().max())
            return out

    graph_module = program.module()
    with torch.no_grad():
        Recorder(graph_module).run(*example_inputs)
    hot = {name: peak for name, peak in peaks.items() if peak > limit}
    islands = dict(hot)
    for node in graph_module.graph.nodes:
        reads = [hot[a.name] for a in node.all_input_nodes if a.name in hot]
        if reads and node.name not in islands and node.op == "call_function":
            islands[node.name] = max(reads)
    return islands


def export_mlpackage(module: nn.Module, example_inputs: tuple[torch.Tensor, ...], io: IOSpec, out_path: Path,
                     opts: ExportOptions) -> Exported:
    return _export(module, example_inputs, io, Path(out_path), opts, backend="mlprogram")


def export_mlmodel(module: nn.Module, example_inputs: tuple[torch.Tensor, ...], io: IOSpec, out_path: Path,
                   opts: ExportOptions) -> Exported:
    if opts.precision != "fp32":
        raise ExportError(f"mlmodel (NeuralNetwork) exports fp32 only, not {opts.precision}")
    return _export(module, example_inputs, io, Path(out_path), opts, backend="neuralnetwork")


MAX_ENUMERATED = 128
"""Most shapes coremltools' EnumeratedShapes takes."""


def _ct_inputs(ct: Any, io: IOSpec, example_inputs: Sequence[torch.Tensor], image_io: bool,
               request: SizeRequest | None = None) -> list[Any]:
    out = []
    for spec, x in zip(io.inputs, example_inputs):
        shape: Any = tuple(x.shape)
        if request is not None and spec.kind == "image":
            shape = ct.EnumeratedShapes(shapes=[(*shape[:2], h, w) for h, w in request.checked], default=shape)
        if spec.kind == "image" and image_io and spec.channels in (1, 3):
            lo, hi = spec.range
            layout = ct.colorlayout.RGB if spec.channels == 3 else ct.colorlayout.GRAYSCALE
            bias = [lo] * 3 if spec.channels == 3 else lo
            out.append(ct.ImageType(name=spec.name, shape=shape, scale=(hi - lo) / 255.0, bias=bias,
                                    color_layout=layout))
        else:
            out.append(ct.TensorType(name=spec.name, shape=shape, dtype=np.float32))
    return out


def _ct_outputs(ct: Any, io: IOSpec, image_io: bool, tensors_only: bool = False) -> list[Any]:
    out = []
    for spec in io.outputs:
        if spec.kind == "image" and image_io and spec.channels in (1, 3) and not tensors_only:
            layout = ct.colorlayout.RGB if spec.channels == 3 else ct.colorlayout.GRAYSCALE
            out.append(ct.ImageType(name=spec.name, color_layout=layout))
        else:
            out.append(ct.TensorType(name=spec.name))
    return out


def _describe(spec: TensorSpec, pixels: bool) -> str:
    lo, hi = spec.range
    if pixels:
        colour = "RGB" if spec.channels == 3 else "grayscale"
        return f"{colour} image, raw pixels 0..255 (the model works on [{lo:g}, {hi:g}] internally)"
    return f"{spec.kind} {spec.layout} float32, range [{lo:g}, {hi:g}]"


def _export(module: nn.Module, example_inputs: tuple[torch.Tensor, ...], io: IOSpec, out_path: Path,
            opts: ExportOptions, backend: str) -> Exported:
    ct = require("coremltools", "coremltools", "Core ML export")
    image_in = {s.name: opts.image_io and s.kind == "image" and s.channels in (1, 3) for s in io.inputs}
    image_out = {s.name: opts.image_io and s.kind == "image" and s.channels in (1, 3) for s in io.outputs}
    notes: list[str] = []
    if backend == "mlprogram" and opts.precision == "fp16":
        try:
            module, notes = mobile_graph(module.eval(), example_inputs, FP16_PLAN, "mlpackage fp16")
        except Exception as exc:
            raise ExportError(f"the fp16 InstanceNorm rewrite failed before Core ML conversion: {first_line(exc)}") \
                from exc
    wrapper = NamedIO(module.eval(), io, pixel_outputs=opts.image_io, dict_outputs=False).eval()
    if backend == "mlprogram":
        targets = [ct.target.iOS16]
        kwargs: dict[str, Any] = {"convert_to": "mlprogram", "compute_precision":
                                  ct.precision.FLOAT16 if opts.precision == "fp16" else ct.precision.FLOAT32}
    else:
        targets = [ct.target.iOS13, ct.target.iOS14]
        kwargs = {"convert_to": "neuralnetwork"}
    fmt_name = "mlpackage" if backend == "mlprogram" else "mlmodel"
    with torch.no_grad():
        ref = as_outputs(module(*example_inputs), io)
    request = flexible_request(opts, io)
    shapes: Shapes | None = None
    model = None
    if request is not None and len(request.checked) > MAX_ENUMERATED:
        shapes = request.fixed(f"{fmt_name}: {len(request.checked)} sizes asked; Core ML enumerates at most "
                               f"{MAX_ENUMERATED}")
    elif request is not None:
        attempt: list[str] = []
        model = _convert_model(ct, wrapper, example_inputs, io, opts, request, targets, kwargs, attempt, backend)
        if model is not None and backend == "neuralnetwork":
            model = _declare_image_outputs(ct, model, io, opts, example_inputs, ref, request)
        if model is None:
            shapes = request.fixed(f"{fmt_name}: the enumerated-shape conversion failed ({attempt[-1]})")
            log.warning("%s; exporting the primary size only", shapes.note)
        else:
            notes += attempt
            range_note = (f"{fmt_name}: the range {request.range} is declared as the {len(request.checked)} sizes "
                          "verified, as EnumeratedShapes: Core ML runs each enumerated shape on the Neural Engine, "
                          "a RangeDim input only at its default shape" if request.range is not None else None)
            shapes = request.shapes(enumerate_range=True, note=range_note)
            notes.append("image input sizes enumerated (ct.EnumeratedShapes): "
                         + ", ".join(f"{h}x{w}" for h, w in request.checked))
    if model is None:
        attempt = []
        model = _convert_model(ct, wrapper, example_inputs, io, opts, None, targets, kwargs, attempt, backend)
        if model is None:
            raise ExportError(f"coremltools could not convert the model: {attempt[-1]}")
        notes += attempt
    if opts.precision == "fp16" and backend == "mlprogram":
        notes.append("fp16 compute precision (inputs and outputs stay fp32/images)")

    meta = dict(opts.metadata)
    model.author = meta.get("author", "")
    model.license = meta.get("license", "")
    model.short_description = meta.get("description", "")
    if "version" in meta:
        model.version = meta["version"]
    for spec in io.inputs:
        model.input_description[spec.name] = _describe(spec, image_in[spec.name])
    for spec in io.outputs:
        model.output_description[spec.name] = _describe(spec, image_out[spec.name])
    model.user_defined_metadata["pix2mobile.io"] = json.dumps(io.to_json(size_of(example_inputs, io, ref)))
    for key, value in meta.items():
        if key not in ("author", "license", "description", "version"):
            model.user_defined_metadata[f"pix2mobile.{key}"] = str(value)

    if backend == "mlprogram":
        save_mlpackage(model, out_path)
    else:
        with atomic_path(out_path) as tmp:
            model.save(str(tmp))

    inputs_info = tuple(tensor_info(s, x.shape, pixels=image_in[s.name]) for s, x in zip(io.inputs, example_inputs))
    outputs_info = tuple(tensor_info(s, y.shape, pixels=image_out[s.name]) for s, y in zip(io.outputs, ref))
    return Exported(out_path, inputs_info, outputs_info, tuple(notes), shapes)


def _convert_model(ct: Any, wrapper: nn.Module, example_inputs: tuple[torch.Tensor, ...], io: IOSpec,
                   opts: ExportOptions, request: SizeRequest | None, targets: list[Any], kwargs: dict[str, Any],
                   notes: list[str], backend: str) -> Any:
    """The converted model (None when every path failed; `notes` then ends with the last error).

    From `torch.export` (with dynamic H and W when `request` asks for several sizes), else from
    the trace. A flexible NeuralNetwork gets tensor outputs, declared images afterwards."""
    flexible_nn = request is not None and backend == "neuralnetwork"
    inputs = _ct_inputs(ct, io, example_inputs, opts.image_io, request)
    outputs = _ct_outputs(ct, io, opts.image_io, tensors_only=flexible_nn)
    errors: list[str] = []

    def convert(source: Any, source_name: str, islands: dict[str, float] | None = None) -> Any:
        settings = dict(kwargs)
        if islands:
            settings["compute_precision"] = ct.transform.FP16ComputePrecision(
                op_selector=lambda op: op.name not in islands)
        for target in targets:
            try:
                model = ct.convert(source, inputs=inputs, outputs=outputs, minimum_deployment_target=target,
                                   skip_model_load=True, **settings)
            except Exception as exc:
                errors.append(f"{source_name}, {target.name}: {first_line(exc, 200)}")
                continue
            notes.append(f"converted from {source_name}, minimum deployment target {target.name}")
            return model
        return None

    model = None
    try:
        with torch.no_grad():
            if request is None:
                program = torch.export.export(wrapper, example_inputs)
            else:
                named = with_input_names(wrapper, [s.name for s in io.inputs]).eval()
                program = torch.export.export(named, example_inputs, dynamic_shapes=dynamic_hw(request, io))
            program = program.run_decompositions({})
        islands = None
        if kwargs.get("compute_precision") is ct.precision.FLOAT16:
            islands = fp32_islands(program, example_inputs)
        model = convert(program, "torch.export", islands)
        if model is not None and islands:
            top = sorted(islands, key=islands.__getitem__, reverse=True)
            notes.append(f"fp16 with {len(islands)} op(s) kept fp32 (values past {FP16_ISLAND_LIMIT:g} on the "
                         f"sample photo, up to {islands[top[0]]:.3g}; they run on the GPU/CPU, not the "
                         f"Neural Engine): {', '.join(top[:6])}{', ...' if len(top) > 6 else ''}")
    except Exception as exc:
        errors.append(f"torch.export: {first_line(exc, 200)}")
    if model is None:
        fallback = f"torch.export path failed ({errors[-1]}); fell back to traced TorchScript"
        try:
            with torch.no_grad():
                traced = torch.jit.trace(wrapper, example_inputs, strict=False)
        except Exception as exc:
            if request is not None:
                notes.append(f"torch.export and torch.jit.trace both failed: {first_line(exc)}")
                return None
            raise ExportError(f"Core ML: torch.export and torch.jit.trace both failed: {first_line(exc)}") from exc
        model = convert(traced, "torch.jit.trace")
        if model is not None:
            notes.insert(len(notes) - 1, fallback)
    if model is None:
        notes.append(errors[-1])
    return model


def _declare_image_outputs(ct: Any, model: Any, io: IOSpec, opts: ExportOptions,
                           example_inputs: Sequence[torch.Tensor], ref: Sequence[torch.Tensor],
                           request: SizeRequest) -> Any:
    """A NeuralNetwork converted with tensor outputs, its image outputs declared as images of the
    enumerated sizes: the output of an HxW input is HxW scaled as at the export size, in the
    fields coremltools writes for a fixed image output (colour space, width, height)."""
    spec = model.get_spec()
    in_h, in_w = size_of(example_inputs, io)
    for tensor_spec, y in zip(io.outputs, ref):
        if not (tensor_spec.kind == "image" and opts.image_io and tensor_spec.channels in (1, 3)):
            continue
        out_h, out_w = int(y.shape[-2]), int(y.shape[-1])
        feature = next(f for f in spec.description.output if f.name == tensor_spec.name)
        image = feature.type.imageType            # selecting it clears the multiArrayType
        image.colorSpace = (ct.proto.FeatureTypes_pb2.ImageFeatureType.RGB if tensor_spec.channels == 3
                            else ct.proto.FeatureTypes_pb2.ImageFeatureType.GRAYSCALE)
        image.height, image.width = out_h, out_w
        for h, w in request.checked:
            size = image.enumeratedSizes.sizes.add()
            size.height, size.width = h * out_h // in_h, w * out_w // in_w
    return ct.models.MLModel(spec, skip_model_load=True)


def save_mlpackage(model: Any, out_path: Path) -> None:
    """Save a coremltools ML Program as `out_path` atomically.

    `MLModel.save` wants a path ending in `.mlpackage`; it saves into the temporary folder under
    such a name, its contents are moved up, and `atomic_dir` renames the folder into place.
    """
    with atomic_dir(out_path) as tmp:
        staged = tmp / f"staged{out_path.suffix}"
        model.save(str(staged))
        for child in staged.iterdir():
            shutil.move(str(child), str(tmp / child.name))
        staged.rmdir()
