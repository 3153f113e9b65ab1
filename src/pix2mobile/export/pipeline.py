"""`export_model`: export one generator to every requested format, gate each on parity, write the manifest.

The recipe, one step per function:

1. `parity_inputs`: real photo crops (`data.builtin.sample_batch`, quantised to 8 bits, as a
   bitmap holds them) mapped into each image input's range; latents N(0, 1) clipped to their
   range; scalars uniform in theirs. Sample 0 is also the tracing example.
2. Eager fp32 reference outputs of a private deep copy of the module (the caller's is untouched).
3. For each (format, precision): `export_fn` writes to a hidden staging name (for a quantized
   precision, `quantize.build.export_quantized` prepares the module or rewrites the float file
   `export_fn` wrote, calibrated on `ExportOptions.calibration`), `runner_fn` reopens
   the file with the format's own runtime and runs every sample, `parity.compare` measures it.
   Passed: renamed to its final name `STEM_PRECISION.SUFFIX`. Failed gate or verification: kept as
   `STEM_PRECISION.failed.SUFFIX` for inspection, and a stale final file from an earlier run is
   removed, so a final name on disk always means "passed in the current manifest". A converter
   that raises becomes a failed row with its one-line reason; the other formats still export.
4. `manifest.json` is written last, atomically. `Manifest.ok` is False if any row failed.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.metadata
import logging
import os
import shutil
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from .. import __version__
from ..errors import ConfigError, MissingDependencyError
from ..models.spec import IOSpec, VariantSpec
from . import parity as parity_mod
from ._common import ExportOptions, as_outputs, first_line, to_numpy
from .manifest import MANIFEST_NAME, ArtifactEntry, Manifest, ModelInfo, Parity

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelRef:
    """What export needs to know about a model that is not a registry variant."""

    family: str
    arch: str
    io: IOSpec
    options: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""


def _normalise_size(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, int):
        return (size, size)
    h, w = (int(s) for s in size)
    return (h, w)


def parity_inputs(io: IOSpec, size: tuple[int, int], n: int = 2, seed: int = 0) -> list[tuple[torch.Tensor, ...]]:
    """`n` batch-1 input tuples built from real photos (see the module docstring)."""
    from ..data.builtin import sample_batch

    n_images = max(1, sum(1 for s in io.inputs if s.kind == "image"))    # a photo per sample even for none
    photos = sample_batch(n * n_images, max(size), seed=seed)[..., :size[0], :size[1]]
    return list(io.samples_from_photos(photos, seed=seed))


def verify(fmt: Any, path: Path, io: IOSpec, inputs: Sequence[tuple[torch.Tensor, ...]],
           reference: Sequence[Sequence[np.ndarray]], threshold: float) -> tuple[Parity, str | None]:
    """Run the artifact at `path` on `inputs` with its format's runtime and compare with `reference`:
    (its Parity, the reason it fails or None). A runtime refusing the file is a failure, not a crash."""
    try:
        candidate = _run_all(fmt.runner_fn(path, io), inputs, len(io.outputs))
        result = parity_mod.compare(reference, candidate, io.outputs, threshold)
    except MissingDependencyError as exc:
        return Parity(threshold_db=threshold, samples=len(inputs)), f"verifier unavailable (missing {exc.package})"
    except Exception as exc:
        log.warning("%s verification failed: %s", fmt.key, first_line(exc), exc_info=log.isEnabledFor(logging.DEBUG))
        return Parity(threshold_db=threshold, samples=len(inputs)), f"verification failed: {first_line(exc)}"
    parity = Parity(psnr_db=_finite_or_none(result.psnr_db), ssim=_finite_or_none(result.ssim),
                    max_abs_err=_finite_or_none(result.max_abs_err), scale=result.scale,
                    threshold_db=threshold, samples=result.samples)
    return parity, None if result.passed else f"parity gate: {result.describe()}"


def _versions(names: Sequence[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in names:
        if name.startswith("pix2mobile"):
            out[name] = __version__
            continue
        try:
            out[name] = importlib.metadata.version(name.split(".")[0].replace("_", "-"))
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def _sha256(path: Path) -> tuple[int, str]:
    """(bytes, sha256) of a file, or of a directory's files in sorted relative-path order."""
    digest, total = hashlib.sha256(), 0
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        if path.is_dir():
            digest.update(f.relative_to(path).as_posix().encode() + b"\0")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
                total += len(chunk)
    return total, digest.hexdigest()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _move(src: Path, dst: Path) -> None:
    """Rename `src` onto `dst`, replacing a file or directory already there."""
    if dst.is_dir() and not dst.is_symlink():
        old = dst.with_name(f".{dst.name}.old")
        _remove(old)
        os.replace(dst, old)
        os.replace(src, dst)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(src, dst)


def _run_all(runner: Any, samples: Sequence[tuple[torch.Tensor, ...]], n_outputs: int) -> list[np.ndarray]:
    per_sample = [runner(s) for s in samples]
    return [np.concatenate([np.asarray(o[i]) for o in per_sample], axis=0) for i in range(n_outputs)]


def _finite_or_none(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def export_model(module: nn.Module, spec: VariantSpec | ModelRef | tuple, size: int | Sequence[int],
                 formats: Sequence[str] | None, out_dir: str | Path,
                 thresholds: Mapping[str, float] | None = None, *,
                 options: Mapping[str, Any] | None = None,
                 precisions: Mapping[str, Sequence[str]] | None = None,
                 export_options: ExportOptions | None = None,
                 checkpoint_sha256: str | None = None, checkpoint: str | Path | None = None,
                 samples: int = 2, seed: int = 0,
                 stem: str | None = None, force: bool = False) -> Manifest:
    """Export `module` to `formats` (all of FORMATS when None) under `out_dir`; return the manifest.

    module: the generator. For a `VariantSpec` the module traced is `spec.exportable(module, size)`;
      for a `ModelRef` (or a tuple `(io, family, arch[, options])`) it is `module` itself.
    thresholds: PSNR gate per precision in dB, merged over `parity.DEFAULT_THRESHOLDS_DB` (fp32 45,
      fp16 35, w8 / int8-dynamic / int8 / palette6 30, palette4 25).
    precisions: per format, the precisions to export (default: the format's first precision).
      Precisions a format's converter does not make natively go through `pix2mobile.quantize`.
    export_options: format options (NHWC tflite, Core ML image I/O, metadata); `precision` is set per row.
      `calibration` (a `quantize.CalibrationSet`) feeds calibrated precisions; when it is None and
      one is planned, 16 crops of the built-in photos are used. `keep_float` names modules the
      quantized rows leave in float.
    force: overwrite an existing manifest/artifacts; without it, existing outputs raise ConfigError.
    """
    from . import FORMATS

    if isinstance(spec, tuple):
        if not 3 <= len(spec) <= 4 or not isinstance(spec[0], IOSpec):
            raise ConfigError("export_model takes a VariantSpec, a ModelRef or a tuple (io, family, arch[, options])")
        spec = ModelRef(io=spec[0], family=spec[1], arch=spec[2], options=dict(spec[3]) if len(spec) > 3 else {})
    size_hw = _normalise_size(size)
    opts = {**(spec.defaults if isinstance(spec, VariantSpec) else spec.options), **(options or {})}
    if isinstance(spec, VariantSpec):
        bad = [s for s in size_hw if s < spec.min_size or s % spec.size_multiple]
        if bad:
            raise ConfigError(f"{spec.key} needs H and W >= {spec.min_size} and multiples of "
                              f"{spec.size_multiple}, got {size_hw[0]}x{size_hw[1]}")
    names = list(FORMATS) if formats is None else list(formats)
    unknown = [f for f in names if f not in FORMATS]
    if unknown:
        raise ConfigError(f"unknown format(s) {', '.join(unknown)}: choose from {', '.join(FORMATS)}")
    gate = {**parity_mod.DEFAULT_THRESHOLDS_DB, **(thresholds or {})}
    plan: list[tuple[str, str]] = []
    for name in names:
        wanted = list((precisions or {}).get(name, (FORMATS[name].default_precision,)))
        for p in wanted:
            if p not in FORMATS[name].precisions:
                raise ConfigError(f"format {name} exports {', '.join(FORMATS[name].precisions)}, not {p}")
            if p not in gate:
                raise ConfigError(f"no parity threshold for precision {p}; pass thresholds={{'{p}': dB}}")
            plan.append((name, p))
    if samples < 1:
        raise ConfigError(f"samples must be >= 1, got {samples}")
    from ..quantize.recipes import needs_calibration, recipe_for

    recipes = {row: recipe_for(*row) for row in plan}
    base_opts = export_options or ExportOptions()

    out = Path(out_dir)
    stem = stem or spec.arch
    finals = {(f, p): out / f"{stem}_{p}{FORMATS[f].suffix}" for f, p in plan}
    if not force:
        clash = [p for p in [out / MANIFEST_NAME, *finals.values()] if p.exists()]
        if clash:
            raise ConfigError(f"{clash[0]} already exists; choose another output directory or pass --force")
    out.mkdir(parents=True, exist_ok=True)

    io = spec.io
    base = copy.deepcopy(module).eval()
    if isinstance(spec, VariantSpec):
        base = spec.exportable(base, size_hw).eval()
    inputs = parity_inputs(io, size_hw, n=samples, seed=seed)
    with torch.no_grad():
        reference = [np.concatenate([to_numpy(as_outputs(base(*s), io)[i]) for s in inputs], axis=0)
                     for i in range(len(io.outputs))]
    from ..models.flops import count_macs, count_params

    model_info = ModelInfo(family=spec.family, arch=spec.arch, options=opts, size=size_hw,
                           macs=int(count_macs(base, inputs[0])), params=int(count_params(base)),
                           checkpoint_sha256=checkpoint_sha256,
                           checkpoint=str(Path(checkpoint).resolve()) if checkpoint else None)
    if base_opts.keep_float:
        unknown = [n for n in base_opts.keep_float if n not in dict(base.named_modules())]
        if unknown:
            raise ConfigError(f"keep_float: the model has no module {', '.join(unknown)}; "
                              f"names are as named_modules() spells them")
    if needs_calibration(plan) and base_opts.calibration is None:
        from ..quantize.calibration import builtin_calibration

        base_opts = replace(base_opts, calibration=builtin_calibration(io, size_hw))
    metadata = {"author": "pix2mobile", "license": "unspecified",
                "description": f"{spec.family}/{spec.arch} at {size_hw[0]}x{size_hw[1]}"
                               + (f": {spec.description}" if spec.description else ""),
                "version": __version__, **dict(base_opts.metadata)}

    entries = []
    for fmt_name, precision in plan:
        fmt = FORMATS[fmt_name]
        final = finals[(fmt_name, precision)]
        entries.append(_export_one(fmt, precision, base, inputs, reference, io, final, out,
                                   replace(base_opts, precision=precision, metadata=metadata), gate[precision],
                                   recipes[(fmt_name, precision)]))
    manifest = Manifest(model=model_info, artifacts=tuple(entries), pix2mobile_version=__version__,
                        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        io=io.to_json(size_hw))
    manifest.write(out)
    return manifest


def _export_one(fmt: Any, precision: str, module: nn.Module, inputs: list[tuple[torch.Tensor, ...]],
                reference: list[np.ndarray], io: IOSpec, final: Path, out: Path, opts: ExportOptions,
                threshold: float, recipe: Any = None) -> ArtifactEntry:
    versions = _versions([*fmt.converter, *(recipe.packages if recipe is not None else ()), fmt.runtime])
    row = dict(format=fmt.key, precision=precision, converter=versions,
               parity=Parity(threshold_db=threshold, samples=len(inputs)))
    disabled = fmt.disabled(io)
    if disabled:
        return ArtifactEntry(status="failed", reason=f"not supported: {disabled}", **row)
    staged = final.with_name(f".{final.stem}.staging{final.suffix}")
    failed = final.with_name(f"{final.stem}.failed{final.suffix}")
    _remove(staged)
    t0 = time.perf_counter()
    try:
        if recipe is None:
            exported = fmt.export_fn(copy.deepcopy(module), inputs[0], io, staged, opts)
        else:   # quantize/ prepares the module or rewrites the float artifact; the format exports as usual
            from ..quantize.build import export_quantized

            exported = export_quantized(fmt, recipe, copy.deepcopy(module), inputs[0], io, staged, opts)
    except Exception as exc:  # a converter crash is a failed row, not a failed export run
        log.warning("%s export failed: %s", fmt.key, first_line(exc), exc_info=log.isEnabledFor(logging.DEBUG))
        _remove(staged)
        return ArtifactEntry(status="failed", reason=f"export failed: {first_line(exc)}",
                             export_seconds=round(time.perf_counter() - t0, 3), **row)
    export_s = round(time.perf_counter() - t0, 3)
    row.update(inputs=exported.inputs, outputs=exported.outputs, notes=tuple(exported.notes), export_seconds=export_s)

    t1 = time.perf_counter()
    row["parity"], reason = verify(fmt, staged, io, inputs, reference, threshold)
    row["verify_seconds"] = round(time.perf_counter() - t1, 3)

    target = failed if reason else final
    _move(staged, target)
    _remove(final if reason else failed)
    nbytes, digest = _sha256(target)
    log.info("%s %s: %s (%d bytes)", fmt.key, precision, reason or "ok", nbytes)
    return ArtifactEntry(status="failed" if reason else "ok", reason=reason, file=target.relative_to(out).as_posix(),
                         bytes=nbytes, sha256=digest, **row)
