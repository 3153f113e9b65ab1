"""Round-robin timing, its statistics, the host peak, and the timing child on a real artifact."""

from __future__ import annotations

import numpy as np
import pytest

from pix2mobile.benchmark.hostpeak import measure_peak
from pix2mobile.benchmark.latency import TimedEntry, Timing, measure_latency, round_robin, sigma_clip


class FakeClock:
    """Each call to a timed function advances time by its cost; the clock reads it."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_round_robin_interleaves_and_rotates():
    clock, calls = FakeClock(), []

    def make(name, cost):
        def run():
            calls.append(name)
            clock.t += cost
        return run

    timings, errors = round_robin({"a": make("a", 0.001), "b": make("b", 0.002), "c": make("c", 0.003)},
                                  warmup=2, runs=4, clock=clock)
    assert errors == {}
    assert calls[:6] == ["a", "b", "c", "a", "b", "c"]                       # warm-up, round-robin
    assert calls[6:] == ["a", "b", "c", "b", "c", "a", "c", "a", "b", "a", "b", "c"]   # start rotates per round
    assert timings["b"].runs == 4 and timings["b"].warmup == 2
    assert timings["b"].stats()["latency_ms_median"] == pytest.approx(2.0)


def test_round_robin_min_seconds_and_failures():
    clock = FakeClock()

    def ok():
        clock.t += 0.125

    def broken():
        raise RuntimeError("kernel refused\nmore detail")

    timings, errors = round_robin({"ok": ok, "bad": broken}, warmup=0, runs=2, min_seconds=1.0, clock=clock)
    assert timings["ok"].runs == 8                    # 2 runs asked, but 1 s of 0.125 s runs
    assert "bad" not in timings and errors["bad"].startswith("failed while timing: RuntimeError: kernel refused")


def test_statistics_median_p90_min_and_clipped_mean():
    t = Timing(tuple([1.0] * 19 + [100.0]), warmup=1)
    s = t.stats()
    assert s["latency_ms_median"] == 1.0 and s["latency_ms_min"] == 1.0
    assert s["latency_ms_p90"] == pytest.approx(1.0)
    assert s["latency_ms_mean"] == pytest.approx(1.0) and s["latency_ms_std"] == pytest.approx(0.0)   # outlier clipped
    assert sigma_clip(np.array([1.0, 2.0])).size == 2


def test_host_peak_is_positive():
    peak = measure_peak(64, threads=1, repeats=2)
    assert peak["gflops"] > 0 and peak["n"] == 64 and "torch.mm" in peak["method"]


def test_timing_child_reports_a_broken_artifact_without_losing_the_others(fast_style_export, tmp_path):
    art = fast_style_export.manifest.artifact("onnx")
    feed = {"image": np.random.default_rng(0).uniform(0, 255, (1, 3, 32, 32)).astype(np.float32)}
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    entries = [TimedEntry("onnx fp32", "onnx", str(fast_style_export.export / art.file), feed, ["image"]),
               TimedEntry("junk", "onnx", str(junk), feed, ["image"])]
    result = measure_latency(entries, threads=1, warmup=1, runs=3, min_seconds=0.0, peak_size=None,
                             workdir=tmp_path)
    assert result.timings["onnx fp32"].runs == 3 and result.peak is None
    assert result.errors["junk"].startswith("could not load")
