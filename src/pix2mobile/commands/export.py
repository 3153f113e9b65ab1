"""Export a trained generator to phone formats, verifying every artifact against PyTorch.

Examples:
  pix2mobile export runs/style --out exports/style
  pix2mobile export candy.pth --family fast_style --arch johnson --out exports/candy --size 256 256
  pix2mobile export latest_net_G_A.pth --family cyclegan --arch resnet_9blocks --formats tflite,onnx --out out/

Each artifact is run through its own runtime on built-in real photos and compared with the eager
fp32 model (PSNR/SSIM/max abs error on the [0, 1] scale). One below its gate (default 45 dB fp32,
35 dB fp16) is kept only as NAME.failed.SUFFIX, and the command exits with code 1 after writing
DIR/manifest.json, the contract the apps and `pix2mobile bench` read.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError

HELP = "export a run directory or .pth to ptl/tflite/mlpackage/mlmodel/onnx/pte, verified"
log = logging.getLogger(__name__)


def _option(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got '{text}'")
    for cast in (int, float):
        try:
            return key, cast(value)
        except ValueError:
            pass
    return key, {"true": True, "false": False}.get(value.lower(), value)


def _threshold(text: str) -> tuple[str, float]:
    key, value = _option(text)
    if not isinstance(value, (int, float)):
        raise argparse.ArgumentTypeError(f"threshold must be PRECISION=DB, got '{text}'")
    return key, float(value)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..export import FORMATS

    p.add_argument("checkpoint", type=Path, help="run directory (model.json + model.safetensors) or a .pth file")
    p.add_argument("--out", type=Path, required=True, help="output directory for artifacts and manifest.json")
    p.add_argument("--formats", default=",".join(FORMATS),
                   help=f"comma-separated subset of {','.join(FORMATS)} (default: all)")
    p.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), default=None,
                   help="input size to export at (default: the training size, else 256 256)")
    p.add_argument("--family", help="model family of a foreign .pth (see `pix2mobile info`)")
    p.add_argument("--arch", help="architecture of a foreign .pth")
    p.add_argument("--option", type=_option, action="append", default=[], metavar="KEY=VALUE",
                   help="architecture option, e.g. ngf=32 (repeatable)")
    p.add_argument("--threshold", type=_threshold, action="append", default=[], metavar="PRECISION=DB",
                   help="parity gate per precision, e.g. fp32=45 (repeatable)")
    p.add_argument("--samples", type=int, default=2, help="real images run through each artifact (default: 2)")
    p.add_argument("--nchw-tflite", action="store_true", help="keep TFLite I/O NCHW (default NHWC, as Android bitmaps)")
    p.add_argument("--no-image-io", action="store_true",
                   help="Core ML: plain multiarrays instead of ImageType inputs/outputs")
    p.add_argument("--force", action="store_true", help="overwrite an existing manifest and artifacts")


def format_table(manifest: Any) -> str:
    """The manifest as a table a person reads: one row per artifact."""
    rows = [("format", "precision", "status", "MB", "PSNR dB", "SSIM", "max err", "scale", "file / reason")]
    for a in manifest.artifacts:
        par = a.parity
        rows.append((a.format, a.precision, a.status,
                     f"{a.bytes / 1e6:.2f}" if a.bytes is not None else "-",
                     f"{par.psnr_db:.1f}" if par.psnr_db is not None else "-",
                     f"{par.ssim:.4f}" if par.ssim is not None else "-",
                     f"{par.max_abs_err:.2g}" if par.max_abs_err is not None else "-",
                     par.scale or "-", a.file if a.status == "ok" else (a.reason or a.file or "")))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1] for r in rows]
    m = manifest.model
    head = f"{m.family}/{m.arch} at {m.size[0]}x{m.size[1]}: {m.params / 1e6:.2f}M params, {m.macs / 1e9:.2f} GMACs"
    return "\n".join([head, *lines])


def run(args: argparse.Namespace) -> int:
    from ..export import FORMATS, ExportOptions, export_model
    from ..models.loading import load_generator

    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ConfigError(f"unknown format(s) {', '.join(unknown) or '(none given)'}: choose from {', '.join(FORMATS)}")
    if args.samples < 1:
        raise ConfigError("--samples must be at least 1")
    loaded = load_generator(args.checkpoint, args.family, args.arch, dict(args.option))
    size = tuple(args.size) if args.size else tuple(loaded.meta.get("training", {}).get("size_hw", (256, 256)))
    log.info("exporting %s (%s) at %dx%d to %s", loaded.spec.key, loaded.source, size[0], size[1], ", ".join(formats))
    manifest = export_model(loaded.generator, loaded.spec, size, formats, args.out,
                            thresholds=dict(args.threshold), options=loaded.options,
                            export_options=ExportOptions(channel_last=not args.nchw_tflite,
                                                         image_io=not args.no_image_io),
                            checkpoint_sha256=loaded.sha256, checkpoint=loaded.source,
                            samples=args.samples, force=args.force)
    print(format_table(manifest))
    failed = [a for a in manifest.artifacts if a.status != "ok"]
    for a in failed:
        print(f"pix2mobile export: {a.format} {a.precision} failed: {a.reason}", file=sys.stderr)
    return 1 if failed else 0
