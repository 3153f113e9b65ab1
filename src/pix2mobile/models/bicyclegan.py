"""BicycleGAN (Zhu et al. 2017): a U-Net generator steered by a latent z, its encoder E and
multi-scale discriminators, images in [-1, 1].

Everything restates junyanz/BicycleGAN `models/networks.py` with its defaults (norm instance,
ReLU up / LeakyReLU down, upsample 'basic', no dropout) and its module nesting, so the
parameter names of `latest_net_G.pth` / `latest_net_E.pth` / `latest_net_D.pth` are ours.
The exported generator takes two inputs: the image and z (N, 8), a sample of N(0, 1).
"""

from __future__ import annotations

import functools
from typing import Literal

import torch
from torch import nn

from pix2mobile.errors import ConfigError
from pix2mobile.models.cyclegan import InstanceNorm, convert_junyanz
from pix2mobile.models.spec import IOSpec, TensorSpec, VariantSpec

NZ = 8


def _z_map(z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Broadcast z (N, nz) over x's spatial grid: (N, nz, H, W)."""
    return z[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])


def _wrapped(submodule: nn.Module | None) -> nn.Module:
    """The submodule of a U-Net level that is not the innermost: it must have one."""
    if submodule is None:
        raise ValueError("only the innermost UnetBlock may have no submodule")
    return submodule


def _upconv(cin: int, cout: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1)   # upsample='basic'


class UnetBlock(nn.Module):
    """One U-Net level as junyanz's `UnetBlock`: down, submodule, up, then the skip concat."""

    def __init__(self, input_nc: int, outer_nc: int, inner_nc: int, submodule: nn.Module | None = None,
                 outermost: bool = False, innermost: bool = False):
        super().__init__()
        self.outermost = outermost
        downconv = nn.Conv2d(input_nc, inner_nc, 4, stride=2, padding=1)
        if outermost:
            layers = [downconv, _wrapped(submodule), nn.ReLU(True), _upconv(inner_nc * 2, outer_nc), nn.Tanh()]
        elif innermost:
            layers = [nn.LeakyReLU(0.2, True), downconv, nn.ReLU(True), _upconv(inner_nc, outer_nc),
                      InstanceNorm(outer_nc)]
        else:
            layers = [nn.LeakyReLU(0.2, True), downconv, InstanceNorm(inner_nc), _wrapped(submodule),
                      nn.ReLU(True), _upconv(inner_nc * 2, outer_nc), InstanceNorm(outer_nc)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([self.model(x), x], 1)


class GUnetAddInput(nn.Module):
    """junyanz `G_Unet_add_input`: z is tiled and concatenated to the image only."""

    def __init__(self, num_downs: int, ngf: int = 64, nz: int = NZ, input_nc: int = 3, output_nc: int = 3):
        super().__init__()
        block = UnetBlock(ngf * 8, ngf * 8, ngf * 8, innermost=True)
        for _ in range(num_downs - 5):
            block = UnetBlock(ngf * 8, ngf * 8, ngf * 8, block)
        block = UnetBlock(ngf * 4, ngf * 4, ngf * 8, block)
        block = UnetBlock(ngf * 2, ngf * 2, ngf * 4, block)
        block = UnetBlock(ngf, ngf, ngf * 2, block)
        self.model = UnetBlock(input_nc + nz, output_nc, ngf, block, outermost=True)

    def forward(self, image: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.model(torch.cat([image, _z_map(z, image)], 1))


class UnetBlockWithZ(nn.Module):
    """junyanz `UnetBlock_with_z`: z is concatenated again to every level's input."""

    def __init__(self, input_nc: int, outer_nc: int, inner_nc: int, nz: int,
                 submodule: UnetBlockWithZ | None = None, outermost: bool = False, innermost: bool = False):
        super().__init__()
        self.outermost, self.innermost = outermost, innermost
        downconv = nn.Conv2d(input_nc + nz, inner_nc, 4, stride=2, padding=1)
        down: list[nn.Module]
        up: list[nn.Module]
        if outermost:
            down, up = [downconv], [nn.ReLU(True), _upconv(inner_nc * 2, outer_nc), nn.Tanh()]
        elif innermost:
            down = [nn.LeakyReLU(0.2, True), downconv]
            up = [nn.ReLU(True), _upconv(inner_nc, outer_nc), InstanceNorm(outer_nc)]
        else:
            down = [nn.LeakyReLU(0.2, True), downconv, InstanceNorm(inner_nc)]
            up = [nn.ReLU(True), _upconv(inner_nc * 2, outer_nc), InstanceNorm(outer_nc)]
        self.down = nn.Sequential(*down)
        self.submodule = submodule
        self.up = nn.Sequential(*up)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        h = self.down(torch.cat([x, _z_map(z, x)], 1))
        if self.submodule is not None:
            h = self.submodule(h, z)
        h = self.up(h)
        return h if self.outermost else torch.cat([h, x], 1)


class GUnetAddAll(nn.Module):
    """junyanz `G_Unet_add_all`: z enters every encoder level."""

    def __init__(self, num_downs: int, ngf: int = 64, nz: int = NZ, input_nc: int = 3, output_nc: int = 3):
        super().__init__()
        block = UnetBlockWithZ(ngf * 8, ngf * 8, ngf * 8, nz, innermost=True)
        for _ in range(num_downs - 5):
            block = UnetBlockWithZ(ngf * 8, ngf * 8, ngf * 8, nz, block)
        block = UnetBlockWithZ(ngf * 4, ngf * 4, ngf * 8, nz, block)
        block = UnetBlockWithZ(ngf * 2, ngf * 2, ngf * 4, nz, block)
        block = UnetBlockWithZ(ngf, ngf, ngf * 2, nz, block)
        self.model = UnetBlockWithZ(input_nc, output_nc, ngf, nz, block, outermost=True)

    def forward(self, image: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.model(image, z)


def build_generator(num_downs: int, where_add: Literal["all", "input"] = "all", ngf: int = 64,
                    input_nc: int = 3) -> nn.Module:
    """unet_128 has 7 downs, unet_256 8; the input side must be a multiple of 2**num_downs.

    input_nc=1 loads the edges2shoes/edges2handbags files (edge maps are one channel).
    """
    if where_add == "all":
        return GUnetAddAll(num_downs, ngf, NZ, input_nc)
    if where_add == "input":
        return GUnetAddInput(num_downs, ngf, NZ, input_nc)
    raise ConfigError(f"where_add must be 'all' or 'input', got '{where_add}'")


class BasicBlock(nn.Module):
    """E_ResNet's pre-activation residual block that halves the resolution."""

    def __init__(self, inplanes: int, outplanes: int):
        super().__init__()
        self.conv = nn.Sequential(
            InstanceNorm(inplanes), nn.LeakyReLU(0.2, True), nn.Conv2d(inplanes, inplanes, 3, padding=1),
            InstanceNorm(inplanes), nn.LeakyReLU(0.2, True),
            nn.Sequential(nn.Conv2d(inplanes, outplanes, 3, padding=1), nn.AvgPool2d(2, 2)))
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(inplanes, outplanes, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) + self.shortcut(x)


class EResNet(nn.Module):
    """junyanz `E_ResNet` (vaeLike): image -> (mu, logvar), each (N, nz).

    Ends in AvgPool2d(8), so it takes exactly 128x128 (resnet_128) or 256x256 (resnet_256).
    """

    def __init__(self, input_nc: int = 3, nz: int = NZ, nef: int = 64, n_blocks: int = 5):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(input_nc, nef, 4, stride=2, padding=1)]
        out = nef
        for n in range(1, n_blocks):
            out = nef * min(4, n + 1)
            layers.append(BasicBlock(nef * min(4, n), out))
        layers += [nn.LeakyReLU(0.2, True), nn.AvgPool2d(8)]
        self.conv = nn.Sequential(*layers)
        self.fc = nn.Sequential(nn.Linear(out, nz))
        self.fcVar = nn.Sequential(nn.Linear(out, nz))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flat = self.conv(x).flatten(1)
        return self.fc(flat), self.fcVar(flat)


def build_encoder(arch: Literal["resnet_128", "resnet_256"] = "resnet_256", nef: int = 64,
                  input_nc: int = 3, nz: int = NZ) -> EResNet:
    blocks = {"resnet_128": 4, "resnet_256": 5}
    if arch not in blocks:
        raise ConfigError(f"unknown encoder '{arch}': choose one of {sorted(blocks)}")
    return EResNet(input_nc, nz, nef, blocks[arch])


class DNLayersMulti(nn.Module):
    """junyanz `D_NLayersMulti`: num_D PatchGANs on a 2x average-pooled pyramid, halving ndf.

    Returns a list of logit grids, finest first.
    """

    def __init__(self, input_nc: int = 3, ndf: int = 64, n_layers: int = 3, num_D: int = 2):
        super().__init__()
        self.num_D = num_D
        if num_D == 1:
            self.model = _patchgan(input_nc, ndf, n_layers)
            return
        self.model_0 = _patchgan(input_nc, ndf, n_layers)
        self.down = nn.AvgPool2d(3, stride=2, padding=(1, 1), count_include_pad=False)
        for i in range(1, num_D):
            self.add_module(f"model_{i}", _patchgan(input_nc, int(round(ndf / 2 ** i)), n_layers))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self.num_D == 1:
            return [self.model(x)]
        out = []
        for i in range(self.num_D):
            out.append(getattr(self, f"model_{i}")(x))
            if i != self.num_D - 1:
                x = self.down(x)
        return out


def _patchgan(input_nc: int, ndf: int, n_layers: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
    mult = 1
    for n in range(1, n_layers + 1):
        prev, mult = mult, min(2 ** n, 8)
        layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=2 if n < n_layers else 1, padding=1),
                   InstanceNorm(ndf * mult), nn.LeakyReLU(0.2, True)]
    layers.append(nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1))
    return nn.Sequential(*layers)


def build_discriminator(input_nc: int = 3, ndf: int = 64, n_layers: int = 3, num_D: int = 2) -> DNLayersMulti:
    """basic_256_multi is n_layers=3, basic_128_multi n_layers=2; input_nc=6 for conditional_D."""
    return DNLayersMulti(input_nc, ndf, n_layers, num_D)


IO = IOSpec(inputs=(TensorSpec("image", range=(-1.0, 1.0)),
                    TensorSpec("z", kind="latent", range=(-3.0, 3.0), dim=NZ)),
            outputs=(TensorSpec("translated", range=(-1.0, 1.0)),))

UNET_128 = VariantSpec(
    family="bicyclegan", arch="unet_128", build=functools.partial(build_generator, 7), io=IO,
    defaults={"where_add": "all", "ngf": 64, "input_nc": 3}, convert_reference=convert_junyanz,
    option_ranges={"input_nc": (1, 4)},
    min_size=128, size_multiple=128,
    description="junyanz BicycleGAN U-Net generator, 7 downs, z (N, 8) ~ N(0, 1)")

UNET_256 = VariantSpec(
    family="bicyclegan", arch="unet_256", build=functools.partial(build_generator, 8), io=IO,
    defaults={"where_add": "all", "ngf": 64, "input_nc": 3}, convert_reference=convert_junyanz,
    option_ranges={"input_nc": (1, 4)},
    min_size=256, size_multiple=256,
    description="junyanz BicycleGAN U-Net generator, 8 downs, z (N, 8) ~ N(0, 1)")
