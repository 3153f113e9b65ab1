"""`ExportFolder`: change an export folder one row at a time without ever lying on disk.

The invariant, true at every instant (after a converter crash, an exception, or Ctrl-C too):

    every final-named artifact in the folder (`STEM_PRECISION.SUFFIX`) is an ok row of the
    `manifest.json` on disk.

`export` and `quantize` keep it with three orderings, and nothing else:

- removing: an artifact file leaves the disk *before* the manifest stops listing it;
- adding: the manifest lists the row *before* the staged file is renamed to its final name
  (so an interruption between the two leaves a listed row whose file is missing, which readers
  report as missing, never an unlisted file);
- planned rows are written up front as failed with `PENDING_REASON`, so a run that stops half-way
  leaves a manifest that says which rows it did not make (and `ok` is false).

Staging files (`.NAME.staging.SUFFIX`) are removed on any exit, `KeyboardInterrupt` included. Only
SIGKILL or a power cut can leave one; the next run with the same name removes it.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Iterable

from pix2mobile.files import move_path, remove_path, tree_sha256
from pix2mobile.manifest import PENDING_REASON, ArtifactEntry, Manifest, Parity

log = logging.getLogger(__name__)


def staging_name(final: Path) -> Path:
    return final.with_name(f".{final.stem}.staging{final.suffix}")


def failed_name(final: Path) -> Path:
    return final.with_name(f"{final.stem}.failed{final.suffix}")


def pending_row(fmt: str, precision: str, threshold_db: float | None = None) -> ArtifactEntry:
    return ArtifactEntry(format=fmt, precision=precision, status="failed", reason=PENDING_REASON,
                         parity=Parity(threshold_db=threshold_db))


class ExportFolder:
    """The manifest of `folder` as it is on disk, rewritten atomically after every change."""

    def __init__(self, folder: Path, manifest: Manifest):
        self.folder = folder
        self.manifest = manifest

    def _write(self) -> None:
        self.manifest.write(self.folder)

    def _set_row(self, entry: ArtifactEntry) -> None:
        rows = {(a.format, a.precision): a for a in self.manifest.artifacts}
        rows[(entry.format, entry.precision)] = entry
        self.manifest = dataclasses.replace(self.manifest, artifacts=tuple(rows.values()))

    def begin(self, pending: Iterable[ArtifactEntry], stale: Iterable[Path]) -> None:
        """Remove `stale` files (ours, about to be replaced or no longer listed), then write the
        manifest with the `pending` rows in place of any row they replace."""
        for path in stale:
            remove_path(path)
        for row in pending:
            self._set_row(row)
        self._write()

    def commit(self, entry: ArtifactEntry, staged: Path | None, final: Path) -> ArtifactEntry:
        """Record `entry` (ok or failed) and put its staged file (if any) under its name.

        ok: the row (file = final name) is written before the rename. failed: the staged file is
        kept as `NAME.failed.SUFFIX`. Either way an older file of the other name goes first.
        Returns the row as recorded (with file, bytes, sha256 filled in).
        """
        failed = failed_name(final)
        if staged is not None and staged.exists():
            target = final if entry.ok else failed
            nbytes, digest = tree_sha256(staged)
            entry = dataclasses.replace(entry, file=target.relative_to(self.folder).as_posix(), bytes=nbytes,
                                        sha256=digest)
        else:
            target = None
        remove_path(failed if entry.ok else final)
        self._set_row(entry)
        self._write()
        if target is not None and staged is not None:
            move_path(staged, target)
        log.info("%s %s: %s", entry.format, entry.precision, entry.reason or "ok")
        return entry
