"""Atomic writes: outputs appear complete under their final name or not at all."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator, Literal

from pix2mobile.errors import OutputError

WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})
"""errno values that mean "this output cannot be written here", whichever file the OS names."""


def output_error(final: Path, exc: OSError) -> OutputError:
    """One line for an OS error met while writing `final`: the final path, never a temp name."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return OutputError(f"cannot write {final}: {reason}; pick another location, or free space "
                       "or permissions there")


def _about_output(exc: OSError, final: Path, tmp: Path) -> Exception:
    """The error to raise for an OSError inside an atomic writer: one `OutputError` line naming
    `final` when the error is about this output (a write errno, or one of its paths), else `exc`."""
    names = {str(p) for p in (tmp, final, final.parent)}
    if exc.errno in WRITE_ERRNOS or str(exc.filename) in names or str(exc.filename2) in names:
        return output_error(final, exc)
    return exc


def check_writable(path: str | os.PathLike[str], kind: Literal["file", "dir"] = "file") -> None:
    """Refuse, before long work, an output path that cannot be written; create nothing.

    Walks up to the nearest existing ancestor (the folders in between would be made by the
    writer), refuses a file where a folder must be (or a folder where the file goes), then
    writes, fsyncs and removes a 4 KiB probe file there: that catches read-only mounts,
    permission denied (as a non-root user), `/proc/...` and a disk already full. A disk that
    fills up later is still reported in one line by the atomic writers.
    """
    final = Path(path)
    if kind == "file" and final.is_dir():
        raise OutputError(f"cannot write {final}: it is a directory; pass a file path")
    if kind == "dir" and final.exists() and not final.is_dir():
        raise OutputError(f"cannot write into {final}: it is a file, not a directory")
    ancestor = final.parent if kind == "file" else final
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputError(f"cannot write {final}: {ancestor} is a file, not a directory")
    try:
        fd, probe = tempfile.mkstemp(prefix=".pix2mobile-probe.", dir=ancestor)
    except OSError as exc:
        raise output_error(final, exc) from None
    try:
        os.write(fd, bytes(4096))
        os.fsync(fd)
    except OSError as exc:
        raise output_error(final, exc) from None
    finally:
        os.close(fd)
        os.unlink(probe)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is fsynced and renamed onto `path`.

    The temporary name keeps the final suffix (PIL and converters pick formats by suffix).
    On failure the temporary file is removed and any existing `path` is left untouched; an OS
    error about this output (full disk, read-only, a file where the folder should be) becomes
    one `OutputError` line naming `path`.
    """
    final = Path(path)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=suffix or final.suffix,
                                        dir=final.parent)
    except OSError as exc:
        raise output_error(final, exc) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())   # mkstemp makes 0600; outputs are ordinary files
        os.replace(tmp, final)
    except OSError as exc:
        raise _about_output(exc, final, tmp) from None
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary directory beside `path`, renamed onto `path` when the block succeeds.

    For directory artifacts (.mlpackage). An existing `path` is replaced only after the new
    one is complete.
    """
    final = Path(path)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    except OSError as exc:
        raise output_error(final, exc) from None
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        move_path(tmp, final)
    except OSError as exc:
        raise _about_output(exc, final, tmp) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def remove_path(path: Path) -> None:
    """Remove a file, link or directory if present. A directory is renamed to a hidden name first,
    so its final name disappears in one step and a half-deleted tree never sits under it."""
    if path.is_dir() and not path.is_symlink():
        doomed = path.with_name(f".{path.name}.removing")
        if doomed.exists():
            shutil.rmtree(doomed, ignore_errors=True)
        os.replace(path, doomed)
        shutil.rmtree(doomed)
    elif path.exists() or path.is_symlink():
        path.unlink()


def move_path(src: Path, dst: Path) -> None:
    """Rename `src` onto `dst`, replacing a file or directory already there.

    A directory cannot be renamed over a non-empty one, so the old one is renamed aside first and
    removed after: `dst` is missing only between two renames, never half-written.
    """
    if dst.is_dir() and not dst.is_symlink():
        old = dst.with_name(f".{dst.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(dst, old)
        os.replace(src, dst)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(src, dst)


def tree_sha256(path: Path) -> tuple[int, str]:
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
