"""The CI gate, report.md rendering and JSON cleanliness on synthetic rows."""

from __future__ import annotations

import json

from pix2mobile.benchmark.report import Report, Row, evaluate_gate, markdown, write_report


def _row(fmt, status="ok", psnr=None, device="host", **kw):
    return Row(model="m/a", format=fmt, precision="fp32", status=status, device=device, psnr_db=psnr, **kw)


ROWS = [_row("pytorch", latency_ms_median=2.0, speedup_vs_eager=1.0), _row("onnx", psnr=60.0),
        _row("tflite", psnr=38.5), _row("ptl", "export_failed", reason="converter crashed"),
        _row("pte", "skipped", reason="runtime not installed here: executorch"),
        _row("tflite", "skipped", device="android:X", reason="no device rows: adb was not found")]


def test_gate_counts_low_psnr_and_failed_rows_but_not_skipped_or_eager():
    gate = evaluate_gate(ROWS, 40.0)
    assert not gate["passed"]
    assert [(f["format"], f["why"]) for f in gate["failures"]] == [("tflite", "below"), ("ptl", "export_failed")]
    assert gate["summary"] == ("gate failed: 2 row(s) below 40 dB PSNR or failed: "
                               "tflite fp32 38.50 dB, ptl fp32 export_failed")
    assert evaluate_gate(ROWS[:2], 40.0)["passed"]
    assert evaluate_gate(ROWS, None) is None


def _report(rows):
    return Report(rows=rows, model={"family": "m", "arch": "a", "size": [32, 32]}, host={"cpu": "x", "cores": 2},
                  settings={"threads": 2, "warmup": 1, "runs": 3}, export_dir="e", created_at="now",
                  pix2mobile_version="0", gate=evaluate_gate(rows, 40.0))


def test_markdown_nulls_are_dashes_and_reasons_are_listed_once(tmp_path):
    md = markdown(_report(ROWS))
    assert "| m/a | pytorch | fp32 | ok | — | — | — | 2.000 | — | 1.00× |" in md
    assert "| m/a | tflite (android:X) | fp32 | skipped |" in md
    assert md.count("runtime not installed here: executorch") == 1
    assert "CI gate (--fail-below 40): gate failed" in md


def test_non_finite_numbers_become_null(tmp_path):
    rows = [_row("onnx", psnr=float("inf"), max_abs_err=float("nan"))]
    js, md = write_report(_report(rows), tmp_path)
    data = json.loads(js.read_text())
    assert data["rows"][0]["psnr_db"] is None and data["rows"][0]["max_abs_err"] is None
    assert md.read_text().startswith("# pix2mobile bench: m/a at 32x32")
