"""`manifest.json`: the one contract between export, the benchmark and the apps.

Export writes it last and atomically. Readers (`Manifest.read`, `Manifest.from_json`) reject a
major `schema_version` they do not know. A figure that was not measured is `None` (JSON null),
never 0. Each artifact describes its own inputs and outputs (layout, dtype, value range), so an
app needs no other knowledge to feed it and read it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping

from .. import _io
from ..errors import ConfigError

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"

Status = Literal["ok", "failed"]
Scale = Literal["range", "peak_to_peak"]


@dataclass(frozen=True)
class TensorInfo:
    """One input or output of one artifact, as the app sees it.

    `range` says what the numbers mean: an image with range [0, 255] takes raw pixels.
    `color_layout` is set ("RGB") where the artifact takes or returns a platform image
    (Core ML `ImageType`) instead of a tensor.
    """

    name: str
    shape: tuple[int, ...]
    layout: str                      # "NCHW" | "NHWC" | "NC" | "N"
    dtype: str = "float32"
    range: tuple[float, float] = (0.0, 1.0)
    color_layout: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "shape": list(self.shape), "layout": self.layout,
                               "dtype": self.dtype, "range": list(self.range)}
        if self.color_layout is not None:
            out["color_layout"] = self.color_layout
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> TensorInfo:
        return cls(name=d["name"], shape=tuple(int(s) for s in d["shape"]), layout=d["layout"],
                   dtype=d.get("dtype", "float32"), range=(float(d["range"][0]), float(d["range"][1])),
                   color_layout=d.get("color_layout"))


@dataclass(frozen=True)
class Parity:
    """How an artifact compares with eager PyTorch fp32 on real images (see `parity.py`)."""

    psnr_db: float | None = None
    ssim: float | None = None
    max_abs_err: float | None = None
    scale: Scale | None = None
    threshold_db: float | None = None
    samples: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: Mapping[str, Any] | None) -> Parity:
        d = d or {}
        return cls(**{k: d.get(k) for k in ("psnr_db", "ssim", "max_abs_err", "scale", "threshold_db", "samples")})


@dataclass(frozen=True)
class ArtifactEntry:
    """One (format, precision) row. `file` is relative to the manifest's directory.

    status "failed" with a one-line `reason` when the converter raised (then `file` is None)
    or the artifact failed its parity gate (then `file` names the kept `NAME.failed.SUFFIX`).
    """

    format: str
    precision: str
    status: Status
    file: str | None = None
    bytes: int | None = None
    sha256: str | None = None
    reason: str | None = None
    inputs: tuple[TensorInfo, ...] = ()
    outputs: tuple[TensorInfo, ...] = ()
    parity: Parity = field(default_factory=Parity)
    converter: Mapping[str, str | None] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    export_seconds: float | None = None
    verify_seconds: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        return {"format": self.format, "precision": self.precision, "file": self.file, "bytes": self.bytes,
                "sha256": self.sha256, "status": self.status, "reason": self.reason,
                "inputs": [t.to_json() for t in self.inputs], "outputs": [t.to_json() for t in self.outputs],
                "parity": self.parity.to_json(), "converter": dict(self.converter), "notes": list(self.notes),
                "export_seconds": self.export_seconds, "verify_seconds": self.verify_seconds}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ArtifactEntry:
        if d.get("status") not in ("ok", "failed"):
            raise ConfigError(f"manifest artifact {d.get('format')!r}: status must be 'ok' or 'failed', "
                              f"got {d.get('status')!r}")
        return cls(format=d["format"], precision=d["precision"], status=d["status"], file=d.get("file"),
                   bytes=d.get("bytes"), sha256=d.get("sha256"), reason=d.get("reason"),
                   inputs=tuple(TensorInfo.from_json(t) for t in d.get("inputs", ())),
                   outputs=tuple(TensorInfo.from_json(t) for t in d.get("outputs", ())),
                   parity=Parity.from_json(d.get("parity")), converter=dict(d.get("converter", {})),
                   notes=tuple(d.get("notes", ())), export_seconds=d.get("export_seconds"),
                   verify_seconds=d.get("verify_seconds"))


@dataclass(frozen=True)
class ModelInfo:
    family: str
    arch: str
    options: Mapping[str, Any] = field(default_factory=dict)
    size: tuple[int, int] | None = None      # (H, W) the artifacts were exported at
    macs: int | None = None
    params: int | None = None
    checkpoint_sha256: str | None = None
    checkpoint: str | None = None            # the run directory / .pth exported (absolute path)

    def to_json(self) -> dict[str, Any]:
        return {"family": self.family, "arch": self.arch, "options": _jsonable(dict(self.options)),
                "size": list(self.size) if self.size is not None else None, "macs": self.macs,
                "params": self.params, "checkpoint_sha256": self.checkpoint_sha256,
                "checkpoint": self.checkpoint}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ModelInfo:
        size = d.get("size")
        return cls(family=d["family"], arch=d["arch"], options=dict(d.get("options", {})),
                   size=(int(size[0]), int(size[1])) if size else None, macs=d.get("macs"),
                   params=d.get("params"), checkpoint_sha256=d.get("checkpoint_sha256"),
                   checkpoint=d.get("checkpoint"))


@dataclass(frozen=True)
class Manifest:
    model: ModelInfo
    artifacts: tuple[ArtifactEntry, ...]
    pix2mobile_version: str
    created_at: str                          # ISO 8601, UTC
    io: Mapping[str, Any] = field(default_factory=dict)   # the model's IOSpec at export size
    schema_version: int = SCHEMA_VERSION

    @property
    def ok(self) -> bool:
        """True when every artifact exported and passed its gate (the CLI exits non-zero otherwise)."""
        return bool(self.artifacts) and all(a.ok for a in self.artifacts)

    def artifact(self, format: str, precision: str | None = None) -> ArtifactEntry:
        for a in self.artifacts:
            if a.format == format and (precision is None or a.precision == precision):
                return a
        raise ConfigError(f"manifest has no artifact for format {format!r}"
                          + (f" at precision {precision!r}" if precision else "")
                          + f"; it lists {sorted({(a.format, a.precision) for a in self.artifacts})}")

    def to_json(self) -> dict[str, Any]:
        return {"schema_version": self.schema_version, "pix2mobile_version": self.pix2mobile_version,
                "created_at": self.created_at, "ok": self.ok, "model": self.model.to_json(),
                "io": _jsonable(dict(self.io)), "artifacts": [a.to_json() for a in self.artifacts]}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Manifest:
        if not isinstance(d, Mapping) or "schema_version" not in d:
            raise ConfigError("not a pix2mobile manifest (no schema_version); pass the manifest.json "
                              "written by `pix2mobile export`")
        try:
            major = int(str(d["schema_version"]).split(".")[0])
        except ValueError:
            raise ConfigError(f"manifest schema_version {d['schema_version']!r} is not a version number") from None
        if major != SCHEMA_VERSION:
            raise ConfigError(f"manifest schema_version {d['schema_version']} is not supported by this pix2mobile "
                              f"(it reads major version {SCHEMA_VERSION}); re-export with this version or upgrade")
        try:
            return cls(model=ModelInfo.from_json(d["model"]),
                       artifacts=tuple(ArtifactEntry.from_json(a) for a in d["artifacts"]),
                       pix2mobile_version=d["pix2mobile_version"], created_at=d["created_at"],
                       io=dict(d.get("io", {})), schema_version=major)
        except KeyError as exc:
            raise ConfigError(f"manifest lacks the field {exc.args[0]!r}; it was not written by pix2mobile export") from None

    def write(self, out_dir: str | Path) -> Path:
        """Write `out_dir/manifest.json` atomically."""
        return _io.write_json(Path(out_dir) / MANIFEST_NAME, self.to_json())

    @classmethod
    def read(cls, path: str | Path) -> Manifest:
        """Read a manifest file, or `DIR/manifest.json` when given a directory."""
        p = Path(path)
        if p.is_dir():
            p = p / MANIFEST_NAME
        if not p.is_file():
            raise ConfigError(f"{p}: no such manifest; run `pix2mobile export` first")
        try:
            return cls.from_json(json.loads(p.read_text()))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{p}: not valid JSON ({exc})") from None


def _jsonable(obj: Any) -> Any:
    """Options may hold Paths or tuples; the manifest stores plain JSON."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return repr(obj)
