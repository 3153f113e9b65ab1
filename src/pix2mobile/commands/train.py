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

from pix2mobile.commands.flags import add_config_args, config_from_args
from pix2mobile.families import FAMILIES, Recipe
from pix2mobile.train.loop import TrainingInterrupted

RECIPES: dict[str, Recipe] = {f.recipe.name: f.recipe for f in FAMILIES.values()}
"""One subcommand per family, declared with the family (`pix2mobile/families/<family>.py`)."""
HELP = f"train a generator ({', '.join(RECIPES)})"
log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="recipe", metavar="RECIPE", required=True)
    for name, recipe in RECIPES.items():
        q = sub.add_parser(name, help=recipe.help, description=recipe.description,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        add_config_args(q, recipe.config, skip=recipe.skip)
        for alias in recipe.aliases:
            alias.add_to(q)


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
