"""Quantize artifacts that already exist: one float file, or the float rows of an export folder.

Only artifact-stage recipes can do this (tflite: ai-edge-quantizer; Core ML: coremltools);
pte and ptl int8 quantize the PyTorch module before export and need `pix2mobile export`.

The reference: eager PyTorch fp32 whenever the manifest's `model.checkpoint` is reachable (run
directory or `.pth`, rebuilt with `pipelines.export.rebuild_eager`), as at export. Otherwise the
float artifact itself, run by its own runtime on the same held-out parity photos; that file passed
its own gate against eager (45 dB for fp32), so the new row is measured against a stand-in at least
that close. Either way the row's `parity.reference` ("eager" or "float artifact") and notes say
which, and the worst parity image is held to the precision's threshold.

In an export folder the new rows join `manifest.json` under the pipeline's names
(`STEM_PRECISION.SUFFIX` when the gate passes, `STEM_PRECISION.failed.SUFFIX` when it does not),
through `export.folder.ExportFolder`: the manifest on disk is rewritten after every row, so after
a failure or Ctrl-C every final-named file is an ok row of it and no staging file is left.
Every row's file is resolved with `manifest.artifact_path`: nothing outside the folder is read.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pix2mobile.convert.quantize.recipes import recipe_for
from pix2mobile.errors import ConfigError, MissingDependencyError
from pix2mobile.files import check_writable, move_path, remove_path, tree_sha256
from pix2mobile.manifest import MANIFEST_NAME, ArtifactEntry, Manifest, Parity, artifact_path
from pix2mobile.models.spec import IOSpec
from pix2mobile.pipelines.folder import ExportFolder, failed_name, pending_row, staging_name

log = logging.getLogger(__name__)
EAGER, FLOAT_ARTIFACT = "eager", "float artifact"


@dataclasses.dataclass(frozen=True)
class Reference:
    """What new rows are compared with: eager outputs on the parity inputs, or None (each row runs
    its float artifact instead); `why` says where the eager module came from or why there is none."""

    inputs: list[Any]
    outputs: list[np.ndarray] | None
    why: str

    @property
    def kind(self) -> str:
        return EAGER if self.outputs is not None else FLOAT_ARTIFACT


def _reference(manifest: Manifest | None, io: IOSpec, size: tuple[int, int]) -> Reference:
    from pix2mobile.pipelines.export import DEFAULT_SAMPLES, eager_outputs, parity_inputs, rebuild_eager

    inputs = parity_inputs(io, size, n=DEFAULT_SAMPLES, seed=0)
    if manifest is None:
        return Reference(inputs, None, "no manifest records the checkpoint")
    module, why = rebuild_eager(manifest.model)
    return Reference(inputs, eager_outputs(module, io, inputs) if module is not None else None, why)


def _stem(entry: ArtifactEntry, suffix: str) -> str:
    name = Path(entry.file or "").name
    tail = f"_{entry.precision}{suffix}"
    if not name.endswith(tail):
        raise ConfigError(f"manifest row {entry.format}/{entry.precision}: file {name} is not named STEM{tail}")
    return name[:-len(tail)]


def quantize_export_dir(export_dir: str | Path, precisions: Sequence[str], *, formats: Sequence[str] | None = None,
                        calibration: Any = None, calibration_count: int = 16, force: bool = False) -> Manifest:
    """Add `precisions` rows to an export folder from its float rows; return the updated manifest.

    formats: restrict to these formats (default: every format in the manifest that can make the
    precision from a file). calibration: a `CalibrationSet`, a folder, or None (built-in photos).
    force: replace existing rows of the same (format, precision); their old files go first.
    """
    from pix2mobile.convert.formats import FORMATS
    from pix2mobile.convert.quantize.calibration import CalibrationSet, load_calibration

    folder = Path(export_dir)
    manifest = Manifest.read(folder)
    io, size = IOSpec.from_json(dict(manifest.io))
    cal = calibration if isinstance(calibration, CalibrationSet) else None
    jobs = []
    for precision in precisions:
        for fmt_key in dict.fromkeys(a.format for a in manifest.artifacts):
            if formats is not None and fmt_key not in formats:
                continue
            fmt = FORMATS.get(fmt_key)
            if fmt is None or precision not in fmt.precisions:
                continue
            recipe = recipe_for(fmt_key, precision)
            if recipe is None or recipe.stage != "artifact":
                continue
            base = next((a for a in manifest.artifacts if a.format == fmt_key
                         and a.precision == recipe.base_precision and a.ok), None)
            if base is None:
                raise ConfigError(f"{folder}: no passing {fmt_key} {recipe.base_precision} row to quantize to "
                                  f"{precision}; export one first (pix2mobile export --precision "
                                  f"{recipe.base_precision})")
            float_path = artifact_path(folder, base.file or "")
            final = folder / f"{_stem(base, fmt.suffix)}_{recipe.precision}{fmt.suffix}"
            jobs.append((fmt, recipe, base, float_path, final))
    if not jobs:
        stages = {s: sorted({f.key for f in FORMATS.values() for r in f.quantized if r.stage == s})
                  for s in ("artifact", "module")}
        raise ConfigError(f"{folder}: nothing here can be made into {', '.join(precisions)} from a file "
                          f"({', '.join(stages['artifact'])} can; {'/'.join(stages['module'])} quantize the "
                          f"module and need pix2mobile export)")
    rows = {(a.format, a.precision): a for a in manifest.artifacts}
    for fmt, recipe, _, _, final in jobs:
        if not force and (final.exists() or (fmt.key, recipe.precision) in rows):
            raise ConfigError(f"{final} (or its manifest row) already exists; pass --force to replace it")
    check_writable(folder, "dir")
    if cal is None and any(r.calibrated for _, r, _, _, _ in jobs):
        cal = load_calibration(calibration, io, size, calibration_count)
    ref = _reference(manifest, io, size)
    stale: list[Path] = []
    for fmt, recipe, _, _, final in jobs:
        stale += [final, failed_name(final), staging_name(final)]
        old = rows.get((fmt.key, recipe.precision))
        if old is not None and old.file:
            stale.append(artifact_path(folder, old.file))
    if not manifest.parity_images:
        from pix2mobile.pipelines.export import DEFAULT_SAMPLES, parity_set

        manifest = dataclasses.replace(manifest, parity_images=parity_set(io, size, DEFAULT_SAMPLES)[1])
    ledger = ExportFolder(folder, manifest)
    ledger.begin([pending_row(fmt.key, recipe.precision) for fmt, recipe, _, _, _ in jobs], stale)
    for fmt, recipe, base, float_path, final in jobs:
        staged = staging_name(final)
        try:
            entry = _quantize_row(fmt, recipe, float_path, staged, io, base, cal, ref)
            ledger.commit(entry, staged, final)
        finally:     # an exception or Ctrl-C: no staging file survives
            remove_path(staged)
    return ledger.manifest


def _quantize_row(fmt: Any, recipe: Any, float_path: Path, staged: Path, io: IOSpec,
                  base: ArtifactEntry, calibration: Any, ref: Reference) -> ArtifactEntry:
    from pix2mobile.convert.quantize.build import transform_artifact
    from pix2mobile.pipelines.export import residency_of, verify
    from pix2mobile.runtimes import parity as parity_mod
    from pix2mobile.runtimes.common import first_line
    from pix2mobile.runtimes.common import package_versions
    from pix2mobile.runtimes.common import run_all

    threshold = parity_mod.DEFAULT_THRESHOLDS_DB[recipe.precision]
    row: dict[str, Any] = dict(format=fmt.key, precision=recipe.precision,
                               converter=package_versions([*fmt.converter, *recipe.packages, fmt.runtime]),
                               parity=Parity(threshold_db=threshold, reference=ref.kind),  # type: ignore[arg-type]
                               inputs=base.inputs, outputs=base.outputs)
    remove_path(staged)
    t0 = time.perf_counter()
    try:
        notes = transform_artifact(recipe, float_path, staged, io, calibration=calibration)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.ENOENT, errno.ENOTDIR) \
                and exc.filename is not None and Path(exc.filename).parent == staged.parent:
            raise ConfigError(f"cannot write {staged.parent}: {exc.strerror}") from None
        return ArtifactEntry(status="failed", reason=f"export failed: {first_line(exc)}",
                             export_seconds=round(time.perf_counter() - t0, 3), **row)
    except Exception as exc:   # a converter crash is a failed row, as in export_model
        return ArtifactEntry(status="failed", reason=f"export failed: {first_line(exc)}",
                             export_seconds=round(time.perf_counter() - t0, 3), **row)
    reference_note = (f"parity reference: eager ({ref.why})" if ref.outputs is not None else
                      f"parity reference: {float_path.name} (float artifact; no eager module: {ref.why})")
    row.update(notes=(f"{recipe.tool}, applied to {float_path.name}", *notes, reference_note),
               export_seconds=round(time.perf_counter() - t0, 3))
    t1 = time.perf_counter()
    reason: str | None = None
    reference = ref.outputs
    if reference is None:
        try:
            reference = run_all(fmt.runner_fn(float_path, io), ref.inputs, len(io.outputs))
        except MissingDependencyError as exc:
            reason = f"verifier unavailable (missing {exc.package})"
        except Exception as exc:
            reason = f"verification failed: the float artifact did not run: {first_line(exc)}"
    if reference is not None:
        row["parity"], reason = verify(fmt, staged, io, ref.inputs, reference, threshold, reference_kind=ref.kind)
    row["verify_seconds"] = round(time.perf_counter() - t1, 3)
    row["residency"] = residency_of(fmt, staged)
    return ArtifactEntry(status="failed" if reason else "ok", reason=reason, **row)


def quantize_file(path: str | Path, precision: str, *, out: str | Path | None = None, calibration: Any = None,
                  calibration_count: int = 16, force: bool = False) -> tuple[Path, ArtifactEntry]:
    """Quantize one float artifact. Its IOSpec comes from the `manifest.json` beside it, or for Core ML
    files from the `pix2mobile.io` metadata export wrote into them. Returns (written path, row).

    Passed: the file is `out` (default `STEM_PRECISION.SUFFIX` beside it). Failed: it is kept as
    `NAME.failed.SUFFIX` and an older `out` is removed (with --force), so a final name always holds
    a file that passed."""
    from pix2mobile.convert.formats import FORMATS, format_for_suffix
    from pix2mobile.convert.quantize.calibration import CalibrationSet, load_calibration

    src = Path(path)
    if not src.exists():
        raise ConfigError(f"{src}: no such artifact")
    fmt = format_for_suffix(src.suffix)
    if fmt is None:
        raise ConfigError(f"{src}: not an artifact pix2mobile knows (suffixes "
                          f"{', '.join(f.suffix for f in FORMATS.values())})")
    fmt_key = fmt.key
    recipe = recipe_for(fmt_key, precision)
    if recipe is None or recipe.stage != "artifact":
        raise ConfigError(f"{fmt_key} {precision} cannot be made from an existing file"
                          + (f" ({recipe.tool} quantizes the PyTorch module): use pix2mobile export --precision "
                             f"{precision}" if recipe else f": {precision} is native; export it directly"))
    final = Path(out) if out is not None else src.with_name(_out_name(src, precision))
    if final.suffix != fmt.suffix:
        raise ConfigError(f"--out {final}: a {fmt_key} artifact must end in {fmt.suffix}, not "
                          f"{final.suffix or '(no suffix)'}")
    if final.resolve() == src.resolve():
        raise ConfigError("the quantized artifact needs its own path; it never overwrites the float one")
    if final.exists() and not force:
        raise ConfigError(f"{final} already exists; pass --force to replace it")
    check_writable(final)
    io, size, manifest = _file_io(src)
    cal = calibration if isinstance(calibration, CalibrationSet) else (
        load_calibration(calibration, io, size, calibration_count) if recipe.calibrated else None)
    base = ArtifactEntry(format=fmt_key, precision=recipe.base_precision, status="ok", file=src.name)
    ref = _reference(manifest, io, size)
    staged = staging_name(final)
    try:
        entry = _quantize_row(fmt, recipe, src, staged, io, base, cal, ref)
        if not staged.exists():
            return final, entry
        target = final if entry.ok else failed_name(final)
        nbytes, digest = tree_sha256(staged)
        remove_path(failed_name(final) if entry.ok else final)   # no stale file under the other name
        move_path(staged, target)
    finally:
        remove_path(staged)
    return target, dataclasses.replace(entry, file=target.name, bytes=nbytes, sha256=digest)


def _out_name(src: Path, precision: str) -> str:
    stem = src.stem
    for p in ("_fp32", "_fp16"):
        if stem.endswith(p):
            stem = stem[:-len(p)]
    return f"{stem}_{precision}{src.suffix}"


def _file_io(src: Path) -> tuple[IOSpec, tuple[int, int], Manifest | None]:
    """(io, size, the manifest beside `src` or None)."""
    manifest_path = src.parent / MANIFEST_NAME
    if manifest_path.is_file():
        manifest = Manifest.read(manifest_path)
        io, size = IOSpec.from_json(dict(manifest.io))
        return io, size, manifest
    from pix2mobile.convert.formats import format_for_suffix

    fmt = format_for_suffix(src.suffix)
    found = fmt.read_io(src) if fmt is not None and fmt.read_io is not None else None
    if found is not None:
        return found[0], found[1], None
    raise ConfigError(f"{src}: no {MANIFEST_NAME} beside it says what its inputs and outputs are; quantize the "
                      f"export folder instead, or keep the manifest next to the file")
