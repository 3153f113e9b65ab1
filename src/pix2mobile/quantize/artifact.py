"""Quantize artifacts that already exist: one float file, or the float rows of an export folder.

Only artifact-stage recipes can do this (tflite: ai-edge-quantizer; Core ML: coremltools);
pte and ptl int8 quantize the PyTorch module before export and need `pix2mobile export`.

Without the PyTorch module the reference is the float artifact itself, run by its own runtime
on the same real-image inputs the export gate uses (`parity_inputs`, seed 0). That float file
passed its own gate against eager PyTorch when it was exported (45 dB for fp32), so the new
row's PSNR is measured against a stand-in at least that close; the row's notes say so.
In an export folder the new rows join `manifest.json` (rewritten atomically; a row for the
same format and precision is replaced) under the pipeline's names: `STEM_PRECISION.SUFFIX`
when the gate passes, `STEM_PRECISION.failed.SUFFIX` when it does not.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Any, Sequence

from ..errors import ConfigError, MissingDependencyError
from ..export.manifest import MANIFEST_NAME, ArtifactEntry, Manifest, Parity
from ..models.spec import IOSpec
from .recipes import recipe_for

log = logging.getLogger(__name__)
SUFFIX_FORMAT = {".tflite": "tflite", ".mlpackage": "mlpackage", ".mlmodel": "mlmodel", ".pte": "pte",
                 ".ptl": "ptl", ".onnx": "onnx"}


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
    """
    from ..export import FORMATS
    from ..export.pipeline import _move, _remove
    from .calibration import CalibrationSet, load_calibration

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
            jobs.append((fmt, recipe, base))
    if not jobs:
        raise ConfigError(f"{folder}: nothing here can be made into {', '.join(precisions)} from a file "
                          f"(tflite, mlpackage and mlmodel can; pte/ptl int8 need pix2mobile export)")
    if cal is None and any(r.calibrated for _, r, _ in jobs):
        cal = load_calibration(calibration, io, size, calibration_count)
    rows = {(a.format, a.precision): a for a in manifest.artifacts}
    for fmt, recipe, base in jobs:
        stem = _stem(base, fmt.suffix)
        final = folder / f"{stem}_{recipe.precision}{fmt.suffix}"
        failed = final.with_name(f"{final.stem}.failed{final.suffix}")
        if not force and (final.exists() or (fmt.key, recipe.precision) in rows):
            raise ConfigError(f"{final} (or its manifest row) already exists; pass --force to replace it")
        staged = final.with_name(f".{final.stem}.staging{final.suffix}")
        _remove(staged)
        entry = _quantize_row(fmt, recipe, folder / base.file, staged, io, size, base, cal)
        target = failed if entry.status == "failed" and staged.exists() else final
        if staged.exists():
            _move(staged, target)
            _remove(final if target == failed else failed)
            from ..export.pipeline import _sha256

            nbytes, digest = _sha256(target)
            entry = dataclasses.replace(entry, file=target.relative_to(folder).as_posix(), bytes=nbytes, sha256=digest)
        rows[(fmt.key, recipe.precision)] = entry
    updated = dataclasses.replace(manifest, artifacts=tuple(rows.values()))
    updated.write(folder)
    return updated


def _quantize_row(fmt: Any, recipe: Any, float_path: Path, staged: Path, io: IOSpec, size: tuple[int, int],
                  base: ArtifactEntry, calibration: Any) -> ArtifactEntry:
    from ..export import parity as parity_mod
    from ..export._common import first_line
    from ..export.pipeline import _run_all, _versions, parity_inputs, verify
    from .build import transform_artifact

    threshold = parity_mod.DEFAULT_THRESHOLDS_DB[recipe.precision]
    row: dict[str, Any] = dict(format=fmt.key, precision=recipe.precision,
                               converter=_versions([*fmt.converter, *recipe.packages, fmt.runtime]),
                               parity=Parity(threshold_db=threshold), inputs=base.inputs, outputs=base.outputs)
    t0 = time.perf_counter()
    try:
        notes = transform_artifact(recipe, float_path, staged, io, calibration=calibration)
    except Exception as exc:   # a converter crash is a failed row, as in export_model
        return ArtifactEntry(status="failed", reason=f"export failed: {first_line(exc)}",
                             export_seconds=round(time.perf_counter() - t0, 3), **row)
    notes = [f"{recipe.tool}, applied to {float_path.name}", *notes,
             f"parity reference: {float_path.name} (the PyTorch module was not available)"]
    row.update(notes=tuple(notes), export_seconds=round(time.perf_counter() - t0, 3))
    t1 = time.perf_counter()
    inputs = parity_inputs(io, size, n=2, seed=0)
    try:
        reference = _run_all(fmt.runner_fn(float_path, io), inputs, len(io.outputs))
    except MissingDependencyError as exc:
        reference, reason = None, f"verifier unavailable (missing {exc.package})"
    except Exception as exc:
        reference, reason = None, f"verification failed: the float artifact did not run: {first_line(exc)}"
    if reference is not None:
        row["parity"], reason = verify(fmt, staged, io, inputs, reference, threshold)
    row["verify_seconds"] = round(time.perf_counter() - t1, 3)
    return ArtifactEntry(status="failed" if reason else "ok", reason=reason, **row)


def quantize_file(path: str | Path, precision: str, *, out: str | Path | None = None, calibration: Any = None,
                  calibration_count: int = 16, force: bool = False) -> tuple[Path, ArtifactEntry]:
    """Quantize one float artifact. Its IOSpec comes from the `manifest.json` beside it, or for Core ML
    files from the `pix2mobile.io` metadata export wrote into them. Returns (written path, row)."""
    from ..export import FORMATS
    from ..export.pipeline import _move, _remove, _sha256
    from .calibration import CalibrationSet, load_calibration

    src = Path(path)
    if not src.exists():
        raise ConfigError(f"{src}: no such artifact")
    fmt_key = SUFFIX_FORMAT.get(src.suffix)
    if fmt_key is None:
        raise ConfigError(f"{src}: not an artifact pix2mobile knows (suffixes {', '.join(SUFFIX_FORMAT)})")
    fmt = FORMATS[fmt_key]
    recipe = recipe_for(fmt_key, precision)
    if recipe is None or recipe.stage != "artifact":
        raise ConfigError(f"{fmt_key} {precision} cannot be made from an existing file"
                          + (f" ({recipe.tool} quantizes the PyTorch module): use pix2mobile export --precision "
                             f"{precision}" if recipe else f": {precision} is native; export it directly"))
    io, size = _file_io(src)
    final = Path(out) if out is not None else src.with_name(_out_name(src, precision))
    if final.resolve() == src.resolve():
        raise ConfigError("the quantized artifact needs its own path; it never overwrites the float one")
    if final.exists() and not force:
        raise ConfigError(f"{final} already exists; pass --force to replace it")
    cal = calibration if isinstance(calibration, CalibrationSet) else (
        load_calibration(calibration, io, size, calibration_count) if recipe.calibrated else None)
    base = ArtifactEntry(format=fmt_key, precision=recipe.base_precision, status="ok", file=src.name)
    staged = final.with_name(f".{final.stem}.staging{final.suffix}")
    _remove(staged)
    entry = _quantize_row(fmt, recipe, src, staged, io, size, base, cal)
    if staged.exists():
        target = final if entry.ok else final.with_name(f"{final.stem}.failed{final.suffix}")
        _move(staged, target)
        nbytes, digest = _sha256(target)
        entry = dataclasses.replace(entry, file=target.name, bytes=nbytes, sha256=digest)
        return target, entry
    return final, entry


def _out_name(src: Path, precision: str) -> str:
    stem = src.stem
    for p in ("_fp32", "_fp16"):
        if stem.endswith(p):
            stem = stem[:-len(p)]
    return f"{stem}_{precision}{src.suffix}"


def _file_io(src: Path) -> tuple[IOSpec, tuple[int, int]]:
    manifest_path = src.parent / MANIFEST_NAME
    if manifest_path.is_file():
        manifest = Manifest.read(manifest_path)
        return IOSpec.from_json(dict(manifest.io))
    if src.suffix in (".mlpackage", ".mlmodel"):
        from ..export._common import require

        ct = require("coremltools", "coremltools", "reading Core ML metadata")
        meta = ct.models.MLModel(str(src), skip_model_load=True).user_defined_metadata
        if "pix2mobile.io" in meta:
            return IOSpec.from_json(json.loads(meta["pix2mobile.io"]))
    raise ConfigError(f"{src}: no {MANIFEST_NAME} beside it says what its inputs and outputs are; quantize the "
                      f"export folder instead, or keep the manifest next to the file")
