"""Learning-rate schedules as plain functions of the step, applied by the loop.

junyanz's `linear` policy: constant, then linear decay over the last `decay` steps
(lr factor 1 - max(0, s + 1 - constant) / (decay + 1)), so the last step still has a small
positive rate. A function of the step needs no state of its own to resume.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LinearDecay:
    total: int
    decay: int

    def __call__(self, step: int) -> float:
        constant = self.total - self.decay
        return 1.0 - max(0, step + 1 - constant) / float(self.decay + 1)


@dataclass(frozen=True)
class PerStage:
    """The same schedule restarted every `period` steps (the morph fits one image per period)."""

    inner: LinearDecay
    period: int

    def __call__(self, step: int) -> float:
        return self.inner(step % self.period)


def apply_lr(optimizer: torch.optim.Optimizer, factor: float) -> None:
    """Set every group's lr to its initial lr times `factor` (initial lr recorded on first use)."""
    for group in optimizer.param_groups:
        base = group.setdefault("initial_lr", group["lr"])
        group["lr"] = base * factor
