"""BicycleGAN (Zhu et al. 2017) as junyanz/BicycleGAN trains it: cVAE-GAN + cLR-GAN.

Each batch splits in two halves. The first half's photos B are encoded, z ~ E(B), and
G(A, z) must rebuild B (L1, lambda 10) while the KL term (lambda 0.01) keeps E's posterior
near N(0, 1) (cVAE-GAN). The same sketches with a random z give a second fake, from which E
must recover that z (L1 on the mean, lambda 0.5, updating G only) (cLR-GAN). Two multi-scale
LSGAN discriminators judge the encoded and the random fakes (real images: first and second
half). Adam 2e-4, beta1 0.5, Xavier init with gain 0.02; G, E, D, D2 sized for 128 or 256 px,
since E_ResNet ends in AvgPool2d(8). The sample grid shows several random z per input.

G and E take one backward for loss_G + z_L1 (junyanz runs two, retaining the graph; the sum of
the gradients is the same, and DDP can average each parameter's gradient only once per
backward). Under torchrun G, E, D and D2 are DDP-wrapped; the frozen passes (D judging G, E
reading back z) use the unwrapped networks. Each rank's batch holds its slice of the global
encoded half, then its slice of the global random half (`seeded_batches(..., groups=2)`), z is
drawn for the global batch on every rank and sliced, and the KL term, a sum over the batch, is
multiplied by the world size, so N ranks make one process's update with the global batch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F

from pix2mobile.errors import ConfigError
from pix2mobile.models import get_variant
from pix2mobile.models.bicyclegan import NZ, build_discriminator, build_encoder
from pix2mobile.train.accel import Accel
from pix2mobile.train.config import TrainConfig, check_adam_init
from pix2mobile.train.data import fixed_batch
from pix2mobile.train.gan import init_weights, lsgan, set_requires_grad
from pix2mobile.train.loop import Recipe, StepHook, export_meta, open_session, run_loop, seeded_batches
from pix2mobile.train.schedule import LinearDecay

log = logging.getLogger(__name__)

NAME = "bicyclegan"
NETS: dict[int, tuple[str, Literal["resnet_128", "resnet_256"], int]] = {
    128: ("unet_128", "resnet_128", 2), 256: ("unet_256", "resnet_256", 3)}
"""size -> (generator arch, encoder arch, PatchGAN layers): junyanz's *_128 / *_256 settings."""


@dataclass(frozen=True)
class BicycleGANConfig(TrainConfig):
    DECAY: ClassVar[float] = 0.5
    steps: int = field(default=20000, metadata={"help": "optimisation steps in total"})
    batch_size: int = field(default=2, metadata={
        "help": "pairs per step and process, even: half train the cVAE-GAN path, half the cLR-GAN path"})
    data: str = field(default="builtin", metadata={
        "help": "folder of aligned A|B pairs side by side (sketch | photo), or builtin (edges | photo)"})
    ngf: int = field(default=64, metadata={"help": "generator width"})
    nef: int = field(default=64, metadata={"help": "encoder width"})
    ndf: int = field(default=64, metadata={"help": "discriminator width"})
    num_d: int = field(default=2, metadata={"help": "scales of each multi-scale discriminator"})
    where_add: Literal["all", "input"] = field(default="all", metadata={
        "help": "where z enters G: all (every level) or input"})
    lambda_l1: float = field(default=10.0, metadata={"help": "weight of |G(A, E(B)) - B|"})
    lambda_kl: float = field(default=0.01, metadata={"help": "weight of KL(E(B) || N(0, 1))"})
    lambda_z: float = field(default=0.5, metadata={"help": "weight of |E(G(A, z)) - z| (latent regression)"})
    lambda_gan: float = field(default=1.0, metadata={"help": "weight of the cVAE-GAN adversarial loss"})
    lambda_gan2: float = field(default=1.0, metadata={"help": "weight of the cLR-GAN adversarial loss"})
    beta1: float = field(default=0.5, metadata={"help": "Adam beta1"})
    init_gain: float = field(default=0.02, metadata={"help": "gain of the Xavier-normal init"})
    augment: bool = field(default=True, metadata={"help": "resize to 286/256 x size, random crop and flip"})
    num_z: int = field(default=3, metadata={"help": "random z per input shown in the sample grid"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.size not in NETS:
            raise ConfigError(f"BicycleGAN's encoder (E_ResNet, ending in AvgPool2d(8)) takes exactly 128 or 256 "
                              f"px: pass --size 128 or --size 256, not {self.size}")
        if self.batch_size < 2 or self.batch_size % 2:
            raise ConfigError(f"--batch-size must be even and at least 2 (one half per path), got {self.batch_size}")
        if self.where_add not in ("all", "input"):
            raise ConfigError(f"--where-add must be all or input, not '{self.where_add}'")
        if min(self.ngf, self.nef, self.ndf, self.num_d, self.num_z) < 1:
            raise ConfigError("--ngf, --nef, --ndf, --num-d and --num-z must be at least 1")
        if min(self.lambda_l1, self.lambda_kl, self.lambda_z, self.lambda_gan, self.lambda_gan2) < 0:
            raise ConfigError("loss weights must be non-negative")
        if max(self.ngf, self.nef, self.ndf) > 256 or self.num_d > 4 or self.num_z > 16:
            raise ConfigError("--ngf, --nef and --ndf must be at most 256, --num-d at most 4, --num-z at most 16")
        check_adam_init(self.beta1, self.init_gain)

    @property
    def arch(self) -> str:
        return NETS[self.size][0]

    @property
    def options(self) -> dict[str, Any]:
        return {"where_add": self.where_add, "ngf": self.ngf, "input_nc": 3}


class BicycleGANModel:
    loss_names = ("G_GAN", "D", "G_GAN2", "D2", "G_L1", "z_L1", "kl")

    def __init__(self, cfg: BicycleGANConfig, accel: Accel):
        self.cfg, self.accel = cfg, accel
        spec = get_variant("bicyclegan", cfg.arch)
        self.io_in, self.io_out = spec.io.inputs[0], spec.io.outputs[0]
        _, enc_arch, n_layers = NETS[cfg.size]

        def net(module: torch.nn.Module) -> torch.nn.Module:
            return accel.module(init_weights(module, "xavier", cfg.init_gain))

        self.G = net(spec.create(**cfg.options))
        self.E = net(build_encoder(enc_arch, nef=cfg.nef))
        self.D = net(build_discriminator(3, cfg.ndf, n_layers, cfg.num_d))
        self.D2 = net(build_discriminator(3, cfg.ndf, n_layers, cfg.num_d))
        self.generator = self.G
        # the wrappers whose backward updates the net (DDP under torchrun), and the frozen calls
        self.g, self.g_fixed = accel.trained(self.G)
        self.e, self.e_fixed = accel.trained(self.E)
        self.d, self.d_fixed = accel.trained(self.D)
        self.d2, self.d2_fixed = accel.trained(self.D2)
        betas = (cfg.beta1, 0.999)
        self.opt_G, self.opt_E, self.opt_D, self.opt_D2 = (
            accel.adam(n.parameters(), cfg.lr, betas) for n in (self.G, self.E, self.D, self.D2))
        self.visual_names = ("input", "real", "encoded", *(f"random_{i + 1}" for i in range(cfg.num_z)))

    @property
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_G, "E": self.opt_E, "D": self.opt_D, "D2": self.opt_D2}

    def set_input(self, batch: dict[str, torch.Tensor]) -> None:
        self.real_A = self.io_in.from_unit(batch["A"])
        self.real_B = self.io_in.from_unit(batch["B"])

    def optimize(self) -> dict[str, float]:
        cfg, amp, dist = self.cfg, self.accel, self.accel.dist
        half = self.real_A.shape[0] // 2
        A_enc, B_enc, B_rand = self.real_A[:half], self.real_B[:half], self.real_B[half:]
        # update G and E; the Ds only judge (junyanz update_G_and_E)
        set_requires_grad([self.D, self.D2], False)
        self.opt_E.zero_grad(set_to_none=True)
        self.opt_G.zero_grad(set_to_none=True)
        with amp.autocast():
            mu, logvar = (t.float() for t in self.e(B_enc))
            # drawn for the global batch on every rank (the same stream everywhere), then sliced
            z_enc = dist.local(torch.randn((half * dist.world, NZ), device=mu.device)) * torch.exp(0.5 * logvar) + mu
            z_rand = dist.local(torch.randn(half * dist.world, NZ, device=mu.device))
            fake_enc = self.g(A_enc, z_enc)
            fake_rand = self.g(A_enc, z_rand)
            g_gan = lsgan(self.d_fixed(fake_enc), True) * cfg.lambda_gan
            g_gan2 = lsgan(self.d2_fixed(fake_rand), True) * cfg.lambda_gan2
            kl = torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) * (-0.5 * cfg.lambda_kl)
            if dist.enabled:
                kl = kl * dist.world                         # a sum: the mean over ranks must be the global sum
            g_l1 = F.l1_loss(fake_enc, B_enc) * cfg.lambda_l1
            loss_G = g_gan + g_gan2 + kl + g_l1
            z_l1 = torch.zeros((), device=mu.device)
            if cfg.lambda_z > 0:                             # |E(G(A, z)) - z| trains G alone
                set_requires_grad([self.E], False)
                mu2, _ = self.e_fixed(fake_rand)
                z_l1 = F.l1_loss(mu2.float(), z_rand) * cfg.lambda_z
                set_requires_grad([self.E], True)
        amp.backward(loss_G + z_l1)
        amp.step(self.opt_E)
        amp.step(self.opt_G)
        # update D on (real B, encoded fake) and D2 on (other real B, random fake)
        set_requires_grad([self.D, self.D2], True)
        self.opt_D.zero_grad(set_to_none=True)
        self.opt_D2.zero_grad(set_to_none=True)
        with amp.autocast():
            d = lsgan(self.d(fake_enc.detach()), False) + lsgan(self.d(B_enc), True)
        amp.backward(d)
        with amp.autocast():
            d2 = lsgan(self.d2(fake_rand.detach()), False) + lsgan(self.d2(B_rand), True)
        amp.backward(d2)
        amp.step(self.opt_D)
        amp.step(self.opt_D2)
        values = {"G_GAN": g_gan, "D": d, "G_GAN2": g_gan2, "D2": d2, "G_L1": g_l1, "z_L1": z_l1, "kl": kl}
        return {k: float(v.detach()) for k, v in values.items()}

    def visuals(self) -> dict[str, torch.Tensor]:
        """Input, target, G(A, mean of E(B)), then G(A, z) for `num_z` draws of z ~ N(0, 1)."""
        n, g = self.real_A.shape[0], self.g_fixed
        mu, _ = self.e_fixed(self.real_B)
        images = {"input": self.real_A, "real": self.real_B, "encoded": g(self.real_A, mu)}
        for i in range(self.cfg.num_z):
            z = torch.randn(n, NZ, device=self.real_A.device)
            images[f"random_{i + 1}"] = g(self.real_A, z)
        return {k: self.io_out.to_unit(v.float()) for k, v in images.items()}

    def state_dict(self) -> dict[str, Any]:
        names = ("G", "E", "D", "D2", "opt_G", "opt_E", "opt_D", "opt_D2")
        return {name: getattr(self, name).state_dict() for name in names}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            getattr(self, name).load_state_dict(value)


def aligned_dataset(cfg: BicycleGANConfig) -> Any:
    from pix2mobile.data import AlignedAB, builtin_dataset

    if cfg.data == "builtin":
        return builtin_dataset("edges2photo", cfg.size, random_crop=cfg.augment, flip=cfg.augment)
    return AlignedAB(cfg.data, cfg.size, random_crop=cfg.augment, flip=cfg.augment)


def train(cfg: BicycleGANConfig, *, on_step: StepHook | None = None) -> Path:
    """Train (or resume) a BicycleGAN (A = sketch -> B = photo); returns the run directory."""
    session = open_session(cfg, NAME)
    cfg = session.cfg                                        # type: ignore[assignment]
    dataset = aligned_dataset(cfg)                           # DataError before any network is built
    model = BicycleGANModel(cfg, session.accel)
    enc_arch = NETS[cfg.size][1]
    meta = export_meta(get_variant("bicyclegan", cfg.arch), cfg.options, cfg.size, direction="a2b",
                       data=cfg.data, nz=NZ, encoder=enc_arch)
    recipe = Recipe(model=model, batches=seeded_batches(session, dataset, cfg.batch_size, groups=2),
                    samples=fixed_batch(dataset, cfg.num_samples, cfg.seed), meta=meta, total_steps=cfg.steps,
                    images_per_step=cfg.batch_size * session.dist.world,
                    lr_factor=LinearDecay(cfg.steps, cfg.decay_steps))
    return run_loop(session, recipe, on_step)
