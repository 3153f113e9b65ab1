"""`--auto`: the smallest precision of one format whose PSNR on the calibration images clears a target.

For each precision in the format row's `auto_order` (smallest file first), `choose_precision` builds the
real artifact in a scratch folder, runs it with the format's own runtime on every calibration
sample and compares it with eager fp32 (`parity.compare`), image by image: the worst image's PSNR
must clear the target, as at the export gate. (Pooling all images hides the few that static int8 handles badly: a dark,
low-contrast crop, whose conv outputs InstanceNorm scales up together with their rounding noise,
scored 22 dB while the pool scored 41 dB.) A quantized precision that misses the target gets
per-layer fallback before the next precision is tried:

1. the first and the last weighted layer (conv / transposed conv / linear, in execution order)
   stay float;
2. then also the InstanceNorm neighbours (weighted layers right before or after a normalisation
   layer, pads and activations skipped; all weighted layers when the model has no norm), most
   harmful first, 2, 4, 8, ... at a time (`max_fallback_steps` steps).
At most half of the weighted layers (or the first and last, if more) and never all of them stay
float: beyond that the artifact is mostly float and no longer the precision it is named after, so
the search moves on to the next precision.

"Most harmful" is measured, not guessed: `layer_harm` fake-quantizes one layer at a time in
PyTorch (its weights, and for int8 its input and output activations at calibrated ranges) and
records the PSNR of the whole model's output on the images the plain artifact did worst on. The
decision itself always rests on the real artifact's PSNR. `export_auto` then exports the chosen
(precision, float layers) through `export_model`, where the parity gate holds it to its
precision's own threshold, and adds the search to the row's notes.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from pix2mobile.convert.common import ExportOptions
from pix2mobile.convert.quantize.calibration import DEFAULT_COUNT, CalibrationSet, builtin_calibration
from pix2mobile.convert.quantize.layers import fallback_candidates
from pix2mobile.convert.quantize.recipes import recipe_for
from pix2mobile.errors import ConfigError, Pix2MobileError
from pix2mobile.models.spec import IOSpec, VariantSpec
from pix2mobile.runtimes import parity as parity_mod
from pix2mobile.runtimes.common import as_outputs, first_line, to_numpy

log = logging.getLogger(__name__)

RANK_SAMPLES = 4


@dataclass(frozen=True)
class Trial:
    """One artifact the search built and measured on the calibration images."""

    precision: str
    keep_float: tuple[str, ...]
    psnr_db: float | None       # the worst calibration image's PSNR: what the target is held against
    ssim: float | None          # of that image
    bytes: int | None
    passed: bool
    reason: str | None = None
    mean_psnr_db: float | None = None   # mean of the per-image PSNRs
    image_psnr_db: tuple[float, ...] = ()   # per calibration image, in order

    def describe(self) -> str:
        layers = f" + {len(self.keep_float)} float layers" if self.keep_float else ""
        got = f"worst image {self.psnr_db:.2f} dB" if self.psnr_db is not None else f"failed ({self.reason})"
        return f"{self.precision}{layers}: {got}"

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"keep_float": list(self.keep_float)}


@dataclass(frozen=True)
class AutoResult:
    format: str
    target_psnr: float
    calibration: str
    trials: tuple[Trial, ...]
    layer_psnr: Mapping[str, Mapping[str, float]] = field(default_factory=dict)   # precision -> layer -> dB

    @property
    def chosen(self) -> Trial | None:
        return next((t for t in self.trials if t.passed), None)

    @property
    def precision(self) -> str | None:
        return self.chosen.precision if self.chosen else None

    @property
    def keep_float(self) -> tuple[str, ...]:
        return self.chosen.keep_float if self.chosen else ()

    def describe(self) -> str:
        tried = "; ".join(t.describe() for t in self.trials)
        if self.chosen is None:
            return f"auto: nothing reached {self.target_psnr:g} dB on every one of {self.calibration} (tried {tried})"
        layers = f" with {', '.join(self.keep_float)} in float" if self.keep_float else ""
        return (f"auto: smallest {self.format} precision reaching {self.target_psnr:g} dB "
                f"on every one of {self.calibration}: {self.precision}{layers} (tried {tried})")

    def to_json(self) -> dict[str, Any]:
        return {"format": self.format, "target_psnr": self.target_psnr, "calibration": self.calibration,
                "precision": self.precision, "keep_float": list(self.keep_float),
                "trials": [t.to_json() for t in self.trials],
                "layer_psnr": {k: dict(v) for k, v in self.layer_psnr.items()}}


# ---------------------------------------------------------------- sensitivity (PyTorch simulation)

def _fake_weight(w: torch.Tensor, precision: str) -> torch.Tensor:
    if precision == "fp16":
        return w.half().float()
    if precision in ("palette6", "palette4"):
        from pix2mobile.convert.quantize.coreml import kmeans_lut

        lut, idx = kmeans_lut(6 if precision == "palette6" else 4, w.detach().cpu().numpy())
        return torch.from_numpy(lut[idx.astype(np.int64)].reshape(tuple(w.shape))).to(w.dtype)
    flat = w.reshape(w.shape[0], -1)
    scale = flat.abs().amax(dim=1).clamp_min(1e-12) / 127.0
    return (torch.round(flat / scale[:, None]).clamp(-127, 127) * scale[:, None]).reshape(w.shape)


def _fake_act(x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = max(hi - lo, 1e-12) / 255.0
    zero = round(-lo / scale)
    return (torch.clamp(torch.round(x / scale) + zero, 0, 255) - zero) * scale


def layer_harm(module: nn.Module, io: IOSpec, names: Sequence[str], samples: Sequence[tuple[torch.Tensor, ...]],
               precision: str) -> dict[str, float]:
    """PSNR of the whole model's output with only layer `name` quantized (as `precision` would), per name.

    Lower is more harmful. int8 precisions quantize the layer's weights per channel and its input
    and output activations per tensor at their calibrated min/max; weight-only precisions
    quantize the weights only.
    """
    module = copy.deepcopy(module).eval()
    mods = dict(module.named_modules())
    acts = precision in ("int8", "int8-dynamic")
    ranges: dict[str, list[float]] = {}

    def observe(key: str, x: torch.Tensor) -> None:
        r = ranges.setdefault(key, [math.inf, -math.inf])
        r[0], r[1] = min(r[0], float(x.min())), max(r[1], float(x.max()))

    with torch.no_grad():
        reference = [np.concatenate([to_numpy(as_outputs(module(*s), io)[i]) for s in samples])
                     for i in range(len(io.outputs))]
        if acts:
            hooks = [h for n in names for h in (
                mods[n].register_forward_pre_hook(lambda m, a, n=n: observe(n + ":in", a[0])),
                mods[n].register_forward_hook(lambda m, a, y, n=n: observe(n + ":out", y)))]
            for s in samples:
                module(*s)
            for h in hooks:
                h.remove()
        out: dict[str, float] = {}
        for n in names:
            mod = mods[n]
            original = mod.weight.data.clone()
            mod.weight.data = _fake_weight(original, precision)
            hooks = []
            if acts:
                hooks = [mod.register_forward_pre_hook(lambda m, a, n=n: (_fake_act(a[0], *ranges[n + ":in"]),)
                                                       + tuple(a[1:])),
                         mod.register_forward_hook(lambda m, a, y, n=n: _fake_act(y, *ranges[n + ":out"]))]
            try:
                got = [np.concatenate([to_numpy(as_outputs(module(*s), io)[i]) for s in samples])
                       for i in range(len(io.outputs))]
            finally:
                for h in hooks:
                    h.remove()
                mod.weight.data = original
            out[n] = parity_mod.compare(reference, got, io.outputs, 0.0).psnr_db
    return out


def fallback_ladder(ends: Sequence[str], ranked: Sequence[str], steps: int, limit: int) -> list[tuple[str, ...]]:
    """keep_float sets to try after the plain recipe: the ends, then the ends plus 2, 4, 8, ... ranked
    layers (`steps` such steps), never more than `limit` layers."""
    ladder: list[tuple[str, ...]] = []
    if ends and len(ends) <= limit:
        ladder.append(tuple(ends))
    k = 2
    for _ in range(steps):
        keep = tuple(ends) + tuple(ranked[:k])
        if not ranked or len(keep) > limit:
            break
        ladder.append(keep)
        if k >= len(ranked):
            break
        k *= 2
    return ladder


def float_limit(n_weighted: int, n_ends: int) -> int:
    """How many weighted layers a fallback may keep float: the first and last, or up to half of them,
    and always one fewer than all (a model mostly in float is no longer the precision it claims)."""
    return max(0, min(n_weighted - 1, max(n_ends, n_weighted // 2)))


# ---------------------------------------------------------------- search

def _resolve(module: nn.Module, spec: Any, size: int | Sequence[int]) -> tuple[nn.Module, IOSpec, tuple[int, int]]:
    from pix2mobile.pipelines.export import ModelRef
    from pix2mobile.pipelines.export import normalise_size

    size_hw = normalise_size(size)
    if isinstance(spec, tuple):
        spec = ModelRef(io=spec[0], family=spec[1], arch=spec[2])
    base = copy.deepcopy(module).eval()
    if isinstance(spec, VariantSpec):
        base = spec.exportable(base, size_hw).eval()
    return base, spec.io, size_hw


def _measure(fmt: Any, precision: str, base: nn.Module, io: IOSpec, calibration: CalibrationSet,
             reference: list[np.ndarray], opts: ExportOptions, work: Path, target: float) -> Trial:
    from pix2mobile.convert.quantize.build import export_quantized, transform_artifact
    from pix2mobile.files import tree_sha256
    from pix2mobile.runtimes.common import run_all

    keep = tuple(opts.keep_float)
    path = work / f"trial_{precision}_{len(keep)}{fmt.suffix}"
    example = calibration.samples[0]
    try:
        recipe = recipe_for(fmt.key, precision)
        row_opts = dataclasses.replace(opts, precision=precision)
        if recipe is None:
            fmt.export_fn(copy.deepcopy(base), example, io, path, row_opts)
        elif recipe.stage == "artifact":   # one float export per base precision serves every trial
            float_path = work / f"float_{recipe.base_precision}{fmt.suffix}"
            if not float_path.exists():
                fmt.export_fn(copy.deepcopy(base), example, io, float_path,
                              dataclasses.replace(opts, precision=recipe.base_precision))
            transform_artifact(recipe, float_path, path, io, calibration=calibration, keep_float=keep, module=base)
        else:
            export_quantized(fmt, recipe, copy.deepcopy(base), example, io, path, row_opts)
        runner = fmt.runner_fn(path, io)
        got = run_all(runner, list(calibration.samples), len(io.outputs))
        worst = parity_mod.compare(reference, got, io.outputs, target)     # per image; the worst decides
    except Pix2MobileError as exc:
        return Trial(precision, keep, None, None, None, False, first_line(exc))
    except Exception as exc:   # a converter or runtime crash rules this precision out, like a failed row
        log.warning("auto: %s %s failed: %s", fmt.key, precision, first_line(exc))
        return Trial(precision, keep, None, None, None, False, first_line(exc))
    nbytes, _ = tree_sha256(path)
    return Trial(precision, keep, float(worst.psnr_db), worst.ssim, nbytes, bool(worst.passed),
                 mean_psnr_db=worst.mean_psnr_db, image_psnr_db=worst.image_psnr_db)


def choose_precision(module: nn.Module, spec: Any, size: int | Sequence[int], format: str, *,
                     target_psnr: float = 32.0, calibration: CalibrationSet | None = None,
                     export_options: ExportOptions | None = None, precisions: Sequence[str] | None = None,
                     max_fallback_steps: int = 3, work_dir: str | Path | None = None) -> AutoResult:
    """Search `format`'s precisions, smallest first, for the first artifact at >= `target_psnr` dB.

    module/spec/size: as `export_model` takes them. calibration: the images to measure on
    (default: 16 built-in crops). precisions: restrict the search (default: the row's `auto_order`).
    """
    from pix2mobile.convert.formats import FORMATS

    if format not in FORMATS:
        raise ConfigError(f"unknown format {format}: choose from {', '.join(FORMATS)}")
    if not 0 < target_psnr <= parity_mod.PSNR_CAP_DB:
        raise ConfigError(f"target PSNR must be in (0, {parity_mod.PSNR_CAP_DB:g}] dB, got {target_psnr}")
    fmt = FORMATS[format]
    order = [p for p in fmt.auto_order if p in fmt.precisions]
    if precisions is not None:
        bad = [p for p in precisions if p not in fmt.precisions]
        if bad:
            raise ConfigError(f"format {format} exports {', '.join(fmt.precisions)}, not {', '.join(bad)}")
        order = [p for p in order if p in precisions]
    base, io, size_hw = _resolve(module, spec, size)
    calibration = calibration or builtin_calibration(io, size_hw, DEFAULT_COUNT)
    opts = dataclasses.replace(export_options or ExportOptions(), calibration=calibration, keep_float=())
    with torch.no_grad():
        reference = [np.concatenate([to_numpy(as_outputs(base(*s), io)[i]) for s in calibration.samples])
                     for i in range(len(io.outputs))]
    ends, neighbours, n_weighted = fallback_candidates(base, calibration.samples[0])
    trials: list[Trial] = []
    harm: dict[str, dict[str, float]] = {}
    scratch = tempfile.TemporaryDirectory(prefix="pix2mobile-auto-", dir=work_dir)
    with scratch as work_name:
        work = Path(work_name)
        for precision in order:
            trial = _measure(fmt, precision, base, io, calibration, reference, opts, work, target_psnr)
            trials.append(trial)
            log.info("auto %s: %s", format, trial.describe())
            if trial.passed:
                break
            if recipe_for(format, precision) is None or trial.psnr_db is None:
                continue
            worst_first = sorted(range(len(calibration)), key=lambda k: trial.image_psnr_db[k])
            harm[precision] = layer_harm(base, io, neighbours,
                                         [calibration.samples[k] for k in worst_first[:RANK_SAMPLES]], precision)
            ranked = sorted(neighbours, key=lambda n: harm[precision][n])
            for keep in fallback_ladder(ends, ranked, max_fallback_steps, float_limit(n_weighted, len(ends))):
                trial = _measure(fmt, precision, base, io, calibration, reference,
                                 dataclasses.replace(opts, keep_float=keep), work, target_psnr)
                trials.append(trial)
                log.info("auto %s: %s", format, trial.describe())
                if trial.passed:
                    break
            if trials[-1].passed:
                break
    return AutoResult(format=format, target_psnr=float(target_psnr), calibration=calibration.describe(),
                      trials=tuple(trials), layer_psnr=harm)


def export_auto(module: nn.Module, spec: Any, size: int | Sequence[int], format: str, out_dir: str | Path, *,
                target_psnr: float = 32.0, calibration: CalibrationSet | None = None,
                export_options: ExportOptions | None = None, precisions: Sequence[str] | None = None,
                max_fallback_steps: int = 3, **export_kwargs: Any) -> tuple[Any, AutoResult]:
    """`choose_precision`, then export the choice with `export_model` (gate, manifest) under `out_dir`.

    `export_kwargs` go to `export_model` (thresholds, options, checkpoint_sha256, samples, seed, stem,
    force). Returns (manifest, search result); the row's notes end with `AutoResult.describe()`.
    Raises `VerificationError` when no precision reaches the target (nothing is written then).
    """
    from pix2mobile.errors import VerificationError
    from pix2mobile.pipelines.export import export_model
    from pix2mobile.pipelines.export import normalise_size

    if calibration is None:
        io = spec[0] if isinstance(spec, tuple) else spec.io
        calibration = builtin_calibration(io, normalise_size(size), DEFAULT_COUNT)
    result = choose_precision(module, spec, size, format, target_psnr=target_psnr, calibration=calibration,
                              export_options=export_options, precisions=precisions,
                              max_fallback_steps=max_fallback_steps)
    chosen = result.chosen
    if chosen is None:
        raise VerificationError(result.describe())
    opts = dataclasses.replace(export_options or ExportOptions(), calibration=calibration,
                               keep_float=result.keep_float)
    manifest = export_model(module, spec, size, [format], out_dir, precisions={format: [chosen.precision]},
                            export_options=opts, **export_kwargs)
    rows = tuple(dataclasses.replace(a, notes=tuple(a.notes) + (result.describe(),)) for a in manifest.artifacts)
    manifest = dataclasses.replace(manifest, artifacts=rows)
    manifest.write(out_dir)
    return manifest, result
