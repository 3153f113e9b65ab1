"""BicycleGAN (junyanz): multimodal paired translation, one input and a latent z giving several
outputs. Its desktop reference is diversity over z: an export that collapsed the latent path
would pass parity at one z yet lose what the family is for.

`diversity`: mean pairwise distance between outputs for different z on the same input, on
channel-normalised VGG19 features averaged over five taps. It follows LPIPS' recipe with unit
layer weights; VGG features stand in for LPIPS because LPIPS' learned weights and backbone are a
download this project cannot make offline.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from pix2mobile.families.family import Drawing, Family, Recipe, Reference, ReferenceInputs, Runner, unit
from pix2mobile.models import bicyclegan as nets
from pix2mobile.models.spec import IOSpec
from pix2mobile.train import bicyclegan as recipe

LPIPS_STAND_IN = ("VGG19 features stand in for LPIPS: LPIPS' backbone and learned layer weights are a download "
                  "that is unavailable offline, so this is mean pairwise distance of channel-normalised VGG19 "
                  "features (relu1_2, relu2_2, relu3_4, relu4_4, relu5_4, unit weights), not LPIPS itself")
DIVERSITY_TAPS = ("relu1_2", "relu2_2", "relu3_4", "relu4_4", "relu5_4")


def feature_distance(vgg: Any, a: torch.Tensor, b: torch.Tensor) -> float:
    """LPIPS-style distance of two (1, 3, H, W) [0, 1] images, unit layer weights (see module docstring)."""
    taps = [t for i, t in enumerate(DIVERSITY_TAPS) if min(a.shape[-2:]) >> i >= 1]
    with torch.no_grad():
        fa, fb = vgg(a, taps), vgg(b, taps)
    total = 0.0
    for t in taps:
        na = fa[t] / (fa[t].norm(dim=1, keepdim=True) + 1e-10)
        nb = fb[t] / (fb[t].norm(dim=1, keepdim=True) + 1e-10)
        total += float(((na - nb) ** 2).sum(dim=1).mean())
    return total / len(taps)


def diversity(runners: Mapping[str, Runner], io: IOSpec, image: torch.Tensor, n_z: int, vgg: Any,
              seed: int = 0) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """image: the input in its range (1, C, H, W). Same z draws for every runner."""
    z_spec = next(s for s in io.inputs if s.kind == "latent")
    gen = torch.Generator().manual_seed(seed)
    zs = torch.randn((n_z, z_spec.dim), generator=gen).clamp(*z_spec.range)
    lo, hi = io.outputs[0].range
    rows: list[dict[str, Any]] = []
    images: dict[str, np.ndarray] = {}
    for key, run in runners.items():
        outs = []
        for z in zs:
            inputs = tuple(image if s.kind == "image" else z[None] for s in io.inputs)
            outs.append(unit(run(inputs)[0], lo, hi))
        images[key] = torch.cat(outs).numpy()
        pairs = [feature_distance(vgg, outs[i], outs[j]) for i, j in itertools.combinations(range(n_z), 2)]
        rows.append({"key": key, "diversity": float(np.mean(pairs)), "pairs": len(pairs)})
    eager = next((r["diversity"] for r in rows if r["key"].startswith("pytorch")), None)
    for r in rows:
        r["ratio_vs_eager"] = r["diversity"] / eager if eager else None
    result = {"metric": "mean pairwise VGG19 feature distance over z (LPIPS-style)", "note": LPIPS_STAND_IN,
              "z_count": n_z, "seed": seed, "artifacts": rows,
              "summary": "diversity over z: " + ", ".join(f"{r['key']} {r['diversity']:.4f}" for r in rows)
                         + ". " + LPIPS_STAND_IN}
    return result, images


def measure(ref: ReferenceInputs) -> tuple[dict[str, Any], Any]:
    """Diversity of eager and every artifact over `--diversity-z` draws, on the first sample's image."""
    from pix2mobile.models.vgg import load_vgg

    image = next(x for s, x in zip(ref.io.inputs, ref.samples[0]) if s.kind == "image")
    vgg = load_vgg("vgg19", ref.cfg.vgg_weights)
    result, images = diversity(ref.with_eager, ref.io, image, ref.cfg.diversity_z, vgg, ref.cfg.seed)
    result["status"] = "ok"
    return result, images


def plot(result: Mapping[str, Any], images: Any, path: Path, draw: Drawing) -> Path:
    return draw.frame_strip(images, {r["key"]: f"{r['key']}\n{r['diversity']:.3f}" for r in result["artifacts"]},
                            [f"z{i}" for i in range(result["z_count"])], path)


FAMILY = Family(
    name="bicyclegan",
    variants=(nets.UNET_128, nets.UNET_256),
    recipe=Recipe("bicyclegan", "multimodal paired translation (sketch -> photo, several per sketch)",
                  recipe.BicycleGANConfig, recipe.train, recipe.__doc__ or ""),
    reference=Reference("diversity", measure, "diversity_strip", plot),
)
