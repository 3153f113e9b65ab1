"""Build one quantized artifact: the recipe's step, then (or before) the format's own `export_fn`.

The recipe carries the callable that does the work (`Recipe.prepare` or `Recipe.transform`,
see `recipes.py`); nothing here knows a format by name.

`export_quantized` is what `export_model` calls for a (format, precision) with a recipe; it
returns the format's `Exported` for the quantized file, with the recipe's notes appended.
`transform_artifact` alone rewrites an existing float file (artifact-stage recipes only;
`artifact.py` uses it for `pix2mobile quantize`).
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from pix2mobile.convert.common import Exported, ExportOptions
from pix2mobile.convert.quantize.recipes import Recipe
from pix2mobile.errors import ConfigError
from pix2mobile.models.spec import IOSpec


def transform_artifact(recipe: Recipe, float_path: Path, out_path: Path, io: IOSpec, *, calibration: Any = None,
                       keep_float: Sequence[str] = (), module: nn.Module | None = None) -> list[str]:
    """Run an artifact-stage recipe: read the float file at `float_path`, write `out_path`."""
    if recipe.transform is None:
        raise ConfigError(f"{recipe.format} {recipe.precision} is not an artifact-stage recipe")
    return recipe.transform(float_path, out_path, recipe.precision, io, calibration=calibration,
                            keep_float=keep_float, module=module)


def prepare_module(recipe: Recipe, module: nn.Module, example_inputs: tuple[torch.Tensor, ...], *,
                   calibration: Any = None, keep_float: Sequence[str] = ()) -> tuple[nn.Module, list[str]]:
    """Run a module-stage recipe: the quantized module the format then exports, and notes."""
    if recipe.prepare is None:
        raise ConfigError(f"{recipe.format} {recipe.precision} is not a module-stage recipe")
    return recipe.prepare(module, example_inputs, calibration, keep_float)


def export_quantized(fmt: Any, recipe: Recipe, module: nn.Module, example_inputs: tuple[torch.Tensor, ...],
                     io: IOSpec, out_path: str | Path, opts: ExportOptions) -> Exported:
    """Export `module` to `out_path` in `recipe.precision` through the format row `fmt`."""
    out_path = Path(out_path)
    base_opts = dataclasses.replace(opts, precision=recipe.base_precision)
    if recipe.calibrated and opts.calibration is None:
        raise ConfigError(f"{recipe.format} {recipe.precision} needs calibration images (ExportOptions.calibration)")
    keep = tuple(opts.keep_float)      # export_model checked the names against the module
    if recipe.stage == "module":
        prepared, notes = prepare_module(recipe, module, example_inputs, calibration=opts.calibration, keep_float=keep)
        exported = fmt.export_fn(prepared, example_inputs, io, out_path, base_opts)
        if recipe.after_export is not None:
            notes += recipe.after_export(out_path, exported)
        return dataclasses.replace(exported, notes=tuple(exported.notes) + (
            f"{recipe.tool}, applied to the module before the {recipe.base_precision} export",) + tuple(notes))
    from pix2mobile.files import remove_path

    staged = out_path.with_name(f".{out_path.stem}.float{out_path.suffix}")
    try:
        exported = fmt.export_fn(copy.deepcopy(module), example_inputs, io, staged, base_opts)
        notes = transform_artifact(recipe, staged, out_path, io, calibration=opts.calibration, keep_float=keep,
                                   module=module)
    finally:
        remove_path(staged)
    return dataclasses.replace(exported, path=out_path, notes=tuple(exported.notes)
                               + (f"{recipe.tool}, applied to the {recipe.base_precision} export",) + tuple(notes))

