"""pix2mobile.pipelines: the recipes that turn converters and runtimes into trustworthy folders.

- `export.export_model`: export to every requested format, gate each artifact on parity with eager
  PyTorch (worst of the held-out photos), write `manifest.json` one row at a time (`folder`).
- `auto.export_auto`: the smallest precision that reaches a target PSNR, with float fallback.
- `quantize`: quantize an artifact or an export folder that already exists.

Consumers (`benchmark`, the CLI) call these; nothing below imports them.
"""
