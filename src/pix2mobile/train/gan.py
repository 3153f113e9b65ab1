"""What the GAN recipes share: junyanz's weight init, LSGAN loss, requires_grad switching."""

from __future__ import annotations

from typing import Iterable, Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn


def init_weights(net: nn.Module, kind: Literal["normal", "xavier"] = "normal", gain: float = 0.02) -> nn.Module:
    """junyanz `init_weights`: conv/linear weights ~ N(0, gain) (or Xavier-normal with `gain`), biases 0.

    Frozen weights (vgg_unet's pretrained encoder) are left alone.
    """
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)) and m.weight.requires_grad:
                if kind == "normal":
                    nn.init.normal_(m.weight, 0.0, gain)
                else:
                    nn.init.xavier_normal_(m.weight, gain=gain)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
    return net


def lsgan(prediction: torch.Tensor | Sequence[torch.Tensor], real: bool) -> torch.Tensor:
    """LSGAN: mean squared distance to 1 (real) or 0 (fake), summed over multi-scale outputs."""
    preds = [prediction] if isinstance(prediction, torch.Tensor) else list(prediction)
    target = 1.0 if real else 0.0
    losses = [F.mse_loss(p.float(), torch.full_like(p, target, dtype=torch.float32)) for p in preds]
    return torch.stack(losses).sum()


def set_requires_grad(nets: Iterable[nn.Module], flag: bool) -> None:
    for net in nets:
        net.requires_grad_(flag)


def trainable(net: nn.Module) -> list[nn.Parameter]:
    return [p for p in net.parameters() if p.requires_grad]
