"""The main job on embedded defaults, offline: every stage on built-in data, outputs in --out.

Stages: NST (the desktop reference) on a built-in photo and the built-in generated painting.
Later stages (training, export, benchmark) append to the same run directory.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .. import _io

HELP = "run the whole pipeline on built-in data (what `make demo` calls)"
log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("runs/demo"), help="output directory (default: runs/demo)")
    p.add_argument("--nst-size", type=int, default=256, help="longer side of the NST image (default: 256)")
    p.add_argument("--nst-steps", type=int, default=100, help="NST L-BFGS steps (default: 100)")
    p.add_argument("--content", default="builtin:chelsea", help="content image (default: builtin:chelsea)")
    p.add_argument("--style", default="builtin", help="style image (default: the built-in generated painting)")


def run(args: argparse.Namespace) -> int:
    from . import nst

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, object] = {}
    from .._cli_util import open_image_arg
    from ..data import images
    from ..models.gatys import NSTConfig

    images.save_image(images.resize_longer(open_image_arg(args.style, "style"), args.nst_size), out / "style.png")
    nst_out = out / "nst.png"
    log.info("demo 1/1: Gatys NST -> %s", nst_out)
    record = nst.run_nst(args.content, args.style, nst_out, NSTConfig(steps=args.nst_steps),
                         size=args.nst_size, force=True)
    summary["nst"] = {"image": nst_out.name, "losses": nst.history_path(nst_out).name,
                      "seconds": round(record["seconds"], 1),
                      "style_loss": [record["history"][0]["style"], record["history"][-1]["style"]]}
    _io.write_json(out / "demo.json", summary)
    log.info("demo finished: outputs in %s", out)
    return 0
