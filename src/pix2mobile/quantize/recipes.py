"""The quantization table: for each (format, precision) that is not native to a format's
converter, how `pix2mobile.quantize` builds it.

Two stages, and nothing in between:
- "module": prepare the module (PT2E or FX int8), then the format's `export_fn` exports it at
  `base_precision` as it exports any module (pte, ptl).
- "artifact": the format's `export_fn` writes the float artifact at `base_precision`, then
  the recipe rewrites that file (ai-edge-quantizer for tflite, coremltools for Core ML). Only
  these work on an existing artifact (`pix2mobile quantize FILE`).

`FORMATS[fmt].precisions` (export/__init__.py) lists what each format exports; every entry is
native (fp32 everywhere, fp16 for the ML Program) or has a row here. `AUTO_ORDER` is the order
`--auto` tries them: smallest file first, then the faster of equal sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import ConfigError

Stage = Literal["module", "artifact"]

NATIVE: dict[str, tuple[str, ...]] = {
    "ptl": ("fp32",), "tflite": ("fp32",), "mlpackage": ("fp16", "fp32"), "mlmodel": ("fp32",),
    "onnx": ("fp32",), "pte": ("fp32",),
}
"""Precisions a format's own converter makes (no quantize step)."""


@dataclass(frozen=True)
class Recipe:
    format: str
    precision: str
    stage: Stage
    base_precision: str       # the precision the format exports before/after the recipe runs
    calibrated: bool          # needs calibration images
    tool: str                 # what does the work
    description: str

    @property
    def packages(self) -> tuple[str, ...]:
        """Distributions whose versions the manifest records for this recipe."""
        return PACKAGES[self.tool]

    def __post_init__(self) -> None:
        if self.base_precision not in NATIVE.get(self.format, ()):
            raise ConfigError(f"recipe {self.format}/{self.precision}: base precision {self.base_precision} "
                              f"is not native to {self.format}")


_ROWS = (
    Recipe("tflite", "fp16", "artifact", "fp32", False, "ai-edge-quantizer", "fp16 weights, fp32 compute"),
    Recipe("tflite", "w8", "artifact", "fp32", False, "ai-edge-quantizer", "int8 weights, fp32 compute"),
    Recipe("tflite", "int8-dynamic", "artifact", "fp32", False, "ai-edge-quantizer",
           "int8 weights, activations quantized at run time"),
    Recipe("tflite", "int8", "artifact", "fp32", True, "ai-edge-quantizer",
           "static int8 (calibrated activations), normalisation layers float, float I/O"),
    Recipe("pte", "int8", "module", "fp32", True, "torchao PT2E + XNNPACKQuantizer",
           "static int8 per-channel weights, calibrated activations, XNNPACK kernels"),
    Recipe("ptl", "int8", "module", "fp32", True, "torch.ao FX (qnnpack)",
           "static int8, quantized:: kernels in the lite interpreter"),
    Recipe("mlpackage", "w8", "artifact", "fp16", False, "coremltools.optimize", "int8 weights, fp16 compute"),
    Recipe("mlpackage", "palette6", "artifact", "fp16", False, "coremltools.optimize",
           "6-bit k-means palettes, fp16 compute"),
    Recipe("mlpackage", "palette4", "artifact", "fp16", False, "coremltools.optimize",
           "4-bit k-means palettes, fp16 compute"),
    Recipe("mlmodel", "fp16", "artifact", "fp32", False, "coremltools quantization_utils", "fp16 weights"),
    Recipe("mlmodel", "w8", "artifact", "fp32", False, "coremltools quantization_utils", "8-bit linear weights"),
    Recipe("mlmodel", "palette6", "artifact", "fp32", False, "coremltools quantization_utils",
           "6-bit lookup-table weights"),
    Recipe("mlmodel", "palette4", "artifact", "fp32", False, "coremltools quantization_utils",
           "4-bit lookup-table weights"),
)

PACKAGES: dict[str, tuple[str, ...]] = {
    "ai-edge-quantizer": ("ai-edge-quantizer",),
    "torchao PT2E + XNNPACKQuantizer": ("torchao", "executorch"),
    "torch.ao FX (qnnpack)": ("torch",),
    "coremltools.optimize": ("coremltools",),
    "coremltools quantization_utils": ("coremltools",),
}

RECIPES: dict[tuple[str, str], Recipe] = {(r.format, r.precision): r for r in _ROWS}

AUTO_ORDER: dict[str, tuple[str, ...]] = {
    "tflite": ("int8", "int8-dynamic", "w8", "fp16", "fp32"),
    "pte": ("int8", "fp32"),
    "ptl": ("int8", "fp32"),
    "mlpackage": ("palette4", "palette6", "w8", "fp16", "fp32"),
    "mlmodel": ("palette4", "palette6", "w8", "fp16", "fp32"),
    "onnx": ("fp32",),
}


def recipe_for(fmt: str, precision: str) -> Recipe | None:
    """The recipe of a quantized (format, precision); None for a precision native to the format."""
    if precision in NATIVE.get(fmt, ()):
        return None
    try:
        return RECIPES[(fmt, precision)]
    except KeyError:
        made = [p for (f, p) in RECIPES if f == fmt]
        raise ConfigError(f"{fmt} has no {precision} recipe; it quantizes to {', '.join(made) or 'nothing'}") from None


def needs_calibration(plan: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> bool:
    return any((r := RECIPES.get(row)) is not None and r.calibrated for row in plan)
