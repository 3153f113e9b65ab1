"""Feed-forward style transfer generators (Johnson et al. 2016), RGB in and out in [0, 255].

`johnson` is pytorch/examples `fast_neural_style` TransformerNet with the same parameter names,
so its published `.pth` files (candy, mosaic, udnie, rain_princess) load as they are. `lite` is
the same recipe for phones: fewer channels and depthwise-separable convolutions, about 10x
fewer multiply-accumulates, built only from ops every converter handles (Conv2d, affine
InstanceNorm2d, ReLU, ReflectionPad2d, nearest x2 upsampling, add).
"""

from __future__ import annotations

import re
from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from pix2mobile.models.spec import IOSpec, TensorSpec, VariantSpec, strip_reference

# Old pytorch/examples files carry InstanceNorm running stats under in1..in5 (and res*.in1/in2).
_STALE = re.compile(r"(^|\.)in\d+\.(running_mean|running_var|num_batches_tracked)$")


class ConvLayer(nn.Module):
    """Reflection pad + conv: no zero border for the style to paint over."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d(self.reflection_pad(x))


class UpsampleConvLayer(ConvLayer):
    """Nearest x2 upsample then conv: avoids the checkerboard a transposed conv leaves."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.conv2d(self.reflection_pad(x))


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3)
        self.in1 = nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = ConvLayer(channels, channels, 3)
        self.in2 = nn.InstanceNorm2d(channels, affine=True)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.in1(self.conv1(x)))
        return x + self.in2(self.conv2(out))


class TransformerNet(nn.Module):
    """pytorch/examples TransformerNet: 0-255 RGB in, 0-255 RGB out (not clamped)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = ConvLayer(3, 32, 9)
        self.in1 = nn.InstanceNorm2d(32, affine=True)
        self.conv2 = ConvLayer(32, 64, 3, stride=2)
        self.in2 = nn.InstanceNorm2d(64, affine=True)
        self.conv3 = ConvLayer(64, 128, 3, stride=2)
        self.in3 = nn.InstanceNorm2d(128, affine=True)
        self.res1 = ResidualBlock(128)
        self.res2 = ResidualBlock(128)
        self.res3 = ResidualBlock(128)
        self.res4 = ResidualBlock(128)
        self.res5 = ResidualBlock(128)
        self.deconv1 = UpsampleConvLayer(128, 64, 3)
        self.in4 = nn.InstanceNorm2d(64, affine=True)
        self.deconv2 = UpsampleConvLayer(64, 32, 3)
        self.in5 = nn.InstanceNorm2d(32, affine=True)
        self.deconv3 = ConvLayer(32, 3, 9)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.in1(self.conv1(x)))
        y = self.relu(self.in2(self.conv2(y)))
        y = self.relu(self.in3(self.conv3(y)))
        y = self.res5(self.res4(self.res3(self.res2(self.res1(y)))))
        y = self.relu(self.in4(self.deconv1(y)))
        y = self.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)


class SeparableConv(nn.Module):
    """Reflection pad + depthwise kxk + pointwise 1x1: about k*k times cheaper than a full conv."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3):
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, groups=in_channels)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(self.reflection_pad(x)))


class SeparableResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = SeparableConv(channels, channels)
        self.in1 = nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = SeparableConv(channels, channels)
        self.in2 = nn.InstanceNorm2d(channels, affine=True)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.in1(self.conv1(x)))
        return x + self.in2(self.conv2(out))


class SeparableUpsample(SeparableConv):
    """Nearest x2 upsample, then a separable conv (no transposed conv, no checkerboard)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.interpolate(x, scale_factor=2, mode="nearest"))


class LiteTransformerNet(nn.Module):
    """TransformerNet at half width with separable residual and upsampling blocks.

    The full 9x9 convolutions at the ends and the two strided convs stay dense: they are cheap
    at 16-64 channels and keep the receptive field and colour mixing the loss recipe relies on.
    """

    def __init__(self, width: int = 16, n_res: int = 5):
        super().__init__()
        w1, w2, w3 = width, 2 * width, 4 * width
        self.conv1 = ConvLayer(3, w1, 9)
        self.in1 = nn.InstanceNorm2d(w1, affine=True)
        self.conv2 = ConvLayer(w1, w2, 3, stride=2)
        self.in2 = nn.InstanceNorm2d(w2, affine=True)
        self.conv3 = ConvLayer(w2, w3, 3, stride=2)
        self.in3 = nn.InstanceNorm2d(w3, affine=True)
        self.res = nn.Sequential(*[SeparableResidualBlock(w3) for _ in range(n_res)])
        self.up1 = SeparableUpsample(w3, w2)
        self.in4 = nn.InstanceNorm2d(w2, affine=True)
        self.up2 = SeparableUpsample(w2, w1)
        self.in5 = nn.InstanceNorm2d(w1, affine=True)
        self.conv_out = ConvLayer(w1, 3, 9)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.in1(self.conv1(x)))
        y = self.relu(self.in2(self.conv2(y)))
        y = self.relu(self.in3(self.conv3(y)))
        y = self.res(y)
        y = self.relu(self.in4(self.up1(y)))
        y = self.relu(self.in5(self.up2(y)))
        return self.conv_out(y)


def convert_johnson(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """pytorch/examples names are ours; only stale InstanceNorm statistics are dropped."""
    return strip_reference(state_dict, lambda k: _STALE.search(k) is not None)


IO = IOSpec(inputs=(TensorSpec("image", range=(0.0, 255.0)),),
            outputs=(TensorSpec("stylized", range=(0.0, 255.0)),))

JOHNSON = VariantSpec(
    family="fast_style", arch="johnson", build=TransformerNet, io=IO,
    description="pytorch/examples fast_neural_style TransformerNet (loads its .pth files)",
    convert_reference=convert_johnson, min_size=32, size_multiple=4)

LITE = VariantSpec(
    family="fast_style", arch="lite", build=LiteTransformerNet, io=IO,
    defaults={"width": 16, "n_res": 5}, option_ranges={"width": (1, 256), "n_res": (0, 64)},
    description="mobile TransformerNet: half width, depthwise-separable blocks, ~10x fewer MACs",
    min_size=32, size_multiple=4)
