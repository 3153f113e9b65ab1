"""Train a generator: one subcommand per recipe, one shared loop.

Examples:
  pix2mobile train fast-style --out runs/fs --arch lite --size 128 --steps 300
  pix2mobile train fast-style --out runs/candy --data coco/train2014 --style candy.jpg --vgg-weights vgg16-397923af.pth
  pix2mobile train cyclegan --out runs/h2z --data-a horse2zebra/trainA --data-b horse2zebra/trainB
  pix2mobile train bicyclegan --out runs/e2s --data edges2shoes/train --size 256
  pix2mobile train morph --out runs/morph --images a.png b.png c.png
  pix2mobile train cyclegan --resume runs/h2z          (after Ctrl-C, or with a larger --steps)

Every data option accepts `builtin`, which works offline. A run directory holds model.safetensors
+ model.json (what export reads), train_state.pt (what --resume reads), losses.csv, samples/ and
tb/ (TensorBoard). Ctrl-C saves a checkpoint before exiting; a NaN loss stops the run and keeps
the last good checkpoint.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .._cli_util import add_config_args, config_from_args
from ..train import bicyclegan, cyclegan, fast_style, morph
from ..train.config import TrainConfig
from ..train.loop import TrainingInterrupted

HELP = "train a generator (fast-style, cyclegan, bicyclegan, morph)"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainCommand:
    help: str
    config: type[TrainConfig]
    train: Callable[..., Path]
    description: str = ""
    skip: tuple[str, ...] = ()      # config fields that do not apply to this recipe


RECIPES: dict[str, TrainCommand] = {
    "fast-style": TrainCommand("feed-forward style transfer (content folder + one style image)",
                               fast_style.FastStyleConfig, fast_style.train, fast_style.__doc__ or ""),
    "cyclegan": TrainCommand("unpaired translation between two image folders",
                             cyclegan.CycleGANConfig, cyclegan.train, cyclegan.__doc__ or ""),
    "bicyclegan": TrainCommand("multimodal paired translation (sketch -> photo, several per sketch)",
                               bicyclegan.BicycleGANConfig, bicyclegan.train, bicyclegan.__doc__ or ""),
    "morph": TrainCommand("coordinate MLPs of an image sequence, for weight-blended morphs",
                          morph.MorphConfig, morph.train, morph.__doc__ or "", skip=("batch_size", "num_samples")),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="recipe", metavar="RECIPE", required=True)
    for name, recipe in RECIPES.items():
        q = sub.add_parser(name, help=recipe.help, description=recipe.description,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        add_config_args(q, recipe.config, skip=recipe.skip)
        if name == "morph":
            q.add_argument("--independent", dest="chain", action="store_false",
                           help="fit every image from the same initialisation (not from the previous one)")


def run(args: argparse.Namespace) -> int:
    recipe = RECIPES[args.recipe]
    cfg = config_from_args(recipe.config, args)
    try:
        run_dir = recipe.train(cfg)
    except TrainingInterrupted as exc:
        log.warning("%s", exc)
        return 130
    log.info("done: %s (export it with the run directory)", run_dir)
    return 0
