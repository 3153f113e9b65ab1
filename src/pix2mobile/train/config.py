"""`TrainConfig`: the options every recipe shares, one frozen dataclass the CLI turns into flags.

Each recipe subclasses it (`FastStyleConfig`, `CycleGANConfig`, ...), adding its own fields and
re-declaring a shared field only to change its default (fast-style trains at lr 1e-3, the GANs
at 2e-4). `__post_init__` validates and raises `ConfigError`; it never rewrites a value.

On `--resume`, `merge_resumed` reconciles the new config with the one saved in the run: fields
left at their default take the saved value, run-control fields (steps, device, cadences, ...)
may change, and an explicit change to anything that shapes the training maths is refused.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Mapping, TypeVar

from pix2mobile.errors import ConfigError
from pix2mobile.limits import check_finite, check_side

C = TypeVar("C", bound="TrainConfig")


@dataclass(frozen=True)
class TrainConfig:
    out: str | None = field(default=None, metadata={
        "help": "run directory to create: model.safetensors, model.json, train_state.pt, losses.csv, samples/, tb/"})
    resume: str | None = field(default=None, metadata={
        "help": "continue the run in this directory from its last checkpoint"})
    force: bool = field(default=False, metadata={
        "help": "train into an existing non-empty --out (its files are replaced as new ones are written)"})
    steps: int = field(default=1000, metadata={"help": "optimisation steps in total"})
    size: int = field(default=256, metadata={"help": "training images are size x size pixels"})
    batch_size: int = field(default=1, metadata={
        "help": "images per step and process (under torchrun the global batch is this x the world size)"})
    lr: float = field(default=2e-4, metadata={"help": "Adam learning rate"})
    steps_decay: int | None = field(default=None, metadata={
        "help": "final steps over which the learning rate decays linearly to 0; "
                "None: half of --steps for the GANs, 0 otherwise"})
    device: str = field(default="auto", metadata={"help": "auto (CUDA when available), cpu, cuda or cuda:N"})
    amp: Literal["auto", "off", "bf16", "fp16"] = field(default="auto", metadata={
        "help": "mixed precision; auto = bf16 on CUDA where supported, else fp16 with a GradScaler; off on CPU"})
    channels_last: Literal["auto", "on", "off"] = field(default="auto", metadata={
        "help": "NHWC memory layout; auto = on for CUDA, off for CPU (where it does not help)"})
    compile: bool = field(default=False, metadata={"help": "torch.compile the networks (slow first steps)"})
    deterministic: bool = field(default=False, metadata={
        "help": "deterministic CUDA kernels (slower); CPU runs are deterministic anyway"})
    workers: int | None = field(default=None, metadata={
        "help": "data loader processes; None: 4 with CUDA, 0 on CPU"})
    seed: int = field(default=0, metadata={"help": "seed for initialisation, data order and augmentation"})
    save_every: int = field(default=500, metadata={
        "help": "checkpoint every N steps (0: only at the end); always also at the end and on Ctrl-C"})
    sample_every: int = field(default=100, metadata={
        "help": "write a sample grid (inputs | outputs) to samples/ every N steps (0: only at the end)"})
    log_every: int = field(default=10, metadata={
        "help": "write losses.csv, TensorBoard and the progress bar every N steps"})
    num_samples: int = field(default=4, metadata={"help": "rows in the sample grid"})

    DECAY: ClassVar[float] = 0.0
    """Fraction of `steps` that decays when --steps-decay is not given (junyanz's GANs: half)."""
    BATCH_SHARDED: ClassVar[bool] = True
    """--batch-size is per process and the ranks split the global batch (the morph, which fits
    whole images, splits pixels instead and has no batch)."""
    RESUME_MAY_CHANGE: ClassVar[frozenset[str]] = frozenset({
        "steps", "device", "amp", "channels_last", "compile", "deterministic", "workers",
        "save_every", "sample_every", "log_every", "num_samples"})
    """Fields a resumed run may set anew; every other field must match the saved run."""

    def __post_init__(self) -> None:
        if self.out is None and self.resume is None:
            raise ConfigError("pass --out RUN_DIR for a new run, or --resume RUN_DIR to continue one")
        if self.out is not None and self.resume is not None and \
                Path(self.out).resolve() != Path(self.resume).resolve():
            raise ConfigError(f"--resume continues a run in place: drop --out ({self.out}) or make it "
                              f"the same directory as --resume ({self.resume})")
        check_finite(self)                 # NaN passes every range check below; refuse it first
        _at_least("steps", self.steps, 1)
        check_side("--size", self.size, 8)
        _at_least("batch_size", self.batch_size, 1)
        _at_least("save_every", self.save_every, 0)
        _at_least("sample_every", self.sample_every, 0)
        _at_least("log_every", self.log_every, 1)
        _at_least("num_samples", self.num_samples, 1)
        if not self.lr > 0:
            raise ConfigError(f"--lr must be positive, got {self.lr}")
        if self.steps_decay is not None and not 0 <= self.steps_decay <= self.steps:
            raise ConfigError(f"--steps-decay must be between 0 and --steps ({self.steps}), got {self.steps_decay}")
        if self.workers is not None:
            _at_least("workers", self.workers, 0)

    @property
    def run_dir(self) -> Path:
        return Path(self.resume) if self.resume is not None else Path(str(self.out))

    @property
    def decay_steps(self) -> int:
        if self.steps_decay is not None:
            return self.steps_decay
        return int(round(self.steps * self.DECAY))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def check_adam_init(beta1: float, init_gain: float) -> None:
    """The GAN recipes' Adam beta1 must lie in [0, 1) (torch raises deep inside otherwise) and
    their init gain must be positive (a negative std crashes `normal_`, 0 makes dead nets)."""
    if not 0.0 <= beta1 < 1.0:
        raise ConfigError(f"--beta1 must be in [0, 1), got {beta1}")
    if not 0.0 < init_gain <= 10.0:
        raise ConfigError(f"--init-gain must be in (0, 10], got {init_gain}")


def _at_least(name: str, value: int, low: int) -> None:
    if value < low:
        raise ConfigError(f"--{name.replace('_', '-')} must be at least {low}, got {value}")


def _norm(value: Any) -> Any:
    return tuple(_norm(v) for v in value) if isinstance(value, (list, tuple)) else value


def field_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def merge_resumed(cfg: C, saved: Mapping[str, Any]) -> C:
    """The config a resumed run continues with (see the module docstring); never guesses.

    `out`, `resume` and `force` come from `cfg`. A field still at its default takes the saved
    value; a field set to something else is kept if it is in RESUME_MAY_CHANGE, else refused.
    """
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        if not f.init:
            continue
        new = getattr(cfg, f.name)
        if f.name in ("out", "resume", "force") or f.name not in saved:
            values[f.name] = new
            continue
        old = _norm(saved[f.name])
        if _norm(new) == old or _norm(new) == _norm(field_default(f)):
            values[f.name] = old
        elif f.name in cfg.RESUME_MAY_CHANGE:
            values[f.name] = new
        else:
            flag = "--" + f.name.replace("_", "-")
            raise ConfigError(f"{flag} {new!r} differs from the resumed run's {old!r}: a resumed run keeps its "
                              f"training options; drop {flag}, or start a new run with --out")
    return type(cfg)(**values)
