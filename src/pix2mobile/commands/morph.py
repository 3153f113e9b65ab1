"""Render the morph between two images of a trained morph run: PNG frames and a looping GIF.

Examples:
  pix2mobile morph runs/morph --steps 24 --size 256 256 --out runs/morph/frames
  pix2mobile morph runs/morph --steps 40 --size 128 192 --pair 1 2 --out runs/morph/1to2

The MLPs render at any size; frames blend the two networks' weights, alpha 0 -> 1.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from pix2mobile.limits import MAX_IMAGE_SIDE
from pix2mobile.train.morph import MAX_FRAMES

HELP = "render a trained morph's transition (PNG frames + animated GIF)"
log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", type=Path, help="run directory written by `pix2mobile train morph`")
    p.add_argument("--steps", type=int, default=24,
                   help=f"frames from the first image to the second, 2..{MAX_FRAMES} (default: 24)")
    p.add_argument("--size", type=int, nargs=2, default=[256, 256], metavar=("H", "W"),
                   help=f"frame height and width in pixels, at most {MAX_IMAGE_SIDE} (default: 256 256)")
    p.add_argument("--out", type=Path, required=True, help="directory for frame_NNN.png and morph_I_J.gif")
    p.add_argument("--pair", type=int, nargs=2, default=[0, 1], metavar=("I", "J"),
                   help="indices of the two images in the run's sequence (default: 0 1)")
    p.add_argument("--duration", type=int, default=60, help="GIF milliseconds per frame, 1..60000 (default: 60)")
    p.add_argument("--force", action="store_true", help="write into an existing non-empty --out")


def run(args: argparse.Namespace) -> int:
    from pix2mobile.train.morph import render_transition

    paths = render_transition(args.run, args.steps, tuple(args.size), args.out, tuple(args.pair),
                              duration_ms=args.duration, force=args.force)
    log.info("wrote %d frames and %s", len(paths) - 1, paths[-1])
    return 0
