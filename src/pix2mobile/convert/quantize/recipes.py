"""The quantization recipes: how `pix2mobile.convert.quantize` builds a (format, precision) that is
not native to the format's converter.

Each format row (`convert.formats.FORMATS`) carries its `native` precisions, its `quantized`
recipes and its `auto_order`; `NATIVE`, `RECIPES` and `AUTO_ORDER` here are views computed from
the rows on every access (so a row registered at run time, e.g. by a test, is in them).

Two stages, and nothing in between:
- "module": `prepare(module, example_inputs, calibration, keep_float)` prepares the module (PT2E
  or FX int8), then the format's `export_fn` exports it at `base_precision` as it exports any
  module (pte, ptl); `after_export(out_path, exported)` adds the checks' notes.
- "artifact": the format's `export_fn` writes the float artifact at `base_precision`, then
  `transform(float_path, out_path, precision, io, calibration=, keep_float=, module=)` rewrites
  that file (ai-edge-quantizer for tflite, coremltools for Core ML). Only these work on an
  existing artifact (`pix2mobile quantize FILE`).

Every precision a format lists is native (fp32 everywhere, fp16 for the ML Program) or has a
recipe. `AUTO_ORDER` is the order `--auto` tries them: smallest file first, then the faster of
equal sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal, Sequence

from pix2mobile.errors import ConfigError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from pix2mobile.convert.common import Exported

Stage = Literal["module", "artifact"]
Prepare = Callable[["nn.Module", "tuple[torch.Tensor, ...]", Any, Sequence[str]], "tuple[nn.Module, list[str]]"]
"""prepare(module, example_inputs, calibration, keep_float) -> (quantized module, notes)."""
Transform = Callable[..., list[str]]
"""transform(float_path, out_path, precision, io, *, calibration, keep_float, module) -> notes."""
AfterExport = Callable[[Path, "Exported"], list[str]]
"""after_export(out_path, exported) -> notes, for a module-stage recipe's exported file."""


@dataclass(frozen=True)
class Recipe:
    format: str
    precision: str
    stage: Stage
    base_precision: str       # the precision the format exports before/after the recipe runs
    calibrated: bool          # needs calibration images
    tool: str                 # what does the work
    description: str
    packages: tuple[str, ...]  # distributions whose versions the manifest records for this recipe
    prepare: Prepare | None = None
    transform: Transform | None = None
    after_export: AfterExport | None = None

    def __post_init__(self) -> None:
        if (self.stage == "module") != (self.prepare is not None) or \
                (self.stage == "artifact") != (self.transform is not None):
            raise ConfigError(f"recipe {self.format}/{self.precision}: a {self.stage}-stage recipe needs "
                              f"{'prepare' if self.stage == 'module' else 'transform'} and only that")


def _formats() -> Any:
    from pix2mobile.convert.formats import FORMATS

    return FORMATS


def native() -> dict[str, tuple[str, ...]]:
    """Precisions each format's own converter makes (no quantize step)."""
    return {k: f.native for k, f in _formats().items()}


def recipes() -> dict[tuple[str, str], Recipe]:
    return {(k, r.precision): r for k, f in _formats().items() for r in f.quantized}


def auto_order() -> dict[str, tuple[str, ...]]:
    return {k: f.auto_order for k, f in _formats().items()}


def __getattr__(name: str) -> Any:
    """`NATIVE`, `RECIPES` and `AUTO_ORDER`: views of the format table, computed when read."""
    views = {"NATIVE": native, "RECIPES": recipes, "AUTO_ORDER": auto_order}
    if name in views:
        return views[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def recipe_for(fmt: str, precision: str) -> Recipe | None:
    """The recipe of a quantized (format, precision); None for a precision native to the format."""
    row = _formats().get(fmt)
    if row is not None and precision in row.native:
        return None
    made = row.quantized if row is not None else ()
    found = next((r for r in made if r.precision == precision), None)
    if found is None:
        raise ConfigError(f"{fmt} has no {precision} recipe; it quantizes to "
                          f"{', '.join(r.precision for r in made) or 'nothing'}")
    return found


def needs_calibration(plan: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> bool:
    table = recipes()
    return any((r := table.get(row)) is not None and r.calibrated for row in plan)
