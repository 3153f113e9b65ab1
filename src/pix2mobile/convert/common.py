"""What every format module shares: options, the export result, the I/O wrapper, runner helpers.

Nothing here imports a converter. The format modules import their converter inside their
functions and raise `MissingDependencyError` naming the package when it is absent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from pix2mobile.errors import ConfigError
from pix2mobile.manifest import TensorInfo
from pix2mobile.models.spec import IOSpec, TensorSpec
from pix2mobile.runtimes.common import as_outputs

PRECISIONS = ("fp32", "fp16", "w8", "int8-dynamic", "int8", "palette6", "palette4")
"""Every precision any format exports; `FORMATS[fmt].precisions` says which each format takes.

fp32/fp16 are native to a format's converter. The others are built by `pix2mobile.convert.quantize`
(its `RECIPES` table), which prepares the module or transforms the float artifact, never the
format module itself:
- w8: int8 weights, float compute.        - int8-dynamic: int8 weights, activations quantized at run time.
- int8: int8 weights and calibrated int8 activations (static).
- palette6 / palette4: weights as indices into a 64 / 16 entry k-means table (Core ML).
"""

@dataclass(frozen=True)
class ExportOptions:
    """Options a format's `export` reads. Formats ignore the options that are not theirs.

    precision: "fp32" or "fp16" (only formats listing it accept fp16).
    channel_last: tflite image inputs/outputs in NHWC, as Android bitmaps come.
    image_io: Core ML image inputs/outputs as `ImageType` (raw 0..255 RGB pixels).
    optimize: ptl `optimize_for_mobile` where this torch has XNNPACK.
    metadata: author, license, description, version: embedded where the format has room.
    calibration: input samples (`convert.quantize.CalibrationSet`) for calibrated precisions; read by
      `pix2mobile.convert.quantize` only (formats ignore it). None: the pipeline uses built-in photos.
    keep_float: module names (as `named_modules()` spells them) that quantized precisions leave
      in float; read by `pix2mobile.convert.quantize` only.
    """

    precision: str = "fp32"
    channel_last: bool = True
    image_io: bool = True
    optimize: bool = True
    metadata: Mapping[str, str] = field(default_factory=dict)
    calibration: Any = field(default=None, compare=False, repr=False)
    keep_float: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}: choose one of {', '.join(PRECISIONS)}")
        if isinstance(self.keep_float, str) or not all(isinstance(n, str) and n for n in self.keep_float):
            raise ConfigError(f"keep_float takes a tuple of module names, got {self.keep_float!r}")


@dataclass(frozen=True)
class Exported:
    """What `export` returns: the artifact path, its I/O as the app sees it, and notes.

    Path-like (`os.fspath(exported)` is the artifact), so it goes wherever a path does.
    """

    path: Path
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    notes: tuple[str, ...] = ()

    def __fspath__(self) -> str:
        return os.fspath(self.path)


def size_of(example_inputs: Sequence[torch.Tensor], io: IOSpec,
            outputs: Sequence[torch.Tensor] = ()) -> tuple[int, int]:
    """(H, W) of the first image input, else of the first image output (the morph renders from alpha
    alone); (0, 0) when neither is an image."""
    for specs, tensors in ((io.inputs, example_inputs), (io.outputs, outputs)):
        for spec, x in zip(specs, tensors):
            if spec.kind == "image":
                return int(x.shape[-2]), int(x.shape[-1])
    return (0, 0)


def tensor_info(spec: TensorSpec, shape: Sequence[int], *, channel_last: bool = False,
                pixels: bool = False) -> TensorInfo:
    """The manifest entry of one tensor of one artifact."""
    if spec.kind == "image" and pixels:
        return TensorInfo(spec.name, tuple(shape), "NCHW", dtype="uint8", range=(0.0, 255.0), color_layout="RGB")
    if spec.kind == "image" and channel_last:
        n, c, h, w = shape
        return TensorInfo(spec.name, (n, h, w, c), "NHWC", range=spec.range)
    return TensorInfo(spec.name, tuple(shape), spec.layout, range=spec.range)


def plain_io(io: IOSpec, example_inputs: Sequence[torch.Tensor],
             example_outputs: Sequence[torch.Tensor]) -> tuple[tuple[TensorInfo, ...], tuple[TensorInfo, ...]]:
    return (tuple(tensor_info(s, x.shape) for s, x in zip(io.inputs, example_inputs)),
            tuple(tensor_info(s, y.shape) for s, y in zip(io.outputs, example_outputs)))


class NamedIO(nn.Module):
    """The module an app-facing artifact is traced from.

    Takes inputs by IOSpec name (or position), optionally NHWC images (`channel_last`), and
    returns a dict keyed by output name (converters that name outputs after dict keys do so),
    or a tuple (`dict_outputs=False`). `pixel_outputs` maps image outputs onto 0..255 so a
    platform image type can hold them.
    """

    def __init__(self, module: nn.Module, io: IOSpec, *, channel_last: bool = False,
                 pixel_outputs: bool = False, dict_outputs: bool = True):
        super().__init__()
        self.module = module
        self.io = io
        self.channel_last = channel_last
        self.pixel_outputs = pixel_outputs
        self.dict_outputs = dict_outputs
        self.train(module.training)

    def forward(self, *args: torch.Tensor, **kwargs: torch.Tensor) -> Any:
        inputs = list(args) + [kwargs[s.name] for s in self.io.inputs[len(args):]]
        if self.channel_last:
            inputs = [x.permute(0, 3, 1, 2) if s.kind == "image" else x for s, x in zip(self.io.inputs, inputs)]
        outs = as_outputs(self.module(*inputs), self.io)
        result = []
        for spec, y in zip(self.io.outputs, outs):
            if spec.kind == "image" and self.pixel_outputs:
                lo, hi = spec.range
                y = (y - lo) * (255.0 / (hi - lo))
            if spec.kind == "image" and self.channel_last:
                y = y.permute(0, 2, 3, 1)
            result.append(y)
        if self.dict_outputs:
            return {s.name: y for s, y in zip(self.io.outputs, result)}
        return tuple(result) if len(result) > 1 else result[0]

