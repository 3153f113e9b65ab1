"""Which torch device a command runs on: `auto` picks CUDA when this torch sees one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pix2mobile.errors import ConfigError

if TYPE_CHECKING:
    import torch


def resolve_device(name: str) -> torch.device:
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but this torch sees no CUDA device; use --device cpu")
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise ConfigError(f"--device must be auto, cpu or cuda[:N], not '{name}'")
    return torch.device(name)
