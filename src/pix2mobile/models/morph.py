"""Coordinate MLPs that memorise images, and a renderer that morphs between two of them.

Each MLP maps a pixel position (x, y) in [-1, 1] (optionally lifted to Fourier features) to
RGB in [0, 1], so one image becomes a continuous function that renders at any resolution.
`MorphGenerator` blends two MLPs' *weights*, (1 - alpha) * W_a + alpha * W_b, inside the graph:
the phone gets one small model and a slider. It uses only matmul, add, mul, relu, sigmoid,
reshape and permute; the coordinate grid (with its Fourier features) is a buffer built for the
export size, so no meshgrid or sin/cos runs in forward.
"""

from __future__ import annotations

import copy
import math
from typing import Iterable, cast

import torch
import torch.nn.functional as F
from torch import nn

from pix2mobile.errors import ConfigError
from pix2mobile.models.spec import IOSpec, TensorSpec, VariantSpec


def coordinate_grid(size: tuple[int, int], fourier: int = 0) -> torch.Tensor:
    """Input features of every pixel of an (H, W) image, row-major: (H*W, 2 + 4*fourier).

    Columns are x, y (each linspace(-1, 1)), then sin and cos of 2^k*pi*x and 2^k*pi*y.
    The same continuous coordinates at every size are what make rendering resolution-free.
    """
    h, w = size
    ys, xs = torch.meshgrid(torch.linspace(-1.0, 1.0, h), torch.linspace(-1.0, 1.0, w), indexing="ij")
    coords = torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)
    if fourier == 0:
        return coords
    angles = (coords[:, :, None] * (2.0 ** torch.arange(fourier)) * math.pi).flatten(1)
    return torch.cat([coords, torch.sin(angles), torch.cos(angles)], dim=1)


def _to_image(rgb: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N, H*W, 3) row-major pixels -> (N, 3, H, W)."""
    return rgb.reshape(rgb.shape[0], size[0], size[1], 3).permute(0, 3, 1, 2)


class CoordinateMLP(nn.Module):
    """Four hidden ReLU layers of 100 units, sigmoid RGB out: features (..., D) -> (..., 3)."""

    def __init__(self, fourier: int = 0, hidden: int = 100, n_hidden: int = 4):
        super().__init__()
        if fourier < 0:
            raise ConfigError(f"fourier must be >= 0 frequencies, got {fourier}")
        self.fourier = fourier
        widths = [2 + 4 * fourier] + [hidden] * n_hidden + [3]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        h = features
        for layer in self.layers[:-1]:
            h = F.relu(layer(h))
        return torch.sigmoid(self.layers[-1](h))

    def render(self, size: tuple[int, int]) -> torch.Tensor:
        """The memorised image at any (H, W): (1, 3, H, W) in [0, 1]."""
        grid = coordinate_grid(size, self.fourier).to(cast(nn.Linear, self.layers[0]).weight.device)
        return _to_image(self(grid)[None], size)


class MorphStack(nn.Module):
    """The trained generator of the morph family: one CoordinateMLP per memorised image."""

    def __init__(self, num_images: int = 2, fourier: int = 0, hidden: int = 100):
        super().__init__()
        if num_images < 2:
            raise ConfigError(f"a morph needs at least 2 images, got num_images={num_images}")
        self.mlps = nn.ModuleList(CoordinateMLP(fourier, hidden) for _ in range(num_images))

    @property
    def fourier(self) -> int:
        return cast(CoordinateMLP, self.mlps[0]).fourier

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Every MLP on the same pixels: (P, D) -> (num_images, P, 3), for training all at once."""
        return torch.stack([mlp(features) for mlp in self.mlps])

    def render(self, index: int, size: tuple[int, int]) -> torch.Tensor:
        """Image `index` at (H, W): (1, 3, H, W) in [0, 1]."""
        if not 0 <= index < len(self.mlps):
            raise ConfigError(f"image index {index} out of range: the stack holds {len(self.mlps)} images")
        return cast(CoordinateMLP, self.mlps[index]).render(size)


class MorphGenerator(nn.Module):
    """alpha (N,) in [0, 1] -> (N, 3, H, W) in [0, 1], rendered by the weight-blended MLP.

    alpha = 0 is MLP a, alpha = 1 is MLP b; in between the weights themselves are blended,
    which morphs shapes rather than cross-fading pixels.
    """

    grid: torch.Tensor   # a buffer (registered in __init__)

    def __init__(self, mlp_a: CoordinateMLP, mlp_b: CoordinateMLP, size: tuple[int, int]):
        super().__init__()
        shapes_a = [tuple(p.shape) for p in mlp_a.parameters()]
        if mlp_a.fourier != mlp_b.fourier or shapes_a != [tuple(p.shape) for p in mlp_b.parameters()]:
            raise ConfigError("the two MLPs of a morph must have the same architecture and fourier setting")
        self.size = (int(size[0]), int(size[1]))
        self.layers_a = copy.deepcopy(mlp_a.layers).requires_grad_(False)
        self.layers_b = copy.deepcopy(mlp_b.layers).requires_grad_(False)
        self.register_buffer("grid", coordinate_grid(self.size, mlp_a.fourier)
                             .to(cast(nn.Linear, mlp_a.layers[0]).weight.device))

    @classmethod
    def from_stack(cls, stack: MorphStack, pair: tuple[int, int] = (0, 1),
                   size: tuple[int, int] = (256, 256)) -> MorphGenerator:
        n = len(stack.mlps)
        if len(pair) != 2 or not all(0 <= i < n for i in pair):
            raise ConfigError(f"morph pair {pair} is not two image indices in 0..{n - 1}")
        return cls(cast(CoordinateMLP, stack.mlps[pair[0]]), cast(CoordinateMLP, stack.mlps[pair[1]]), size)

    def forward(self, alpha: torch.Tensor) -> torch.Tensor:
        a = alpha.reshape(-1, 1, 1)
        b = 1.0 - a
        h = self.grid                                            # (P, D), broadcast over N
        last = len(self.layers_a) - 1
        layers = zip(cast(Iterable[nn.Linear], self.layers_a), cast(Iterable[nn.Linear], self.layers_b))
        for i, (la, lb) in enumerate(layers):
            bias = b * la.bias + a * lb.bias                     # (N, 1, out)
            if i == 0:
                # The grid is constant, so blend the first layer's outputs rather than its weights (the same
                # sum by linearity): grid @ W^T folds to two constants, where a matmul of the constant grid
                # by blended weights became FULLY_CONNECTED + TRANSPOSE in TFLite.
                h = b * torch.matmul(h, la.weight.t()) + a * torch.matmul(h, lb.weight.t()) + bias
            else:
                weight = b * la.weight + a * lb.weight           # (N, out, in)
                h = torch.matmul(h, weight.transpose(1, 2)) + bias   # (N, P, out)
            h = torch.sigmoid(h) if i == last else torch.relu(h)
        return _to_image(h, self.size)


def exportable(stack: nn.Module, size: tuple[int, int]) -> MorphGenerator:
    """The registry's export module: the morph between images 0 and 1 (other pairs: from_stack)."""
    if not isinstance(stack, MorphStack):
        raise ConfigError(f"the morph exporter needs a MorphStack, got {type(stack).__name__}")
    return MorphGenerator.from_stack(stack, (0, 1), size)


IO = IOSpec(inputs=(TensorSpec("alpha", kind="scalar", range=(0.0, 1.0)),),
            outputs=(TensorSpec("image", range=(0.0, 1.0)),))

MLP = VariantSpec(
    family="morph", arch="mlp", build=MorphStack, io=IO,
    defaults={"num_images": 2, "fourier": 0}, exportable=exportable,
    min_size=8, size_multiple=1,
    option_ranges={"num_images": (2, 1024), "fourier": (0, 64), "hidden": (1, 4096)},
    description="coordinate MLPs (x, y) -> RGB, one per image; exports an alpha-controlled weight morph")
