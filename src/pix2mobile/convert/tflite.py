"""TFLite (.tflite) through litert-torch, no TensorFlow; verified with the ai-edge-litert interpreter.

- Inputs and outputs carry the IOSpec names (the module is traced with keyword inputs and a
  dict output, which litert-torch turns into signature names).
- `channel_last` (default): image inputs and outputs are NHWC, as Android bitmaps come.
- litert-torch 0.10 cannot lower `ConvTranspose2d(output_padding=1)`; we convert a deep copy
  rewritten by `rewrite.padding_free_conv_transpose` (see there), and BicycleGAN's z maps through
  `rewrite.expand_as_resize` (its expands otherwise yield a file the interpreter refuses).
- `mobile_graph` rewrites (`PLAN`, measured on fast_style/lite at 256x256, 2 threads): reflection
  padding as slices (litert-torch writes MIRROR_PAD, which splits the XNNPACK delegate: 82 ms vs
  31 ms), InstanceNorm written out (litert-torch wraps each norm's MEANs in layout TRANSPOSEs: 30
  of 231 ops; written out on NHWC it needs none), scaled for fp16 (LiteRT's GPU delegate computes
  in fp16). Nearest upsampling stays RESIZE_NEAREST_NEIGHBOR. johnson's upsample + 3x3 conv
  layers become one TRANSPOSE_CONV each and a last conv to 3 channels a stride-2 conv per output
  parity (johnson at 256x256: 153 -> 110 ms, 1.23x -> 1.60x eager). A file asked to take several
  sizes keeps MIRROR_PAD and the plain convs (`MobilePlan.resizable`): constant slices and
  TRANSPOSE_CONV output shapes would pin them to the export size.
- litert-torch prints a rich progress tree to the console unless LITERT_TORCH_SHOW_PROGRESS
  is off; we turn it off for the duration of the call and restore it.
- Tensor names lose the Python package paths litert-torch writes into them
  (`pix2mobile.models.fast_style.ConvLayer_conv1` becomes `ConvLayer_conv1`): they were a sixth
  of a lite model's file, 8-bit or not. The module path (class_attribute per level) stays, which
  is what `convert.quantize.tflite` finds layers by; signatures are untouched.
- The written file is run once before it is renamed into place. litert-torch 0.10's default
  (min-cut) layout partitioner can produce a BROADCAST_TO the interpreter rejects ("Output shape
  must be broadcastable from input shape", BicycleGAN's z map); then we reconvert with the
  greedy partitioner and say so in the notes.

Several sizes (`ExportOptions.sizes`), two attempts, each run at every requested size against
eager (`probe_sizes`) before anything is declared:
1. The fixed graph, resized at load time (`Interpreter.resize_tensor_input` + `allocate_tensors`,
   which the signature runner does on every call). When it runs and matches, the sizes are
   declared "enumerated" and `shapes.note` says the app resizes the input at load time.
2. Otherwise litert-torch's own `dynamic_shapes` conversion (H and W as `torch.export.Dim`).
Where both fail the file is the fixed graph and `shapes.note` gives both reasons. Measured with
litert-torch 0.10: a resized fixed graph runs convolutions (strided, depthwise, transposed),
InstanceNorm and reflection padding at the new size, but a nearest upsample (RESIZE_NEAREST_NEIGHBOR
with a constant size: fast_style's up-sampling) and slices (the output_padding rewrite above:
CycleGAN) keep the export size, so their output comes out at the export size; the
`dynamic_shapes` conversion fails on InstanceNorm (jax: "Shapes must be 1D sequences of
concrete values"), reflection padding and nearest upsampling. A net of convolutions, norms and
reflection padding alone (tests/export's StyleLike) is declared at every size it was asked.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import nn

from pix2mobile.convert.common import (Exported, ExportOptions, NamedIO, SizeRequest, dynamic_hw, flexible_request,
                                      probe_sizes, tensor_info, with_input_names)
from pix2mobile.convert.mobile_graph import MobilePlan, mobile_graph
from pix2mobile.convert.rewrite import expand_as_resize, padding_free_conv_transpose
from pix2mobile.errors import ExportError
from pix2mobile.files import atomic_path
from pix2mobile.manifest import Shapes
from pix2mobile.models.spec import IOSpec
from pix2mobile.runtimes.common import as_outputs, first_line, require
from pix2mobile.runtimes.tflite import SIGNATURE

log = logging.getLogger(__name__)

PLAN = MobilePlan(reflection_pad=True, instance_norm=True, fp16_safe=True, upsample_conv=True, narrow_conv=True)
"""What `export` rewrites (see the module docstring)."""


@contextlib.contextmanager
def _quiet_litert(**env: str) -> Iterator[None]:
    """litert-torch reads its settings from the environment: set them for one call, then restore."""
    env = {"LITERT_TORCH_SHOW_PROGRESS": "n", **env}
    old = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _convert(litert_torch: Any, wrapper: nn.Module, kwargs: dict[str, torch.Tensor], dynamic_shapes: Any = None,
             **env: str) -> Any:
    try:
        with _quiet_litert(**env), torch.no_grad():
            if dynamic_shapes is None:
                return litert_torch.convert(wrapper, sample_kwargs=kwargs)
            return litert_torch.convert(wrapper, sample_kwargs=kwargs, dynamic_shapes=dynamic_shapes)
    except Exception as exc:
        raise ExportError(f"litert-torch could not convert the model: {first_line(exc)}") from exc


_PACKAGE_PATH = re.compile(r"(?<![^/;])[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*\.(?=[A-Za-z_]\w*_\w)")
"""`package.module.` before a `Class_attribute` name segment (segments start the name or follow / or ;)."""


def compact_names(path: Path) -> int:
    """Rewrite the .tflite at `path` with `_PACKAGE_PATH` dropped from tensor names; bytes saved."""
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(path))
    changed = False
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            if tensor.name:
                name = tensor.name.decode() if isinstance(tensor.name, bytes) else tensor.name
                short = _PACKAGE_PATH.sub("", name)
                if short != name:
                    tensor.name, changed = short.encode(), True
    if not changed:
        return 0
    before = path.stat().st_size
    path.write_bytes(bytes(flatbuffer_utils.convert_object_to_bytearray(model)))
    return before - path.stat().st_size


def _smoke_test(path: Path, kwargs: dict[str, torch.Tensor]) -> str | None:
    """Run the written file once; the interpreter's complaint, or None."""
    interpreter_lib = require("ai_edge_litert.interpreter", "ai-edge-litert", "TFLite verification")
    try:
        runner = interpreter_lib.Interpreter(model_path=str(path)).get_signature_runner(SIGNATURE)
        runner(**{k: v.numpy() for k, v in kwargs.items()})
    except Exception as exc:   # the interpreter raises RuntimeError/ValueError with kernel messages
        return first_line(exc, 200)
    return None


def export(module: nn.Module, example_inputs: tuple[torch.Tensor, ...], io: IOSpec, out_path: Path,
           opts: ExportOptions) -> Exported:
    if opts.precision != "fp32":
        raise ExportError("tflite exports fp32 only here (quantized variants come from quantize/), "
                          f"not {opts.precision}")
    litert_torch = require("litert_torch", "litert-torch", "TFLite export")
    request = flexible_request(opts, io)
    plan = PLAN if request is None else PLAN.resizable()
    try:
        mobile, notes = mobile_graph(module.eval(), example_inputs, plan, "tflite")
    except Exception as exc:
        raise ExportError(f"the mobile graph rewrite failed before TFLite conversion: {first_line(exc)}") from exc
    rewritten, more = padding_free_conv_transpose(mobile)
    notes += more
    wrapper: nn.Module = NamedIO(rewritten, io, channel_last=opts.channel_last).eval()
    kwargs = {s.name: (x.permute(0, 2, 3, 1).contiguous() if opts.channel_last and s.kind == "image" else x)
              for s, x in zip(io.inputs, example_inputs)}
    try:
        wrapper, more = expand_as_resize(wrapper, (), kwargs)
    except Exception as exc:
        raise ExportError(f"torch.export failed before TFLite conversion: {first_line(exc)}") from exc
    notes += more
    z_maps_rewritten = bool(more)
    edge_model = _convert(litert_torch, wrapper, kwargs)
    with atomic_path(out_path) as tmp:
        with _quiet_litert():
            edge_model.export(str(tmp))
        compact_names(tmp)
        problem = _smoke_test(tmp, kwargs)
        if problem:
            # litert-torch 0.10's min-cut layout partitioner can emit BROADCAST_TO from an NCHW
            # (N, C, 1, 1) onto an NHWC shape (z maps expanded over the image); greedy does not.
            edge_model = _convert(litert_torch, wrapper, kwargs, LAYOUT_OPTIMIZE_PARTITIONER="GREEDY")
            with _quiet_litert():
                edge_model.export(str(tmp))
            compact_names(tmp)
            notes.append(f"reconverted with LAYOUT_OPTIMIZE_PARTITIONER=GREEDY: the default layout "
                         f"partitioner's model failed in the interpreter ({problem})")
    shapes = None
    if request is not None:
        shapes = _flexible(litert_torch, module, rewritten, io, example_inputs, Path(out_path), opts, request,
                           z_maps_rewritten)
    with torch.no_grad():
        outputs = as_outputs(module(*example_inputs), io)
    inputs_info = tuple(tensor_info(s, x.shape, channel_last=opts.channel_last)
                        for s, x in zip(io.inputs, example_inputs))
    outputs_info = tuple(tensor_info(s, y.shape, channel_last=opts.channel_last) for s, y in zip(io.outputs, outputs))
    if opts.channel_last:
        notes.append("image inputs and outputs are NHWC (channel-last)")
    return Exported(Path(out_path), inputs_info, outputs_info, tuple(notes), shapes)


class _Rejected(Exception):
    """The dynamic-shape file converted but failed its probe: keep the fixed file."""


def _flexible(litert_torch: Any, module: nn.Module, rewritten: nn.Module, io: IOSpec,
              example_inputs: tuple[torch.Tensor, ...], out_path: Path, opts: ExportOptions,
              request: SizeRequest, z_maps_rewritten: bool) -> Shapes:
    """What the .tflite at `out_path` (the fixed graph) can declare; may replace it with a
    dynamic-shape conversion (see the module docstring)."""
    from pix2mobile.runtimes.tflite import load_runner

    problem = probe_sizes(load_runner(out_path, io), module, io, example_inputs, request.checked)
    if problem is None:
        return request.shapes(enumerate_range=True, note=(
            "tflite: the graph is resized at load time: call Interpreter.resize_tensor_input on the input "
            "(NHWC when channel-last), then allocate_tensors (the signature runner does both on each call)"))
    resized = f"resizing the converted graph at load time (resize_tensor_input) fails {problem}"
    if z_maps_rewritten:
        return request.fixed(f"tflite: {resized}; a dynamic-shape conversion was not tried: the z-map rewrite "
                             "(expand_as_resize) fixes the grid size")
    wrapper = with_input_names(NamedIO(rewritten, io, channel_last=opts.channel_last).eval(),
                               [s.name for s in io.inputs]).eval()
    kwargs = {s.name: (x.permute(0, 2, 3, 1).contiguous() if opts.channel_last and s.kind == "image" else x)
              for s, x in zip(io.inputs, example_inputs)}
    try:
        dims = dynamic_hw(request, io, channel_last=opts.channel_last)
        edge_model = _convert(litert_torch, wrapper, kwargs, dynamic_shapes=dims)
        with atomic_path(out_path) as tmp:
            with _quiet_litert():
                edge_model.export(str(tmp))
            compact_names(tmp)
            dynamic_problem = probe_sizes(load_runner(tmp, io), module, io, example_inputs, request.checked)
            if dynamic_problem:
                raise _Rejected(f"litert-torch's dynamic_shapes conversion runs but fails {dynamic_problem}")
    except _Rejected as exc:
        return request.fixed(f"tflite: {resized}; {exc}")
    except Exception as exc:
        text = first_line(exc.__cause__ or exc, 200)
        return request.fixed(f"tflite: {resized}; litert-torch's dynamic_shapes conversion failed ({text})")
    return request.shapes(note="tflite: converted with dynamic H and W (litert-torch dynamic_shapes); "
                               "resize the input with Interpreter.resize_tensor_input, then allocate_tensors")

