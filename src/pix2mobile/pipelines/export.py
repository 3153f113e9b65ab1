"""`export_model`: export one generator to every requested format, gate each on parity, write the manifest.

The recipe, one step per function:

1. `parity_set`: crops of the held-out parity photos (`data.builtin.parity_batch`: never used for
   training or calibration), quantised to 8 bits as a bitmap holds them, mapped into each image
   input's range; latents N(0, 1) clipped to their range; scalars uniform in theirs. At least 4
   samples by default, one photo each; the manifest's `parity_images` names them. Sample 0 is also
   the tracing example.
2. Eager fp32 reference outputs of a private deep copy of the module (the caller's is untouched).
3. The folder is claimed (`folder.ExportFolder.begin`): with `force`, our own earlier files (what
   the old manifest lists, and every `STEM_PRECISION[.failed].SUFFIX` this stem can have) are
   removed, then a manifest listing every planned row as pending is written.
4. For each (format, precision): `export_fn` writes to a hidden staging name (for a quantized
   precision, `convert.quantize.build.export_quantized` prepares the module or rewrites the float file
   `export_fn` wrote, calibrated on `ExportOptions.calibration`), `runner_fn` reopens
   the file with the format's own runtime and runs every sample, `parity.compare` scores each
   image and the worst one is held to the gate. The row is committed (`ExportFolder.commit`):
   passed, the manifest lists it and the file is renamed to `STEM_PRECISION.SUFFIX`; failed, it is
   kept as `STEM_PRECISION.failed.SUFFIX`. A converter that raises becomes a failed row with its
   one-line reason; the other formats still export. Every row with a file (passed or failed on
   parity, quantized ones too) records `residency` (`residency_of`: where its ops run, read from
   the file by the format's `residency_fn`; None when the format has none or the inspection raised).

Several sizes (`sizes=`, `pix2mobile export --size 256x256 512x384` or a range `128x128-512x512`):
the first size is the primary (steps 1-4 as above). Each format's exporter gets the request
(`ExportOptions.sizes`) and declares what its file accepts (`Exported.shapes`: "enumerated",
"range", or "fixed" with a note saying why). Every declared size is gated like the primary: the
parity photos cropped at that size, against eager at that size; the worst image's PSNR per size
is `Parity.psnr_db_by_size`, and a size that fails fails the row (the reason names the size).
A model without an image input (the morph renders from alpha alone, its renderer built per
size) stays fixed, with a note. Every row records `shapes` (a single size: fixed, that size).

Invariant (kept after an exception or Ctrl-C at any point, see `folder.py`): every final-named
artifact in the folder is an ok row of the manifest on disk, and no staging file is left.
`Manifest.ok` is False if any row failed or was never made.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence, cast

import numpy as np
import torch
from torch import nn

from pix2mobile import __version__
from pix2mobile.convert.common import ExportOptions, SizeRange, SizeRequest, has_image_input, size_text
from pix2mobile.convert.quantize.layers import check_keep_float
from pix2mobile.errors import ConfigError, MissingDependencyError
from pix2mobile.files import remove_path
from pix2mobile.manifest import MANIFEST_NAME, ArtifactEntry, Manifest, ModelInfo, Parity, Residency, Scale, Shapes
from pix2mobile.models.spec import IOSpec, VariantSpec
from pix2mobile.pipelines.folder import ExportFolder, failed_name, pending_row, staging_name
from pix2mobile.runtimes import parity as parity_mod
from pix2mobile.runtimes.common import as_outputs, first_line, package_versions, run_all, to_numpy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelRef:
    """What export needs to know about a model that is not a registry variant."""

    family: str
    arch: str
    io: IOSpec
    options: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    size_multiple: int | None = None     # H and W must be multiples of this (a size range steps by it)
    min_size: int | None = None          # ... and at least this


def normalise_size(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, int):
        return (size, size)
    h, w = (int(s) for s in size)
    return (h, w)


SizeLike = int | Sequence[int] | SizeRange


def size_request(primary: tuple[int, int], sizes: Sequence[SizeLike] | SizeRequest | None,
                 multiple: int | None, min_size: int | None, what: str) -> SizeRequest:
    """The request of `export_model(size=primary, sizes=...)`, every size checked against the model:
    H and W >= `min_size` and multiples of `multiple` (a range's corners too). `sizes` holds the
    extra sizes and at most one `SizeRange`, or is a whole `SizeRequest` whose primary is `primary`."""
    if isinstance(sizes, SizeRequest):
        if sizes.primary != primary:
            raise ConfigError(f"the size request's primary {size_text(sizes.primary)} is not the export size "
                              f"{size_text(primary)}")
        request = SizeRequest(sizes.sizes, sizes.range, multiple or 1)
    else:
        explicit, ranges = [primary], []
        for item in sizes or ():
            if isinstance(item, SizeRange):
                ranges.append(item)
            elif normalise_size(item) not in explicit:
                explicit.append(normalise_size(item))
        if len(ranges) > 1:
            raise ConfigError(f"one size range per export, got {len(ranges)}: {', '.join(map(str, ranges))}")
        request = SizeRequest(tuple(explicit), ranges[0] if ranges else None, multiple or 1)
    low, step = min_size or 1, multiple or 1
    for s in request.checked:
        if any(side < low or side % step for side in s):
            raise ConfigError(f"{what} needs H and W >= {low} and multiples of {step}, got {size_text(s)}")
    return request


DEFAULT_SAMPLES = 4
"""Parity images per artifact by default: one crop of each held-out photo."""


def parity_set(io: IOSpec, size: tuple[int, int], n: int = DEFAULT_SAMPLES,
               seed: int = 0) -> tuple[list[tuple[torch.Tensor, ...]], tuple[str, ...]]:
    """`n` batch-1 input tuples from the held-out parity photos, and the photo(s) each shows."""
    from pix2mobile.data.builtin import parity_batch

    n_images = max(1, sum(1 for s in io.inputs if s.kind == "image"))    # a photo per sample even for none
    photos, names = parity_batch(n * n_images, max(size), seed=seed)
    samples = list(io.samples_from_photos(photos[..., :size[0], :size[1]], seed=seed))
    return samples, tuple("+".join(names[k * n_images:(k + 1) * n_images]) for k in range(n))


def parity_inputs(io: IOSpec, size: tuple[int, int], n: int = DEFAULT_SAMPLES,
                  seed: int = 0) -> list[tuple[torch.Tensor, ...]]:
    """`n` batch-1 input tuples built from the held-out photos (see the module docstring)."""
    return parity_set(io, size, n, seed)[0]


def verify(fmt: Any, path: Path, io: IOSpec, inputs: Sequence[tuple[torch.Tensor, ...]],
           reference: Sequence[np.ndarray], threshold: float,
           reference_kind: str = "eager") -> tuple[Parity, str | None]:
    """Run the artifact at `path` on `inputs` with its format's runtime and compare with `reference`
    image by image: (its Parity, the reason it fails or None). The worst image is held to
    `threshold`. A runtime refusing the file is a failure, not a crash."""
    empty = Parity(threshold_db=threshold, samples=len(inputs), reference=reference_kind)  # type: ignore[arg-type]
    try:
        candidate = run_all(fmt.runner_fn(path, io), inputs, len(io.outputs))
        result = parity_mod.compare(reference, candidate, io.outputs, threshold)
    except MissingDependencyError as exc:
        return empty, f"verifier unavailable (missing {exc.package})"
    except Exception as exc:
        log.warning("%s verification failed: %s", fmt.key, first_line(exc), exc_info=log.isEnabledFor(logging.DEBUG))
        return empty, f"verification failed: {first_line(exc)}"
    per_image = tuple(float(p) for p in result.image_psnr_db if np.isfinite(p))
    parity = dataclasses.replace(
        empty, psnr_db=_finite_or_none(result.psnr_db), ssim=_finite_or_none(result.ssim),
        max_abs_err=_finite_or_none(result.max_abs_err), scale=cast(Scale, result.scale), samples=result.samples,
        psnr_db_mean=_finite_or_none(result.mean_psnr_db),
        psnr_db_per_image=per_image if len(per_image) == len(result.image_psnr_db) else ())
    return parity, None if result.passed else f"parity gate: {result.describe()}"


def residency_of(fmt: Any, path: Path) -> Residency | None:
    """Where the ops of the artifact at `path` run (its format's `residency_fn`), or None: the format
    records none, or the inspection raised (logged as a warning; the row is not failed for it)."""
    if fmt.residency_fn is None:
        return None
    try:
        return cast(Residency, fmt.residency_fn(path))
    except Exception as exc:   # a record is information: an inspector failing never fails the row
        log.warning("%s residency not recorded: %s", fmt.key, first_line(exc), exc_info=log.isEnabledFor(logging.DEBUG))
        return None


def _finite_or_none(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def export_model(module: nn.Module, spec: VariantSpec | ModelRef | tuple, size: int | Sequence[int],
                 formats: Sequence[str] | None, out_dir: str | Path,
                 thresholds: Mapping[str, float] | None = None, *,
                 options: Mapping[str, Any] | None = None,
                 precisions: Mapping[str, Sequence[str]] | None = None,
                 export_options: ExportOptions | None = None,
                 checkpoint_sha256: str | None = None, checkpoint: str | Path | None = None,
                 direction: str | None = None, samples: int = DEFAULT_SAMPLES, seed: int = 0,
                 stem: str | None = None, force: bool = False,
                 sizes: Sequence[SizeLike] | SizeRequest | None = None) -> Manifest:
    """Export `module` to `formats` (all of FORMATS when None) under `out_dir`; return the manifest.

    module: the generator. For a `VariantSpec` the module traced is `spec.exportable(module, size)`;
      for a `ModelRef` (or a tuple `(io, family, arch[, options])`) it is `module` itself.
    thresholds: PSNR gate per precision in dB, merged over `parity.DEFAULT_THRESHOLDS_DB` (fp32 45,
      fp16 35, w8 / int8-dynamic / int8 / palette6 30, palette4 25).
    precisions: per format, the precisions to export (default: the format's first precision).
      Precisions a format's converter does not make natively go through `pix2mobile.convert.quantize`.
    export_options: format options (NHWC tflite, Core ML image I/O, metadata); `precision` is set per row.
      `calibration` (a `quantize.CalibrationSet`) feeds calibrated precisions; when it is None and
      one is planned, 16 crops of the built-in photos are used. `keep_float` names modules the
      quantized rows leave in float.
    direction: CycleGAN's "a2b" or "b2a", recorded in the manifest (which generator `module` is).
    samples: parity images (the held-out photos in turn); the worst one is held to the gate.
    force: replace an existing export: our own earlier files (what its manifest lists, and every
      STEM_PRECISION[.failed].SUFFIX of this stem) are removed first. Without it, an existing
      manifest or final-named artifact of this stem raises ConfigError.
    sizes: more sizes the artifacts should accept besides `size` (the primary): (H, W) pairs or
      ints, and at most one `SizeRange` (stepping by the variant's `size_multiple`); or a whole
      `SizeRequest`. Each format declares what it can (`ArtifactEntry.shapes`); every declared
      size is parity-gated (see the module docstring).
    The folder keeps the invariant of the module docstring at every instant.
    """
    from pix2mobile.convert.formats import FORMATS

    if isinstance(spec, tuple):
        if not 3 <= len(spec) <= 4 or not isinstance(spec[0], IOSpec):
            raise ConfigError("export_model takes a VariantSpec, a ModelRef or a tuple (io, family, arch[, options])")
        spec = ModelRef(io=spec[0], family=spec[1], arch=spec[2], options=dict(spec[3]) if len(spec) > 3 else {})
    size_hw = normalise_size(size)
    opts = {**(spec.defaults if isinstance(spec, VariantSpec) else spec.options), **(options or {})}
    what = spec.key if isinstance(spec, VariantSpec) else f"{spec.family}/{spec.arch}"
    request = size_request(size_hw, sizes, spec.size_multiple, spec.min_size, what)
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
    from pix2mobile.convert.quantize.recipes import needs_calibration, recipe_for

    recipes = {row: recipe_for(*row) for row in plan}
    base_opts = export_options or ExportOptions()

    out = Path(out_dir)
    stem = stem or spec.arch
    finals = {(f, p): out / f"{stem}_{p}{FORMATS[f].suffix}" for f, p in plan}
    ours = own_files(out, stem)
    if not force:
        clash = [p for p in [out / MANIFEST_NAME, *finals.values(), *ours] if p.exists() or p.is_symlink()]
        clash = [p for p in clash if ".failed." not in p.name and not p.name.startswith(".")]
        if clash:
            raise ConfigError(f"{clash[0]} already exists; choose another output directory or pass --force")
    out.mkdir(parents=True, exist_ok=True)

    io = spec.io
    generator = copy.deepcopy(module).eval()
    base = spec.exportable(generator, size_hw).eval() if isinstance(spec, VariantSpec) else generator
    inputs, photo_names = parity_set(io, size_hw, n=samples, seed=seed)
    reference = eager_outputs(base, io, inputs)
    fixed_note = None
    if request.flexible and not has_image_input(io):
        fixed_note = (f"{what} has no image input: it renders at the one size its exportable module is built for; "
                      "export each size on its own")
        request = SizeRequest.single(size_hw)
    checks = SizeChecks(io, samples, seed, {size_hw: (inputs, reference)},
                        lambda s: spec.exportable(generator, s).eval() if isinstance(spec, VariantSpec) else generator)
    from pix2mobile.models.flops import count_macs, count_params

    model_info = ModelInfo(family=spec.family, arch=spec.arch, options=opts, size=size_hw,
                           macs=int(count_macs(base, inputs[0])), params=int(count_params(base)),
                           checkpoint_sha256=checkpoint_sha256,
                           checkpoint=str(Path(checkpoint).resolve()) if checkpoint else None,
                           direction=direction if spec.family == "cyclegan" else None,
                           size_multiple=spec.size_multiple, min_size=spec.min_size)
    check_keep_float(base, base_opts.keep_float)
    if needs_calibration(plan) and base_opts.calibration is None:
        from pix2mobile.convert.quantize.calibration import builtin_calibration

        base_opts = replace(base_opts, calibration=builtin_calibration(io, size_hw))
    metadata = {"author": "pix2mobile", "license": "unspecified",
                "description": f"{spec.family}/{spec.arch} at {size_hw[0]}x{size_hw[1]}"
                               + (f": {spec.description}" if spec.description else ""),
                "version": __version__, **dict(base_opts.metadata)}

    folder = ExportFolder(out, Manifest(model=model_info, artifacts=(), pix2mobile_version=__version__,
                                        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                        io=io.to_json(size_hw), parity_images=photo_names))
    stale = sorted(set(ours) | set(_listed_files(out))) if force else []
    preload_converters(FORMATS[f] for f, _ in plan)
    folder.begin([pending_row(f, p, gate[p]) for f, p in plan], stale)
    row_opts = replace(base_opts, metadata=metadata, sizes=request if request.flexible else None)
    for fmt_name, precision in plan:
        fmt = FORMATS[fmt_name]
        final = finals[(fmt_name, precision)]
        _export_one(fmt, precision, base, inputs, reference, io, final, folder,
                    replace(row_opts, precision=precision), gate[precision],
                    recipes[(fmt_name, precision)], request=request, checks=checks, fixed_note=fixed_note)
    return folder.manifest


class SizeChecks:
    """The parity inputs and eager references at each size, made the first time a row asks."""

    def __init__(self, io: IOSpec, samples: int, seed: int,
                 known: dict[tuple[int, int], tuple[list[tuple[torch.Tensor, ...]], list[np.ndarray]]],
                 module_at: Any):
        self.io, self.samples, self.seed = io, samples, seed
        self._known = dict(known)
        self._module_at = module_at

    def at(self, size: tuple[int, int]) -> tuple[list[tuple[torch.Tensor, ...]], list[np.ndarray]]:
        if size not in self._known:
            inputs = parity_set(self.io, size, n=self.samples, seed=self.seed)[0]
            self._known[size] = (inputs, eager_outputs(self._module_at(size), self.io, inputs))
        return self._known[size]


def preload_converters(formats: Any) -> None:
    """Import every planned format's converter and runtime packages before the first row.

    Why: a Ctrl-C that lands while a C extension initialises its module can abort the process
    instead of raising KeyboardInterrupt (onnx's nanobind init did: "terminate called after throwing
    an instance of 'nanobind::python_error'", exit -6, no `finally` run, the staging file left).
    Imported up front, the loop's imports are no-ops and an interrupt lands in Python code, where
    the folder's invariant is kept. A package that is missing is left for its row to report."""
    import importlib

    names: list[str] = []
    for fmt in formats:
        for dist in (*fmt.converter, fmt.runtime):
            name = dist.replace("-", "_")
            if name not in names:
                names.append(name)
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            log.debug("preload: %s is not importable; its row will say so", name)


def rebuild_eager(model: ModelInfo) -> tuple[nn.Module | None, str]:
    """The module export traced, rebuilt from the manifest's `model` entry (checkpoint, family, arch,
    options, size): (module, where from), or (None, why not). Works for run directories and foreign
    `.pth` files alike (`models.loading.load_generator`); refuses weights whose sha256 is not the
    recorded `checkpoint_sha256` (parity against other weights would mean nothing)."""
    from pix2mobile.errors import Pix2MobileError
    from pix2mobile.models import MODELS
    from pix2mobile.models.loading import load_generator

    if not model.checkpoint:
        return None, "the manifest records no checkpoint path"
    if f"{model.family}/{model.arch}" not in MODELS:
        return None, f"{model.family}/{model.arch} is not a registry model"
    if model.size is None:
        return None, "the manifest records no export size"
    if not Path(model.checkpoint).exists():
        return None, f"the checkpoint {model.checkpoint} is not on this machine"
    try:
        loaded = load_generator(model.checkpoint, model.family, model.arch, dict(model.options),
                                direction=model.direction)
    except Pix2MobileError as exc:
        return None, f"the checkpoint {model.checkpoint} did not load ({exc})"
    if model.checkpoint_sha256 and loaded.sha256 != model.checkpoint_sha256:
        return None, f"the checkpoint {model.checkpoint} changed since export (sha256 differs)"
    spec = loaded.spec
    return spec.exportable(loaded.generator.eval(), model.size).eval(), f"eager PyTorch fp32 from {model.checkpoint}"


def eager_outputs(module: nn.Module, io: IOSpec, inputs: Sequence[tuple[torch.Tensor, ...]]) -> list[np.ndarray]:
    """`module`'s outputs on `inputs`, each output's samples stacked on axis 0 (what `compare` takes)."""
    with torch.no_grad():
        return [np.concatenate([to_numpy(as_outputs(module(*s), io)[i]) for s in inputs], axis=0)
                for i in range(len(io.outputs))]


def own_files(out: Path, stem: str) -> list[Path]:
    """Every name an export of `stem` can write in `out`: final, failed and staging, all formats and
    precisions (what `--force` may remove without reading a manifest)."""
    from pix2mobile.convert.formats import FORMATS

    names = []
    for fmt in FORMATS.values():
        for p in fmt.precisions:
            final = out / f"{stem}_{p}{fmt.suffix}"
            names += [final, failed_name(final), staging_name(final)]
    return names


def _listed_files(out: Path) -> list[Path]:
    """The files an existing manifest in `out` lists (lexically inside `out`: a symlink is removed
    itself, never followed); none when there is no readable manifest."""
    from pix2mobile.errors import Pix2MobileError

    if not (out / MANIFEST_NAME).is_file():
        return []
    try:
        old = Manifest.read(out)
    except Pix2MobileError as exc:
        log.warning("--force: the existing manifest is unreadable (%s); removing only this stem's names", exc)
        return []
    root, listed = out.resolve(), []
    for a in old.artifacts:
        rel = Path(a.file) if a.file else None
        if rel is None or rel.is_absolute() or ".." in rel.parts:
            continue
        parent = (out / rel).parent.resolve()      # the entry itself may be a link: removed, not followed
        if parent == root or root in parent.parents:
            listed.append(out / rel)
    return listed


def _export_one(fmt: Any, precision: str, module: nn.Module, inputs: list[tuple[torch.Tensor, ...]],
                reference: list[np.ndarray], io: IOSpec, final: Path, folder: ExportFolder, opts: ExportOptions,
                threshold: float, recipe: Any = None, *, request: SizeRequest | None = None,
                checks: SizeChecks | None = None, fixed_note: str | None = None) -> ArtifactEntry:
    primary = request.primary if request is not None else None
    fixed = Shapes(kind="fixed", sizes=(primary,) if primary else (), note=fixed_note)
    versions = package_versions([*fmt.converter, *(recipe.packages if recipe is not None else ()), fmt.runtime])
    row = dict(format=fmt.key, precision=precision, converter=versions,
               parity=Parity(threshold_db=threshold, samples=len(inputs), reference="eager"), shapes=fixed)
    disabled = fmt.disabled(io)
    if disabled:
        return folder.commit(ArtifactEntry(status="failed", reason=f"not supported: {disabled}", **row), None, final)
    staged = staging_name(final)
    remove_path(staged)
    try:
        t0 = time.perf_counter()
        try:
            if recipe is None:
                exported = fmt.export_fn(copy.deepcopy(module), inputs[0], io, staged, opts)
            else:   # quantize/ prepares the module or rewrites the float artifact; the format exports as usual
                from pix2mobile.convert.quantize.build import export_quantized

                exported = export_quantized(fmt, recipe, copy.deepcopy(module), inputs[0], io, staged, opts)
        except Exception as exc:  # a converter crash is a failed row, not a failed export run
            log.warning("%s export failed: %s", fmt.key, first_line(exc), exc_info=log.isEnabledFor(logging.DEBUG))
            remove_path(staged)
            return folder.commit(ArtifactEntry(status="failed", reason=f"export failed: {first_line(exc)}",
                                               export_seconds=round(time.perf_counter() - t0, 3), **row), None, final)
        shapes = _declared(fmt.key, exported, opts, fixed)
        row.update(inputs=exported.inputs, outputs=exported.outputs, notes=tuple(exported.notes),
                   export_seconds=round(time.perf_counter() - t0, 3), shapes=shapes)
        t1 = time.perf_counter()
        parity, reason = verify(fmt, staged, io, inputs, reference, threshold)
        extra = [s for s in shapes.sizes if s != primary] if shapes.kind != "fixed" and checks is not None else []
        by_size = {size_text(primary): parity.psnr_db} if primary and extra else {}
        if reason and primary and extra:
            reason = f"at {size_text(primary)}: {reason}"
        for size in extra:
            size_inputs, size_reference = cast(SizeChecks, checks).at(size)
            at_size, why = verify(fmt, staged, io, size_inputs, size_reference, threshold)
            by_size[size_text(size)] = at_size.psnr_db
            if why and reason is None:
                reason = f"at {size_text(size)}: {why}"
        row["parity"] = replace(parity, psnr_db_by_size={k: v for k, v in by_size.items() if v is not None})
        row["verify_seconds"] = round(time.perf_counter() - t1, 3)
        row["residency"] = residency_of(fmt, staged)
        return folder.commit(ArtifactEntry(status="failed" if reason else "ok", reason=reason, **row), staged, final)
    finally:   # an exception or Ctrl-C anywhere above: no staging file survives
        remove_path(staged)


def _declared(key: str, exported: Any, opts: ExportOptions, fixed: Shapes) -> Shapes:
    """What the row declares: the exporter's claim, or fixed at the primary (with the reason when
    more sizes were asked of an exporter that says nothing about them)."""
    claim = getattr(exported, "shapes", None)
    if claim is not None:
        return cast(Shapes, claim)
    if opts.sizes is not None and opts.sizes.flexible and fixed.note is None:
        return replace(fixed, note=f"{key}: this exporter declares no sizes besides the export size")
    return fixed
