"""The one training loop: it drives any `GANModel` and never names a loss.

A recipe (`fast_style.py`, `cyclegan.py`, ...) opens a `Session` (run directory checks,
resumed config, device, seeds), builds and validates its data, builds its model object, and
hands both to `run_loop` as a `Recipe`. The loop owns everything else: the learning-rate
schedule, the data order, logging (progress bar, losses.csv, TensorBoard), sample grids,
checkpoints (every --save-every steps, at the end, and on Ctrl-C/SIGTERM), NaN/inf checks,
and resuming. It logs whatever `optimize()` returns and draws whatever `visuals()` returns.

Under torchrun (see `dist.py`) every rank runs this loop in lockstep: only rank 0 creates the
run directory and writes logs, losses.csv, TensorBoard, samples and checkpoints; the logged
losses are means over the ranks; and each step the ranks agree on a failed batch, a stop
signal or a NaN, so all of them stop at the same step and rank 0 says why, once.
`--batch-size` is per process: the global batch is batch x world size, and the learning rate
is used as given (no scaling with the world size), so N processes x batch b make the same
updates as one process with batch N x b.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import signal
import threading
import time
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import torch
from torch import nn

from pix2mobile import __version__
from pix2mobile import files
from pix2mobile.checkpoint import save_run
from pix2mobile.errors import ConfigError, Pix2MobileError, TrainingError
from pix2mobile.train import records
from pix2mobile.train.accel import Accel
from pix2mobile.train.config import TrainConfig, field_default, merge_resumed
from pix2mobile.train.data import BatchSource, SeededBatches
from pix2mobile.train.dist import Dist, PeerStopped, portable
from pix2mobile.train.schedule import apply_lr

log = logging.getLogger(__name__)

StepHook = Callable[[int, dict[str, float]], None]
"""Called after every step with (steps done, that step's losses); tests and demos use it."""


class GANModel(Protocol):
    """A recipe's model object (junyanz's lifecycle): declares what the loop reports.

    `visuals()` computes outputs for the current input (called under no_grad) and returns
    (N, 3, H, W) images in [0, 1] keyed by `visual_names`; `state_dict()` holds everything
    needed to resume (networks, optimisers, pools, counters); `generator` is the plain
    `nn.Module` that is checkpointed for export (a model with more, CycleGAN's G_B, names them in
    an optional `extra_generators` mapping, saved beside it); `optimizers` are the ones stepping now, and
    the loop sets their learning rate each step.
    """

    # Read-only to the loop (properties, so a model may declare narrower types: a tuple of
    # exactly its loss names, its own generator class).
    @property
    def loss_names(self) -> tuple[str, ...]: ...
    @property
    def visual_names(self) -> tuple[str, ...]: ...
    @property
    def generator(self) -> nn.Module: ...
    @property
    def optimizers(self) -> dict[str, torch.optim.Optimizer]: ...
    def set_input(self, batch: Any) -> None: ...
    def optimize(self) -> dict[str, float]: ...
    def visuals(self) -> dict[str, torch.Tensor]: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@dataclass
class Session:
    """A run about to start or continue: the (merged) config, the device, the saved state."""

    name: str
    cfg: TrainConfig
    accel: Accel
    state: dict[str, Any] | None = None

    @property
    def run_dir(self) -> Path:
        return self.cfg.run_dir

    @property
    def dist(self) -> Dist:
        """The ranks of this run (one process outside torchrun)."""
        return self.accel.dist


@dataclass
class Recipe:
    model: GANModel
    batches: BatchSource
    samples: Any                    # the fixed (CPU) batch every sample grid shows
    meta: dict[str, Any]            # family, arch, options, io, ...: this recipe's model.json entries
    total_steps: int
    images_per_step: int            # over all ranks: batch x world size for the batched recipes
    lr_factor: Callable[[int], float]


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM: the run saved a checkpoint at `step` and stopped."""

    def __init__(self, step: int, run_dir: Path, signal_name: str):
        super().__init__(f"{signal_name} at step {step}: checkpoint saved in {run_dir}; "
                         f"continue with --resume {run_dir}")
        self.step, self.run_dir = step, run_dir


def open_session(cfg: TrainConfig, name: str) -> Session:
    """Check the run directory (or load the run to resume), pick the device, seed everything.

    Call this first, then build and validate datasets, then models: bad paths, unwritable run
    directories, bad data and bad options all fail before any network is built. Under torchrun
    this joins the process group; rank 0 alone checks the run directory and reads the saved
    state, which it hands to the other ranks (a multi-node run needs its directory on rank 0's
    machine only).
    """
    dist = Dist.start(cfg.device)
    state: dict[str, Any] | None = None
    error: BaseException | None = None
    if dist.main:
        try:
            state = _check_run(cfg, name)
        except (Pix2MobileError, OSError) as exc:
            if not dist.enabled:
                raise
            error = exc
    if dist.enabled:
        sent, state = dist.broadcast((portable(error) if error is not None else None, state))
        if sent is not None:
            dist.close()
            if error is not None:
                raise error
            raise PeerStopped(f"rank 0: {sent[1]}")
    try:
        if state is not None:
            saved_batch = state["config"].get("batch_size")
            cfg = merge_resumed(rebatch(cfg, state, dist.world), state["config"])
            if dist.main and saved_batch != cfg.batch_size:
                log.info("resuming a global batch of %d on %d process(es): --batch-size %d each",
                         cfg.batch_size * dist.world, dist.world, cfg.batch_size)
        accel = Accel.from_config(cfg, dist)
    except Pix2MobileError:
        dist.close()
        raise
    records.seed_everything(cfg.seed)       # the same seed on every rank: the same init and draws
    return Session(name, cfg, accel, state)


def _check_run(cfg: TrainConfig, name: str) -> dict[str, Any] | None:
    """The resumed run's saved state (None for a new run), after the run-directory rules."""
    state = None
    run = cfg.run_dir
    if not (cfg.resume is not None and not run.is_dir()):   # a missing --resume run is load_state's line
        files.check_writable(run, "dir")     # a read-only or full disk fails now, not after training
    if cfg.resume is not None:
        state = records.load_state(run)
        if state.get("recipe") != name:
            raise ConfigError(f"{run} is a {state.get('recipe')} run: resume it with "
                              f"`pix2mobile train {state.get('recipe')} --resume {run}`")
    elif run.exists() and not run.is_dir():
        raise ConfigError(f"--out {run} is a file; pass a directory for the run")
    elif run.is_dir() and any(run.iterdir()) and not cfg.force:
        raise ConfigError(f"{run} exists and is not empty: continue it with --resume {run}, train over it "
                          f"with --force, or pick another --out")
    return state


def rebatch(cfg: TrainConfig, state: dict[str, Any], world: int) -> TrainConfig:
    """The per-process batch that keeps a resumed run's global batch at a new world size.

    A run saved by W processes with batch b trained on global batches of W x b; resumed by
    `world` processes it continues with batch W x b / world each (which must divide), so the
    updates stay those of the saved run. `--batch-size` may be given only as that value (or
    left out). `state["config"]` is updated to match, for `merge_resumed`.
    """
    saved = state["config"]
    saved_world = int(state.get("world_size", 1))
    if not cfg.BATCH_SHARDED or saved_world == world or "batch_size" not in saved:
        return cfg
    total = int(saved["batch_size"]) * saved_world
    if total % world:
        raise ConfigError(f"{cfg.run_dir} trained on a global batch of {total} ({saved_world} processes x "
                          f"{saved['batch_size']}), which {world} processes cannot share evenly: resume it "
                          f"with a number of processes that divides {total}")
    per = total // world
    default = field_default(next(f for f in dataclasses.fields(cfg) if f.name == "batch_size"))
    if cfg.batch_size not in (per, default, saved["batch_size"]):
        raise ConfigError(f"--batch-size {cfg.batch_size} would change the resumed run's global batch of {total}: "
                          f"with {world} process(es) each takes {per}; drop --batch-size")
    try:
        cfg = dataclasses.replace(cfg, batch_size=per)
    except ConfigError as exc:
        raise ConfigError(f"{cfg.run_dir}'s global batch of {total} over {world} process(es) is {per} each, "
                          f"which this recipe refuses ({exc}); resume with another number of processes") from None
    state["config"] = {**saved, "batch_size": per}
    return cfg


class _StopSignal:
    """SIGINT/SIGTERM set a flag the loop checks after each step; a second one acts at once.

    With `echo` (several processes) a repeat of the same signal within ECHO_S seconds counts as
    the first: Ctrl-C reaches each worker from the terminal and again from torchrun, which
    forwards it. `quiet` (ranks other than 0) logs nothing.
    """

    ECHO_S = 5.0

    def __init__(self, echo: bool = False, quiet: bool = False):
        self.echo, self.quiet = echo, quiet

    def __enter__(self) -> _StopSignal:
        self.requested: str | None = None
        self._at = 0.0
        self._previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.requested is not None:       # only reachable with echo: the forwarded copy
            if name == self.requested and time.monotonic() - self._at < self.ECHO_S:
                return
            self._restore()
            signal.raise_signal(signum)
            return
        self.requested, self._at = name, time.monotonic()
        if not self.echo:
            self._restore()
        if not self.quiet:
            log.warning("%s: saving a checkpoint after this step (send it again to stop at once)", self.requested)

    def _restore(self) -> None:
        for sig, prev in self._previous.items():
            signal.signal(sig, prev if prev is not None else signal.SIG_DFL)
        self._previous = {}

    def __exit__(self, *exc: Any) -> None:
        self._restore()


class _NoBar:
    """The progress bar of ranks other than 0: nothing to show."""

    def update(self, n: int) -> None:
        pass

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass


class _Window:
    """Loss means and throughput over one logging window."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.steps = 0
        self.start = time.perf_counter()

    def add(self, losses: dict[str, float]) -> None:
        for k, v in losses.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        self.steps += 1

    def close(self, images_per_step: int) -> tuple[dict[str, float], float]:
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        means = {k: v / max(self.steps, 1) for k, v in self.sums.items()}
        rate = images_per_step * self.steps / elapsed
        self.__init__()  # type: ignore[misc]
        return means, rate


def run_loop(session: Session, recipe: Recipe, on_step: StepHook | None = None) -> Path:
    """Train to `recipe.total_steps`; return the run directory (raises TrainingInterrupted on Ctrl-C)."""
    return _Loop(session, recipe).run(on_step)


class _Loop:
    def __init__(self, session: Session, recipe: Recipe):
        self.s, self.r = session, recipe
        self.cfg, self.accel, self.model = session.cfg, session.accel, recipe.model
        self.dist = session.dist
        self.main = self.dist.main
        self.run_dir = session.run_dir
        self.step = 0
        self.last_saved: int | None = None
        self.last_row: dict[str, float] = {}
        self.started = time.perf_counter()
        self.losses_csv: records.LossLog | None = None
        self.tb: Any = None

    def _restore(self) -> None:
        state = self.s.state
        if state is None:
            return
        self.model.load_state_dict(state["model"])
        self.r.batches.load_state_dict(state["data"])
        self.accel.load_state_dict(state["accel"])
        self.step = self.last_saved = int(state["step"])
        self.last_row = dict(state.get("losses") or {})
        if self.step >= self.r.total_steps:
            raise ConfigError(f"{self.run_dir} has done {self.step} of its {self.r.total_steps} steps already: "
                              f"pass a larger --steps to train on")
        records.set_rng_state(state["rng"], self.accel.device)   # last: nothing may draw after this

    def run(self, on_step: StepHook | None) -> Path:
        from pix2mobile.progress import bar

        try:
            self._restore()
        except Pix2MobileError:
            self.dist.close()
            raise
        resumed = self.s.state is not None
        if self.main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.losses_csv = records.LossLog(self.run_dir, self.model.loss_names, self.step if resumed else None)
            self.tb = records.tensorboard(self.run_dir, self.step if resumed else None)
        total = self.r.total_steps
        if self.main:
            log.info("%s: %s steps %d..%d on %s, %s, run in %s", self.s.name,
                     "resuming" if resumed else "training", self.step, total, self.accel.describe(),
                     self._batch_line(), self.run_dir)
        pbar: Any = bar(total, self.s.name, initial=self.step, unit="step") if self.main else _NoBar()
        window = _Window()
        try:
            with _StopSignal(echo=self.dist.enabled, quiet=not self.main) as stop:
                while self.step < total:
                    losses, stopped = self._train_step(stop)
                    window.add(losses)
                    pbar.update(1)
                    step = self.step
                    if step % self.cfg.log_every == 0 or step == total:
                        self._log(*window.close(self.r.images_per_step), pbar)
                    if self.cfg.sample_every and step % self.cfg.sample_every == 0 and step != total:
                        self.sample()
                    if self.cfg.save_every and step % self.cfg.save_every == 0 and step != total:
                        self.save()
                    if on_step is not None:
                        on_step(step, losses)
                    if not self.dist.enabled:
                        stopped = stop.requested     # one process: a signal up to now counts
                    if stopped:
                        if self.last_saved != step:
                            self.save()
                        raise TrainingInterrupted(step, self.run_dir, stopped)
                self.sample()
                self.save()
        finally:
            pbar.close()
            self.r.batches.close()
            if self.tb is not None:
                self.tb.close()
            self.dist.close()
        if self.main:
            log.info("%s: finished %d steps in %.0fs; model in %s", self.s.name, total,
                     time.perf_counter() - self.started, self.run_dir)
        return self.run_dir

    def _batch_line(self) -> str:
        n = self.r.images_per_step
        if not self.dist.enabled:
            return f"{n} images/step"
        return (f"{n} images/step over {self.dist.world} processes (global batch; --batch-size is per "
                f"process; --lr {self._lr():g} as given, not scaled with the world size)")

    def _next_batch(self) -> Any:
        """This rank's next batch; under torchrun the ranks first agree that all of them have one."""
        if not self.dist.enabled:
            return next(self.r.batches)
        batch, error = None, None
        try:
            batch = next(self.r.batches)
        except Exception as exc:     # a bad image on one rank must stop every rank, not hang them
            error = exc
        self.dist.share_error(error)
        return batch

    def _train_step(self, stop: _StopSignal) -> tuple[dict[str, float], str | None]:
        """One step on every rank; returns the losses (means over the ranks) and, under torchrun,
        the signal if any rank had been asked to stop by the end of this step."""
        factor = self.r.lr_factor(self.step)
        for opt in self.model.optimizers.values():
            apply_lr(opt, factor)
        batch = self.accel.batch(self._next_batch())
        self.model.set_input(batch)
        losses = self.model.optimize()
        self.accel.update()
        self.step += 1
        if self.dist.enabled:          # one all-reduce: the losses and who was signalled
            signals = (signal.SIGINT.name, signal.SIGTERM.name)
            values = self.dist.mean([*losses.values(), *(float(stop.requested == n) for n in signals)])
            losses = dict(zip(losses, values))
            signal_name = next((n for n, v in zip(signals, values[len(losses):]) if v > 0), None)
        else:
            signal_name = None
        for name, value in losses.items():
            if not math.isfinite(value):
                raise TrainingError(f"step {self.step}: loss '{name}' is {value}; stopped. {self._kept()} "
                                    f"(try a lower --lr, or --amp off)")
        return losses, signal_name

    def _kept(self) -> str:
        if self.last_saved is None:
            return "No checkpoint had been written yet."
        return f"The last good checkpoint (step {self.last_saved}) in {self.run_dir} is kept."

    def _lr(self) -> float:
        for opt in self.model.optimizers.values():
            return float(opt.param_groups[0]["lr"])
        return float("nan")

    def _log(self, means: dict[str, float], rate: float, pbar: Any) -> None:
        row = {"step": self.step, **means, "img_per_s": rate, "lr": self._lr(),
               "seconds": time.perf_counter() - self.started}
        self.last_row = {k: float(v) for k, v in means.items()}
        if not self.main:
            return
        assert self.losses_csv is not None
        self.losses_csv.append(row)
        if self.tb is not None:
            for k, v in means.items():
                self.tb.add_scalar(f"loss/{k}", v, self.step)
            self.tb.add_scalar("perf/images_per_s", rate, self.step)
            self.tb.add_scalar("perf/lr", row["lr"], self.step)
        pbar.set_postfix({k: f"{v:.3g}" for k, v in means.items()} | {"img/s": f"{rate:.3g}"}, refresh=False)
        log.debug("step %d: %s", self.step, ", ".join(f"{k}={v:.4g}" for k, v in row.items()))

    def sample(self) -> Path | None:
        """Rank 0 draws the sample grid (the frozen networks, no collective); other ranks skip it."""
        from pix2mobile.data.images import save_image

        if not self.main:
            return None
        devices = [self.accel.device] if self.accel.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.no_grad(), self.accel.autocast():
            torch.manual_seed(self.cfg.seed + 7919)   # the same z / noise in every grid
            self.model.set_input(self.accel.batch(self.r.samples))
            picture = records.grid(self.model.visuals(), self.model.visual_names)
        path = save_image(picture, self.run_dir / "samples" / f"step_{self.step:06d}.png")
        if self.tb is not None:
            self.tb.add_image("samples", picture, self.step)
        return path

    def save(self) -> None:
        """train_state.pt, then model.safetensors + model.json; each file atomic, never NaN weights.

        Every rank checks the weights (they are the same on all ranks); rank 0 writes; then the
        ranks agree, so a failed write stops all of them.
        """
        weights = self.model.generator.state_dict()
        others = {name: net.state_dict() for name, net in getattr(self.model, "extra_generators", {}).items()}
        for key, value in [*weights.items(), *(kv for sd in others.values() for kv in sd.items())]:
            if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                raise TrainingError(f"step {self.step}: generator weight '{key}' is not finite; stopped "
                                    f"without saving it. {self._kept()} (try a lower --lr, or --amp off)")
        error: BaseException | None = None
        if self.main:
            try:
                self._write(weights, others)
            except Exception as exc:
                if not self.dist.enabled:
                    raise
                error = exc
        self.dist.share_error(error)
        self.last_saved = self.step
        log.debug("checkpoint at step %d in %s", self.step, self.run_dir)

    def _write(self, weights: dict[str, torch.Tensor], others: dict[str, dict[str, torch.Tensor]]) -> None:
        factor = self.r.lr_factor
        records.save_state(self.run_dir, {
            "recipe": self.s.name, "step": self.step, "config": self.cfg.to_dict(),
            "model": self.model.state_dict(), "data": self.r.batches.state_dict(),
            "accel": self.accel.state_dict(), "rng": records.rng_state(self.accel.device),
            "schedule": {"type": type(factor).__name__, **(asdict(factor) if is_dataclass(factor) else {})},
            "losses": self.last_row, "world_size": self.dist.world})
        training = {**self.r.meta.get("training", {}), "recipe": self.s.name, "steps": self.step}
        if self.dist.enabled:
            training["world_size"] = self.dist.world
        meta = {**self.r.meta, "training": training, "recipe": self.s.name, "config": self.cfg.to_dict(),
                "steps_done": self.step, "losses": self.last_row, "losses_csv": records.LOSSES_NAME,
                "pix2mobile_version": __version__}
        save_run(self.run_dir, weights, meta, others)


def seeded_batches(session: Session, dataset: Any, batch_size: int, groups: int = 1) -> SeededBatches:
    """The run's resumable data stream (this rank's share of each global batch; `groups`: see
    `data.shard_keys`); loader processes default to 4 with CUDA, none on CPU."""
    cuda = session.accel.device.type == "cuda"
    workers = session.cfg.workers if session.cfg.workers is not None else (4 if cuda else 0)
    dist = session.dist
    return SeededBatches(dataset, batch_size, session.cfg.seed, workers=workers, pin_memory=cuda,
                         rank=dist.rank, world=dist.world, groups=groups)


def export_meta(spec: Any, options: dict[str, Any], size: int, **extra: Any) -> dict[str, Any]:
    """The model.json entries `load_run` + the registry need to rebuild the generator for export:
    family, arch, options, the I/O contract with each tensor's value range (normalisation), and
    the training size (`training.size_hw`, export's default size)."""
    return {"family": spec.family, "arch": spec.arch, "options": dict(options),
            "io": spec.io.to_json((size, size)), "training": {"size_hw": [size, size]}, **extra}
