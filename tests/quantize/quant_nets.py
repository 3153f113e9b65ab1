"""Tiny generators for the quantization tests (ngf=8, 32 px), lightly trained in conftest.

- `TinyCycle`: CycleGAN's ops (reflect pad, InstanceNorm, stride-2 conv, ConvTranspose2d with
  output_padding, tanh); every conv has more than 512 weights, so Core ML compresses all of them.
- `DeadChannelHead`: a plain conv net whose last conv also reads a channel that is always 0 (a
  ReLU of a constant -1) through weights 300x larger than the others. The float output ignores
  them; per-channel int8 weights do not (the real weights all round to 0), so plain int8 lands
  near 10 dB and keeping the last conv in float rescues it.
"""

from __future__ import annotations

import torch
from torch import nn

from pix2mobile.models.spec import IOSpec, TensorSpec

SIZE = 32


class TinyCycle(nn.Module):
    def __init__(self, ngf: int = 8):
        super().__init__()
        self.net = nn.Sequential(
            nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7), nn.InstanceNorm2d(ngf), nn.ReLU(True),
            nn.Conv2d(ngf, ngf * 2, 3, 2, 1), nn.InstanceNorm2d(ngf * 2, affine=True), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 3, 2, 1, output_padding=1), nn.InstanceNorm2d(ngf), nn.ReLU(True),
            nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class DeadChannelHead(nn.Module):
    def __init__(self, ch: int = 8):
        super().__init__()
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(3, ch, 3), nn.ReLU(),
                                  nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), nn.ReLU())
        self.head = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(ch, 3, 7), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    @torch.no_grad()
    def kill_channel(self, factor: float = 300.0) -> "DeadChannelHead":
        """Channel 0 of the body's output becomes ReLU(-1) = 0; the head reads it through huge weights."""
        conv = self.body[4]
        conv.weight[0].zero_()
        conv.bias[0] = -1.0
        head = self.head[1]
        head.weight[:, 0] = factor * head.weight.abs().max()
        return self


CYCLE_IO = IOSpec((TensorSpec("image", range=(-1.0, 1.0)),), (TensorSpec("translated", range=(-1.0, 1.0)),))
