"""Where and how the maths runs: device, mixed precision, memory layout, torch.compile.

Recipes never test the device themselves: they build networks through `Accel.module`, run
forward passes inside `Accel.autocast()`, and call `Accel.backward`/`Accel.step`, which route
through a GradScaler only when fp16 needs one. On CPU the defaults make all of these plain
fp32, NCHW, eager calls: exactly the straightforward training step. Under torchrun, `dist`
(see `dist.py`) knows the ranks and `trained` wraps each trained network in DDP.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Iterable, TypeVar

import torch
from torch import nn

from pix2mobile.devices import resolve_device
from pix2mobile.errors import ConfigError
from pix2mobile.train.config import TrainConfig
from pix2mobile.train.dist import Dist

M = TypeVar("M", bound=nn.Module)

log = logging.getLogger(__name__)


@dataclass
class Accel:
    device: torch.device
    amp_dtype: torch.dtype | None = None
    channels_last: bool = False
    compile: bool = False
    scaler: Any = None            # torch.amp.GradScaler, for fp16 only
    dist: Dist = field(default_factory=Dist)

    @classmethod
    def from_config(cls, cfg: TrainConfig, dist: Dist | None = None) -> Accel:
        """The settings `cfg` asks for on `dist`'s device (its rank's GPU under torchrun), or on
        --device when no `dist` is given (one process)."""
        device = dist.device if dist is not None else resolve_device(cfg.device)
        cuda = device.type == "cuda"
        dtype: torch.dtype | None
        if cfg.amp == "off" or (cfg.amp == "auto" and not cuda):
            dtype = None
        elif cfg.amp == "fp16" or (cfg.amp == "auto" and not _bf16_ok(device)):
            if not cuda:
                raise ConfigError("--amp fp16 needs a CUDA device; use --amp off (or bf16) on CPU")
            dtype = torch.float16
        else:
            if cuda and not _bf16_ok(device):
                raise ConfigError(f"{torch.cuda.get_device_name(device)} has no bf16 support: use --amp fp16 or auto")
            dtype = torch.bfloat16
        scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
        channels_last = cfg.channels_last == "on" or (cfg.channels_last == "auto" and cuda)
        if cuda:
            torch.backends.cudnn.benchmark = not cfg.deterministic
            if cfg.deterministic:
                torch.backends.cudnn.deterministic = True
                torch.use_deterministic_algorithms(True, warn_only=True)
            else:
                torch.backends.cuda.matmul.allow_tf32 = True
                torch.backends.cudnn.allow_tf32 = True
        return cls(device, dtype, channels_last, cfg.compile, scaler, dist if dist is not None else Dist(device=device))

    def describe(self) -> str:
        amp = {None: "fp32", torch.bfloat16: "bf16 autocast", torch.float16: "fp16 autocast + GradScaler"}
        extras = [amp[self.amp_dtype]] + (["channels_last"] if self.channels_last else []) + \
                 (["torch.compile"] if self.compile else [])
        return f"{self.device} ({', '.join(extras)})"

    # networks -----------------------------------------------------------------------------
    def module(self, net: M) -> M:
        """Move a network to the device (and NHWC layout when enabled); returns the same object."""
        net.to(self.device)
        if self.channels_last:
            # Module.to documents memory_format=, but torch's overloads of it leave the keyword out
            net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        return net

    def compiled(self, net: nn.Module) -> nn.Module:
        """What forward passes call: `torch.compile(net)` with --compile, else `net` itself.

        Keep the returned object for calling and `net` for state dicts and checkpoints.
        """
        return torch.compile(net) if self.compile else net  # type: ignore[return-value]

    def trained(self, net: nn.Module) -> tuple[Callable[..., Any], Callable[..., Any]]:
        """(update, frozen): what forwards call for a network that is trained.

        `update` is for passes whose backward updates `net`: under torchrun DDP around it (so
        backward averages its gradients over the ranks), then compiled with --compile. `frozen`
        is for passes that do not update it (a discriminator judging the generator, a network
        held fixed, sample grids): `net` itself, compiled with --compile. In one process both
        are the same object, `compiled(net)`.
        """
        plain = self.compiled(net)
        if not self.dist.enabled:
            return plain, plain
        return self.compiled(self.dist.wrap(net)), plain

    def adam(self, params: Iterable[nn.Parameter], lr: float,
             betas: tuple[float, float] = (0.9, 0.999)) -> torch.optim.Adam:
        """Adam with the fused kernel (CPU and CUDA): one pass over all parameters per step."""
        return torch.optim.Adam(list(params), lr=lr, betas=betas, fused=self.device.type in ("cpu", "cuda"))

    # data ----------------------------------------------------------------------------------
    def batch(self, obj: Any) -> Any:
        """Tensors (in dicts, lists, tuples) onto the device; 4-D ones to NHWC when enabled."""
        if isinstance(obj, torch.Tensor):
            t = obj.to(self.device, non_blocking=True)
            if self.channels_last and t.dim() == 4:
                t = t.contiguous(memory_format=torch.channels_last)
            return t
        if isinstance(obj, dict):
            return {k: self.batch(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return type(obj)(self.batch(v) for v in obj)
        return obj

    # maths ----------------------------------------------------------------------------------
    def autocast(self) -> ContextManager[Any]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def backward(self, loss: torch.Tensor, retain_graph: bool = False) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward(retain_graph=retain_graph)

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is not None:
            self.scaler.step(optimizer)
        else:
            optimizer.step()

    def update(self) -> None:
        """Once per training step, after every optimiser has stepped (one scaler for all)."""
        if self.scaler is not None:
            self.scaler.update()

    def state_dict(self) -> dict[str, Any]:
        return {"scaler": self.scaler.state_dict() if self.scaler is not None else None}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])


def _bf16_ok(device: torch.device) -> bool:
    if device.type != "cuda":
        return True
    with torch.cuda.device(device):
        return torch.cuda.is_bf16_supported()
