"""The export folders `pix2mobile serve` was given, as the page and the API see them.

Each folder argument is an export folder (`manifest.json` inside) or a CycleGAN export holding
`a2b/` and `b2a/`; either becomes one model with one variant per direction. A variant lists the
artifacts a browser can run (`.onnx` with onnxruntime-web, `.tflite` with LiteRT.js; passing rows
only) and opens its server-side engine once, at start-up:

- eager PyTorch when the manifest's checkpoint is on this machine and its sha256 is the one
  recorded at export (`pipelines.export.rebuild_eager` decides), at the export size;
- else the folder's passing `.onnx` through ONNX Runtime;
- else none, with the reason, and the page offers only the browser.

Every file the server hands out is a manifest row resolved here, through `manifest.artifact_path`
(which refuses paths that leave the folder); a request only ever names a (model, direction,
format, precision) key, never a path.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from pix2mobile.errors import ConfigError
from pix2mobile.manifest import MANIFEST_NAME, ArtifactEntry, Manifest, artifact_path
from pix2mobile.pipelines.apply import Model, open_model

log = logging.getLogger(__name__)

BROWSER_RUNTIMES = {"onnx": "onnxruntime-web", "tflite": "litert"}
"""Artifact format -> the in-browser runtime the page runs it with (both WebAssembly)."""
DIRECTIONS = ("a2b", "b2a")


@dataclass(frozen=True)
class BrowserArtifact:
    format: str
    precision: str
    path: Path                       # resolved inside the export folder
    entry: ArtifactEntry

    @property
    def runtime(self) -> str:
        return BROWSER_RUNTIMES[self.format]


@dataclass
class Variant:
    """One export folder: a model, or one direction of a CycleGAN."""

    folder: Path
    manifest: Manifest
    artifacts: list[BrowserArtifact]
    server: Model | None = None
    engine: str | None = None        # "eager" | "onnx" | None
    note: str | None = None          # why the server does not run eager PyTorch (or anything)

    @property
    def direction(self) -> str | None:
        return self.manifest.model.direction

    def artifact(self, format: str, precision: str) -> BrowserArtifact | None:
        return next((a for a in self.artifacts if a.format == format and a.precision == precision), None)


@dataclass
class Entry:
    """One model of the page: what the user picks in the model list."""

    id: str
    source: Path
    variants: dict[str, Variant] = field(default_factory=dict)      # key: direction, or "" for none

    @property
    def first(self) -> Variant:
        return next(iter(self.variants.values()))

    def variant(self, direction: str | None) -> Variant:
        if direction is None or direction == "":
            return self.first
        if direction not in self.variants:
            have = ", ".join(k for k in self.variants if k) or "none (not a CycleGAN)"
            raise ConfigError(f"model '{self.id}' has no direction '{direction}' (it has: {have})")
        return self.variants[direction]


class Catalog:
    """The models of this server, by id, in the order they were given."""

    def __init__(self, entries: Sequence[Entry]) -> None:
        self.entries = {e.id: e for e in entries}

    @classmethod
    def open(cls, folders: Sequence[str | Path], *, server: bool = True) -> Catalog:
        """Read every folder's manifest(s); with `server`, open each variant's server-side engine."""
        if not folders:
            raise ConfigError("give at least one export folder (what `pix2mobile export ... --out DIR` wrote)")
        entries: list[Entry] = []
        seen: dict[Path, str] = {}
        for given in folders:
            source = Path(given)
            resolved = source.resolve()
            if resolved in seen:
                raise ConfigError(f"{source} is given twice (also as {seen[resolved]})")
            seen[resolved] = str(source)
            entry = Entry(id=_unique_id(resolved.name, {e.id for e in entries}), source=source)
            for folder in _variant_folders(source):
                variant = _read_variant(folder)
                key = variant.direction or ""
                if key in entry.variants:
                    raise ConfigError(f"{source}: two folders hold the {key or 'same'} model")
                entry.variants[key] = variant
            if server:
                for variant in entry.variants.values():
                    _open_server(variant)
            entries.append(entry)
        return cls(entries)

    def get(self, model_id: str | None) -> Entry:
        if not model_id:
            raise ConfigError(f"name a model with ?model=ID (this server has: {', '.join(self.entries)})")
        if model_id not in self.entries:
            raise KeyError(model_id)
        return self.entries[model_id]

    def to_json(self) -> list[dict[str, Any]]:
        return [_entry_json(e) for e in self.entries.values()]


def _unique_id(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-") or "model"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _variant_folders(source: Path) -> list[Path]:
    if source.is_file() and source.name == MANIFEST_NAME:
        return [source.parent]
    if not source.is_dir():
        raise ConfigError(f"{source}: no such export folder")
    if (source / MANIFEST_NAME).is_file():
        return [source]
    pairs = [source / d for d in DIRECTIONS if (source / d / MANIFEST_NAME).is_file()]
    if not pairs:
        raise ConfigError(f"{source} holds no {MANIFEST_NAME} (nor a2b/ or b2a/ with one): "
                          "give a folder `pix2mobile export` wrote")
    return pairs


def _read_variant(folder: Path) -> Variant:
    manifest = Manifest.read(folder)
    artifacts = [BrowserArtifact(a.format, a.precision, artifact_path(folder, a.file or ""), a)
                 for a in manifest.artifacts if a.ok and a.format in BROWSER_RUNTIMES and a.file]
    return Variant(folder=folder, manifest=manifest, artifacts=artifacts)


def _open_server(variant: Variant) -> None:
    """Eager PyTorch from the recorded checkpoint, else the `.onnx`, else nothing (with the reason)."""
    from pix2mobile.pipelines.export import rebuild_eager

    info = variant.manifest.model
    module, why = rebuild_eager(info)
    if module is not None and info.checkpoint is not None:
        del module                      # rebuild_eager checked the weights; open_model builds what apply runs
        variant.server = open_model(info.checkpoint, family=info.family, arch=info.arch, options=dict(info.options),
                                    direction=info.direction, size=info.size)
        variant.engine = "eager"
        return
    if any(a.ok and a.format == "onnx" for a in variant.manifest.artifacts):
        variant.server = open_model(variant.folder, format="onnx")
        variant.engine = "onnx"
        variant.note = f"not eager PyTorch: {why}"
        log.info("%s: the server runs the .onnx (%s)", variant.folder, why)
        return
    variant.note = f"no server-side run: {why}, and the folder has no passing .onnx"
    log.warning("%s: %s", variant.folder, variant.note)


def _tensors(rows: Sequence[Any]) -> list[dict[str, Any]]:
    return [t.to_json() for t in rows]


def _entry_json(entry: Entry) -> dict[str, Any]:
    first = entry.first.manifest.model
    size = list(first.size) if first.size else None
    variants = []
    for v in entry.variants.values():
        m = v.manifest
        variants.append({
            "direction": v.direction,
            "io": dict(m.io),
            "artifacts": [{"format": a.format, "precision": a.precision, "runtime": a.runtime,
                           "file": a.path.name, "bytes": a.entry.bytes, "sha256": a.entry.sha256,
                           "inputs": _tensors(a.entry.inputs), "outputs": _tensors(a.entry.outputs),
                           "parity_psnr_db": a.entry.parity.psnr_db,
                           "url": _artifact_url(entry.id, v.direction, a.format, a.precision)}
                          for a in v.artifacts],
            "server": {"engine": v.engine, "label": v.server.label if v.server is not None else None,
                       "note": v.note},
        })
    return {"id": entry.id, "name": entry.source.resolve().name, "family": first.family, "arch": first.arch,
            "size": size, "size_multiple": first.size_multiple, "min_size": first.min_size,
            "directions": [v.direction for v in entry.variants.values() if v.direction],
            "variants": variants}


def _artifact_url(model_id: str, direction: str | None, format: str, precision: str) -> str:
    query = f"model={model_id}&format={format}&precision={precision}"
    return f"/api/v1/artifact?{query}" + (f"&direction={direction}" if direction else "")
