"""Flags generated 1:1 from frozen config dataclasses, and image arguments that accept `builtin`.

`lambda_l1` becomes `--lambda-l1` with the field's type, default and `metadata["help"]`, so a
config's fields are the single source of its command line.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_args, get_origin

from PIL import Image

from .errors import ConfigError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance
    import torch

T = TypeVar("T", bound="DataclassInstance")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_config_args(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ()) -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip or not f.init:
            continue
        tp = hints[f.name]
        default = f.default if f.default is not dataclasses.MISSING else None
        help_text = f.metadata.get("help", "")
        kwargs: dict[str, Any] = {"dest": f.name, "default": default}
        origin, args = get_origin(tp), get_args(tp)
        if origin is Literal:
            kwargs.update(choices=list(args), type=type(args[0]))
        elif tp is bool:
            kwargs.update(action=argparse.BooleanOptionalAction)
        elif origin in (tuple, list):
            kwargs.update(nargs="+", type=args[0])
        elif origin in (typing.Union, types.UnionType):
            inner = [a for a in args if a is not type(None)]
            kwargs.update(type=inner[0])
        else:
            kwargs.update(type=tp)
        kwargs["help"] = f"{help_text} (default: {default})" if help_text else f"(default: {default})"
        parser.add_argument(_flag(f.name), **kwargs)


def config_from_args(cls: type[T], ns: argparse.Namespace, **overrides: Any) -> T:
    values = {f.name: getattr(ns, f.name) for f in dataclasses.fields(cls) if f.init and hasattr(ns, f.name)}
    for f in dataclasses.fields(cls):
        if f.name in values and isinstance(values[f.name], list):
            values[f.name] = tuple(values[f.name])
    values.update(overrides)
    return cls(**values)


def open_image_arg(value: str, kind: Literal["content", "style"], max_pixels: int | None = None) -> Image.Image:
    """A path, or `builtin[:NAME]`: a bundled photo (content) or a generated painting (style)."""
    from .data import builtin, images

    if value == "builtin" or value.startswith("builtin:"):
        name = value.partition(":")[2]
        if kind == "style":
            return builtin.style_image(name or "builtin")
        photos = dict(builtin.content_images())
        name = name or next(iter(photos))
        if name not in photos:
            raise ConfigError(f"unknown built-in content image '{name}': choose one of {', '.join(photos)}")
        return photos[name]
    kwargs = {} if max_pixels is None else {"max_pixels": max_pixels}
    return images.load_image(value, **kwargs)


def resolve_device(name: str) -> torch.device:
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but this torch sees no CUDA device; use --device cpu")
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise ConfigError(f"--device must be auto, cpu or cuda[:N], not '{name}'")
    return torch.device(name)
