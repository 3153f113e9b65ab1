"""Counting a generator's cost the way phones feel it: parameters and multiply-accumulates.

MACs come from `torch.utils.flop_counter.FlopCounterMode` on one forward pass of the module
export would trace (FLOPs / 2). It counts convolutions and matrix products; norms, activations
and element-wise ops are not counted, which is the usual convention for MAC figures.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from pix2mobile.models.spec import IOSpec


def example_inputs(io: IOSpec, size: tuple[int, int], batch: int = 1, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Seeded inputs inside each tensor's declared range: images and scalars uniform, latents N(0, 1)."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for spec in io.inputs:
        shape = spec.shape(size, batch)
        if spec.kind == "latent":
            out.append(torch.randn(shape, generator=gen))
        else:
            out.append(spec.from_unit(torch.rand(shape, generator=gen)))
    return tuple(out)


def count_macs(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> int:
    """Multiply-accumulates of one forward pass on `inputs`."""
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        module(*inputs)
    return counter.get_total_flops() // 2


def count_params(module: nn.Module) -> int:
    """All parameters, frozen ones included: they ship in the artifact too."""
    return sum(p.numel() for p in module.parameters())
