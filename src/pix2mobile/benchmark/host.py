"""Host rows: status and parity of every manifest artifact on this machine, and the inputs to time it on.

Status of a host row (Ultralytics' three states plus "not measured here"):
- `export_failed`: the manifest lists the artifact as failed with no file.
- `verify_failed`: exported but failed its parity gate at export (the manifest kept the
  `.failed` file), or here: its runtime refused it, it changed on disk since export (sha256), or
  its PSNR against eager fp32 on this run's images fell below the threshold it was held to.
  Such artifacts are still measured where they run, so the numbers show how far off they are.
- `skipped`: its runtime is not installed here, or the file is gone.
- `ok`: everything else.

Parity is measured against the eager module on real photo crops (`pipelines.export.parity_inputs`
with this run's seed) through the format's own `runner_fn`; without an eager module the row
carries the export's recorded parity, marked `parity_source: "export"`.

Residency (where the file's ops run, `manifest.Residency` as JSON): the manifest row's record when
it has one and the file is the one exported (sha256), else read from the file now by its format's
`residency_fn` (`pipelines.export.residency_of`); None for a format without one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from pix2mobile.benchmark.report import Row
from pix2mobile.convert.formats import FORMATS
from pix2mobile.errors import MissingDependencyError
from pix2mobile.files import tree_sha256
from pix2mobile.manifest import artifact_path
from pix2mobile.models.spec import IOSpec
from pix2mobile.pipelines.export import residency_of
from pix2mobile.runtimes.common import first_line, to_pixels
from pix2mobile.runtimes.common import run_all
from pix2mobile.runtimes.parity import DEFAULT_THRESHOLDS_DB, compare

log = logging.getLogger(__name__)
Runner = Callable[[Sequence[torch.Tensor]], list[np.ndarray]]


@dataclass
class HostArtifact:
    """One manifest artifact on this host: its row, where it is, and (if it loaded) its parity runner."""

    key: str
    entry: Any              # manifest.ArtifactEntry
    row: Row
    path: Path | None = None
    runner: Runner | None = None


def key_of(fmt: str, precision: str) -> str:
    return f"{fmt} {precision}"


def open_artifacts(manifest: Any, export_dir: Path, io: IOSpec, model_name: str,
                   runtime_label: Callable[[str], str], reference: list[np.ndarray] | None,
                   samples: Sequence[tuple[torch.Tensor, ...]]) -> list[HostArtifact]:
    """A HostArtifact (with its row filled up to parity) for each manifest artifact, in manifest order."""
    result = []
    for art in manifest.artifacts:
        row = Row(model=model_name, format=art.format, precision=art.precision, status="ok",
                  runtime=runtime_label(art.format), file=art.file, bytes=art.bytes,
                  size_mb=None if art.bytes is None else art.bytes / 1e6, params=manifest.model.params,
                  macs=manifest.model.macs,
                  threshold_db=art.parity.threshold_db or DEFAULT_THRESHOLDS_DB.get(art.precision))
        host = HostArtifact(key_of(art.format, art.precision), art, row)
        result.append(host)
        if art.status == "failed" and art.file is None:
            row.status, row.reason, row.runtime = "export_failed", art.reason, None
            continue
        if art.status == "failed":
            row.status, row.reason = "verify_failed", art.reason
        _open(host, export_dir, io, reference, samples)
    return result


def _open(host: HostArtifact, export_dir: Path, io: IOSpec, reference: list[np.ndarray] | None,
          samples: Sequence[tuple[torch.Tensor, ...]]) -> None:
    art, row = host.entry, host.row
    path = artifact_path(export_dir, art.file)      # refuses a path or symlink leaving the folder
    if not path.exists():
        row.status, row.reason = "skipped", f"the manifest lists {art.file}, which is not in {export_dir}"
        return
    host.path = path
    changed = False
    if art.sha256:
        _, digest = tree_sha256(path)
        if digest != art.sha256:
            changed = True
            row.status, row.reason = "verify_failed", (f"{art.file} changed since export (sha256 differs from the "
                                                       "manifest); re-export")
    fmt = FORMATS.get(art.format)
    if fmt is None:
        row.status, row.reason = "skipped", f"this pix2mobile has no runtime for format {art.format!r}"
        return
    residency = art.residency if art.residency is not None and not changed else residency_of(fmt, path)
    row.residency = None if residency is None else residency.to_json()
    try:
        host.runner = fmt.runner_fn(path, io)
    except MissingDependencyError as exc:
        row.status, row.reason = "skipped", f"runtime not installed here: {exc.package}"
        return
    except Exception as exc:   # the runtime refusing the file is a verification failure
        row.status, row.reason = "verify_failed", f"its runtime could not load it: {first_line(exc)}"
        return
    if reference is None:
        p = art.parity
        row.psnr_db, row.ssim, row.max_abs_err = p.psnr_db, p.ssim, p.max_abs_err
        row.parity_scale, row.parity_samples = p.scale, p.samples
        row.parity_source = "export" if p.psnr_db is not None else None
        return
    try:
        candidate = run_all(host.runner, samples, len(io.outputs))
        res = compare(reference, candidate, io.outputs, row.threshold_db or 0.0)
    except Exception as exc:   # a runtime failing on real inputs fails verification
        row.status, row.reason = "verify_failed", f"its runtime failed on the parity images: {first_line(exc)}"
        host.runner = None
        return
    row.psnr_db = res.psnr_db if np.isfinite(res.psnr_db) else None
    row.ssim, row.max_abs_err = res.ssim, res.max_abs_err if np.isfinite(res.max_abs_err) else None
    row.parity_scale, row.parity_samples, row.parity_source = res.scale, res.samples, "bench"
    if not res.passed and row.status == "ok":
        row.status, row.reason = "verify_failed", f"bench parity: {res.describe()}"


def feed_for(entry: Any, io: IOSpec, sample: Sequence[torch.Tensor]) -> dict[str, np.ndarray]:
    """One input sample in the artifact's own layout, as its manifest entry describes it
    (NHWC for channel-last images, 0..255 pixels for platform image inputs); eager when entry is None."""
    infos = {t.name: t for t in (entry.inputs if entry is not None else ())}
    feed = {}
    for spec, x in zip(io.inputs, sample):
        arr = x.detach().cpu().numpy().astype(np.float32)
        info = infos.get(spec.name)
        if info is not None and spec.kind == "image":
            if info.color_layout is not None:
                arr = to_pixels(arr, spec)
            if info.layout == "NHWC":
                arr = arr.transpose(0, 2, 3, 1)
        feed[spec.name] = np.ascontiguousarray(arr, dtype=np.float32)
    return feed
