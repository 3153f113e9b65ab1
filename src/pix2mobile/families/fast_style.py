"""Fast style transfer (pytorch/examples fast_neural_style): Johnson's TransformerNet and a lite
variant; its desktop reference is Gatys NST, the slow optimisation it amortises.

`nst_vs_fast_style`: Gatys NST (`models.gatys.stylize`, L-BFGS) on one content/style pair; the
content and Gram style losses of NST's result and of every fast-style output, from the same VGG19
layers (`PerceptualLoss` with `GATYS_CONTENT`/`GATYS_STYLE`, relative per layer), and the latency
ratio NST seconds / artifact median milliseconds (how many artifact runs one NST costs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from pix2mobile.families.family import Drawing, Family, Recipe, Reference, ReferenceInputs, Runner, skipped, unit
from pix2mobile.models import fast_style as nets
from pix2mobile.models.spec import IOSpec
from pix2mobile.train import fast_style as recipe


def nst_vs_fast_style(runners: Mapping[str, Runner], io: IOSpec, content: torch.Tensor, style: torch.Tensor,
                      vgg: Any, nst_cfg: Any, latency_ms: Mapping[str, float | None],
                      sources: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """content, style: (1, 3, H, W) in [0, 1]. Returns (JSON-ready result, images for the plot)."""
    from pix2mobile.models.gatys import stylize
    from pix2mobile.models.perceptual import GATYS_CONTENT, GATYS_STYLE, PerceptualLoss

    loss_fn = PerceptualLoss(vgg, style, GATYS_CONTENT, GATYS_STYLE)
    targets = loss_fn.content_targets(content)

    def losses(x: torch.Tensor) -> dict[str, float]:
        with torch.no_grad():
            terms = loss_fn(x, targets)
        c, s = float(terms.content), float(terms.style)
        return {"content_loss": c, "style_loss": s,
                "weighted_loss": nst_cfg.content_weight * c + nst_cfg.style_weight * s}

    nst = stylize(content, style, vgg, nst_cfg)
    images: dict[str, np.ndarray] = {"content": content[0].numpy(), "style": style[0].numpy(),
                                     "Gatys NST": nst.image[0].numpy()}
    lo, hi = io.outputs[0].range
    x_in = io.inputs[0].from_unit(content)
    rows: list[dict[str, Any]] = []
    for key, run in runners.items():
        out = unit(run((x_in,))[0], lo, hi)
        images[key] = out[0].numpy()
        ms = latency_ms.get(key)
        rows.append({"key": key, **losses(out), "latency_ms": ms,
                     "nst_time_in_artifact_runs": None if not ms else nst.seconds * 1000.0 / ms})
    nst_row = {"steps": len(nst.history) - 1, "optimizer": nst_cfg.optimizer, "seconds": nst.seconds,
               **losses(nst.image)}
    result = {"content": sources.get("content"), "style": sources.get("style"), "size": list(content.shape[2:]),
              "layers": {"content": list(GATYS_CONTENT), "style": list(GATYS_STYLE)},
              "weights": {"content": nst_cfg.content_weight, "style": nst_cfg.style_weight},
              "vgg_weights": getattr(vgg, "weights_source", None), "nst": nst_row,
              "content_image": losses(content), "artifacts": rows}
    best = min((r for r in rows if r["latency_ms"]), key=lambda r: r["latency_ms"], default=None)
    result["summary"] = (f"Gatys NST ({nst_row['steps']} steps, {nst.seconds:.2f} s): style loss "
                         f"{nst_row['style_loss']:.3g}, content loss {nst_row['content_loss']:.3g}"
                         + (f"; fastest artifact {best['key']}: style {best['style_loss']:.3g}, content "
                            f"{best['content_loss']:.3g} in {best['latency_ms']:.3g} ms "
                            f"(one NST = {best['nst_time_in_artifact_runs']:.0f} runs)" if best else ""))
    return result, images


def _crop_to(img: Any, size: tuple[int, int]) -> torch.Tensor:
    """A PIL image scaled to cover (H, W), centre-cropped to it, as (1, 3, H, W) in [0, 1]."""
    from pix2mobile.data.images import to_tensor

    h, w = size
    scale = max(h / img.height, w / img.width)
    img = img.resize((max(w, round(img.width * scale)), max(h, round(img.height * scale))))
    left, top = (img.width - w) // 2, (img.height - h) // 2
    return to_tensor(img.crop((left, top, left + w, top + h)))[None]


def measure(ref: ReferenceInputs) -> tuple[dict[str, Any], Any]:
    """NST on `--content` with `--style`, or the style the checkpoint was trained on."""
    from pix2mobile.data.sources import open_image_arg
    from pix2mobile.models.gatys import NSTConfig
    from pix2mobile.models.vgg import load_vgg

    cfg, eager = ref.cfg, ref.eager
    style_source = cfg.style or (eager.meta.get("style") if eager is not None else None)
    if not style_source:
        why = ("the checkpoint's model.json records no style" if eager is not None else
               "no checkpoint to read the training style from")
        return skipped(f"no style image: {why}; pass --style IMG|builtin"), None
    if not ref.with_eager:
        return skipped("no artifact or eager module could be run"), None
    content = _crop_to(open_image_arg(cfg.content, "content"), ref.size)
    style = _crop_to(open_image_arg(style_source, "style"), ref.size)
    vgg = load_vgg("vgg19", cfg.vgg_weights)
    result, images = nst_vs_fast_style(ref.with_eager, ref.io, content, style, vgg,
                                       NSTConfig(steps=cfg.nst_steps, seed=cfg.seed), ref.latency_ms,
                                       {"content": cfg.content, "style": style_source})
    result["status"] = "ok"
    return result, images


def plot(result: Mapping[str, Any], images: Any, path: Path, draw: Drawing) -> Path:
    return draw.nst_side_by_side(result, images, path)


FAMILY = Family(
    name="fast_style",
    variants=(nets.JOHNSON, nets.LITE),
    recipe=Recipe("fast-style", "feed-forward style transfer (content folder + one style image)",
                  recipe.FastStyleConfig, recipe.train, recipe.__doc__ or ""),
    reference=Reference("nst", measure, "nst_vs_fast_style", plot),
)
