"""pix2mobile.quantize: quantized precisions for the exporter, calibrated on real images.

Quantization never hides inside a format module. `recipes.RECIPES` says, per (format,
precision), whether this package prepares the module before the format exports it (pte, ptl
int8) or rewrites the float artifact the format wrote (tflite via ai-edge-quantizer, Core ML
via coremltools). `export_model` calls `build.export_quantized` for those rows and holds each
to its own parity threshold (`export.parity.DEFAULT_THRESHOLDS_DB`).

- `calibration`: `CalibrationSet` from a folder (`--calibration DIR`) or the built-in photos.
- `tflite_quant`, `pte_quant`, `ptl_quant`, `coreml_quant`: one module per toolchain.
- `auto`: `--auto`, the smallest precision that reaches a target PSNR, with per-layer float fallback.
- `artifact`: `pix2mobile quantize` on an existing float file or export folder.

Importing this package imports no converter.
"""

from __future__ import annotations

from .artifact import quantize_export_dir, quantize_file
from .auto import AutoResult, Trial, choose_precision, export_auto
from .calibration import (DEFAULT_COUNT, CalibrationSet, builtin_calibration, folder_calibration,
                          load_calibration)
from .recipes import AUTO_ORDER, NATIVE, RECIPES, Recipe, recipe_for

__all__ = ["AUTO_ORDER", "AutoResult", "CalibrationSet", "DEFAULT_COUNT", "NATIVE", "RECIPES", "Recipe", "Trial",
           "builtin_calibration", "choose_precision", "export_auto", "folder_calibration", "load_calibration",
           "recipe_for", "quantize_export_dir", "quantize_file"]

