"""What every format module shares: options, the export result, the I/O wrapper, runner helpers,
and the sizes an export is asked to accept (`SizeRequest`).

Nothing here imports a converter. The format modules import their converter inside their
functions and raise `MissingDependencyError` naming the package when it is absent.
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from pix2mobile.errors import ConfigError
from pix2mobile.manifest import Shapes, TensorInfo
from pix2mobile.models.spec import IOSpec, TensorSpec
from pix2mobile.runtimes.common import as_outputs, first_line, to_numpy

Size = tuple[int, int]

PRECISIONS = ("fp32", "fp16", "w8", "int8-dynamic", "int8", "palette6", "palette4")
"""Every precision any format exports; `FORMATS[fmt].precisions` says which each format takes.

fp32/fp16 are native to a format's converter. The others are built by `pix2mobile.convert.quantize`
(its `RECIPES` table), which prepares the module or transforms the float artifact, never the
format module itself:
- w8: int8 weights, float compute.        - int8-dynamic: int8 weights, activations quantized at run time.
- int8: int8 weights and calibrated int8 activations (static).
- palette6 / palette4: weights as indices into a 64 / 16 entry k-means table (Core ML).
"""

def size_text(size: Size) -> str:
    """`(H, W)` as the manifest and the CLI spell it: "HxW"."""
    return f"{size[0]}x{size[1]}"


@dataclass(frozen=True)
class SizeRange:
    """Every (H, W) with `min` <= (H, W) <= `max` side by side, in multiples of the request's `multiple`."""

    min: Size
    max: Size

    def __post_init__(self) -> None:
        if self.min[0] > self.max[0] or self.min[1] > self.max[1]:
            raise ConfigError(f"size range {size_text(self.min)}-{size_text(self.max)}: the lower corner must not "
                              "exceed the upper one")

    def contains(self, size: Size) -> bool:
        return self.min[0] <= size[0] <= self.max[0] and self.min[1] <= size[1] <= self.max[1]

    def __str__(self) -> str:
        return f"{size_text(self.min)}-{size_text(self.max)}"


@dataclass(frozen=True)
class SizeRequest:
    """The input sizes an export is asked to make its artifacts accept.

    sizes: the explicit sizes, the primary first (the export size: tracing, the io shapes, the
      row's `Parity`, calibration); `range`: at most one range, which holds every explicit size;
      `multiple`: H and W of a range member are multiples of it (the variant's `size_multiple`).
    Each format makes what it can of it (`Exported.shapes`) and the pipeline parity-gates every
    size the artifact declares: for a range, `checked` (the explicit sizes and both corners).
    """

    sizes: tuple[Size, ...]
    range: SizeRange | None = None
    multiple: int = 1

    def __post_init__(self) -> None:
        if not self.sizes:
            raise ConfigError("a size request needs at least one size (the primary)")
        if self.multiple < 1:
            raise ConfigError(f"size multiple must be >= 1, got {self.multiple}")
        if self.range is not None:
            outside = [s for s in self.sizes if not self.range.contains(s)]
            if outside:
                raise ConfigError(f"size {size_text(outside[0])} lies outside the range {self.range}; "
                                  "give sizes inside it or widen the range")

    @classmethod
    def single(cls, size: Size) -> SizeRequest:
        return cls((size,))

    @property
    def primary(self) -> Size:
        return self.sizes[0]

    @property
    def flexible(self) -> bool:
        return len(self.checked) > 1

    @property
    def checked(self) -> tuple[Size, ...]:
        """The sizes every flexible artifact is verified at: the explicit ones (primary first), then the
        range's corners."""
        out: list[Size] = []
        for s in (*self.sizes, *((self.range.min, self.range.max) if self.range else ())):
            if s not in out:
                out.append(s)
        return tuple(out)

    @property
    def bounds(self) -> tuple[Size, Size]:
        """(smallest H, W), (largest H, W) any requested size reaches."""
        checked = self.checked
        return ((min(s[0] for s in checked), min(s[1] for s in checked)),
                (max(s[0] for s in checked), max(s[1] for s in checked)))

    def shapes(self, *, enumerate_range: bool = False, note: str | None = None) -> Shapes:
        """What an artifact that takes the whole request declares (a range listed as its `checked`
        sizes when `enumerate_range`)."""
        if not self.flexible:
            return Shapes(kind="fixed", sizes=(self.primary,), note=note)
        if self.range is not None and not enumerate_range:
            return Shapes(kind="range", sizes=self.checked, min=self.range.min, max=self.range.max,
                          multiple=self.multiple, note=note)
        return Shapes(kind="enumerated", sizes=self.checked, note=note)

    def fixed(self, note: str | None = None) -> Shapes:
        """What an artifact that takes only the primary size declares; `note` says why."""
        return Shapes(kind="fixed", sizes=(self.primary,), note=note)

    def describe(self) -> str:
        parts = [size_text(s) for s in self.sizes]
        if self.range is not None:
            parts.append(str(self.range))
        return ", ".join(parts)


def dynamic_hw(request: SizeRequest, io: IOSpec, *, channel_last: bool = False) -> dict[str, Any]:
    """`torch.export` dynamic shapes, by input name, for every image input of `io`: H and W as
    `multiple * Dim` bounded by the request (a side that never changes stays static); None for
    latents and scalars. All image inputs share the two dims."""
    from torch.export import Dim

    (lo_h, lo_w), (hi_h, hi_w) = request.bounds
    m = request.multiple

    def dim(name: str, lo: int, hi: int) -> Any:
        if lo == hi:
            return None
        if lo % m or hi % m:
            raise ConfigError(f"size bounds {lo}..{hi} are not multiples of {m}")
        d = Dim(name, min=lo // m, max=hi // m)
        return d if m == 1 else m * d

    h, w = dim("h", lo_h, hi_h), dim("w", lo_w, hi_w)
    axes = (1, 2) if channel_last else (2, 3)
    out: dict[str, Any] = {}
    for spec in io.inputs:
        if spec.kind == "image":
            out[spec.name] = {a: d for a, d in zip(axes, (h, w)) if d is not None} or None
        else:
            out[spec.name] = None
    return out


def has_image_input(io: IOSpec) -> bool:
    return any(s.kind == "image" for s in io.inputs)


def flexible_request(opts: ExportOptions, io: IOSpec) -> SizeRequest | None:
    """The request an exporter should try to honour: several sizes and an image input to vary, or None."""
    request = opts.sizes
    return request if request is not None and request.flexible and has_image_input(io) else None


class _Signed(nn.Module):
    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner
        self.train(inner.training)


def with_input_names(module: nn.Module, names: Sequence[str]) -> nn.Module:
    """`module` (a `NamedIO`, which takes `*args, **kwargs`) behind a forward whose signature names
    each input: `torch.export` binds `dynamic_shapes` to inputs by name and cannot through a
    variadic signature ("Must provide a tree_name when there might be a mismatch")."""
    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names]

    def forward(self: _Signed, *args: torch.Tensor, **kwargs: torch.Tensor) -> Any:
        return self.inner(*args, **kwargs)

    forward.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    cls = type("NamedInputs", (_Signed,), {"forward": forward})
    return cls(module)


def inputs_at(io: IOSpec, example_inputs: Sequence[torch.Tensor], size: Size,
              seed: int = 0) -> tuple[torch.Tensor, ...]:
    """`example_inputs` with every image input replaced by seeded noise in its range at `size`."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for spec, x in zip(io.inputs, example_inputs):
        if spec.kind == "image":
            lo, hi = spec.range
            out.append(torch.rand((x.shape[0], x.shape[1], *size), generator=gen) * (hi - lo) + lo)
        else:
            out.append(x)
    return tuple(out)


PROBE_TOLERANCE = 0.02
"""Largest |artifact - eager| on the [0, 1] scale `probe_sizes` lets pass: a file that runs at a
size but with shapes baked in at another computes nonsense or the wrong shape, far beyond this."""


def probe_sizes(run: Callable[[tuple[torch.Tensor, ...]], Sequence[Any]], module: nn.Module, io: IOSpec,
                example_inputs: Sequence[torch.Tensor], sizes: Sequence[Size]) -> str | None:
    """Run an artifact (`run`: its runner) and `module` at each size on seeded noise: the first
    problem as one line ("at HxW: ..."), or None when every size runs and matches.

    A smoke test before an exporter declares sizes, not the gate: `pipelines.export` still
    parity-gates every declared size on the held-out photos."""
    for size in sizes:
        inputs = inputs_at(io, example_inputs, size)
        try:
            got = [to_numpy(y) for y in run(inputs)]
        except Exception as exc:     # a runtime refusing the size
            return f"at {size_text(size)}: {first_line(exc, 200)}"
        with torch.no_grad():
            ref = [to_numpy(y) for y in as_outputs(module(*inputs), io)]
        for spec, r, g in zip(io.outputs, ref, got):
            if r.shape != g.shape:
                return (f"at {size_text(size)}: output '{spec.name}' came out {tuple(g.shape)}, "
                        f"eager PyTorch gives {tuple(r.shape)}")
            lo, hi = spec.range
            err = float(np.max(np.abs(r - g))) / (hi - lo) if r.size else 0.0
            if not np.isfinite(err) or err > PROBE_TOLERANCE:
                return (f"at {size_text(size)}: output '{spec.name}' differs from eager PyTorch by up to "
                        f"{err:.3g} of its range")
    return None


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
    sizes: the sizes the artifact should accept (`SizeRequest`); None or a single size: only the
      export size. Each format makes what it can and says so in `Exported.shapes`.
    """

    precision: str = "fp32"
    channel_last: bool = True
    image_io: bool = True
    optimize: bool = True
    metadata: Mapping[str, str] = field(default_factory=dict)
    calibration: Any = field(default=None, compare=False, repr=False)
    keep_float: tuple[str, ...] = ()
    sizes: SizeRequest | None = None

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}: choose one of {', '.join(PRECISIONS)}")
        if isinstance(self.keep_float, str) or not all(isinstance(n, str) and n for n in self.keep_float):
            raise ConfigError(f"keep_float takes a tuple of module names, got {self.keep_float!r}")


@dataclass(frozen=True)
class Exported:
    """What `export` returns: the artifact path, its I/O as the app sees it, and notes.

    Path-like (`os.fspath(exported)` is the artifact), so it goes wherever a path does.
    `shapes`: the sizes the file claims to accept (the pipeline gates each); None: only the
    export size, from an exporter that knows nothing of `ExportOptions.sizes`.
    """

    path: Path
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    notes: tuple[str, ...] = ()
    shapes: Shapes | None = None

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

