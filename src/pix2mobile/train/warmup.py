"""Light training so parity tests judge image-like outputs, not the sliver a random init emits.

`lightly_train` runs ~100 Adam steps towards a blurred identity on real photo crops: the
target of each sample is the Gaussian-blurred input image, mapped into the output range of
the IOSpec. Latent inputs get fresh N(0, 1) draws; scalar inputs (the morph's alpha) get
uniform draws and the target is the blend of two blurred photos at that alpha, so every
family ends up painting photographs. For tests and demos only; never part of an export.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pix2mobile.models.spec import IOSpec


def gaussian_blur(x: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    radius = max(1, int(round(2.5 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    k = torch.exp(-(t ** 2) / (2 * sigma ** 2))
    k = k / k.sum()
    c = x.shape[1]
    pad = min(radius, x.shape[-1] - 1, x.shape[-2] - 1)
    y = F.pad(x, (radius, radius, radius, radius), mode="reflect" if pad == radius else "replicate")
    y = F.conv2d(y, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(y, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def lightly_train(module: nn.Module, io: IOSpec, size: int | tuple[int, int], steps: int = 100, seed: int = 0,
                  batch: int = 4, lr: float = 2e-3) -> nn.Module:
    """Train all of `module`'s parameters in place towards a blurred identity; return it in eval mode.

    requires_grad flags are restored afterwards.
    """
    from pix2mobile.data.builtin import sample_batch

    h, w = (size, size) if isinstance(size, int) else size
    torch.manual_seed(seed)
    photos = torch.round(sample_batch(16, max(h, w), seed=seed)[..., :h, :w] * 255) / 255
    targets_unit = gaussian_blur(photos)
    out_spec = io.outputs[0]
    params = list(module.parameters())
    if not params:
        return module.eval()
    flags = [p.requires_grad for p in params]
    for p in params:            # frozen parts (a VGG encoder, the morph's blended MLPs) train too
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    module.train()
    for _ in range(steps):
        idx = torch.randint(len(photos), (batch,), generator=gen)
        inputs, target = [], targets_unit[idx]
        for spec in io.inputs:
            if spec.kind == "image":
                img = photos[idx] if spec.channels == 3 else photos[idx].mean(1, keepdim=True)
                inputs.append(spec.from_unit(img))
            elif spec.kind == "latent":
                inputs.append(torch.randn((batch, spec.dim), generator=gen).clamp(*spec.range))
            else:
                a = torch.rand((batch,), generator=gen)
                if not any(s.kind == "image" for s in io.inputs):   # alpha -> image: blend two photos
                    a4 = a.view(-1, 1, 1, 1)
                    target = (1 - a4) * targets_unit[:1] + a4 * targets_unit[1:2]
                inputs.append(spec.from_unit(a))
        out = module(*inputs)
        out = out if isinstance(out, torch.Tensor) else out[0]
        if out.shape[1] != target.shape[1]:
            target = target.mean(1, keepdim=True).expand_as(out) if out.shape[1] == 1 else target
        loss = F.l1_loss(out_spec.to_unit(out), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    for p, flag in zip(params, flags):
        p.requires_grad_(flag)
    return module.eval()
