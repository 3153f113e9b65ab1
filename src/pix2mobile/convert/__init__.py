"""pix2mobile.convert: PyTorch modules to artifact files, one module per format, quantization as a transform.

- `formats.FORMATS`: the format table (every per-format fact; what a new format adds).
- `onnx`, `tflite`, `ptl`, `pte`, `coreml`: `export(module, example_inputs, io, out_path, opts)`.
- `rewrite`: exact graph rewrites some converters need. `common`: `ExportOptions`, `Exported`, `NamedIO`.
- `quantize/`: quantized precisions, made by preparing the module or rewriting the float file.

This layer writes files and returns their paths; it never gates them. Checking an artifact
against PyTorch and writing `manifest.json` is `pix2mobile.pipelines`' job. It may use
`pix2mobile.runtimes` (to smoke-test what it wrote) but nothing above it.
"""

from __future__ import annotations

from pix2mobile.convert.formats import FORMATS, ExportFormat

__all__ = ["FORMATS", "ExportFormat"]
