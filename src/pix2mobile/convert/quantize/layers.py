"""Which layers a quantized model keeps in float: structure read from one forward pass.

`fallback_candidates` names the layers `--auto` tries in float (first and last weighted
layers, then InstanceNorm neighbours); `with_followers` extends a keep-float set by the
activations and pads that run right after a kept layer, for toolchains that would otherwise
requantize between them (FX quantizes a tanh after a float conv with its own fixed range).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from pix2mobile.errors import ConfigError

WEIGHTED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Linear)
NORMS = (nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d, nn.GroupNorm, nn.LayerNorm)
PASS_THROUGH = (nn.ReflectionPad1d, nn.ReflectionPad2d, nn.ReplicationPad2d, nn.ZeroPad2d, nn.ConstantPad2d,
                nn.ReLU, nn.LeakyReLU, nn.PReLU, nn.Tanh, nn.Sigmoid, nn.Hardtanh, nn.Dropout, nn.Identity,
                nn.Upsample)


def _leaves_in_order(module: nn.Module, example: tuple[torch.Tensor, ...]) -> list[tuple[str, nn.Module]]:
    """Leaf modules in the order one forward pass calls them (first call counts)."""
    order: list[tuple[str, nn.Module]] = []
    seen: set[str] = set()
    hooks = []
    for name, mod in module.named_modules():
        if name and not any(True for _ in mod.children()):
            def hook(m: nn.Module, args: Any, out: Any, name: str = name) -> None:
                if name not in seen:
                    seen.add(name)
                    order.append((name, m))
            hooks.append(mod.register_forward_hook(hook))
    try:
        with torch.no_grad():
            module(*example)
    finally:
        for h in hooks:
            h.remove()
    return order


def fallback_candidates(module: nn.Module, example: tuple[torch.Tensor, ...]) -> tuple[list[str], list[str], int]:
    """(first and last weighted layers, InstanceNorm neighbours, number of weighted layers), by module name."""
    leaves = [(n, m) for n, m in _leaves_in_order(module, example) if not isinstance(m, PASS_THROUGH)]
    weighted = [n for n, m in leaves if isinstance(m, WEIGHTED)]
    if not weighted:
        return [], [], 0
    ends = list(dict.fromkeys([weighted[0], weighted[-1]]))
    has_norm = any(isinstance(m, NORMS) for _, m in leaves)
    neighbours = []
    for i, (name, mod) in enumerate(leaves):
        if not isinstance(mod, WEIGHTED) or name in ends:
            continue
        near = [leaves[j][1] for j in (i - 1, i + 1) if 0 <= j < len(leaves)]
        if not has_norm or any(isinstance(m, NORMS) for m in near):
            neighbours.append(name)
    return ends, neighbours, len(weighted)


def with_followers(module: nn.Module, example: tuple[torch.Tensor, ...], names: Sequence[str]) -> tuple[str, ...]:
    """`names` plus the pass-through leaves (activations, pads) that run right after each of them."""
    if not names:
        return ()
    order = _leaves_in_order(module, example)
    kept = list(names)
    for i, (name, _) in enumerate(order):
        if name not in names:
            continue
        for follower, mod in order[i + 1:]:
            if not isinstance(mod, PASS_THROUGH):
                break
            kept.append(follower)
    return tuple(dict.fromkeys(kept))


def check_keep_float(module: nn.Module, keep_float: Sequence[str]) -> None:
    """Refuse `keep_float` names the module does not have, before any quantization work starts."""
    names = dict(module.named_modules())
    unknown = [n for n in keep_float if n not in names]
    if unknown:
        raise ConfigError(f"keep_float: the model has no module {', '.join(unknown)}; "
                          f"names are as named_modules() spells them")
