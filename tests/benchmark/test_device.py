"""On-device parsers on the recorded-format samples, and device rows through a fake adb."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pix2mobile.benchmark.device import (device_rows, parse_benchmark_model, parse_executor_runner,
                                         parse_speed_benchmark_torch, unavailable_reason)

SAMPLES = Path(__import__("pix2mobile.benchmark.device", fromlist=["x"]).__file__).parent / "samples"


def _sample(name: str) -> str:
    text = (SAMPLES / name).read_text()
    assert text.startswith("# pix2mobile RECORDED-FORMAT SAMPLE for parser tests")
    return text


def test_benchmark_model_sample():
    run = parse_benchmark_model(_sample("tflite_benchmark_model.txt"))
    assert run.ok and run.runs == 20
    assert run.latency_ms_mean == pytest.approx(1.16835) and run.latency_ms_std == pytest.approx(0.058)
    assert run.latency_ms_min == pytest.approx(1.131) and run.latency_ms_max == pytest.approx(1.402)
    assert run.latency_ms_median is None and run.latency_ms_p90 is None        # not printed: null, not 0
    assert run.init_ms == pytest.approx(9.871) and run.first_ms == pytest.approx(2.410)
    assert run.peak_mem_mb == pytest.approx(9.17188)


def test_benchmark_model_failure_sample():
    run = parse_benchmark_model(_sample("tflite_benchmark_model_failed.txt"))
    assert not run.ok and "BROADCAST_TO" in run.error and run.latency_ms_mean is None


def test_executor_runner_samples():
    run = parse_executor_runner(_sample("executor_runner.txt"))
    assert run.ok and run.runs == 20 and run.latency_ms_mean == pytest.approx(38.412 / 20)
    assert run.latency_ms_median is None and run.peak_mem_mb is None
    failed = parse_executor_runner(_sample("executor_runner_failed.txt"))
    assert not failed.ok and "Loading of method forward failed" in failed.error


def test_speed_benchmark_torch_sample():
    run = parse_speed_benchmark_torch(_sample("speed_benchmark_torch.txt"))
    assert run.ok and run.runs == 10
    assert run.latency_ms_median == pytest.approx(2.8645) and run.latency_ms_min == pytest.approx(2.845)
    assert run.latency_ms_mean == pytest.approx(2.9297) and run.latency_ms_max == pytest.approx(3.377)
    summary_only = parse_speed_benchmark_torch("Main run finished. Microseconds per iter: 1500. Iters per second: 666")
    assert summary_only.latency_ms_mean == 1.5 and summary_only.latency_ms_median is None
    assert not parse_speed_benchmark_torch("terminate called after throwing an instance of 'c10::Error'").ok


def _fake_adb(tmp_path: Path, serial: str = "FAKE01") -> Path:
    adb = tmp_path / "adb"
    adb.write_text(f"""#!/usr/bin/env bash
echo "$*" >> "{tmp_path}/adb.log"
if [ "$1" = devices ]; then printf 'List of devices attached\\n{serial}\\tdevice\\nOTHER\\toffline\\n\\n'; exit 0; fi
shift 2
case "$1" in
  push) echo "1 file pushed"; exit 0;;
  shell) shift; case "$*" in
      mkdir*|test*) exit 0;;
      *benchmark_model*) cat "{SAMPLES}/tflite_benchmark_model.txt";;
      *executor_runner*) cat "{SAMPLES}/executor_runner_failed.txt"; exit 134;;
      *speed_benchmark_torch*) cat "{SAMPLES}/speed_benchmark_torch.txt";;
    esac;;
esac
""")
    adb.chmod(adb.stat().st_mode | stat.S_IXUSR)
    return adb


def test_device_rows_through_a_fake_adb(tmp_path, fast_style_export, morph_export):
    adb = _fake_adb(tmp_path)
    rows, why = device_rows(fast_style_export.manifest, fast_style_export.export, "FAKE01", str(adb),
                            "/data/local/tmp/p2m", 4, 20, 5, "fast_style/lite")
    assert why is None
    by = {r.format: r for r in rows}
    assert all(r.device == "android:FAKE01" for r in rows)
    assert by["onnx"].status == "skipped" and "no on-device runner for onnx" in by["onnx"].reason
    tfl = by["tflite"]
    assert tfl.status == "ok" and tfl.latency_ms_mean == pytest.approx(1.16835) and tfl.peak_mem_mb > 0
    assert tfl.latency_ms_median is None and "does not report median" in tfl.latency_note and tfl.threads == 4
    ptl = by["ptl"]
    assert ptl.status == "ok" and ptl.latency_ms_median == pytest.approx(2.8645) and ptl.runs == 10
    log = (tmp_path / "adb.log").read_text()
    assert "--input_dims='1,3,32,32'" in log and "--num_threads=4" in log and "push" in log

    rows, _ = device_rows(morph_export.manifest, morph_export.export, "FAKE01", str(adb), "/d", 1, 3, 1, "morph/mlp")
    pte = next(r for r in rows if r.format == "pte")
    assert pte.status == "verify_failed" and pte.reason.startswith("on device: executor_runner failed")


def test_no_adb_or_no_device_is_said_plainly(tmp_path):
    adb, why = unavailable_reason("R58M", str(tmp_path / "missing-adb"))
    assert adb is None and why.startswith("no device rows: adb was not found")
    adb, why = unavailable_reason("R58M", str(_fake_adb(tmp_path)))
    assert adb is None and why == "no device rows: device R58M is not attached (adb devices lists: FAKE01)"
