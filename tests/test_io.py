"""Atomic writes: the final name holds a complete file or the old one, never a partial one."""

from __future__ import annotations

import pytest

from pix2mobile import files as _io


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path) -> None:
    target = tmp_path / "a.json"
    _io.write_json(target, {"v": 1})
    with pytest.raises(RuntimeError):
        with _io.atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("converter crashed")
    assert target.read_text().strip().startswith("{") and '"v": 1' in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_atomic_dir_replaces_only_when_complete(tmp_path) -> None:
    final = tmp_path / "m.mlpackage"
    with _io.atomic_dir(final) as d:
        (d / "x").write_text("1")
    with pytest.raises(ValueError):
        with _io.atomic_dir(final) as d:
            (d / "x").write_text("2")
            raise ValueError
    assert (final / "x").read_text() == "1"
    with _io.atomic_dir(final) as d:
        (d / "x").write_text("3")
    assert (final / "x").read_text() == "3"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.mlpackage"]


def test_written_files_are_readable_by_others(tmp_path) -> None:
    path = _io.write_text(tmp_path / "r.txt", "x")
    assert path.stat().st_mode & 0o044 == 0o044


def test_os_error_while_writing_names_the_final_path_and_cleans_up(tmp_path) -> None:
    import errno

    from pix2mobile.errors import OutputError

    target = tmp_path / "out.png"
    target.write_text("old")
    with pytest.raises(OutputError, match=r"cannot write .*out\.png: No space left on device"):
        with _io.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise OSError(errno.ENOSPC, "No space left on device")    # what a full disk raises mid-write
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_other_os_errors_in_the_block_are_not_renamed(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        with _io.atomic_path(tmp_path / "a.txt"):
            open(tmp_path / "missing-input.txt").close()               # an input problem, not this output's
    assert list(tmp_path.iterdir()) == []


def test_check_writable_refuses_early_and_creates_nothing(tmp_path) -> None:
    from pix2mobile.errors import OutputError

    a_file = tmp_path / "f"
    a_file.write_text("x")
    (tmp_path / "d.png").mkdir()
    _io.check_writable(tmp_path / "new" / "deeper" / "out.png")       # fine: the folders would be made
    _io.check_writable(tmp_path / "run", "dir")
    with pytest.raises(OutputError, match="is a file, not a directory"):
        _io.check_writable(a_file / "out.png")
    with pytest.raises(OutputError, match="it is a file"):
        _io.check_writable(a_file, "dir")
    with pytest.raises(OutputError, match="it is a directory"):
        _io.check_writable(tmp_path / "d.png")
    with pytest.raises(OutputError, match="cannot write /proc/x/out.png"):
        _io.check_writable("/proc/x/out.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.png", "f"]
