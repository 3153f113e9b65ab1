"""Upper bounds every command shares, and the finite-number check every config runs.

Without a ceiling, `--size 99999` asks for tens of gigabytes and dies deep inside torch with
a traceback, minutes in. One documented constant lets every size-style flag refuse such a
request in one line before any work starts.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from pix2mobile.errors import ConfigError

MAX_IMAGE_SIDE = 8192
"""Largest height or width, in pixels, any pix2mobile size flag accepts (training, NST, export,
rendering, MAC counts). 8192 is past every phone camera's long side that a generator here is
trained or run at; larger requests are refused, not attempted."""

MAX_SAMPLES = 64
"""Most parity images per artifact (`export --samples`): each is a full run of every artifact."""
MAX_CALIBRATION = 1024
"""Most calibration images (`--calibration-count`): each is held in memory at the export size."""


def flag(name: str) -> str:
    """A config field's command-line spelling: `lambda_l1` -> `--lambda-l1`."""
    return "--" + name.replace("_", "-")


def check_side(name: str, value: int, low: int = 1) -> None:
    """Refuse an image side outside [low, MAX_IMAGE_SIDE] (`name` is the flag, as the user typed it)."""
    if not low <= value <= MAX_IMAGE_SIDE:
        raise ConfigError(f"{name} must be between {low} and {MAX_IMAGE_SIDE} pixels "
                          f"(pix2mobile.limits.MAX_IMAGE_SIDE), got {value}")


def check_finite(config: Any) -> None:
    """Refuse NaN or infinite float fields of a config dataclass, naming the flag.

    NaN slips through every `x < 0` range check (all comparisons with NaN are false), so this
    runs first, before the per-field ranges.
    """
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{flag(f.name)} must be a finite number, got {value}")
