"""Copy exported models into the Android or iOS sample app, with golden vectors for its self-test.

Examples:
  pix2mobile bundle runs/demo/export_style --android android_demo
  pix2mobile bundle exports/h2z exports/style --android android_demo --formats tflite,pte
  pix2mobile bundle runs/demo/export_style --ios ios_demo

Each export folder becomes app/src/main/assets/models/NAME/ (Android) or App/Resources/models/NAME/
(iOS): the artifacts that platform runs (Android: .tflite, .pte, .ptl; iOS: .mlpackage, .mlmodel),
their manifest.json, bundle.json and golden/ (each artifact's input on a real photo and the output
Python got from that same artifact with its own runtime). A CycleGAN export holding a2b/ and b2a/
becomes two models of one group (the app's direction switch). The apps list models/*/ at start,
so a new bundle needs no code change. Asking for a format the platform cannot run is refused.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pix2mobile.errors import ConfigError

HELP = "copy exports and their golden vectors into the Android or iOS sample app"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("exports", type=Path, nargs="+", help="export folders (written by pix2mobile export)")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--android", type=Path, metavar="APP_DIR", help="the Android demo (android_demo)")
    target.add_argument("--ios", type=Path, metavar="APP_DIR", help="the iOS demo (ios_demo)")
    p.add_argument("--formats", help="comma-separated formats to bundle (default: all the platform runs)")
    p.add_argument("--precision", help="comma-separated precisions to bundle (default: all that passed)")
    p.add_argument("--name", help="model folder name (default: the export folder's name); one export only")
    p.add_argument("--force", action="store_true", help="replace a bundled model of the same name")


def _split(text: str | None) -> list[str] | None:
    return [x.strip() for x in text.split(",") if x.strip()] if text else None


def run(args: argparse.Namespace) -> int:
    from pix2mobile.pipelines.bundle import bundle

    if args.name is not None and len(args.exports) > 1:
        raise ConfigError("--name names one model: bundle one export at a time with it")
    if args.name is not None and (not args.name or "/" in args.name or args.name.startswith(".")):
        raise ConfigError(f"--name must be a plain folder name, got {args.name!r}")
    platform = "android" if args.android else "ios"
    app = args.android or args.ios
    written = bundle(args.exports, app, platform, formats=_split(args.formats), precisions=_split(args.precision),
                     name=args.name, force=args.force)
    for path in written:
        print(f"bundled {path}")
    return 0
