"""`manifest.json`: the one contract between export, the benchmark and the apps.

Export writes it last and atomically. Readers (`Manifest.read`, `Manifest.from_json`) reject a
major `schema_version` they do not know. A figure that was not measured is `None` (JSON null),
never 0. Each artifact describes its own inputs and outputs (layout, dtype, value range), so an
app needs no other knowledge to feed it and read it.

Every reader of a row's `file` goes through `artifact_path`, which refuses a path that leaves
the manifest's folder (absolute, `..`, or a symlink pointing out): a manifest is input, and
quantize and bench must never read, rewrite or push a file elsewhere on the machine.
Anything malformed (not JSON, a field of the wrong type, a missing key) is one `ConfigError`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping

from pix2mobile import files
from pix2mobile.errors import ConfigError

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"

Status = Literal["ok", "failed"]
Scale = Literal["range", "peak_to_peak"]
Reference = Literal["eager", "float artifact"]
PENDING_REASON = "not made: the run stopped before this row (interrupted or failed)"
"""The reason of a planned row that has not run yet; a run that finishes replaces every one."""


def artifact_path(folder: str | Path, file: str) -> Path:
    """The resolved path of a manifest row's `file`, which must lie inside `folder`.

    Symlinks are followed before the check, so a link to a file outside is refused too.
    Raises ConfigError for an absolute path, one that climbs out with `..`, or one that
    resolves outside `folder` (or to the folder itself).
    """
    if not isinstance(file, str) or not file:
        raise ConfigError(f"{folder}: a manifest row's file must be a non-empty relative path, got {file!r}")
    root = Path(folder).resolve()
    rel = Path(file)
    if rel.is_absolute() or ".." in rel.parts:
        raise ConfigError(f"{folder}: the manifest names {file!r}, which is not inside the export folder; "
                          "refusing to read it")
    resolved = (root / rel).resolve()
    if resolved == root or root not in resolved.parents:
        raise ConfigError(f"{folder}: the manifest's {file!r} resolves to {resolved}, outside the export folder "
                          "(a symlink?); refusing to read it")
    return resolved


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
    """How an artifact compares with its reference on the held-out real photos (see `parity.py`).

    `psnr_db` is the worst image's PSNR, the figure the gate holds to `threshold_db`;
    `psnr_db_mean` is the mean over images and `psnr_db_per_image` each image's, in the order of
    `Manifest.parity_images`. `reference`: "eager" (PyTorch fp32, what export always uses) or
    "float artifact" (`pix2mobile quantize` without the checkpoint). Manifests written before
    these fields existed read back with them None/empty; their `psnr_db` pooled all samples.

    The figures above are at the export size (`ModelInfo.size`). `psnr_db_by_size` ("HxW" -> dB)
    holds the worst image's PSNR at every size the artifact declares (`ArtifactEntry.shapes`),
    each held to `threshold_db` on the parity photos cropped at that size; empty in manifests
    written before size-flexible export.
    """

    psnr_db: float | None = None
    ssim: float | None = None
    max_abs_err: float | None = None
    scale: Scale | None = None
    threshold_db: float | None = None
    samples: int | None = None
    psnr_db_mean: float | None = None
    psnr_db_per_image: tuple[float, ...] = ()
    reference: Reference | None = None
    psnr_db_by_size: Mapping[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["psnr_db_per_image"] = list(self.psnr_db_per_image)
        out["psnr_db_by_size"] = dict(self.psnr_db_by_size)
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any] | None) -> Parity:
        d = d or {}
        if not isinstance(d, Mapping):
            raise ConfigError(f"manifest parity must be an object, got {type(d).__name__}")
        for key in ("psnr_db", "ssim", "max_abs_err", "threshold_db", "psnr_db_mean"):
            _number_or_none(d.get(key), f"parity.{key}")
        by_size = d.get("psnr_db_by_size") or {}
        if not isinstance(by_size, Mapping):
            raise ConfigError(f"manifest parity.psnr_db_by_size must be an object, got {type(by_size).__name__}")
        for size, value in by_size.items():
            _number_or_none(value, f"parity.psnr_db_by_size[{size!r}]")
        return cls(**{k: d.get(k) for k in ("psnr_db", "ssim", "max_abs_err", "scale", "threshold_db", "samples",
                                             "psnr_db_mean", "reference")},
                   psnr_db_per_image=tuple(float(x) for x in d.get("psnr_db_per_image") or ()),
                   psnr_db_by_size={str(k): float(v) for k, v in by_size.items() if v is not None})


ShapeKind = Literal["fixed", "enumerated", "range"]


@dataclass(frozen=True)
class Shapes:
    """The input sizes (H, W) an artifact accepts, each one held to the parity gate at export.

    kind "fixed": only the export size (`ModelInfo.size`), as every artifact before size-flexible
    export. "enumerated": exactly `sizes` (Core ML's EnumeratedShapes, which the Neural Engine
    takes). "range": any H, W with `min` <= size <= `max` that are multiples of `multiple` (ONNX
    dynamic axes, ExecuTorch bounded dynamic shapes); `sizes` lists those verified. `note` says
    why an artifact is fixed when more sizes were asked for (the converter or runtime cannot), or
    how a flexible one takes them (TFLite: resize the input at load time; Core ML: a range asked
    for and declared as the sizes verified). Each size's parity is `Parity.psnr_db_by_size`."""

    kind: ShapeKind = "fixed"
    sizes: tuple[tuple[int, int], ...] = ()
    min: tuple[int, int] | None = None
    max: tuple[int, int] | None = None
    multiple: int | None = None
    note: str | None = None

    def accepts(self, size: tuple[int, int], export_size: tuple[int, int] | None = None) -> bool:
        """Whether an input of `size` may be fed (a fixed artifact: only its export size)."""
        h, w = size
        if self.kind == "range" and self.min is not None and self.max is not None:
            m = self.multiple or 1
            return (self.min[0] <= h <= self.max[0] and self.min[1] <= w <= self.max[1]
                    and h % m == 0 and w % m == 0)
        if self.kind == "enumerated":
            return (h, w) in self.sizes
        return (h, w) == (export_size or (self.sizes[0] if self.sizes else None))

    def describe(self, export_size: tuple[int, int] | None = None) -> str:
        if self.kind == "range" and self.min and self.max:
            return (f"any size from {self.min[0]}x{self.min[1]} to {self.max[0]}x{self.max[1]}"
                    + (f" in multiples of {self.multiple}" if self.multiple and self.multiple > 1 else ""))
        if self.kind == "enumerated":
            return "only " + ", ".join(f"{h}x{w}" for h, w in self.sizes)
        size = export_size or (self.sizes[0] if self.sizes else None)
        return f"only {size[0]}x{size[1]}" if size else "only its export size"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "sizes": [list(s) for s in self.sizes],
                "min": list(self.min) if self.min else None, "max": list(self.max) if self.max else None,
                "multiple": self.multiple, "note": self.note}

    @classmethod
    def from_json(cls, d: Mapping[str, Any] | None) -> Shapes:
        if d is None:
            return cls()
        if not isinstance(d, Mapping) or d.get("kind", "fixed") not in ("fixed", "enumerated", "range"):
            raise ConfigError(f"manifest shapes must be an object with kind fixed, enumerated or range, got {d!r}")

        def pair(x: Any) -> tuple[int, int]:
            if not isinstance(x, (list, tuple)) or len(x) != 2 or not all(
                    isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in x):
                raise ConfigError(f"manifest shapes: a size must be [H, W] of positive integers, got {x!r}")
            return (x[0], x[1])

        return cls(kind=d.get("kind", "fixed"), sizes=tuple(pair(x) for x in d.get("sizes") or ()),
                   min=pair(d["min"]) if d.get("min") is not None else None,
                   max=pair(d["max"]) if d.get("max") is not None else None,
                   multiple=_int_or_none(d.get("multiple"), "shapes.multiple"), note=d.get("note"))


@dataclass(frozen=True)
class Residency:
    """Where an artifact's ops run, read from the file itself (each format's `residency_fn`,
    `convert.formats`). Every field is optional: None means not applicable to this format (or
    not determined, with `note` saying why), never zero.

    ops: op name -> count of what the file runs: MIL ops by type (.mlpackage), NeuralNetwork
      layers by type (.mlmodel), nodes by op_type (.onnx), operators by builtin name (.tflite),
      top-level instructions (.pte: each kernel by `name.overload`, each delegate call by backend).
    unit: what `ops` counts, plural ("MIL ops", "NeuralNetwork layers", ...), for `summary`.
    delegate_segments: .pte, DelegateCall instructions (XNNPACK partitions).
    portable_calls: .pte, operator -> count of KernelCall instructions outside any delegate.
    layout_transposes: .tflite, TRANSPOSE operators.
    gpu_compatible: .tflite, whether every op passes LiteRT's GPU delegate rules: its model analyzer's
      verdict where it checks, else `runtimes.tflite_gpu`'s transcription of those rules (the note says
      which); None: not checked, see note.
    note: why a figure is missing, or where the GPU verdict came from and its first reason.

    `problems()` lists why the artifact is not mobile-clean: a .pte must be one delegate
    segment with no portable kernel call; a .tflite must hold no layout TRANSPOSE and must not be
    GPU-incompatible. Other formats have no rule (their record is information only).
    """

    ops: Mapping[str, int] | None = None
    unit: str | None = None
    delegate_segments: int | None = None
    portable_calls: Mapping[str, int] | None = None
    layout_transposes: int | None = None
    gpu_compatible: bool | None = None
    note: str | None = None

    @property
    def portable_total(self) -> int | None:
        return None if self.portable_calls is None else sum(self.portable_calls.values())

    def problems(self) -> list[str]:
        """Why this artifact is not mobile-clean, one short phrase each; empty when it is."""
        found = []
        if self.delegate_segments is not None and self.delegate_segments != 1:
            found.append(_count(self.delegate_segments, "delegate segment"))
        if self.portable_total:
            found.append(_count(self.portable_total, "portable call"))
        if self.layout_transposes:
            found.append(_count(self.layout_transposes, "layout TRANSPOSE", "layout TRANSPOSEs"))
        if self.gpu_compatible is False:
            found.append("GPU-incompatible" + (f" ({self.note})" if self.note else ""))
        return found

    def clean(self) -> bool:
        """True when `problems()` is empty."""
        return not self.problems()

    def summary(self) -> str:
        """One line for reports: "1 delegate segment, 0 portable calls", "171 ops, 0 TRANSPOSE, GPU ok"."""
        parts = []
        if self.delegate_segments is not None:
            parts.append(_count(self.delegate_segments, "delegate segment"))
        if self.portable_calls is not None:
            parts.append(_count(self.portable_total or 0, "portable call"))
        if self.ops is not None and self.delegate_segments is None:
            unit = self.unit or "ops"
            parts.append(_count(sum(self.ops.values()), unit[:-1] if unit.endswith("s") else unit, unit))
        if self.layout_transposes is not None:
            parts.append(f"{self.layout_transposes} TRANSPOSE")
        if self.layout_transposes is not None or self.gpu_compatible is not None:
            parts.append({True: "GPU ok", False: "GPU-incompatible", None: "GPU not checked"}[self.gpu_compatible])
        return ", ".join(parts) if parts else (self.note or "nothing recorded")

    def to_json(self) -> dict[str, Any]:
        return {"ops": None if self.ops is None else dict(self.ops), "unit": self.unit,
                "delegate_segments": self.delegate_segments,
                "portable_calls": None if self.portable_calls is None else dict(self.portable_calls),
                "layout_transposes": self.layout_transposes, "gpu_compatible": self.gpu_compatible,
                "note": self.note}

    @classmethod
    def from_json(cls, d: Mapping[str, Any] | None) -> Residency | None:
        if d is None:
            return None
        if not isinstance(d, Mapping):
            raise ConfigError(f"manifest residency must be an object or null, got {type(d).__name__}")
        for key in ("ops", "portable_calls"):
            _histogram_or_none(d.get(key), f"residency.{key}")
        for key in ("delegate_segments", "layout_transposes"):
            x = d.get(key)
            if x is not None and (isinstance(x, bool) or not isinstance(x, int) or x < 0):
                raise ConfigError(f"manifest residency.{key} must be a count or null, got {x!r}")
        if d.get("gpu_compatible") not in (None, True, False):
            raise ConfigError(f"manifest residency.gpu_compatible must be true, false or null, "
                              f"got {d.get('gpu_compatible')!r}")
        for key in ("unit", "note"):
            if d.get(key) is not None and not isinstance(d.get(key), str):
                raise ConfigError(f"manifest residency.{key} must be a string or null, got {d.get(key)!r}")
        return cls(ops=_histogram_or_none(d.get("ops"), "residency.ops"), unit=d.get("unit"),
                   delegate_segments=d.get("delegate_segments"),
                   portable_calls=_histogram_or_none(d.get("portable_calls"), "residency.portable_calls"),
                   layout_transposes=d.get("layout_transposes"), gpu_compatible=d.get("gpu_compatible"),
                   note=d.get("note"))


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def _histogram_or_none(x: Any, what: str) -> dict[str, int] | None:
    if x is None:
        return None
    if not isinstance(x, Mapping) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0 for k, v in x.items()):
        raise ConfigError(f"manifest {what} must be an object of name -> count, or null, got {x!r}")
    return dict(x)


@dataclass(frozen=True)
class ArtifactEntry:
    """One (format, precision) row. `file` is relative to the manifest's directory.

    status "failed" with a one-line `reason` when the converter raised (then `file` is None)
    or the artifact failed its parity gate (then `file` names the kept `NAME.failed.SUFFIX`).
    `residency`: where the file's ops run (`Residency`), for every row with a file; None where the
    format records none, the inspection failed, or the manifest predates the field.
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
    shapes: Shapes = field(default_factory=Shapes)
    residency: Residency | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        return {"format": self.format, "precision": self.precision, "file": self.file, "bytes": self.bytes,
                "sha256": self.sha256, "status": self.status, "reason": self.reason,
                "inputs": [t.to_json() for t in self.inputs], "outputs": [t.to_json() for t in self.outputs],
                "parity": self.parity.to_json(), "converter": dict(self.converter), "notes": list(self.notes),
                "export_seconds": self.export_seconds, "verify_seconds": self.verify_seconds,
                "shapes": self.shapes.to_json(),
                "residency": None if self.residency is None else self.residency.to_json()}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ArtifactEntry:
        if not isinstance(d, Mapping):
            raise ConfigError(f"manifest artifacts must be objects, got {type(d).__name__}")
        for key in ("format", "precision"):
            if not isinstance(d.get(key), str):
                raise ConfigError(f"manifest artifact {key} must be a string, got {d.get(key)!r}")
        if d.get("file") is not None and not isinstance(d.get("file"), str):
            raise ConfigError(f"manifest artifact {d['format']}/{d['precision']}: file must be a string or null, "
                              f"got {d.get('file')!r}")
        if d.get("status") not in ("ok", "failed"):
            raise ConfigError(f"manifest artifact {d.get('format')!r}: status must be 'ok' or 'failed', "
                              f"got {d.get('status')!r}")
        return cls(format=d["format"], precision=d["precision"], status=d["status"], file=d.get("file"),
                   bytes=d.get("bytes"), sha256=d.get("sha256"), reason=d.get("reason"),
                   inputs=tuple(TensorInfo.from_json(t) for t in d.get("inputs", ())),
                   outputs=tuple(TensorInfo.from_json(t) for t in d.get("outputs", ())),
                   parity=Parity.from_json(d.get("parity")), converter=dict(d.get("converter", {})),
                   notes=tuple(d.get("notes", ())), export_seconds=d.get("export_seconds"),
                   verify_seconds=d.get("verify_seconds"), shapes=Shapes.from_json(d.get("shapes")),
                   residency=Residency.from_json(d.get("residency")))


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
    direction: str | None = None             # CycleGAN: "a2b" (G_A) or "b2a" (G_B); None for other families
    size_multiple: int | None = None         # H and W of any input must be multiples of this ...
    min_size: int | None = None              # ... and at least this (what `native` mode pads to)

    def to_json(self) -> dict[str, Any]:
        return {"family": self.family, "arch": self.arch, "options": _jsonable(dict(self.options)),
                "size": list(self.size) if self.size is not None else None, "macs": self.macs,
                "params": self.params, "checkpoint_sha256": self.checkpoint_sha256,
                "checkpoint": self.checkpoint, "direction": self.direction,
                "size_multiple": self.size_multiple, "min_size": self.min_size}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ModelInfo:
        size = d.get("size")
        direction = d.get("direction")
        if direction is not None and direction not in ("a2b", "b2a"):
            raise ConfigError(f"manifest model.direction must be 'a2b', 'b2a' or null, got {direction!r}")
        return cls(family=d["family"], arch=d["arch"], options=dict(d.get("options", {})),
                   size=(int(size[0]), int(size[1])) if size else None, macs=d.get("macs"),
                   params=d.get("params"), checkpoint_sha256=d.get("checkpoint_sha256"),
                   checkpoint=d.get("checkpoint"), direction=direction,
                   size_multiple=_int_or_none(d.get("size_multiple"), "model.size_multiple"),
                   min_size=_int_or_none(d.get("min_size"), "model.min_size"))


@dataclass(frozen=True)
class Manifest:
    model: ModelInfo
    artifacts: tuple[ArtifactEntry, ...]
    pix2mobile_version: str
    created_at: str                          # ISO 8601, UTC
    io: Mapping[str, Any] = field(default_factory=dict)   # the model's IOSpec at export size
    schema_version: int = SCHEMA_VERSION
    parity_images: tuple[str, ...] = ()      # the held-out photo of each parity sample, in order

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
                "io": _jsonable(dict(self.io)), "parity_images": list(self.parity_images),
                "artifacts": [a.to_json() for a in self.artifacts]}

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
        if not isinstance(d.get("artifacts"), list):
            raise ConfigError(f"manifest artifacts must be a list, got {type(d.get('artifacts')).__name__}; "
                              "it was not written by pix2mobile export")
        if not isinstance(d.get("model"), Mapping) or not isinstance(d.get("io", {}), Mapping):
            raise ConfigError("manifest model and io must be objects; it was not written by pix2mobile export")
        try:
            return cls(model=ModelInfo.from_json(d["model"]),
                       artifacts=tuple(ArtifactEntry.from_json(a) for a in d["artifacts"]),
                       pix2mobile_version=d["pix2mobile_version"], created_at=d["created_at"],
                       io=dict(d.get("io", {})), schema_version=major,
                       parity_images=tuple(str(x) for x in d.get("parity_images") or ()))
        except KeyError as exc:
            raise ConfigError(f"manifest lacks the field {exc.args[0]!r}; "
                              "it was not written by pix2mobile export") from None
        except (TypeError, ValueError, AttributeError, IndexError) as exc:
            raise ConfigError(f"malformed manifest ({type(exc).__name__}: {exc}); re-export it") from None

    def write(self, out_dir: str | Path) -> Path:
        """Write `out_dir/manifest.json` atomically."""
        return files.write_json(Path(out_dir) / MANIFEST_NAME, self.to_json())

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
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{p}: not valid JSON ({exc})") from None


def _int_or_none(x: Any, what: str) -> int | None:
    if x is None:
        return None
    if isinstance(x, bool) or not isinstance(x, int) or x < 1:
        raise ConfigError(f"manifest {what} must be a positive integer or null, got {x!r}")
    return x


def _number_or_none(x: Any, what: str) -> None:
    if x is not None and (isinstance(x, bool) or not isinstance(x, (int, float)) or math.isnan(x)):
        raise ConfigError(f"manifest {what} must be a number or null, got {x!r}")


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
