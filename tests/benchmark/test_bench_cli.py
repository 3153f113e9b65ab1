"""`pix2mobile bench` through cli.main: exit 0/1/2, the --fail-below gate, no checkpoint."""

from __future__ import annotations

import json

import pytest

from pix2mobile import cli
from pix2mobile.commands import bench


@pytest.fixture
def main():
    assert cli.COMMANDS["bench"].run is bench.run
    return lambda *argv: cli.main(["-q", "bench", *map(str, argv)])


TINY_FLAGS = ["--runs", "2", "--warmup", "1", "--min-seconds", "0", "--samples", "1", "--threads", "1",
              "--peak-size", "64", "--nst-steps", "1", "--no-memory", "--no-plots"]


def test_fail_below_gates_ci_and_without_checkpoint_uses_export_parity(main, fast_style_export, tmp_path, capsys):
    out = tmp_path / "bench"
    code = main(fast_style_export.export, "--out", out, "--style", "builtin", "--fail-below", "200", *TINY_FLAGS)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and err[0].startswith("pix2mobile bench: gate failed: 3 row(s) below 200 dB")
    data = json.loads((out / "report.json").read_text())        # the report is written either way
    assert data["gate"]["passed"] is False and len(data["gate"]["failures"]) == 3
    eager, *artifacts = data["rows"]
    assert eager["status"] == "skipped" and "--checkpoint" in eager["reason"] and eager["latency_ms_median"] is None
    for row in artifacts:
        assert row["parity_source"] == "export" and row["psnr_db"] is not None
        assert row["latency_ms_median"] > 0 and row["speedup_vs_eager"] is None
    assert data["references"]["nst"]["status"] == "ok"           # --style given, eager absent
    assert data["plots"] == {}


def test_bad_input_exits_2(main, tmp_path, fast_style_bench, capsys):
    assert main(tmp_path / "nowhere", "--out", tmp_path / "o") == 2
    assert "no such manifest" in capsys.readouterr().err
    export = fast_style_bench.report.export_dir
    assert main(export, "--out", fast_style_bench.out) == 2            # report exists, no --force
    assert "--force" in capsys.readouterr().err
    assert main(export, "--out", tmp_path / "o", "--runs", "0") == 2
    assert "--runs must be at least 1" in capsys.readouterr().err


@pytest.mark.slow
def test_foreign_pth_export_then_bench_the_readme_path(tmp_path, capsys):
    """README: `export u.pth --family fast_style --arch johnson --formats onnx --size 64 64 --out exp`, then
    `bench exp --out rep`. It ended in KeyError: 'artifacts' (a skipped NST reference was plotted) and had no
    eager row (eager.py took run directories only). Now eager is rebuilt from the .pth the manifest names."""
    import torch

    from pix2mobile.manifest import Manifest
    from pix2mobile.models import get_variant

    torch.manual_seed(0)
    pth = tmp_path / "u.pth"
    torch.save(get_variant("fast_style", "johnson").create().state_dict(), pth)
    exp, rep = tmp_path / "exp", tmp_path / "rep"
    assert cli.main(["-q", "export", str(pth), "--family", "fast_style", "--arch", "johnson", "--formats", "onnx",
                     "--size", "64", "64", "--out", str(exp)]) == 0
    assert Manifest.read(exp).model.checkpoint == str(pth.resolve())
    capsys.readouterr()
    assert cli.main(["-q", "bench", str(exp), "--out", str(rep), "--runs", "2", "--warmup", "0", "--min-seconds",
                     "0", "--peak-size", "64", "--no-memory", "--threads", "1"]) == 0
    assert "Traceback" not in capsys.readouterr().err
    data = json.loads((rep / "report.json").read_text())
    eager, onnx = data["rows"]
    assert eager["format"] == "pytorch" and eager["status"] == "ok" and eager["latency_ms_median"] > 0
    assert onnx["status"] == "ok" and onnx["parity_source"] == "bench" and onnx["psnr_db"] >= 45
    assert onnx["speedup_vs_eager"] is not None
    assert data["references"]["nst"]["status"] == "skipped"        # a .pth records no training style
    assert (rep / "psnr_per_precision.png").is_file() and "nst_vs_fast_style" not in data["plots"]
