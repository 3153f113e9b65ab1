"""Morph: memorise a sequence of images as coordinate MLPs, then blend their weights.

Image 0 is fit from scratch; with --chain (the default) each next image starts from a copy of
the previous MLP, so neighbouring networks stay close in weight space and the blend between
them morphs shapes instead of dissolving into noise. With --independent every image is fit
from the same random initialisation instead. Each image gets --steps full-image steps (so a
run has steps x images steps in all), Adam, MSE on every pixel. The run saves a `MorphStack`;
`render_transition` writes the frames and a GIF between any two of its images.

Under torchrun the pixels are the batch: each rank fits its contiguous share of the image's
coordinates (its MSE weighted by its share, so the DDP average is the MSE over all pixels),
and the MLP being fit is DDP-wrapped when its image starts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, cast

import torch
import torch.nn.functional as F

from pix2mobile import files
from pix2mobile.checkpoint import load_run, load_state_dict_strict
from pix2mobile.errors import CheckpointError, ConfigError
from pix2mobile.limits import check_side
from pix2mobile.models import get_variant
from pix2mobile.models.morph import MorphGenerator, MorphStack, coordinate_grid
from pix2mobile.train.accel import Accel
from pix2mobile.train.config import TrainConfig
from pix2mobile.train.data import Repeat
from pix2mobile.train.loop import Recipe, StepHook, export_meta, open_session, run_loop
from pix2mobile.train.schedule import LinearDecay, PerStage

log = logging.getLogger(__name__)

NAME = "morph"
MAX_BUILTIN_COUNT = 64
"""`--images builtin` makes this many generated images at most (each is a network to fit)."""
MAX_FRAMES = 1000
"""`pix2mobile morph --steps` renders at most this many frames (each is a PNG and a GIF frame)."""


@dataclass(frozen=True)
class MorphConfig(TrainConfig):
    BATCH_SHARDED: ClassVar[bool] = False            # every step sees whole images; ranks split the pixels
    steps: int = field(default=1500, metadata={"help": "full-image optimisation steps per image"})
    size: int = field(default=128, metadata={"help": "images are fit at size x size (the MLPs render at any size)"})
    lr: float = field(default=1e-3, metadata={"help": "Adam learning rate"})
    images: tuple[str, ...] = field(default=("builtin",), metadata={
        "help": "two or more images in order; builtin = --builtin-count generated Suprematist compositions, "
                "builtin:SEED = the one with that seed"})
    builtin_count: int = field(default=2, metadata={"help": "how many images `--images builtin` means"})
    chain: bool = field(default=True, metadata={
        "help": "start each image from the previous image's network (--independent: all from one init)"})
    fourier: int = field(default=4, metadata={"help": "Fourier feature frequencies of (x, y) (0: raw coordinates)"})
    hidden: int = field(default=100, metadata={"help": "units in each of the 4 hidden layers"})
    sample_every: int = field(default=500, metadata={"help": "write a sample grid every N steps (0: only at the end)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.images:
            raise ConfigError("--images needs two or more images, or builtin")
        if not 1 <= self.builtin_count <= MAX_BUILTIN_COUNT:
            raise ConfigError(f"--builtin-count must be between 1 and {MAX_BUILTIN_COUNT}, got {self.builtin_count}")
        if self.fourier < 0 or self.hidden < 1:
            raise ConfigError("--hidden must be >= 1 and --fourier >= 0")
        get_variant("morph", "mlp").check_options(self.options(2))

    def options(self, num_images: int) -> dict[str, Any]:
        return {"num_images": num_images, "fourier": self.fourier, "hidden": self.hidden}


def load_images(cfg: MorphConfig) -> tuple[list[str], torch.Tensor]:
    """(names, (n, 3, size, size) in [0, 1]): centre-cropped squares, validated up front."""
    from pix2mobile.data import ImageFolder, suprematist
    from pix2mobile.data.images import load_image

    named: list[tuple[str, Any]] = []
    for item in cfg.images:
        if item == "builtin":
            named += [(f"builtin:{seed}", suprematist(seed, cfg.size)) for seed in range(cfg.builtin_count)]
        elif item.startswith("builtin:"):
            seed = item.partition(":")[2]
            if not seed.isdigit():
                raise ConfigError(f"'{item}': builtin:SEED takes a non-negative integer seed")
            named.append((item, suprematist(int(seed), cfg.size)))
        else:
            named.append((item, load_image(item)))
    if len(named) < 2:
        raise ConfigError(f"a morph needs at least 2 images, got {len(named)}: pass more --images "
                          f"(or --builtin-count 2 or more)")
    folder = ImageFolder(named, cfg.size)
    return [n for n, _ in named], torch.stack([folder[i] for i in range(len(folder))])


class MorphModel:
    loss_names = ("mse", "psnr")
    visual_names = ("target", "render")

    def __init__(self, cfg: MorphConfig, accel: Accel, num_images: int):
        self.cfg, self.accel = cfg, accel
        stack = cast(MorphStack, get_variant("morph", "mlp").create(**cfg.options(num_images)))   # what "mlp" builds
        self.generator = accel.module(stack)
        if not cfg.chain:
            for mlp in self.generator.mlps[1:]:
                mlp.load_state_dict(self.generator.mlps[0].state_dict())
        self.grid = coordinate_grid((cfg.size, cfg.size), cfg.fourier).to(accel.device)
        dist, pixels = accel.dist, cfg.size * cfg.size
        if pixels < dist.world:
            raise ConfigError(f"{dist.world} processes cannot share the {pixels} pixels of a {cfg.size} px morph")
        share = torch.tensor_split(torch.arange(pixels), dist.world)[dist.rank]
        self.pixels = slice(int(share[0]), int(share[-1]) + 1)    # this rank's rows of the grid (all, alone)
        self.share = len(share) * dist.world / pixels             # 1.0 when the pixels split evenly
        self._fit: tuple[int, Callable[..., Any] | None] = (-1, None)
        self.step = 0
        self.opt = self._adam(0)

    def _adam(self, index: int) -> torch.optim.Optimizer:
        return self.accel.adam(self.generator.mlps[index].parameters(), self.cfg.lr)

    @property
    def stage(self) -> int:
        """The image being fit by the next step."""
        return min(self.step // self.cfg.steps, len(self.generator.mlps) - 1)

    @property
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"mlp": self.opt}

    def set_input(self, batch: torch.Tensor) -> None:
        self.targets = batch                                             # (n, 3, H, W) in [0, 1]

    def optimize(self) -> dict[str, float]:
        k = self.stage
        if self.step == k * self.cfg.steps and k > 0:                   # a new image starts
            if self.cfg.chain:
                self.generator.mlps[k].load_state_dict(self.generator.mlps[k - 1].state_dict())
            self.opt = self._adam(k)
        if self._fit[0] != k:                                           # DDP around the MLP being fit
            self._fit = (k, self.accel.dist.wrap(self.generator.mlps[k]))
        mlp = self._fit[1]
        assert mlp is not None
        target = self.targets[k].permute(1, 2, 0).reshape(-1, 3)[self.pixels]   # row-major pixels, as the grid
        self.opt.zero_grad(set_to_none=True)
        with self.accel.autocast():
            loss = F.mse_loss(mlp(self.grid[self.pixels]).float(), target)
            if self.share != 1.0:
                loss = loss * self.share
        self.accel.backward(loss)
        self.accel.step(self.opt)
        self.step += 1
        (mse,) = self.accel.dist.mean([float(loss.detach())])           # over all pixels
        return {"mse": mse, "psnr": -10.0 * torch.log10(torch.tensor(max(mse, 1e-12))).item()}

    def visuals(self) -> dict[str, torch.Tensor]:
        size = (self.targets.shape[2], self.targets.shape[3])
        renders = torch.cat([self.generator.render(i, size) for i in range(len(self.generator.mlps))])
        return {"target": self.targets, "render": renders}

    def state_dict(self) -> dict[str, Any]:
        return {"stack": self.generator.state_dict(), "opt": self.opt.state_dict(), "step": self.step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["stack"])
        self.step = int(state["step"])
        self.opt = self._adam(min(max(self.step - 1, 0) // self.cfg.steps, len(self.generator.mlps) - 1))
        self.opt.load_state_dict(state["opt"])


def train(cfg: MorphConfig, *, on_step: StepHook | None = None) -> Path:
    """Fit the images one after another into a MorphStack; returns the run directory."""
    session = open_session(cfg, NAME)
    cfg = session.cfg                                                   # type: ignore[assignment]
    names, targets = load_images(cfg)                                   # bad images fail before training
    model = MorphModel(cfg, session.accel, len(names))
    meta = export_meta(get_variant("morph", "mlp"), cfg.options(len(names)), cfg.size,
                       images=names, chain=cfg.chain)
    total = cfg.steps * len(names)
    recipe = Recipe(model=model, batches=Repeat(targets), samples=targets, meta=meta, total_steps=total,
                    images_per_step=1, lr_factor=PerStage(LinearDecay(cfg.steps, cfg.decay_steps), cfg.steps))
    return run_loop(session, recipe, on_step)


def load_stack(run: str | Path) -> tuple[dict[str, Any], MorphStack]:
    meta, weights = load_run(run)
    if meta.get("family") != "morph":
        raise CheckpointError(f"{run} holds a {meta.get('family')} model, not a morph run")
    stack = get_variant("morph", meta["arch"]).create(**meta.get("options", {}))
    if not isinstance(stack, MorphStack):
        raise CheckpointError(f"{run}: morph arch {meta['arch']!r} does not build a MorphStack")
    load_state_dict_strict(stack, weights, source=str(run))
    return meta, stack.eval()


def render_transition(run: str | Path, steps: int, size: tuple[int, int], out_dir: str | Path,
                      pair: tuple[int, int] = (0, 1), *, duration_ms: int = 60,
                      force: bool = False) -> list[Path]:
    """Render `steps` frames from image pair[0] (alpha 0) to pair[1] (alpha 1) at size (H, W).

    Writes frame_000.png ... and morph_I_J.gif (forth and back, looping) into `out_dir`, each
    atomically; returns the frame paths in order, then the GIF's.
    """
    from pix2mobile.data.images import save_image, to_pil

    if not 2 <= steps <= MAX_FRAMES:
        raise ConfigError(f"--steps must be between 2 (alpha 0 and 1) and {MAX_FRAMES} frames, got {steps}")
    for side in size:
        check_side("--size", side)
    if len(set(pair)) != 2 or min(pair) < 0:
        raise ConfigError(f"--pair needs two different image indices (0 or more), got {pair[0]} {pair[1]}")
    if not 1 <= duration_ms <= 60_000:
        raise ConfigError(f"--duration must be between 1 and 60000 ms per frame, got {duration_ms}")
    out = Path(out_dir)
    files.check_writable(out, "dir")
    if out.exists() and any(out.iterdir()) and not force:
        raise ConfigError(f"{out} exists and is not empty: pass --force to write into it, or another --out")
    _, stack = load_stack(run)
    generator = MorphGenerator.from_stack(stack, tuple(pair), tuple(size))  # type: ignore[arg-type]
    paths, pictures = [], []
    with torch.no_grad():
        for i, alpha in enumerate(torch.linspace(0.0, 1.0, steps)):    # one frame in memory at a time
            frame = generator(alpha[None])[0]
            paths.append(save_image(frame, out / f"frame_{i:03d}.png"))
            pictures.append(to_pil(frame))
    loop = pictures + pictures[-2:0:-1]
    gif = out / f"morph_{pair[0]}_{pair[1]}.gif"
    with files.atomic_path(gif) as tmp:
        loop[0].save(tmp, format="GIF", save_all=True, append_images=loop[1:], duration=duration_ms, loop=0)
    log.info("morph %s: %d frames %dx%d and %s in %s", pair, steps, size[1], size[0], gif.name, out)
    return paths + [gif]
