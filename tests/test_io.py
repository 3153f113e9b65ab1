"""Atomic writes: the final name holds a complete file or the old one, never a partial one."""

from __future__ import annotations

import pytest

from pix2mobile import _io


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
