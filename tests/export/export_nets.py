"""Tiny stand-ins for the registry families, lightly trained so parity is judged on image-like outputs.

- `CycleLike`: reflect pad, InstanceNorm, ReLU, ConvTranspose2d(k3, s2, p1, output_padding=1),
  nearest upsample, tanh; I/O in [-1, 1] (CycleGAN's ops).
- `ImageZ`: image + latent z (N, 8) -> image in [-1, 1] (BicycleGAN's inputs).
- `AlphaRenderer`: alpha (N,) -> image in [0, 1] from a coordinate MLP (the morph's I/O).
- `StyleLike`: 0..255 in and out, no final activation (fast_style's I/O).
"""

from __future__ import annotations

import torch
from torch import nn

from pix2mobile.models.spec import IOSpec, TensorSpec

SIZE = 32


class CycleLike(nn.Module):
    def __init__(self, ngf: int = 8):
        super().__init__()
        self.net = nn.Sequential(
            nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7), nn.InstanceNorm2d(ngf), nn.ReLU(True),
            nn.Conv2d(ngf, ngf * 2, 3, 2, 1), nn.InstanceNorm2d(ngf * 2, affine=True), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 3, 2, 1, output_padding=1), nn.InstanceNorm2d(ngf), nn.ReLU(True),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(ngf, ngf, 3, 2, 1), nn.ReLU(True),
            nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ImageZ(nn.Module):
    def __init__(self, ngf: int = 8, nz: int = 8):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(3 + nz, ngf, 4, 2, 1), nn.LeakyReLU(0.2))
        self.dec = nn.Sequential(nn.ConvTranspose2d(ngf, ngf, 4, 2, 1), nn.InstanceNorm2d(ngf), nn.ReLU(),
                                 nn.Conv2d(ngf + 3, 3, 3, padding=1), nn.Tanh())

    def forward(self, image: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        zmap = z[:, :, None, None].expand(-1, -1, image.shape[2], image.shape[3])
        h = self.dec[:3](self.enc(torch.cat([image, zmap], 1)))
        return self.dec[3:](torch.cat([h, image], 1))


class AlphaRenderer(nn.Module):
    def __init__(self, size: int = SIZE, hidden: int = 32):
        super().__init__()
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
        self.register_buffer("grid", torch.stack([xs, ys], -1).reshape(-1, 2))
        self.size = size
        self.mlp = nn.Sequential(nn.Linear(3, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, 3), nn.Sigmoid())

    def forward(self, alpha: torch.Tensor) -> torch.Tensor:
        n = alpha.shape[0]
        a = alpha.reshape(n, 1, 1).expand(n, self.grid.shape[0], 1)
        feats = torch.cat([self.grid.unsqueeze(0).expand(n, -1, -1), a], -1)
        rgb = self.mlp(feats)
        return rgb.reshape(n, self.size, self.size, 3).permute(0, 3, 1, 2)


class StyleLike(nn.Module):
    def __init__(self, ch: int = 8):
        super().__init__()
        self.net = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(3, ch, 3), nn.InstanceNorm2d(ch, affine=True),
                                 nn.ReLU(), nn.ReflectionPad2d(1), nn.Conv2d(ch, 3, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x / 255.0) * 255.0


CYCLE_IO = IOSpec((TensorSpec("image", range=(-1.0, 1.0)),), (TensorSpec("translated", range=(-1.0, 1.0)),))
IMAGE_Z_IO = IOSpec((TensorSpec("image", range=(-1.0, 1.0)), TensorSpec("z", kind="latent", range=(-3.0, 3.0), dim=8)),
                    (TensorSpec("translated", range=(-1.0, 1.0)),))
ALPHA_IO = IOSpec((TensorSpec("alpha", kind="scalar", range=(0.0, 1.0)),), (TensorSpec("image", range=(0.0, 1.0)),))
STYLE_IO = IOSpec((TensorSpec("image", range=(0.0, 255.0)),), (TensorSpec("stylized", range=(0.0, 255.0)),))

TINY = {
    "cycle": (CycleLike, CYCLE_IO),
    "image_z": (ImageZ, IMAGE_Z_IO),
    "alpha": (AlphaRenderer, ALPHA_IO),
    "style": (StyleLike, STYLE_IO),
}


