"""benchmark/mobile_graphs.py end to end on a tiny configuration: before and after rows of the same model,
their residency read from the files, speed as a ratio to eager from the same rounds, the README table
(the speed targets themselves are for the full-size run, not for a test)."""

from __future__ import annotations

import json

import pytest

from pix2mobile.benchmark import mobile_graphs


@pytest.fixture(autouse=True)
def _passive(monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")     # else main() re-executes itself


@pytest.mark.slow
def test_before_and_after_rows_and_the_table(tmp_path, capsys):
    out, table = tmp_path / "m.json", tmp_path / "table.md"
    rc = mobile_graphs.main(["--models", "lite", "--size", "32", "--train-size", "32", "--steps", "10",
                             "--samples", "1", "--calibration-count", "4", "--runs", "3", "--warmup", "1",
                             "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "out"),
                             "--json", str(out), "--markdown", str(table)])
    report = json.loads(out.read_text())
    rows = {(r["format"], r["precision"], r["phase"]): r for r in report["rows"]}
    eager = rows["pytorch", "fp32", "eager"]
    for fmt in ("tflite", "pte"):
        for precision in ("fp32", "int8"):
            before, after = rows[fmt, precision, "before"], rows[fmt, precision, "after"]
            assert before["ms"] > 0 and after["ms"] > 0
            assert after["speedup"] == pytest.approx(eager["ms"] / after["ms"])
    assert rows["pte", "fp32", "before"]["residency"]["delegate_segments"] > 1
    for precision in ("fp32", "int8"):
        record = rows["pte", precision, "after"]["residency"]
        assert record["delegate_segments"] == 1 and record["portable_calls"] == {}
        assert rows["tflite", precision, "after"]["residency"]["layout_transposes"] == 0
    assert rows["tflite", "fp32", "before"]["residency"]["layout_transposes"] > 0
    assert ("onnx", "fp32", "after") in rows and ("ptl", "int8", "after") in rows
    assert rc == (1 if report["misses"] else 0)
    assert any("lite" in m and "1.5x" in m for m in report["misses"]) == (
        min(rows[f, "fp32", "after"]["speedup"] for f in ("tflite", "pte")) < 1.5)
    text = table.read_text()
    assert "| model | format | precision | before ms (x eager) |" in text and report["machine"] in text
    assert "| fast_style/lite | pte | fp32 |" in text and "1 delegate segment, 0 portable calls" in text
    assert "residency" in capsys.readouterr().out


def test_unknown_model_exits_2(capsys):
    assert mobile_graphs.main(["--models", "pix2pix"]) == 2
    assert "unknown model(s) pix2pix" in capsys.readouterr().err
