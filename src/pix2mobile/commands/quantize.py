"""Quantize float artifacts that already exist: an export folder's rows, or one file.

Examples:
  pix2mobile quantize runs/export --precision int8,int8-dynamic          # tflite rows, calibrated on built-in photos
  pix2mobile quantize runs/export --precision w8,palette6 --format mlpackage
  pix2mobile quantize runs/export --precision int8 --calibration photos/ --calibration-count 32
  pix2mobile quantize runs/export/style_fp32.tflite --precision int8 --out style_int8.tflite

Only precisions made from a file work here: tflite fp16/w8/int8-dynamic/int8 (ai-edge-quantizer)
and Core ML w8/palette6/palette4 (+ fp16 for .mlmodel) (coremltools). pte and ptl int8 quantize
the PyTorch module before export: use `pix2mobile export --precision int8` for those.

In a folder the new rows join manifest.json as STEM_PRECISION.SUFFIX (STEM_PRECISION.failed.SUFFIX
when the gate fails); the manifest is rewritten after every row, so Ctrl-C leaves it true. Each new
row is compared on the held-out parity photos with eager PyTorch fp32 when the manifest's
model.checkpoint is on this machine, else with the float artifact it came from (itself gated against
PyTorch at export); the worst image is held to its precision's threshold (30 dB for 8-bit, 25 dB for
palette4). Each printed row says `reference: eager` or `reference: float artifact`.
Exit 1 when any new row fails, 2 for bad input.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from pix2mobile.errors import ConfigError
from pix2mobile.limits import MAX_CALIBRATION

HELP = "quantize existing float artifacts (tflite, Core ML) and gate them on real images"
log = logging.getLogger(__name__)


def _csv(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", type=Path, help="an export folder (holding manifest.json) or one float artifact")
    p.add_argument("--precision", required=True, type=_csv,
                   help="comma-separated precisions: fp16, w8, int8-dynamic, int8, palette6, palette4")
    p.add_argument("--format", type=_csv, default=None,
                   help="folder only: restrict to these formats (default: every format that can)")
    p.add_argument("--calibration", type=Path, default=None,
                   help="folder of real images for int8 calibration (default: built-in photos)")
    p.add_argument("--calibration-count", type=int, default=16,
                   help="how many calibration images to use (default: 16)")
    p.add_argument("--out", type=Path, default=None,
                   help="file only: where to write (default: beside it, as STEM_PRECISION.SUFFIX)")
    p.add_argument("--force", action="store_true", help="replace existing quantized files and manifest rows")


def describe_row(a: Any) -> str:
    """One printed line per new row: worst-image and mean PSNR, size, and which reference they are against."""
    p = a.parity
    psnr = "-" if p.psnr_db is None else f"worst {p.psnr_db:.2f} dB"
    mean = "" if p.psnr_db_mean is None else f" (mean {p.psnr_db_mean:.2f} dB)"
    size = "-" if a.bytes is None else f"{a.bytes / 1e6:.2f} MB"
    return (f"{a.format:<10} {a.precision:<13} {a.status:<6} {psnr}{mean}  {size}  "
            f"reference: {p.reference or 'unknown'}  {a.file or a.reason}")


def run(args: argparse.Namespace) -> int:
    from pix2mobile.manifest import MANIFEST_NAME, Manifest
    from pix2mobile.pipelines.quantize import quantize_export_dir, quantize_file

    if not 1 <= args.calibration_count <= MAX_CALIBRATION:
        raise ConfigError(f"--calibration-count must be between 1 and {MAX_CALIBRATION}, got {args.calibration_count}")
    from pix2mobile.convert.formats import format_for_suffix

    as_file = format_for_suffix(args.path.suffix)      # a format whose artifact is a folder is still a file
    if args.path.is_dir() and not (as_file is not None and as_file.is_dir):
        if args.out is not None:
            raise ConfigError("--out is for a single file; a folder's new rows go into the folder")
        before = list(Manifest.read(args.path).artifacts) if (args.path / MANIFEST_NAME).is_file() else []
        manifest = quantize_export_dir(args.path, args.precision, formats=args.format, calibration=args.calibration,
                                       calibration_count=args.calibration_count, force=args.force)
        rows = [a for a in manifest.artifacts if a not in before]      # only what this run made
    else:
        if args.format is not None:
            raise ConfigError("--format is for a folder; a file's format comes from its suffix")
        if len(args.precision) != 1 and args.out is not None:
            raise ConfigError("--out takes one precision at a time")
        rows = []
        for precision in args.precision:
            _, row = quantize_file(args.path, precision, out=args.out, calibration=args.calibration,
                                   calibration_count=args.calibration_count, force=args.force)
            rows.append(row)
    failed = [a for a in rows if not a.ok]
    for a in rows:
        print(describe_row(a))
    if failed:
        print(f"pix2mobile quantize: {len(failed)} of {len(rows)} artifacts failed: "
              + "; ".join(f"{a.format} {a.precision}: {a.reason}" for a in failed), file=sys.stderr)
        return 1
    return 0
