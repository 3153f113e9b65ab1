"""`pix2mobile demo` end to end at tiny sizes: every stage writes what the README promises."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from pix2mobile import cli


@pytest.mark.slow
def test_demo_runs_every_stage(tmp_path, capsys) -> None:
    out = tmp_path / "demo"
    code = cli.main(["-q", "demo", "--out", str(out), "--nst-size", "48", "--nst-steps", "3",
                     "--style-size", "32", "--style-steps", "4", "--morph-size", "16", "--morph-steps", "20",
                     "--morph-frames", "3", "--export-size", "32", "--morph-export-size", "16",
                     "--formats", "onnx,ptl", "--style-precisions", "int8,palette6", "--bench-runs", "2"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    summary = json.loads((out / "demo.json").read_text())
    assert set(summary["stages"]) == {"nst", "style", "morph", "export", "bench"}
    assert Image.open(out / "nst" / "nst.png").size[0] == 48
    assert (out / "style" / "model.safetensors").is_file() and (out / "morph" / "model.safetensors").is_file()
    assert Image.open(out / summary["stages"]["morph"]["gif"]).n_frames >= 3
    for name, rows in (("style", ["onnx fp32", "ptl fp32", "ptl int8"]), ("morph", ["onnx fp32", "ptl fp32"])):
        manifest = json.loads((out / f"export_{name}" / "manifest.json").read_text())
        assert sorted(f"{a['format']} {a['precision']}" for a in manifest["artifacts"]) == rows
        assert {a["status"] for a in manifest["artifacts"]} == {"ok"}
        report = json.loads((out / f"bench_{name}" / "report.json").read_text())
        assert report["rows"]
        assert (out / f"bench_{name}" / "report.md").read_text().count("| ok |") >= 2
    assert "fast_style/lite at 32x32" in printed and "morph/mlp at 16x16" in printed
    assert f"pix2mobile serve {out / 'export_style'} {out / 'export_morph'}" in printed


def test_demo_refuses_unknown_precision_before_any_work(tmp_path, capsys) -> None:
    code = cli.main(["demo", "--out", str(tmp_path / "d"), "--style-precisions", "int4"])
    assert code == 2 and "int4" in capsys.readouterr().err
    assert not (tmp_path / "d" / "nst").exists()
