"""Gatys et al. neural style transfer: the slow, optimisation-based desktop reference.

Fast-style generators are judged against it (same VGG19 layers, same losses), so it favours
fidelity over speed: L-BFGS on the pixels, content at conv4_2 and Gram styles at conv1_1…conv5_1
(their rectified responses, as in the paper).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Literal

import torch

from pix2mobile.errors import ConfigError
from pix2mobile.limits import check_finite
from pix2mobile.models.perceptual import GATYS_CONTENT, GATYS_STYLE, PerceptualLoss
from pix2mobile.models.vgg import VGG

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NSTConfig:
    steps: int = field(default=200, metadata={"help": "optimiser iterations"})
    optimizer: Literal["lbfgs", "adam"] = field(default="lbfgs", metadata={"help": "lbfgs (the paper's) or adam"})
    content_weight: float = field(default=1.0, metadata={"help": "weight of the (relative) content loss"})
    style_weight: float = field(default=30.0, metadata={"help": "weight of the (relative) Gram style loss"})
    lr: float | None = field(default=None, metadata={"help": "learning rate (default 1.0 lbfgs, 0.02 adam)"})
    init: Literal["content", "noise"] = field(default="content",
                                              metadata={"help": "start from the content image or noise"})
    seed: int = 0

    def __post_init__(self) -> None:
        check_finite(self)                 # NaN passes every range check below; refuse it first
        if self.steps < 1:
            raise ConfigError("--steps must be at least 1")
        if self.lr is not None and not self.lr > 0:
            raise ConfigError(f"--lr must be positive, got {self.lr}")
        if self.optimizer not in ("lbfgs", "adam"):
            raise ConfigError(f"--optimizer must be lbfgs or adam, not '{self.optimizer}'")
        if self.init not in ("content", "noise"):
            raise ConfigError(f"--init must be content or noise, not '{self.init}'")
        if self.content_weight < 0 or self.style_weight < 0:
            raise ConfigError("loss weights must be non-negative")


@dataclass
class NSTResult:
    image: torch.Tensor            # (1, 3, H, W) in [0, 1]
    history: list[dict[str, float]]
    seconds: float


def stylize(content: torch.Tensor, style: torch.Tensor, vgg: VGG, cfg: NSTConfig = NSTConfig(),
            callback: Callable[[int, dict[str, float]], None] | None = None) -> NSTResult:
    """Optimise an image (1, 3, H, W) in [0, 1] to match `content` and the Gram statistics of `style`."""
    torch.manual_seed(cfg.seed)
    device = content.device
    loss_fn = PerceptualLoss(vgg, style.to(device), GATYS_CONTENT, GATYS_STYLE)
    targets = loss_fn.content_targets(content)
    start = content.clone().contiguous() if cfg.init == "content" else torch.rand_like(content).contiguous()
    x = start.requires_grad_(True)
    lr = cfg.lr if cfg.lr is not None else (1.0 if cfg.optimizer == "lbfgs" else 0.02)
    opt: torch.optim.Optimizer
    if cfg.optimizer == "lbfgs":
        opt = torch.optim.LBFGS([x], lr=lr, max_iter=1, history_size=50)
    else:
        opt = torch.optim.Adam([x], lr=lr)
    history: list[dict[str, float]] = []
    last: dict[str, float] = {}

    def closure() -> torch.Tensor:
        with torch.no_grad():
            x.clamp_(0.0, 1.0)
        opt.zero_grad(set_to_none=True)
        terms = loss_fn(x, targets)
        total = cfg.content_weight * terms.content + cfg.style_weight * terms.style
        total.backward()
        last.update(terms.as_floats(), total=float(total.detach()))
        return total

    t0 = time.perf_counter()
    closure()   # the starting point, so history[0] is the loss before any step
    history.append({"step": 0, **last})
    for step in range(1, cfg.steps + 1):
        opt.step(closure)
        row = {"step": step, **last}
        history.append(row)
        if callback is not None:
            callback(step, row)
        if not all(map(lambda v: v == v and abs(v) != float("inf"), last.values())):
            log.warning("NST loss became non-finite at step %d; stopping early", step)
            break
    with torch.no_grad():
        x.clamp_(0.0, 1.0)
    return NSTResult(image=x.detach(), history=history, seconds=time.perf_counter() - t0)
