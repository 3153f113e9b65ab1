"""Train a generator: one subcommand per recipe, one shared loop.

Examples:
  pix2mobile train fast-style --out runs/fs --arch lite --size 128 --steps 300
  pix2mobile train fast-style --out runs/candy --data coco/train2014 --style candy.jpg --vgg-weights vgg16-397923af.pth
  pix2mobile train cyclegan --out runs/h2z --data-a horse2zebra/trainA --data-b horse2zebra/trainB
  pix2mobile train bicyclegan --out runs/e2s --data edges2shoes/train --size 256
  pix2mobile train morph --out runs/morph --images a.png b.png c.png
  pix2mobile train cyclegan --resume runs/h2z          (after Ctrl-C, or with a larger --steps)
  pix2mobile train --nproc 4 cyclegan --out runs/h2z ...   (4 processes on this machine, via torchrun)
  torchrun --nnodes 2 --nproc_per_node 8 --rdzv-backend c10d --rdzv-endpoint HOST:29400 -m pix2mobile train
      cyclegan --out /shared/runs/h2z ...                  (the same on each of 2 machines)

Every data option accepts `builtin`, which works offline. A run directory holds model.safetensors
+ model.json (what export reads), train_state.pt (what --resume reads), losses.csv, samples/ and
tb/ (TensorBoard). Ctrl-C saves a checkpoint before exiting; a NaN loss stops the run and keeps
the last good checkpoint.

Under torchrun every process trains its share of each batch (--batch-size is per process; the
global batch is that times the number of processes, and --lr is used as given) and only rank 0
writes the run directory and logs. A run resumes at any number of processes that divides its
global batch. See docs/scale-out.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
from typing import Any

from pix2mobile.commands.flags import add_config_args, config_from_args
from pix2mobile.errors import ConfigError, Pix2MobileError
from pix2mobile.families import FAMILIES, Recipe
from pix2mobile.train.dist import env_ranks
from pix2mobile.train.loop import TrainingInterrupted

RECIPES: dict[str, Recipe] = {f.recipe.name: f.recipe for f in FAMILIES.values()}
"""One subcommand per family, declared with the family (`pix2mobile/families/<family>.py`)."""
HELP = f"train a generator ({', '.join(RECIPES)})"
log = logging.getLogger(__name__)


NPROC_HELP = ("train with N processes on this machine: launches `torchrun --standalone --nproc_per_node N` "
              "on this same command (default: 1, this process)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    # before or after the recipe: `train --nproc 2 cyclegan ...` and `train cyclegan --nproc 2 ...`
    p.add_argument("--nproc", type=int, default=argparse.SUPPRESS, metavar="N", help=NPROC_HELP)
    sub = p.add_subparsers(dest="recipe", metavar="RECIPE", required=True)
    for name, recipe in RECIPES.items():
        q = sub.add_parser(name, help=recipe.help, description=recipe.description,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        add_config_args(q, recipe.config, skip=recipe.skip)
        for alias in recipe.aliases:
            alias.add_to(q)
        q.add_argument("--nproc", type=int, default=argparse.SUPPRESS, metavar="N", help=NPROC_HELP)


def run(args: argparse.Namespace) -> int:
    recipe = RECIPES[args.recipe]
    cfg = config_from_args(recipe.config, args)
    nproc = getattr(args, "nproc", 1)
    if nproc < 1:
        raise ConfigError(f"--nproc must be at least 1, got {nproc}")
    rank, world, _ = env_ranks()
    if nproc > 1 and world == 1:
        return launch(nproc, child_argv(args, recipe))
    if rank != 0:
        return _run_quietly(recipe, cfg)
    try:
        run_dir = recipe.train(cfg)
    except TrainingInterrupted as exc:
        log.warning("%s", exc)
        return 130
    log.info("done: %s (export it with the run directory)", run_dir)
    return 0


def _run_quietly(recipe: Recipe, cfg: Any) -> int:
    """A rank other than 0 under torchrun: train, and leave every message to rank 0."""
    for name in ("", "pix2mobile"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        recipe.train(cfg)
    except TrainingInterrupted:
        return 130
    except Pix2MobileError as exc:       # rank 0 prints the one line
        log.debug("%s", exc)
        return 2
    return 0


def child_argv(args: argparse.Namespace, recipe: Recipe) -> list[str]:
    """The command line each torchrun worker runs: this one, without --nproc (every config
    value spelled out, so the workers build exactly the config this process built)."""
    argv = ["-v"] if getattr(args, "verbose", False) else ["-q"] if getattr(args, "quiet", False) else []
    argv += ["train", args.recipe]
    for f in dataclasses.fields(recipe.config):
        if not f.init or f.name in recipe.skip or not hasattr(args, f.name):
            continue
        value, flag = getattr(args, f.name), "--" + f.name.replace("_", "-")
        if value is None:
            continue
        if isinstance(value, bool):
            argv.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, (list, tuple)):
            argv += [flag, *(str(v) for v in value)]
        else:
            argv += [flag, str(value)]
    return argv


def launch(nproc: int, argv: list[str]) -> int:
    """`torchrun --standalone --nproc_per_node nproc -m pix2mobile ARGV` in this process; the
    exit code is rank 0's (2: bad input, 130: interrupted), whose message is already printed.

    Each worker gets an equal share of this machine's cores (OMP_NUM_THREADS, unless set).
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.run import parse_args
    from torch.distributed.run import run as torchrun

    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    log.info("training with %d processes on this machine (torchrun --standalone --nproc_per_node %d)", nproc, nproc)
    log.debug("each runs: pix2mobile %s", " ".join(argv))
    # torchrun's own loggers report each failed worker at length; the workers have said why
    elastic = logging.getLogger("torch.distributed.elastic")
    level = elastic.level
    elastic.setLevel(logging.CRITICAL)
    try:
        torchrun(parse_args(["--standalone", "--nproc_per_node", str(nproc), "-m", "pix2mobile", *argv]))
    except ChildFailedError as exc:
        failures = sorted(exc.failures.items())
        code = next((f.exitcode for r, f in failures if r == 0), failures[0][1].exitcode if failures else 1)
        return code if code > 0 else 1
    except SignalException:
        return 130
    finally:
        elastic.setLevel(level)
    return 0
