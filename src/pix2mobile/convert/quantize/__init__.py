"""pix2mobile.convert.quantize: quantized precisions, a transform the exporter calls, calibrated on real images.

Quantization never hides inside a format module, and never calls the exporter back.
Each format row's recipes (`recipes.RECIPES` is their view) say, per (format, precision), whether
this package prepares the module before the format exports it (pte, ptl int8) or rewrites the
float artifact the format wrote (tflite via ai-edge-quantizer, Core ML via coremltools).
`pipelines.export.export_model` calls `build.export_quantized` for those rows and holds each to its own parity threshold
(`runtimes.parity.DEFAULT_THRESHOLDS_DB`).

- `calibration`: `CalibrationSet` from a folder (`--calibration DIR`) or the built-in photos.
- `tflite`, `pte`, `ptl`, `coreml`: one module per toolchain.
- `--auto` and `pix2mobile quantize` on existing files are pipelines (`pipelines.auto`, `pipelines.quantize`).

Importing this package imports no converter.
"""

from __future__ import annotations

from pix2mobile.convert.quantize.calibration import (DEFAULT_COUNT, CalibrationSet, builtin_calibration,
                                                     folder_calibration, load_calibration)
from pix2mobile.convert.quantize.recipes import Recipe, recipe_for


def __getattr__(name: str) -> object:
    """`AUTO_ORDER`, `NATIVE`, `RECIPES`: views of the format table (`recipes.py`), computed when read."""
    from pix2mobile.convert.quantize import recipes

    return getattr(recipes, name)


__all__ = ["AUTO_ORDER", "CalibrationSet", "DEFAULT_COUNT", "NATIVE", "RECIPES", "Recipe", "builtin_calibration",
           "folder_calibration", "load_calibration", "recipe_for"]
