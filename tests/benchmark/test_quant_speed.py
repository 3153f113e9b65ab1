"""benchmark/quant_speed.py end to end on a tiny configuration: its rows hold what it claims to
measure (the speed targets themselves are for the full-size run, not for a test)."""

from __future__ import annotations

import json

import pytest

from pix2mobile.benchmark import quant_speed


@pytest.fixture(autouse=True)
def _passive(monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")     # else main() re-executes itself


def test_rows_measure_both_files_and_exit_code_follows_the_targets(tmp_path, capsys):
    out = tmp_path / "q.json"
    rc = quant_speed.main(["--models", "lite", "--formats", "tflite", "--size", "32", "--steps", "20",
                           "--calibration-count", "4", "--runs", "3", "--warmup", "1", "--min-size-ratio", "0",
                           "--min-speedup", "0", "--cache", str(tmp_path / "cache"), "--json", str(out)])
    report = json.loads(out.read_text())
    (row,) = report["results"]
    assert row["model"] == "lite" and row["format"] == "tflite"
    assert row["fp32_bytes"] > row["int8_bytes"] > 0
    assert row["size_ratio"] == pytest.approx(row["fp32_bytes"] / row["int8_bytes"])
    # int8 weights are a quarter of fp32's; per-channel scales and the fp32 norm parameters stay
    assert 3.0 < row["constant_ratio"] < 4.05
    assert row["constant_ratio"] > row["size_ratio"]      # the graph does not shrink
    assert row["fp32_ms"] > 0 and row["int8_ms"] > 0
    assert row["speedup"] == pytest.approx(row["fp32_ms"] / row["int8_ms"])
    assert row["int8_psnr_db"] is not None
    assert rc == (1 if report["misses"] else 0)
    assert (row["int8_status"] == "ok") == (not any("gate" in m for m in report["misses"]))
    printed = capsys.readouterr().out
    assert "lite      tflite" in printed and "file x" in printed
    assert (tmp_path / "cache" / "fast_style_lite__32_20.pt").is_file()       # trained once, reused


def test_unknown_model_exits_2(capsys):
    assert quant_speed.main(["--models", "pix2pix"]) == 2
    assert "unknown model or format: pix2pix" in capsys.readouterr().err
