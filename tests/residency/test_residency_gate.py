"""`bench --require-resident`: the gate on residency, alone or with --fail-below, and the report's column."""

from __future__ import annotations

import json

import pytest

from pix2mobile import cli
from pix2mobile.benchmark.report import Row, evaluate_gate
from pix2mobile.manifest import Residency

TINY_FLAGS = ["--runs", "1", "--warmup", "0", "--min-seconds", "0", "--samples", "1", "--threads", "1",
              "--peak-size", "64", "--no-memory", "--no-plots"]
SPLIT = Residency(delegate_segments=31, portable_calls={"aten::abs.out": 239}).to_json()
ONE = Residency(delegate_segments=1, portable_calls={}).to_json()
TRANSPOSED = Residency(ops={"TRANSPOSE": 30, "CONV_2D": 16}, layout_transposes=30).to_json()


def _row(fmt: str, residency=None, psnr=50.0, status="ok", precision="fp32") -> Row:
    return Row(model="m", format=fmt, precision=precision, status=status, psnr_db=psnr, residency=residency)


def test_gate_rules():
    rows = [_row("pytorch"), _row("pte", SPLIT), _row("tflite", TRANSPOSED, psnr=39.0), _row("onnx"),
            _row("ptl", status="skipped", residency=SPLIT)]
    assert evaluate_gate(rows, None) is None
    assert evaluate_gate(rows, 40.0)["summary"] == ("gate failed: 1 row(s) below 40 dB PSNR or failed: "
                                                    "tflite fp32 39.00 dB")
    alone = evaluate_gate(rows, None, require_resident=True)
    assert not alone["passed"] and alone["unchecked"] == ["onnx fp32"]
    assert alone["summary"] == ("gate failed: 2 row(s) not mobile-resident or failed: pte fp32: 31 delegate segments, "
                                "239 portable calls, tflite fp32: 30 layout TRANSPOSEs")
    both = evaluate_gate(rows, 40.0, require_resident=True)
    assert len(both["failures"]) == 3 and both["summary"].startswith(
        "gate failed: 2 row(s) below 40 dB PSNR or not mobile-resident or failed: pte fp32: 31 delegate segments")
    passing = evaluate_gate([_row("pte", ONE), _row("onnx")], None, require_resident=True)
    assert passing["passed"] and passing["summary"].startswith("gate passed: every artifact mobile-resident")
    assert "no residency record for onnx fp32" in passing["summary"]
    failed = evaluate_gate([_row("pte", ONE, status="verify_failed"), _row("tflite", status="export_failed")], None,
                           require_resident=True)
    assert [f["why"] for f in failed["failures"]] == ["verify_failed", "export_failed"]


@pytest.fixture
def bench(capsys):
    def run(export, out, *flags) -> tuple[int, list[str], dict, str]:
        capsys.readouterr()
        code = cli.main(["-q", "bench", str(export), "--out", str(out), *TINY_FLAGS, *flags])
        err = capsys.readouterr().err.strip().splitlines()
        return code, err, json.loads((out / "report.json").read_text()), (out / "report.md").read_text()
    return run


def test_require_resident_alone_fails_a_split_program(bench, portable_export, tmp_path):
    code, err, report, md = bench(portable_export.out, tmp_path / "b", "--require-resident")
    assert code == 1
    assert err == ["pix2mobile bench: gate failed: 1 row(s) not mobile-resident or failed: "
                   "pte fp32: 2 delegate segments, 1 portable call"]
    row = next(r for r in report["rows"] if r["format"] == "pte")
    assert row["status"] == "ok" and row["residency"] == portable_export.manifest.artifact("pte").residency.to_json()
    assert report["gate"]["fail_below_db"] is None and report["gate"]["require_resident"] is True
    assert "| residency |" in md and "2 delegate segments, 1 portable call ⚠" in md
    assert "CI gate (--require-resident): gate failed" in md


def test_require_resident_passes_a_clean_export(bench, clean_export, tmp_path):
    code, err, report, md = bench(clean_export.out, tmp_path / "b", "--require-resident", "--fail-below", "40")
    assert code == 0 and err == [], err
    assert report["gate"]["passed"] and report["gate"]["summary"].startswith(
        "gate passed: every artifact at or above 40 dB PSNR and mobile-resident")
    rows = {r["format"]: r for r in report["rows"]}
    assert Residency.from_json(rows["pte"]["residency"]).summary() == "1 delegate segment, 0 portable calls"
    assert rows["tflite"]["residency"]["layout_transposes"] == 0
    assert "CI gate (--fail-below 40 --require-resident): gate passed" in md


def test_style_export_gate_names_exactly_the_rows_with_problems(bench, style_export, tmp_path):
    """The real export: whatever its graphs are today, the gate fails exactly the rows whose record has problems."""
    code, err, report, _ = bench(style_export.out, tmp_path / "b", "--require-resident")
    expected = {f"{a.format} {a.precision}: {', '.join(a.residency.problems())}"
                for a in style_export.manifest.artifacts if a.residency is not None and a.residency.problems()}
    failures = report["gate"]["failures"]
    named = {f"{f['format']} {f['precision']}: {', '.join(f['problems'])}" for f in failures
             if f["why"] == "not_resident"}
    assert named == expected
    assert {(f["format"], f["precision"]) for f in failures if f["why"] != "not_resident"} == {
        ("tflite", "fp16"), ("mlpackage", "fp16")}          # failed their (unreachable) fp16 gate at export
    assert code == 1 and len(err) == 1 and all(part in err[0] for part in expected)


def test_help_documents_the_flag(capsys):
    with pytest.raises(SystemExit):
        cli.main(["bench", "--help"])
    out = capsys.readouterr().out
    assert "--require-resident" in out and "portable-kernel call" in out
