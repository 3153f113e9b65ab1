"""Export a trained generator to phone formats, verifying every artifact against PyTorch.

Examples:
  pix2mobile export runs/style --out exports/style
  pix2mobile export candy.pth --family fast_style --arch johnson --out exports/candy --size 256 256
  pix2mobile export runs/style --out exports/style --size 256x256 512x384     (two sizes, 256x256 primary)
  pix2mobile export runs/style --out exports/style --size 128x128-512x512     (a range, 128x128 primary)
  pix2mobile export latest_net_G_A.pth --family cyclegan --arch resnet_9blocks --formats tflite,onnx --out out/
  pix2mobile export runs/h2z --out exports/h2z            (CycleGAN: exports/h2z/a2b and exports/h2z/b2a)

A CycleGAN run holds both generators; by default both are exported, one folder per direction
(DIR/a2b: A -> B, DIR/b2a: B -> A), each with its own manifest whose model.direction says which.
`--direction a2b` (or b2a) exports one into DIR itself. For a junyanz .pth, --direction says which
generator the file is (latest_net_G_B.pth: b2a).

Each artifact is run through its own runtime on held-out real photos (at least 4, never used for
training or calibration; the manifest's parity_images names them) and compared with the eager fp32
model image by image (PSNR/SSIM/max abs error on the [0, 1] scale). One whose worst image is below
its gate (default 45 dB fp32, 35 dB fp16) is kept only as NAME.failed.SUFFIX, and the command exits
with code 1. DIR/manifest.json, the contract the apps and `pix2mobile bench` read, is rewritten after
every row, so after a failure or Ctrl-C every final-named file in DIR is an ok row of it. --force
removes this export's own earlier files (those the old manifest lists) before starting.

The .pte, .tflite and fp16 .mlpackage are converted from a rewritten copy of the model that keeps
the phone runtimes on their fast paths and fp16 finite (convert/mobile_graph.py; the same
function, exact to float round-off); each manifest row's `residency` says where its ops run.
--plain-graph converts the model as it is.

--size takes one size (`256`, `256x192`, or the old `H W`: two plain integers are one size),
several (`256x256 512x384`) or a range (`128x128-512x512`, every multiple of the model's
size_multiple in between; at most one, holding any other size given). The first size (a range:
its lower corner) is the primary: the io shapes, tracing and calibration use it. Each format
makes its file accept what it can (ONNX dynamic H/W, Core ML enumerated shapes, ExecuTorch
bounded dynamic shapes, TFLite and PTL where the converted graph runs resized), every size it
declares is parity-gated like the primary, and the manifest's `shapes` says what each artifact
accepts; one that cannot says why in `shapes.note` and takes the primary only.
"""

from __future__ import annotations

import argparse
import logging
import math
import re
import sys
from pathlib import Path
from typing import Any

from pix2mobile.errors import ConfigError
from pix2mobile.limits import MAX_CALIBRATION, MAX_SAMPLES, check_side

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
    from pix2mobile.convert.common import PRECISIONS

    key, value = _option(text)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise argparse.ArgumentTypeError(f"threshold must be PRECISION=DB, got '{text}'")
    if key not in PRECISIONS:
        raise argparse.ArgumentTypeError(f"threshold names precision '{key}': choose from {', '.join(PRECISIONS)}")
    if not 0 < value < math.inf:     # NaN fails this too; above 100 dB (the PSNR cap) forces a failure
        raise argparse.ArgumentTypeError(f"threshold must be a positive number of dB, got '{text}'")
    return key, float(value)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from pix2mobile.convert.formats import FORMATS

    p.add_argument("checkpoint", type=Path, help="run directory (model.json + model.safetensors) or a .pth file")
    p.add_argument("--out", type=Path, required=True, help="output directory for artifacts and manifest.json")
    p.add_argument("--formats", default=",".join(FORMATS),
                   help=f"comma-separated subset of {','.join(FORMATS)} (default: all)")
    p.add_argument("--size", nargs="+", metavar="SIZE", default=None,
                   help="input size(s): N (square), HxW, or the old H W; several sizes (256x256 512x384) or a "
                        "range (128x128-512x512) make size-flexible artifacts where the format allows, each "
                        "size parity-gated; the first (a range: its lower corner) is the primary "
                        "(default: the training size, else 256 256)")
    p.add_argument("--family", help="model family of a foreign .pth (see `pix2mobile info`)")
    p.add_argument("--arch", help="architecture of a foreign .pth")
    p.add_argument("--direction", choices=("a2b", "b2a", "both"), default=None,
                   help="CycleGAN: which generator to export (default: both for a run that holds both, "
                        "into OUT/a2b and OUT/b2a; a2b for a .pth)")
    p.add_argument("--option", type=_option, action="append", default=[], metavar="KEY=VALUE",
                   help="architecture option, e.g. ngf=32 (repeatable)")
    p.add_argument("--threshold", type=_threshold, action="append", default=[], metavar="PRECISION=DB",
                   help="parity gate per precision, e.g. fp32=45 (repeatable)")
    p.add_argument("--precision", default=None, metavar="P[,P...]",
                   help="precisions to export: fp32, fp16, w8, int8-dynamic, int8, palette6, palette4. Each "
                        "selected format exports those it supports (see `pix2mobile info`); a format that "
                        "supports none of them is an error (default: each format's first precision)")
    p.add_argument("--calibration", default=None, metavar="DIR",
                   help="folder of real images for calibrated precisions (default: built-in photos)")
    p.add_argument("--calibration-count", type=int, default=16, help="calibration images (default: 16)")
    p.add_argument("--auto", action="store_true",
                   help="for ONE format: pick the smallest precision whose PSNR clears --target-psnr, "
                        "keeping the most harmful layers in float before giving up")
    p.add_argument("--target-psnr", type=float, default=32.0, help="--auto's target in dB (default: 32)")
    p.add_argument("--samples", type=int, default=4,
                   help="held-out real photos run through each artifact; the worst one is gated (default: 4)")
    p.add_argument("--nchw-tflite", action="store_true", help="keep TFLite I/O NCHW (default NHWC, as Android bitmaps)")
    p.add_argument("--no-image-io", action="store_true",
                   help="Core ML: plain multiarrays instead of ImageType inputs/outputs")
    p.add_argument("--plain-graph", action="store_true",
                   help="convert the model as it is, without the mobile graph rewrites (slower on phones; for "
                        "comparing and for bisecting a converter problem)")
    p.add_argument("--force", action="store_true", help="overwrite an existing manifest and artifacts")


_SIZE = re.compile(r"^(\d+)(?:[xX](\d+))?$")
_RANGE = re.compile(r"^(\d+(?:[xX]\d+)?)-(\d+(?:[xX]\d+)?)$")


def parse_sizes(tokens: list[str]) -> tuple[tuple[int, int], list[Any]]:
    """`--size` words -> (the primary (H, W), the other sizes and at most one `SizeRange`).

    Two plain integers are one size H W (the old form); otherwise each word is a size: `N` (N x N),
    `HxW`, or a range `HxW-HxW` (`N-M` for square corners). Each side is held to
    `limits.check_side`; the model's min_size and size_multiple are checked by `export_model`.
    """
    from pix2mobile.convert.common import SizeRange

    def one(text: str) -> tuple[int, int]:
        m = _SIZE.match(text)
        if m is None:
            raise ConfigError(f"--size: cannot read {text!r}; write N, HxW, H W, several sizes "
                              "(256x256 512x384) or a range (128x128-512x512)")
        h = int(m.group(1))
        w = int(m.group(2)) if m.group(2) is not None else h
        check_side("--size", h)
        check_side("--size", w)
        return (h, w)

    if not tokens:
        raise ConfigError("--size needs at least one size")
    if len(tokens) == 2 and all(t.isdigit() for t in tokens):
        return one(f"{tokens[0]}x{tokens[1]}"), []
    items: list[Any] = []
    for token in tokens:
        m = _RANGE.match(token)
        if m is not None:
            lo, hi = one(m.group(1)), one(m.group(2))
            if lo[0] > hi[0] or lo[1] > hi[1]:
                raise ConfigError(f"--size range {token}: the lower corner must not exceed the upper one")
            items.append(SizeRange(lo, hi))
        else:
            items.append(one(token))
    ranges = [i for i in items if isinstance(i, SizeRange)]
    if len(ranges) > 1:
        raise ConfigError(f"--size takes one range, got {len(ranges)}: {', '.join(map(str, ranges))}")
    first = items[0]
    primary = first.min if isinstance(first, SizeRange) else first
    rest = [i for i in items[1:] if i != primary] + ([first] if isinstance(first, SizeRange) else [])
    if ranges:
        outside = [i for i in items if not isinstance(i, SizeRange) and not ranges[0].contains(i)]
        if outside:
            raise ConfigError(f"--size {outside[0][0]}x{outside[0][1]} lies outside the range {ranges[0]}; "
                              "give sizes inside it or widen the range")
    return primary, rest


def _precisions(text: str, formats: list[str], table: Any) -> dict[str, list[str]]:
    """Per format, the asked-for precisions it supports; never silently drop a whole format."""
    wanted = [p.strip() for p in text.split(",") if p.strip()]
    per_format = {f: [p for p in wanted if p in table[f].precisions] for f in formats}
    orphans = [p for p in wanted if not any(p in ps for ps in per_format.values())]
    if orphans:
        raise ConfigError(f"no selected format exports {', '.join(orphans)}: "
                          + "; ".join(f"{f}: {','.join(table[f].precisions)}" for f in formats))
    empty = [f for f, ps in per_format.items() if not ps]
    if empty:
        raise ConfigError(f"{', '.join(empty)} export(s) none of {', '.join(wanted)} "
                          f"({'; '.join(f'{f}: ' + ','.join(table[f].precisions) for f in empty)}); "
                          "drop it from --formats or add one of its precisions")
    return per_format


def format_table(manifest: Any) -> str:
    """The manifest as a table a person reads: one row per artifact."""
    m = manifest.model
    rows = [("format", "precision", "status", "MB", "PSNR dB", "SSIM", "max err", "scale", "sizes", "residency",
             "file / reason")]
    for a in manifest.artifacts:
        par = a.parity
        rows.append((a.format, a.precision, a.status,
                     f"{a.bytes / 1e6:.2f}" if a.bytes is not None else "-",
                     f"{par.psnr_db:.1f}" if par.psnr_db is not None else "-",
                     f"{par.ssim:.4f}" if par.ssim is not None else "-",
                     f"{par.max_abs_err:.2g}" if par.max_abs_err is not None else "-",
                     par.scale or "-", a.shapes.describe(m.size),
                     a.residency.summary() + (" (!)" if a.residency.problems() else "") if a.residency else "-",
                     a.file if a.status == "ok" else (a.reason or a.file or "")))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1] for r in rows]
    name = f"{m.family}/{m.arch}" + (f" {m.direction}" if m.direction else "")
    head = f"{name} at {m.size[0]}x{m.size[1]}: {m.params / 1e6:.2f}M params, {m.macs / 1e9:.2f} GMACs"
    by_size = [f"  {a.format} {a.precision}: "
               + ", ".join(f"{k} {v:.1f} dB" for k, v in a.parity.psnr_db_by_size.items())
               for a in manifest.artifacts if a.parity.psnr_db_by_size]
    notes = [f"  {a.format} {a.precision}: {a.shapes.note}" for a in manifest.artifacts if a.shapes.note]
    return "\n".join([head, *lines, *(["PSNR by size (worst image):", *by_size] if by_size else []),
                      *(["sizes notes:", *notes] if notes else [])])


def run(args: argparse.Namespace) -> int:
    from pix2mobile.convert.formats import FORMATS
    from pix2mobile.models.loading import load_generator

    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ConfigError(f"unknown format(s) {', '.join(unknown) or '(none given)'}: choose from {', '.join(FORMATS)}")
    if not 1 <= args.samples <= MAX_SAMPLES:
        raise ConfigError(f"--samples must be between 1 and {MAX_SAMPLES}, got {args.samples}")
    args.primary_size, args.more_sizes = parse_sizes(args.size) if args.size is not None else (None, [])
    precisions = _precisions(args.precision, formats, FORMATS) if args.precision else None
    if args.auto and len(formats) != 1:
        raise ConfigError("--auto chooses a precision for one format: pass --formats with exactly one")
    if not 1 <= args.calibration_count <= MAX_CALIBRATION:
        raise ConfigError(f"--calibration-count must be between 1 and {MAX_CALIBRATION}, got {args.calibration_count}")
    first = None if args.direction == "both" else args.direction
    loaded = load_generator(args.checkpoint, args.family, args.arch, dict(args.option), direction=first)
    both = args.direction == "both" or (args.direction is None and len(loaded.directions) == 2)
    if both and len(loaded.directions) < 2:
        raise ConfigError(f"{args.checkpoint} holds one generator ({loaded.spec.family}"
                          f"{', ' + loaded.direction if loaded.direction else ''}); --direction both needs "
                          "a CycleGAN run directory, which holds both")
    if both:
        codes = [export_one(args, formats, precisions, load_generator(
                     args.checkpoint, args.family, args.arch, dict(args.option), direction=d), args.out / d)
                 for d in loaded.directions]
        return max(codes)
    return export_one(args, formats, precisions, loaded, args.out)


def export_one(args: argparse.Namespace, formats: list[str], precisions: dict[str, list[str]] | None,
               loaded: Any, out: Path) -> int:
    """Export one loaded generator into `out`; the exit code (1 when a row failed)."""
    from pix2mobile.convert.common import ExportOptions
    from pix2mobile.convert.quantize.recipes import needs_calibration
    size = args.primary_size or tuple(loaded.meta.get("training", {}).get("size_hw", (256, 256)))
    calibration = None
    plan = [(f, p) for f, ps in (precisions or {}).items() for p in ps]
    if args.calibration is not None or args.auto or needs_calibration(plan):
        from pix2mobile.convert.quantize.calibration import load_calibration

        calibration = load_calibration(args.calibration, loaded.spec.io, size, args.calibration_count)
    export_options = ExportOptions(channel_last=not args.nchw_tflite, image_io=not args.no_image_io,
                                   calibration=calibration)
    common = dict(thresholds=dict(args.threshold), options=loaded.options, checkpoint_sha256=loaded.sha256,
                  checkpoint=loaded.source, direction=loaded.direction, samples=args.samples, force=args.force,
                  sizes=args.more_sizes or None)
    more = ", ".join(str(s) if not isinstance(s, tuple) else f"{s[0]}x{s[1]}" for s in args.more_sizes)
    log.info("exporting %s%s (%s) at %dx%d%s to %s", loaded.spec.key,
             f" {loaded.direction}" if loaded.direction else "", loaded.source, size[0], size[1],
             f" (also {more})" if more else "", ", ".join(formats))
    import contextlib

    from pix2mobile.convert.mobile_graph import plain_graphs

    with plain_graphs() if args.plain_graph else contextlib.nullcontext():
        manifest = _export(args, loaded, size, formats, out, precisions, export_options, calibration, common)
    print(format_table(manifest))
    failed = [a for a in manifest.artifacts if a.status != "ok"]
    for a in failed:
        print(f"pix2mobile export: {a.format} {a.precision} failed: {a.reason}", file=sys.stderr)
    return 1 if failed else 0


def _export(args: argparse.Namespace, loaded: Any, size: tuple[int, int], formats: list[str], out: Path,
            precisions: Any, export_options: Any, calibration: Any, common: dict[str, Any]) -> Any:
    """`export_auto` (printing what it chose) or `export_model`, as the flags say; the manifest."""
    from pix2mobile.pipelines.export import export_model

    if args.auto:
        from pix2mobile.pipelines.auto import export_auto

        manifest, result = export_auto(loaded.generator, loaded.spec, size, formats[0], out,
                                       target_psnr=args.target_psnr, calibration=calibration,
                                       export_options=export_options, precisions=(precisions or {}).get(formats[0]),
                                       **common)
        print(result.describe())
        return manifest
    return export_model(loaded.generator, loaded.spec, size, formats, out, precisions=precisions,
                        export_options=export_options, **common)
