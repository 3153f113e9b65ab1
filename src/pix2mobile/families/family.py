"""What a model family is: the one record that ties its nets, its training recipe and its
desktop reference together, so adding a family is one module in `pix2mobile.families`.

A family (fast style, CycleGAN, BicycleGAN, morph) is a kind of generator that pix2mobile can
train, export and benchmark. Its parts live in the layers they belong to:

- nets: `models/<family>.py`, one `VariantSpec` per architecture, listed in `models.MODELS`
  (export and loading look variants up there, below this package);
- training: `train/<family>.py`, a config dataclass and `train(cfg) -> run directory`;
- benchmark: a desktop reference that says whether the exported model is any good beyond
  parity (fast style vs Gatys NST, the morph vs the desktop morph, BicycleGAN's diversity
  over z; CycleGAN has none), and the plot that shows it.

`Family` names all three. `families/<family>.py` defines its `FAMILY` and holds its reference
code; `families/__init__.py` collects them in `FAMILIES`. `pix2mobile train` builds one
subcommand per `Family.recipe` and `pix2mobile bench` runs `Family.reference`, so neither has a
branch per family. This package sits above `train` and `models` (it imports both) and below
`benchmark` (which imports it), so the reference code cannot import `pix2mobile.benchmark`:
what it needs from there (the bench flags, the eager model, the drawing functions) is passed in.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

import numpy as np
import torch

from pix2mobile.models.spec import IOSpec, VariantSpec
from pix2mobile.train.config import TrainConfig

Runner = Callable[[Sequence[torch.Tensor]], list[np.ndarray]]
"""Takes a tuple of NCHW tensors in the IOSpec's ranges, returns the outputs the same way: every
artifact's runtime and the eager module look alike to a reference."""


@dataclass(frozen=True)
class Alias:
    """An extra flag of a training subcommand that sets a config field to a constant
    (morph's `--independent` is `--no-chain`, spelled the way users think of it)."""
    flag: str
    dest: str
    const: Any
    help: str

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(self.flag, dest=self.dest, action="store_const", const=self.const, help=self.help)


@dataclass(frozen=True)
class Recipe:
    """How `pix2mobile train <name>` trains this family: the config dataclass (its fields are
    the flags), the training function, and what `--help` says."""
    name: str                                  # the subcommand, e.g. "fast-style"
    help: str
    config: type[TrainConfig]
    train: Callable[..., Path]
    description: str = ""
    skip: tuple[str, ...] = ()                 # config fields that do not apply to this recipe
    aliases: tuple[Alias, ...] = ()


@dataclass(frozen=True)
class ReferenceInputs:
    """Everything `run_bench` hands a desktop reference. `cfg` is the `BenchConfig` and `eager`
    the `EagerModel` (or None without a checkpoint); typed loosely because both live in
    `pix2mobile.benchmark`, above this package."""
    cfg: Any
    io: IOSpec
    size: tuple[int, int]
    samples: Sequence[tuple[torch.Tensor, ...]]
    eager: Any
    runners: Mapping[str, Runner]              # the artifacts only
    with_eager: Mapping[str, Runner]           # "pytorch fp32" first (when there is an eager model), then the artifacts
    latency_ms: Mapping[str, float | None]


class Drawing(Protocol):
    """The drawing functions a reference's plot may use (`pix2mobile.benchmark.plots` is one)."""

    def nst_side_by_side(self, result: Mapping[str, Any], images: Mapping[str, np.ndarray], path: Path) -> Path: ...

    def frame_strip(self, images: Mapping[str, np.ndarray], row_titles: Mapping[str, str], col_titles: Sequence[str],
                    path: Path, cell_titles: Mapping[str, Sequence[str]] | None = None) -> Path: ...


@dataclass(frozen=True)
class Reference:
    """A family's desktop reference: `measure` returns (JSON-ready result, images for the plot),
    reported under `name` in report.json; a result whose status is not "ok" (e.g. skipped for
    want of a checkpoint) is reported but not plotted. `plot` draws the result to `<plot>.png`."""
    name: str
    measure: Callable[[ReferenceInputs], tuple[dict[str, Any], Any]]
    plot_name: str
    plot: Callable[[Mapping[str, Any], Any, Path, Drawing], Path]


@dataclass(frozen=True)
class Family:
    """One model family: its registry variants, its training recipe, its desktop reference (or None)."""
    name: str                                  # VariantSpec.family of every variant
    variants: tuple[VariantSpec, ...]
    recipe: Recipe
    reference: Reference | None = None

    def __post_init__(self) -> None:
        strays = [v.key for v in self.variants if v.family != self.name]
        if strays:
            raise ValueError(f"family {self.name} lists variants of another family: {', '.join(strays)}")


# ---------------------------------------------------------------- helpers shared by the references

def unit(x: np.ndarray | torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """An output in [lo, hi] as a tensor in [0, 1], clamped (what the VGG losses and plots take)."""
    t = torch.as_tensor(np.asarray(x, dtype=np.float32))
    return ((t - lo) / (hi - lo)).clamp(0.0, 1.0)


def skipped(reason: str) -> dict[str, Any]:
    """A reference that could not be measured: reported with its reason, never dropped."""
    return {"status": "skipped", "reason": reason, "summary": f"not measured: {reason}"}
