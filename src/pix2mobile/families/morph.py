"""Morph: coordinate MLPs that memorise an image sequence; the exported model blends two MLPs'
weights at an alpha and renders the frame. Its desktop reference is the desktop morph: the eager
`MorphGenerator` from the checkpoint at the same alphas, since the frames between the images have
no ground truth but the blend the checkpoint defines.

`morph_vs_desktop`: PSNR per frame of each artifact against the eager `MorphGenerator` at the
same alphas, and the eager morph's end frames against the two MLPs' own renders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from pix2mobile.families.family import Alias, Drawing, Family, Recipe, Reference, ReferenceInputs, Runner, skipped, unit
from pix2mobile.models import morph as nets
from pix2mobile.runtimes.parity import psnr
from pix2mobile.train import morph as recipe


def morph_vs_desktop(runners: Mapping[str, Runner], generator: torch.nn.Module, stack: Any,
                     size: tuple[int, int], frames: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """generator: the eager MorphGenerator (images 0 and 1); stack: the MorphStack it came from."""
    alphas = torch.linspace(0.0, 1.0, frames)
    with torch.no_grad():
        desktop = generator(alphas).clamp(0.0, 1.0)
        ends = [stack.render(0, size).clamp(0, 1), stack.render(1, size).clamp(0, 1)]
    images: dict[str, np.ndarray] = {"desktop (eager)": desktop.numpy()}
    endpoint = {"alpha_0": psnr(ends[0].numpy(), desktop[:1].numpy()),
                "alpha_1": psnr(ends[1].numpy(), desktop[-1:].numpy())}
    rows: list[dict[str, Any]] = []
    for key, run in runners.items():
        out = torch.cat([unit(run((a.reshape(1),))[0], 0.0, 1.0) for a in alphas])
        images[key] = out.numpy()
        per_frame = [psnr(desktop[i].numpy(), out[i].numpy()) for i in range(frames)]
        rows.append({"key": key, "psnr_db_per_frame": per_frame, "min_psnr_db": min(per_frame),
                     "endpoint_psnr_vs_mlp_db": [psnr(ends[0].numpy(), out[:1].numpy()),
                                                 psnr(ends[1].numpy(), out[-1:].numpy())]})
    worst = min(rows, key=lambda r: r["min_psnr_db"], default=None)
    result = {"alphas": [float(a) for a in alphas], "reference": "eager MorphGenerator from the checkpoint",
              "desktop_vs_mlp_renders_psnr_db": endpoint, "artifacts": rows,
              "summary": (f"{frames} frames; worst artifact frame {worst['min_psnr_db']:.2f} dB ({worst['key']}) "
                          f"against the desktop morph" if worst else "no artifact could be run")}
    return result, images


def measure(ref: ReferenceInputs) -> tuple[dict[str, Any], Any]:
    """The artifacts (not eager: it is the reference) against the desktop morph, `--morph-frames` alphas."""
    if ref.eager is None:
        return skipped("the desktop morph needs the eager MorphStack: pass --checkpoint RUN_DIR"), None
    result, images = morph_vs_desktop(ref.runners, ref.eager.module, ref.eager.generator, ref.size,
                                      ref.cfg.morph_frames)
    result["status"] = "ok"
    return result, images


def plot(result: Mapping[str, Any], images: Any, path: Path, draw: Drawing) -> Path:
    alphas = [f"alpha {a:.2f}" for a in result["alphas"]]
    cells = {r["key"]: [f"{a}: {p:.1f} dB" for a, p in zip(alphas, r["psnr_db_per_frame"])]
             for r in result["artifacts"]}
    return draw.frame_strip(images, {}, alphas, path, cells)


FAMILY = Family(
    name="morph",
    variants=(nets.MLP,),
    recipe=Recipe("morph", "coordinate MLPs of an image sequence, for weight-blended morphs",
                  recipe.MorphConfig, recipe.train, recipe.__doc__ or "", skip=("batch_size", "num_samples"),
                  aliases=(Alias("--independent", "chain", False,
                                 "fit every image from the same initialisation (not from the previous one)"),)),
    reference=Reference("morph", measure, "morph_strip", plot),
)
