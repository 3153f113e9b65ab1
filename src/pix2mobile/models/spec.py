"""What every model family declares, so export, training and apps need no family-specific code.

A `TensorSpec` is the I/O contract of one tensor (the Qualcomm-style input spec, made explicit):
name, kind, value range and layout. A `VariantSpec` is one registry row: how to build the
generator, its default options, its I/O, and how to turn a reference-layout state dict
(pytorch/examples, junyanz) into ours.
"""

from __future__ import annotations

import functools
import inspect
import logging
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Mapping

import torch
from torch import nn

log = logging.getLogger(__name__)

Kind = Literal["image", "latent", "scalar"]


@dataclass(frozen=True)
class TensorSpec:
    """One input or output tensor. Images are NCHW RGB; `range` says what the numbers mean."""

    name: str
    kind: Kind = "image"
    range: tuple[float, float] = (0.0, 1.0)
    channels: int = 3      # images
    dim: int = 0           # latents: (N, dim)

    @property
    def layout(self) -> str:
        return {"image": "NCHW", "latent": "NC", "scalar": "N"}[self.kind]

    def shape(self, size: tuple[int, int], batch: int = 1) -> tuple[int, ...]:
        if self.kind == "image":
            return (batch, self.channels, size[0], size[1])
        if self.kind == "latent":
            return (batch, self.dim)
        return (batch,)

    def to_json(self, size: tuple[int, int], batch: int = 1) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape(size, batch)), "layout": self.layout,
                "dtype": "float32", "range": list(self.range)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> TensorSpec:
        """The spec a `to_json` entry (a manifest's io tensor) describes; the kind follows from the layout."""
        from pix2mobile.errors import ConfigError

        shape, layout = list(d["shape"]), d["layout"]
        rng = (float(d["range"][0]), float(d["range"][1]))
        if layout == "NCHW":
            return cls(d["name"], "image", rng, channels=int(shape[1]))
        if layout == "NC":
            return cls(d["name"], "latent", rng, dim=int(shape[1]))
        if layout == "N":
            return cls(d["name"], "scalar", rng)
        raise ConfigError(f"io tensor {d['name']!r} has layout {layout!r}; expected NCHW, NC or N")

    def from_unit(self, x: torch.Tensor) -> torch.Tensor:
        """Map an image in [0, 1] onto this tensor's range."""
        lo, hi = self.range
        return x * (hi - lo) + lo

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        """Map a tensor in this spec's range onto [0, 1] (for PSNR/SSIM and saving images)."""
        lo, hi = self.range
        return (x - lo) / (hi - lo)


@dataclass(frozen=True)
class IOSpec:
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    def to_json(self, size: tuple[int, int], batch: int = 1) -> dict[str, Any]:
        return {"inputs": [t.to_json(size, batch) for t in self.inputs],
                "outputs": [t.to_json(size, batch) for t in self.outputs]}

    @classmethod
    def from_json(cls, io: Mapping[str, Any]) -> tuple[IOSpec, tuple[int, int]]:
        """The IOSpec and (H, W) of a `to_json` block (a manifest's `io`); (0, 0) when no tensor is an image."""
        from pix2mobile.errors import ConfigError

        try:
            spec = cls(tuple(TensorSpec.from_json(d) for d in io["inputs"]),
                       tuple(TensorSpec.from_json(d) for d in io["outputs"]))
            size = next(((int(d["shape"][2]), int(d["shape"][3])) for d in [*io["inputs"], *io["outputs"]]
                         if d.get("layout") == "NCHW"), (0, 0))
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            raise ConfigError(f"the manifest's io block is incomplete ({exc!r}); "
                              "re-export with pix2mobile export") from None
        return spec, size

    def samples_from_photos(self, photos: torch.Tensor, seed: int = 0) -> tuple[tuple[torch.Tensor, ...], ...]:
        """Batch-1 input tuples from (N, 3, H, W) photos in [0, 1], quantised to 8 bits as real images
        are: each image input takes the next photo (grey for 1 channel), latents and scalars are seeded
        draws. Parity gates and calibration both feed models this way."""
        from pix2mobile.errors import ConfigError

        n_images = sum(1 for s in self.inputs if s.kind == "image")
        photos = torch.round(photos.clamp(0, 1) * 255.0) / 255.0
        gen = torch.Generator().manual_seed(seed)
        samples = []
        for i in range(photos.shape[0] // max(n_images, 1)):
            inputs: list[torch.Tensor] = []
            k = i * n_images
            for spec in self.inputs:
                if spec.kind == "image":
                    img, k = photos[k:k + 1], k + 1
                    if spec.channels == 1:
                        img = img.mean(dim=1, keepdim=True)
                    elif spec.channels != 3:
                        raise ConfigError(f"input '{spec.name}' has {spec.channels} channels; real images "
                                          "exist for 1 or 3")
                    inputs.append(spec.from_unit(img))
                elif spec.kind == "latent":
                    inputs.append(torch.randn((1, spec.dim), generator=gen).clamp(*spec.range))
                else:
                    inputs.append(spec.from_unit(torch.rand((1,), generator=gen)))
            samples.append(tuple(inputs))
        return tuple(samples)


def identity_exportable(generator: nn.Module, size: tuple[int, int]) -> nn.Module:
    return generator


def no_conversion(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return dict(state_dict)


@dataclass(frozen=True)
class VariantSpec:
    """One registry row: family + arch.

    build(**options) -> generator (a plain nn.Module: no config, no device code).
    exportable(generator, size) -> the module that export traces (the generator itself for most
    families; the morph wraps its two MLPs into a renderer of a fixed size).
    convert_reference(sd) -> our state dict from the reference repo's layout (drops stale keys).
    """

    family: str
    arch: str
    build: Callable[..., nn.Module]
    io: IOSpec
    defaults: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    exportable: Callable[[nn.Module, tuple[int, int]], nn.Module] = identity_exportable
    convert_reference: Callable[[Mapping[str, torch.Tensor]], dict[str, torch.Tensor]] = no_conversion
    min_size: int = 32           # smallest sensible H = W for a forward pass
    size_multiple: int = 4       # H and W must be multiples of this
    option_ranges: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """Inclusive bounds of integer options; others get DEFAULT_INT_RANGE (a width of 10**9 would
    ask for terabytes before any check of the weights could refuse it)."""

    @property
    def key(self) -> str:
        return f"{self.family}/{self.arch}"

    def declared_options(self) -> dict[str, Any]:
        """Option name -> its type, read from `build`'s signature (what `create` accepts)."""
        return declared_options(self.build)

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Refuse unknown names, wrong types and out-of-range integers, one line each.

        Options come from model.json files and `--option k=v` flags: both are user input, and
        a wrong one used to crash deep inside the network's constructor.
        """
        from pix2mobile.errors import ConfigError

        declared = self.declared_options()
        for name, value in options.items():
            if name not in declared:
                known = ", ".join(sorted(declared)) or "none"
                raise ConfigError(f"{self.key} has no option '{name}' (its options: {known})")
            tp = declared[name]
            if not _fits(value, tp):
                raise ConfigError(f"{self.key} option '{name}' must be {_type_name(tp)}, got {value!r}")
            if isinstance(value, int) and not isinstance(value, bool):
                lo, hi = self.option_ranges.get(name, DEFAULT_INT_RANGE)
                if not lo <= value <= hi:
                    raise ConfigError(f"{self.key} option '{name}' must be between {lo} and {hi}, got {value}")
        return dict(options)

    def create(self, **options: Any) -> nn.Module:
        opts = self.check_options({**self.defaults, **options})
        return self.build(**opts)


DEFAULT_INT_RANGE = (1, 256)
"""Bounds of an integer option (a width, a channel count) no `option_ranges` entry names."""


def declared_options(build: Callable[..., Any]) -> dict[str, Any]:
    """The keyword parameters of `build` (a function, class or functools.partial) and their types."""
    target: Any = build.func if isinstance(build, functools.partial) else build
    hints = typing.get_type_hints(target.__init__ if inspect.isclass(target) else target)
    params = inspect.signature(build).parameters
    return {name: hints.get(name, Any) for name, p in params.items()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _fits(value: Any, tp: Any) -> bool:
    if tp is Any:
        return True
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        return value in args
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is Path:
        return isinstance(value, (str, Path))
    return isinstance(value, tp) if isinstance(tp, type) else True


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp) if a is not type(None))
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string",
            Path: "a path"}.get(tp, getattr(tp, "__name__", str(tp)))


_NORM_STATS = ("running_mean", "running_var", "num_batches_tracked")


def strip_reference(state_dict: Mapping[str, torch.Tensor],
                    is_norm_stat: Callable[[str], bool] | None = None) -> dict[str, torch.Tensor]:
    """Strip DataParallel's `module.` prefix and drop stale InstanceNorm running statistics.

    PyTorch < 0.4 saved running_mean/var in InstanceNorm layers; pytorch/examples and junyanz
    delete them at load time, and so do we (one log line says how many). `is_norm_stat` picks
    which keys count as such; by default any key ending in a running-statistics name.
    """
    sd = dict(state_dict)
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    stale = is_norm_stat or (lambda k: k.rsplit(".", 1)[-1] in _NORM_STATS)
    dropped = {k for k in sd if stale(k)}
    if dropped:
        log.info("dropped %d stale InstanceNorm statistics keys "
                 "(running_mean/running_var/num_batches_tracked)", len(dropped))
    return {k: v for k, v in sd.items() if k not in dropped}
