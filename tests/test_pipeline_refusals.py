"""Refusals of `export`/`quantize`/`bench`: bad input is one stderr line, exit 2, no traceback, no stray files.

One row per case: `Case(name, argv, code, fragment)`. `argv` may hold `{exp}` (a fake export folder:
manifest.json plus a dummy `net_fp32.tflite` and `net_fp32.onnx`), `{bad}` (a folder whose manifest the
case breaks, see `BREAK`) and `{tmp}` (the test's own folder); each is filled in per test.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from pix2mobile import cli
from pix2mobile.manifest import ArtifactEntry, Manifest, ModelInfo
from pix2mobile.models import get_variant


@dataclass(frozen=True)
class Case:
    name: str
    argv: tuple[str, ...]
    code: int
    fragment: str


CASES = [
    Case("quantize-manifest-file-climbs-out", ("quantize", "{bad}", "--precision", "fp16"), 2,
         "not inside the export folder"),
    Case("quantize-manifest-file-absolute", ("quantize", "{bad}", "--precision", "fp16"), 2,
         "not inside the export folder"),
    Case("quantize-manifest-symlink-out", ("quantize", "{bad}", "--precision", "fp16"), 2, "outside the export folder"),
    Case("bench-manifest-symlink-out", ("bench", "{bad}", "--out", "{tmp}/rep"), 2, "outside the export folder"),
    Case("bench-manifest-file-climbs-out", ("bench", "{bad}", "--out", "{tmp}/rep"), 2, "not inside the export folder"),
    Case("quantize-artifacts-null", ("quantize", "{bad}", "--precision", "fp16"), 2, "artifacts must be a list"),
    Case("bench-artifacts-null", ("bench", "{bad}", "--out", "{tmp}/rep"), 2, "artifacts must be a list"),
    Case("bench-model-wrong-type", ("bench", "{bad}", "--out", "{tmp}/rep"), 2, "model and io must be objects"),
    Case("quantize-manifest-not-json", ("quantize", "{bad}", "--precision", "fp16"), 2, "not valid JSON"),
    Case("bench-row-file-wrong-type", ("bench", "{bad}", "--out", "{tmp}/rep"), 2, "file must be a string"),
    Case("bench-min-seconds-nan", ("bench", "{exp}", "--out", "{tmp}/rep", "--min-seconds", "nan"), 2,
         "--min-seconds must be a finite number"),
    Case("bench-min-seconds-inf", ("bench", "{exp}", "--out", "{tmp}/rep", "--min-seconds", "inf"), 2,
         "--min-seconds must be a finite number"),
    Case("bench-bad-style", ("bench", "{exp}", "--out", "{tmp}/rep", "--style", "{tmp}/nowhere.png"), 2, "nowhere.png"),
    Case("bench-bad-content", ("bench", "{exp}", "--out", "{tmp}/rep", "--content", "{tmp}/nowhere.jpg"), 2,
         "nowhere.jpg"),
    Case("bench-bad-vgg-weights", ("bench", "{exp}", "--out", "{tmp}/rep", "--vgg-weights", "{tmp}/vgg.pth"), 2,
         "--vgg-weights"),
    Case("bench-peak-size-huge", ("bench", "{exp}", "--out", "{tmp}/rep", "--peak-size", "99999"), 2,
         "MAX_IMAGE_SIDE"),
    Case("bench-samples-huge", ("bench", "{exp}", "--out", "{tmp}/rep", "--samples", "100000"), 2,
         "--samples must be at most"),
    Case("quantize-calibration-count-huge", ("quantize", "{exp}", "--precision", "int8", "--calibration-count",
                                             "99999999"), 2, "--calibration-count must be between"),
    Case("quantize-out-wrong-suffix", ("quantize", "{exp}/net_fp32.tflite", "--precision", "fp16", "--out",
                                       "{tmp}/y.png"), 2, "must end in .tflite"),
    Case("quantize-out-unwritable", ("quantize", "{exp}/net_fp32.tflite", "--precision", "fp16", "--out",
                                     "{exp}/net_fp32.onnx/y.tflite"), 2, "is a file, not a directory"),
]

BREAK = {   # how each `{bad}` case spoils the manifest's artifacts (or the whole file)
    "quantize-manifest-file-climbs-out": lambda m, d: _set_file(m, "../outside/x_fp32.tflite"),
    "bench-manifest-file-climbs-out": lambda m, d: _set_file(m, "../outside/x_fp32.tflite"),
    "quantize-manifest-file-absolute": lambda m, d: _set_file(m, str(d.parent / "outside" / "x_fp32.tflite")),
    "quantize-manifest-symlink-out": lambda m, d: _link_out(m, d),
    "bench-manifest-symlink-out": lambda m, d: _link_out(m, d),
    "quantize-artifacts-null": lambda m, d: m.update(artifacts=None),
    "bench-artifacts-null": lambda m, d: m.update(artifacts=None),
    "bench-model-wrong-type": lambda m, d: m.update(model=[1, 2]),
    "quantize-manifest-not-json": lambda m, d: None,
    "bench-row-file-wrong-type": lambda m, d: _set_file(m, 7),
}


def _set_file(manifest: dict, file: object) -> None:
    for row in manifest["artifacts"]:
        row["file"] = file


def _link_out(manifest: dict, folder: Path) -> None:
    (folder / "net_fp32.tflite").unlink()
    (folder / "net_fp32.tflite").symlink_to(folder.parent / "outside" / "x_fp32.tflite")


def _export_folder(folder: Path) -> Path:
    folder.mkdir(parents=True)
    io = get_variant("fast_style", "johnson").io
    rows = []
    for fmt in ("tflite", "onnx"):
        (folder / f"net_fp32.{fmt}").write_bytes(b"not a real model")
        rows.append(ArtifactEntry(format=fmt, precision="fp32", status="ok", file=f"net_fp32.{fmt}", bytes=16))
    Manifest(model=ModelInfo("fast_style", "johnson", {}, (32, 32)), artifacts=tuple(rows), pix2mobile_version="0",
             created_at="2026-01-01T00:00:00+00:00", io=io.to_json((32, 32))).write(folder)
    return folder


def _tree(root: Path) -> dict[str, bytes | str]:
    out: dict[str, bytes | str] = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        out[rel] = f"-> {os.readlink(p)}" if p.is_symlink() else (p.read_bytes() if p.is_file() else "dir")
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_refusal(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x_fp32.tflite").write_bytes(b"someone else's file")
    exp = _export_folder(tmp_path / "exp")
    bad = _export_folder(tmp_path / "bad")
    if case.name in BREAK:
        data = json.loads((bad / "manifest.json").read_text())
        BREAK[case.name](data, bad)
        text = json.dumps(data) if case.name != "quantize-manifest-not-json" else "{not json"
        (bad / "manifest.json").write_text(text)
    before = _tree(tmp_path)
    argv = [a.format(exp=exp, bad=bad, tmp=tmp_path) for a in case.argv]

    code = cli.main(["-q", *argv])

    err = capsys.readouterr().err
    assert code == case.code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert case.fragment in lines[0], lines[0]
    assert _tree(tmp_path) == before, "a refused command changed or left files"
