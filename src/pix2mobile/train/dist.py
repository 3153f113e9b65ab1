"""Several training processes (torchrun, DistributedDataParallel) behind one small object.

`torchrun --nproc_per_node N -m pix2mobile train ...` starts N copies of the same command with
WORLD_SIZE/RANK/LOCAL_RANK set; `Dist.start` reads them and joins the process group (gloo on
CPU, NCCL on CUDA, one GPU per process: cuda:LOCAL_RANK). Without torchrun (WORLD_SIZE unset
or 1) `Dist()` is a single process and every method here is a no-op that returns its input,
so the single-process path runs exactly the code it always ran.

What the ranks share, and why each piece exists:

- every trained network is wrapped in DistributedDataParallel (`wrap`), which averages the
  gradients over the ranks in backward; the loss of each rank is a mean over its own slice of
  the global batch, so the average is the mean over the global batch: the same update that one
  process with the whole batch would make (a loss that *sums* over the batch is multiplied by
  the world size first);
- random draws that depend on the batch (BicycleGAN's z, CycleGAN's pool) are drawn for the
  global batch on every rank from the same seeded RNG, and each rank keeps its slice, so the
  RNG streams never diverge between ranks;
- the loop agrees every step on whether any rank failed to load its batch, asked to stop
  (SIGINT/SIGTERM) or saw a NaN (`share_error`, `mean`), so all ranks stop at the same step and
  rank 0 reports it once.
"""

from __future__ import annotations

import atexit
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Sequence, TypeVar

import torch
import torch.distributed as td
from torch import nn

from pix2mobile.devices import resolve_device
from pix2mobile.errors import ConfigError, Pix2MobileError, TrainingError

log = logging.getLogger(__name__)

M = TypeVar("M", bound=nn.Module)


def env_ranks() -> tuple[int, int, int]:
    """(rank, world size, local rank) as torchrun sets them; (0, 1, 0) outside torchrun."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise ConfigError("WORLD_SIZE, RANK and LOCAL_RANK must be integers (torchrun sets them)") from None
    if world < 1 or not 0 <= rank < world:
        raise ConfigError(f"RANK {rank} does not fit WORLD_SIZE {world}")
    return rank, world, local


def is_main_process() -> bool:
    """True outside torchrun and on rank 0: the one process that writes files and logs."""
    return env_ranks()[0] == 0


class PeerStopped(TrainingError):
    """Another rank stopped the run; rank 0 reports why (this rank stays quiet)."""


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    owns_group: bool = False

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def start(cls, device: str) -> Dist:
        """Join torchrun's process group (when WORLD_SIZE > 1) and pick this rank's device.

        `--device auto` or `cuda` under torchrun means cuda:LOCAL_RANK with NCCL; `cpu` (or auto
        without CUDA) means gloo. `cuda:N` is refused: with several processes per machine each
        must own one GPU (choose them with CUDA_VISIBLE_DEVICES).
        """
        rank, world, local = env_ranks()
        if world == 1:
            return cls(device=resolve_device(device))
        if device.startswith("cuda:"):
            raise ConfigError(f"--device {device} under torchrun: each process takes cuda:LOCAL_RANK; pass --device "
                              f"cuda (or auto) and choose the GPUs with CUDA_VISIBLE_DEVICES")
        dev = resolve_device(device)
        if dev.type == "cuda":
            if local >= torch.cuda.device_count():
                raise ConfigError(f"LOCAL_RANK {local} but this machine shows {torch.cuda.device_count()} GPU(s): "
                                  f"start at most that many processes per node")
            dev = torch.device("cuda", local)
            torch.cuda.set_device(dev)
        backend = "nccl" if dev.type == "cuda" else "gloo"
        owns = False
        if not td.is_initialized():
            td.init_process_group(backend)
            owns = True
            atexit.register(_destroy)
        elif td.get_world_size() != world:
            raise ConfigError(f"the process group has {td.get_world_size()} ranks but WORLD_SIZE is {world}")
        return cls(rank, world, local, dev, owns)

    def close(self) -> None:
        """Leave the process group this object joined (so a later run in this process can join anew)."""
        if self.owns_group:
            _destroy()
            self.owns_group = False

    # networks -----------------------------------------------------------------------------
    def wrap(self, net: M) -> M:
        """DistributedDataParallel around a trained network (the network itself in one process).

        Buffers are synced once, at wrapping, not before every forward (the nets normalise per
        sample: InstanceNorm without running stats, no BatchNorm), and every trained parameter
        is used in each backward, so find_unused_parameters stays False. Call the wrapper only
        for forwards whose backward updates this network; a frozen pass (a discriminator judging
        the generator, a sample grid) calls the network itself, which keeps the wrapper's
        bookkeeping in step.
        """
        if not self.enabled:
            return net
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DDP(net, device_ids=ids, forward_sync_buffers=False,  # type: ignore[return-value]
                   find_unused_parameters=False)

    # batches ------------------------------------------------------------------------------
    def local(self, t: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous slice (along dim 0) of a tensor made for the global batch."""
        if not self.enabled:
            return t
        n = t.shape[0] // self.world
        return t[self.rank * n:(self.rank + 1) * n]

    def gather(self, t: torch.Tensor) -> torch.Tensor:
        """Every rank's `t` (equal shapes) concatenated along dim 0 in rank order: the global batch."""
        if not self.enabled:
            return t
        parts = [torch.empty_like(t) for _ in range(self.world)]
        td.all_gather(parts, t.contiguous())
        return torch.cat(parts, 0)

    # agreement ----------------------------------------------------------------------------
    def mean(self, values: Sequence[float]) -> list[float]:
        """Each value averaged over the ranks (float64); NaN anywhere gives NaN everywhere."""
        if not self.enabled:
            return list(values)
        t = torch.tensor(list(values), dtype=torch.float64, device=self.device)
        td.all_reduce(t)
        return (t / self.world).tolist()

    def mean_tensor(self, t: torch.Tensor) -> torch.Tensor:
        """A detached tensor averaged over the ranks (a batch statistic of the global batch)."""
        if not self.enabled:
            return t
        out = t.detach().clone()
        td.all_reduce(out)
        return out / self.world

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's `obj` on every rank (pickled; for start-up state, not per step)."""
        if not self.enabled:
            return obj
        box = [obj]
        td.broadcast_object_list(box, src=0, device=self.device if self.device.type == "cuda" else None)
        return box[0]

    def share_error(self, error: BaseException | None) -> None:
        """Raise on every rank if any rank has an error; rank 0's exception carries the message.

        The failing rank (the lowest, if several) decides the message: a `Pix2MobileError` travels
        as itself; anything else (a bug) is re-raised with its traceback on its own rank and
        reported to rank 0 as a one-line TrainingError. Other ranks raise `PeerStopped`.
        """
        if not self.enabled:
            if error is not None:
                raise error
            return
        flag = torch.tensor([1.0 if error is not None else 0.0], device=self.device)
        td.all_reduce(flag)
        if not flag.item():
            return
        found: list[Any] = [None] * self.world
        td.all_gather_object(found, portable(error) if error is not None else None)
        culprit = next(r for r, e in enumerate(found) if e is not None)
        if error is not None and not isinstance(error, Pix2MobileError):
            raise error                                         # a bug keeps its traceback
        if self.main:
            if culprit == 0 and error is not None:
                raise error
            raise rebuild(found[culprit], f"rank {culprit}: ")
        raise PeerStopped(f"rank {culprit} stopped the run: {found[culprit][1]}")


def portable(error: BaseException) -> tuple[str, str]:
    """(class name, one-line message): what one rank tells the others about its error."""
    text = str(error).strip()
    if isinstance(error, Pix2MobileError):
        return type(error).__name__, text
    first = text.splitlines()[0] if text else ""
    return "TrainingError", f"{type(error).__name__}: {first}" if first else type(error).__name__


def rebuild(sent: tuple[str, str], prefix: str = "") -> Pix2MobileError:
    """The error `portable` described, as the same pix2mobile class where it takes one message."""
    from pix2mobile import errors

    cls = getattr(errors, sent[0], TrainingError)
    try:
        error = cls(prefix + sent[1])
    except TypeError:
        error = TrainingError(prefix + sent[1])
    return error if isinstance(error, Pix2MobileError) else TrainingError(prefix + sent[1])

def _destroy() -> None:
    if td.is_available() and td.is_initialized():
        td.destroy_process_group()
