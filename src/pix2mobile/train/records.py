"""What a run directory holds besides the model: training state, RNG states, losses, samples.

- `train_state.pt` (atomic): step, config, every network/optimiser/pool the model object
  returns, scaler, data position and the torch/numpy/python/CUDA RNG states. Loaded with
  `weights_only=True`, so it holds only tensors and plain containers.
- `losses.csv`: one row per logging window; trimmed back to the checkpoint on resume.
- `tb/`: TensorBoard scalars and sample grids (skipped, with a warning, without tensorboard).
- `samples/step_NNNNNN.png`: inputs | outputs, one row per sample.
"""

from __future__ import annotations

import csv
import io
import logging
import random
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from pix2mobile import files
from pix2mobile.checkpoint import first_line
from pix2mobile.errors import CheckpointError

log = logging.getLogger(__name__)

STATE_NAME = "train_state.pt"
LOSSES_NAME = "losses.csv"
STATE_FORMAT = 1


# training state ---------------------------------------------------------------------------
def rng_state(device: torch.device) -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": random.getstate(),
        "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
    }
    return state


def set_rng_state(state: Mapping[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    npy = state["numpy"]
    np.random.set_state((npy["kind"], npy["keys"].numpy().astype(np.uint32), npy["pos"], npy["has_gauss"],
                         npy["cached"]))
    random.setstate(_tuples(state["python"]))
    if device.type == "cuda" and state.get("cuda") is not None:
        torch.cuda.set_rng_state(state["cuda"], device)


def _tuples(obj: Any) -> Any:
    return tuple(_tuples(o) for o in obj) if isinstance(obj, (list, tuple)) else obj


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)   # also seeds every CUDA device


def save_state(run_dir: Path, state: Mapping[str, Any]) -> Path:
    path = run_dir / STATE_NAME
    buf = io.BytesIO()
    torch.save({"format": STATE_FORMAT, **state}, buf)
    return files.write_bytes(path, buf.getvalue())


def load_state(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / STATE_NAME
    if not Path(run_dir).is_dir():
        raise CheckpointError(f"--resume {run_dir}: no such run directory")
    if not path.is_file():
        raise CheckpointError(f"--resume {run_dir}: no {STATE_NAME} there, so nothing to resume from "
                              "(the run wrote no checkpoint yet, or this is not a training run directory)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:   # pickle, zip and torch errors alike mean a damaged file
        raise CheckpointError(f"{path}: unreadable training state ({first_line(exc)})") from None
    if not isinstance(state, dict) or int(state.get("format", 0)) > STATE_FORMAT:
        raise CheckpointError(f"{path}: not a training state this pix2mobile can read")
    return state


# losses.csv --------------------------------------------------------------------------------
class LossLog:
    """Append-only CSV of logging windows; `header` is fixed by the model's loss names."""

    def __init__(self, run_dir: Path, loss_names: Sequence[str], resume_step: int | None):
        self.path = run_dir / LOSSES_NAME
        self.header = ["step", *loss_names, "img_per_s", "lr", "seconds"]
        if resume_step is not None and self.path.is_file():
            with open(self.path, newline="") as fh:
                rows = [r for r in csv.reader(fh)]
            kept = [r for r in rows[1:] if r and r[0].isdigit() and int(r[0]) <= resume_step]
            self._rewrite(kept)
        else:
            self._rewrite([])

    def _rewrite(self, rows: list[list[str]]) -> None:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(self.header)
        writer.writerows(rows)
        files.write_text(self.path, buf.getvalue())

    def append(self, row: Mapping[str, float]) -> None:
        with open(self.path, "a", newline="") as fh:
            csv.writer(fh).writerow([_fmt(row.get(k, float("nan"))) for k in self.header])


def _fmt(v: float) -> str:
    return str(int(v)) if isinstance(v, int) else f"{v:.6g}"


def tensorboard(run_dir: Path, purge_step: int | None) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception as exc:   # ImportError, or a broken protobuf/tensorboard install
        log.warning("TensorBoard logging is off (%s); losses still go to %s", exc, LOSSES_NAME)
        return None
    return SummaryWriter(log_dir=str(run_dir / "tb"), purge_step=purge_step)


# sample grids ------------------------------------------------------------------------------
def grid(visuals: Mapping[str, torch.Tensor], names: Sequence[str], pad: int = 2) -> torch.Tensor:
    """(3, H, W) in [0, 1]: one row per sample, one column per visual name, white gaps."""
    cols = [visuals[n].detach().float().cpu().clamp(0, 1) for n in names]
    n = min(c.shape[0] for c in cols)
    h = max(c.shape[2] for c in cols)
    w = max(c.shape[3] for c in cols)
    out = torch.ones(3, n * (h + pad) + pad, len(cols) * (w + pad) + pad)
    for j, col in enumerate(cols):
        for i in range(n):
            img = col[i]
            if img.shape[0] == 1:
                img = img.expand(3, -1, -1)
            top, left = pad + i * (h + pad), pad + j * (w + pad)
            out[:, top:top + img.shape[1], left:left + img.shape[2]] = img
    return out
