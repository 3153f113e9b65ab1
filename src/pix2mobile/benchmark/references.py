"""Each family against its desktop reference: fast style vs Gatys NST, the exported morph vs the
desktop morph, BicycleGAN's diversity over z exported vs eager.

Runners here take a tuple of NCHW tensors in the IOSpec's ranges and return outputs the same
way (`FORMATS[fmt].runner_fn`, or `eager_runner` for the PyTorch module), so every artifact
and the eager baseline are measured by the same code.

- `nst_vs_fast_style`: Gatys NST (`models.gatys.stylize`, L-BFGS) on one content/style pair; the
  content and Gram style losses of NST's result and of every fast-style output, from the same
  VGG19 layers (`PerceptualLoss` with `GATYS_CONTENT`/`GATYS_STYLE`, relative per layer), and the
  latency ratio NST seconds / artifact median milliseconds (how many artifact runs one NST costs).
- `morph_vs_desktop`: PSNR per frame of each artifact against the eager `MorphGenerator` at the
  same alphas, and the eager morph's end frames against the two MLPs' own renders.
- `diversity`: mean pairwise distance between outputs for different z on the same input, on
  channel-normalised VGG19 features averaged over five taps. It follows LPIPS' recipe with unit
  layer weights; VGG features stand in for LPIPS because LPIPS' learned weights and backbone are a
  download this project cannot make offline.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from ..export.parity import psnr
from ..models.spec import IOSpec

Runner = Callable[[Sequence[torch.Tensor]], list[np.ndarray]]
LPIPS_STAND_IN = ("VGG19 features stand in for LPIPS: LPIPS' backbone and learned layer weights are a download "
                  "that is unavailable offline, so this is mean pairwise distance of channel-normalised VGG19 "
                  "features (relu1_2, relu2_2, relu3_4, relu4_4, relu5_4, unit weights), not LPIPS itself")
DIVERSITY_TAPS = ("relu1_2", "relu2_2", "relu3_4", "relu4_4", "relu5_4")


def eager_runner(module: torch.nn.Module) -> Runner:
    from ..export._common import to_numpy

    def run(inputs: Sequence[torch.Tensor]) -> list[np.ndarray]:
        with torch.no_grad():
            out = module(*inputs)
        return [to_numpy(y) for y in (out if isinstance(out, (list, tuple)) else [out])]
    return run


def _unit(x: np.ndarray | torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x, dtype=np.float32))
    return ((t - lo) / (hi - lo)).clamp(0.0, 1.0)


# ---------------------------------------------------------------- fast style vs Gatys NST

def nst_vs_fast_style(runners: Mapping[str, Runner], io: IOSpec, content: torch.Tensor, style: torch.Tensor,
                      vgg: Any, nst_cfg: Any, latency_ms: Mapping[str, float | None],
                      sources: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """content, style: (1, 3, H, W) in [0, 1]. Returns (JSON-ready result, images for the plot)."""
    from ..models.gatys import stylize
    from ..models.perceptual import GATYS_CONTENT, GATYS_STYLE, PerceptualLoss

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
        out = _unit(run((x_in,))[0], lo, hi)
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


# ---------------------------------------------------------------- morph vs desktop morph

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
        out = torch.cat([_unit(run((a.reshape(1),))[0], 0.0, 1.0) for a in alphas])
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


# ---------------------------------------------------------------- BicycleGAN diversity

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
            outs.append(_unit(run(inputs)[0], lo, hi))
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


# ---------------------------------------------------------------- which reference each family gets

def _skipped(reason: str) -> dict[str, Any]:
    return {"status": "skipped", "reason": reason, "summary": f"not measured: {reason}"}


def _crop_to(img: Any, size: tuple[int, int]) -> torch.Tensor:
    """A PIL image scaled to cover (H, W), centre-cropped to it, as (1, 3, H, W) in [0, 1]."""
    from ..data.images import to_tensor

    h, w = size
    scale = max(h / img.height, w / img.width)
    img = img.resize((max(w, round(img.width * scale)), max(h, round(img.height * scale))))
    left, top = (img.width - w) // 2, (img.height - h) // 2
    return to_tensor(img.crop((left, top, left + w, top + h)))[None]


def run_references(family: str, cfg: Any, io: IOSpec, size: tuple[int, int],
                   samples: Sequence[tuple[torch.Tensor, ...]], eager: Any, runners: Mapping[str, Runner],
                   latency_ms: Mapping[str, float | None], threads: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The desktop reference of `family` (fast_style: nst, morph: morph, bicyclegan: diversity).

    Returns (JSON-ready results by name, plot images by name). A reference that cannot be
    measured is reported with status "skipped" and its reason, never dropped.
    """
    from ..errors import Pix2MobileError

    with_eager = ({"pytorch fp32": eager_runner(eager.module)} if eager is not None else {}) | dict(runners)
    refs: dict[str, Any] = {}
    images: dict[str, Any] = {}
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        if family == "fast_style":
            refs["nst"], images["nst"] = _nst(cfg, io, size, eager, with_eager, latency_ms)
        elif family == "morph":
            if eager is None:
                refs["morph"] = _skipped("the desktop morph needs the eager MorphStack: pass --checkpoint RUN_DIR")
            else:
                refs["morph"], images["morph"] = morph_vs_desktop(runners, eager.module, eager.generator, size,
                                                                  cfg.morph_frames)
                refs["morph"]["status"] = "ok"
        elif family == "bicyclegan":
            from ..models.vgg import load_vgg

            image = next(x for s, x in zip(io.inputs, samples[0]) if s.kind == "image")
            vgg = load_vgg("vgg19", cfg.vgg_weights)
            refs["diversity"], images["diversity"] = diversity(with_eager, io, image, cfg.diversity_z, vgg, cfg.seed)
            refs["diversity"]["status"] = "ok"
    except Pix2MobileError as exc:   # e.g. VGG weights or a style image missing: say so, keep the report
        name = {"fast_style": "nst", "morph": "morph", "bicyclegan": "diversity"}[family]
        refs[name] = _skipped(str(exc))
        images.pop(name, None)
    finally:
        torch.set_num_threads(old_threads)
    return refs, images


def _nst(cfg: Any, io: IOSpec, size: tuple[int, int], eager: Any, runners: Mapping[str, Runner],
         latency_ms: Mapping[str, float | None]) -> tuple[dict[str, Any], Any]:
    from .._cli_util import open_image_arg
    from ..models.gatys import NSTConfig
    from ..models.vgg import load_vgg

    style_source = cfg.style or (eager.meta.get("style") if eager is not None else None)
    if not style_source:
        why = ("the checkpoint's model.json records no style" if eager is not None else
               "no checkpoint to read the training style from")
        return _skipped(f"no style image: {why}; pass --style IMG|builtin"), None
    if not runners:
        return _skipped("no artifact or eager module could be run"), None
    content = _crop_to(open_image_arg(cfg.content, "content"), size)
    style = _crop_to(open_image_arg(style_source, "style"), size)
    vgg = load_vgg("vgg19", cfg.vgg_weights)
    result, images = nst_vs_fast_style(runners, io, content, style, vgg, NSTConfig(steps=cfg.nst_steps, seed=cfg.seed),
                                       latency_ms, {"content": cfg.content, "style": style_source})
    result["status"] = "ok"
    return result, images
