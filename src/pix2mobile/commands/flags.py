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

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

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

