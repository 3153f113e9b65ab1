"""`pix2mobile bundle`: put exported models into the sample apps, with the vectors that prove them.

Each export folder becomes one model folder in the app's assets (Android:
`app/src/main/assets/models/NAME/`, iOS: `App/Resources/models/NAME/`) holding the artifacts the
platform runs, the export's `manifest.json` (rows limited to those artifacts), `bundle.json`
(the app's index of this model, below) and `golden/`: for every artifact, its input on a real
photo made by `docs/preprocessing.md`'s `fit` and the output Python got **from that artifact
with its own runtime** (Core ML files: from pix2mobile's numpy evaluator, labelled so). The app's
self-test runs each artifact on its golden input and compares with the golden output (PSNR),
so a runtime that reads our files differently shows red on the phone.

bundle.json (schema 1):
    name, family, arch, direction ("a2b"/"b2a"/null), group (models sharing a group are one
    CycleGAN's two directions: the app's direction switch), model_size [H, W], photo
    ("golden/photo.npy", uint8 H x W x 3; golden/photo.png for people), plan (the fit plan),
    artifacts: [{format, precision, file, threshold_db, runtime (what made the golden output),
        inputs: [{name, kind, layout, range, file}], outputs: [{name, layout, range, file}],
        canvas (uint8 pixels the image input was made from, for image-I/O models), result (png)}]
All arrays are .npy (little-endian, C order), in the artifact's own layout (the manifest's).
A model folder is written beside its final name and renamed into place.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pix2mobile import files
from pix2mobile.errors import ConfigError
from pix2mobile.imaging import plan as plans
from pix2mobile.imaging.pixels import to_pixels, to_tensor
from pix2mobile.manifest import MANIFEST_NAME, ArtifactEntry, Manifest, artifact_path

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
GOLDEN_ALPHA = 0.375          # exact in binary32: the same alpha in every language
GOLDEN_SEED = 0


@dataclass(frozen=True)
class Platform:
    name: str
    assets: str                       # the models folder, relative to the app's root
    formats: tuple[str, ...]          # what the app's runtimes read
    why_not: str


PLATFORMS = {
    "android": Platform("android", "app/src/main/assets/models", ("tflite", "pte", "ptl"),
                        "the Android app runs .tflite (LiteRT), .pte (ExecuTorch) and .ptl (PyTorch Lite)"),
    "ios": Platform("ios", "App/Resources/models", ("mlpackage", "mlmodel"),
                    "the iOS app runs Core ML files (.mlpackage, .mlmodel)"),
}


def export_folders(path: Path) -> list[Path]:
    """An export folder, or a CycleGAN export holding a2b/ and b2a/ (both, as two models)."""
    if (path / MANIFEST_NAME).is_file():
        return [path]
    pairs = [path / d for d in ("a2b", "b2a") if (path / d / MANIFEST_NAME).is_file()]
    if pairs:
        return pairs
    raise ConfigError(f"{path}: not an export folder (no {MANIFEST_NAME}); run `pix2mobile export` first")


def choose_rows(manifest: Manifest, folder: Path, platform: Platform, formats: Sequence[str] | None,
                precisions: Sequence[str] | None) -> list[ArtifactEntry]:
    for f in formats or ():
        if f not in platform.formats:
            raise ConfigError(f"--formats {f}: {platform.why_not}; it cannot run .{f} files")
    wanted = formats or platform.formats
    rows = [a for a in manifest.artifacts if a.ok and a.format in wanted
            and (not precisions or a.precision in precisions)]
    if not rows:
        have = ", ".join(f"{a.format} {a.precision}" for a in manifest.artifacts if a.ok) or "none"
        raise ConfigError(f"{folder}: no passing artifact the {platform.name} app can run "
                          f"({', '.join(wanted)}{'; precisions ' + ','.join(precisions) if precisions else ''}); "
                          f"it has: {have}")
    return rows


def bundle(exports: Sequence[Path], app: Path, platform_name: str, *, formats: Sequence[str] | None = None,
           precisions: Sequence[str] | None = None, name: str | None = None, force: bool = False) -> list[Path]:
    """Bundle every export folder into `app`; returns the model folders written. Everything is
    checked (folders, formats, names, clashes) before the first golden run."""
    platform = PLATFORMS[platform_name]
    if not app.is_dir():
        raise ConfigError(f"{app}: no such app folder (expected the {platform_name} demo, e.g. "
                          f"{'android_demo' if platform_name == 'android' else 'ios_demo'})")
    jobs = []
    for export in exports:
        folders = export_folders(Path(export))
        for folder in folders:
            manifest = Manifest.read(folder)
            rows = choose_rows(manifest, folder, platform, formats, precisions)
            base = name or Path(export).resolve().name
            model_name = f"{base}-{manifest.model.direction}" if len(folders) > 1 or manifest.model.direction else base
            jobs.append((folder, manifest, rows, model_name, Path(export).resolve().name))
    names = [j[3] for j in jobs]
    if len(set(names)) != len(names):
        raise ConfigError(f"two exports would both be bundled as {sorted(n for n in names if names.count(n) > 1)[0]}; "
                          "bundle them one at a time with --name")
    root = app / platform.assets
    if not force:
        clash = [root / n for n in names if (root / n).exists()]
        if clash:
            raise ConfigError(f"{clash[0]} already exists; pass --force to replace it")
    files.check_writable(root, "dir")
    written = []
    for folder, manifest, rows, model_name, group in jobs:
        written.append(write_model(folder, manifest, rows, root / model_name, model_name, group))
    return written


def write_model(folder: Path, manifest: Manifest, rows: list[ArtifactEntry], target: Path, name: str,
                group: str) -> Path:
    from pix2mobile.pipelines.golden import golden_photo

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        photo = golden_photo()
        (tmp / "golden").mkdir()
        _npy(tmp / "golden" / "photo.npy", photo)
        _png(tmp / "golden" / "photo.png", photo)
        entries = []
        for row in rows:
            src = artifact_path(folder, row.file or "")
            dst = tmp / Path(row.file or "").name
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
            entries.append(golden_row(folder, manifest, row, photo, tmp))
        kept = Manifest(model=manifest.model, artifacts=tuple(rows), pix2mobile_version=manifest.pix2mobile_version,
                        created_at=manifest.created_at, io=manifest.io, parity_images=manifest.parity_images)
        kept.write(tmp)
        m = manifest.model
        size = m.size or (0, 0)
        files.write_json(tmp / "bundle.json", {
            "schema_version": SCHEMA_VERSION, "name": name, "family": m.family, "arch": m.arch,
            "direction": m.direction, "group": group if m.direction else name, "model_size": list(size),
            "photo": "golden/photo.npy",
            "plan": plans.fit_plan(photo.shape[:2], size).to_json() if m.family != "morph" else None,
            "artifacts": entries})
        files.move_path(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("bundled %s (%d artifact(s)) into %s", folder, len(rows), target)
    return target


def golden_row(folder: Path, manifest: Manifest, row: ArtifactEntry, photo: np.ndarray, out: Path) -> dict[str, Any]:
    """Run `row`'s artifact on the golden photo (fit) with its own runtime; write its vectors."""
    from pix2mobile.pipelines.apply import latents, open_model

    model = open_model(folder, format=row.format, precision=row.precision)
    key = f"{row.format}_{row.precision}"
    gdir = out / "golden" / key
    gdir.mkdir(parents=True)
    size = model.size
    layouts = {t.name: t.layout for t in [*row.inputs, *row.outputs]}
    feed, inputs, canvas_file = [], [], None
    for spec in model.io.inputs:
        if spec.kind == "image":
            fit = plans.fit_plan(photo.shape[:2], size)
            canvas = plans.letterbox(photo, fit)
            canvas_file = f"golden/{key}/canvas.npy"
            _npy(out / canvas_file, canvas)
            x = to_tensor(canvas, spec.range, "NCHW")
            stored = to_tensor(canvas, spec.range, "NHWC" if layouts.get(spec.name) == "NHWC" else "NCHW")
        elif spec.kind == "latent":
            x = stored = latents(model, 1, GOLDEN_SEED)[0]
        else:
            x = stored = np.asarray([GOLDEN_ALPHA], dtype=np.float32)
        feed.append(x)
        file = f"golden/{key}/{spec.name}.npy"
        _npy(out / file, stored)
        inputs.append({"name": spec.name, "kind": spec.kind, "layout": layouts.get(spec.name, spec.layout),
                       "range": list(spec.range), "file": file})
    outs = model.run(feed)
    outputs = []
    for spec, y in zip(model.io.outputs, outs):
        nhwc = layouts.get(spec.name) == "NHWC"
        file = f"golden/{key}/{spec.name}.out.npy"
        _npy(out / file, np.ascontiguousarray(y.transpose(0, 2, 3, 1)) if nhwc else y)
        outputs.append({"name": spec.name, "layout": layouts.get(spec.name, spec.layout), "range": list(spec.range),
                        "file": file})
    pixels = to_pixels(outs[0], model.io.outputs[0].range)
    result = pixels if canvas_file is None else plans.unletterbox(pixels, plans.fit_plan(photo.shape[:2], size))
    _png(out / "golden" / key / "result.png", result)
    return {"format": row.format, "precision": row.precision, "file": Path(row.file or "").name,
            "sha256": row.sha256, "threshold_db": row.parity.threshold_db, "runtime": model.label,
            "inputs": inputs, "outputs": outputs, "canvas": canvas_file, "result": f"golden/{key}/result.png"}


def _npy(path: Path, array: np.ndarray) -> None:
    np.save(path, np.ascontiguousarray(array), allow_pickle=False)


def _png(path: Path, pixels: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(pixels).save(path, format="PNG")
