"""On-device benchmark tools as runtime facts: what each tool is (`DeviceTool`) and how to read its output.

A format row (`convert.formats.FORMATS[...].device`) names its tool; `benchmark.device.adb`
pushes the artifact, runs the tool's script and hands the console output to `tool.parse`.
Nothing here runs adb.

Each parser returns a `DeviceRun`; a figure the tool does not print stays None. Lines starting with
`#` are ignored (the recorded-format samples in `samples/` carry such a header). Times come
out in milliseconds.

- TFLite `benchmark_model`: the last `count=... min= max= avg= std=` statistics line before
  "Inference timings in us" is the timed runs (the one before it, the warm-up); init, first
  inference and averages from "Inference timings in us"; peak memory from "Overall peak memory
  footprint (MB)". No median or p90 is printed (unless a build adds `median=`).
- ExecuTorch `executor_runner`: "Model executed successfully N time(s) in T ms." gives the
  mean only (T / N); older runners print no time at all.
- PyTorch `speed_benchmark_torch`: with `--report_pep=true` one `PyTorchObserver` latency line
  per timed run, so median, p90, min, mean and std; else "Microseconds per iter" (mean only).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class DeviceRun:
    tool: str
    latency_ms_mean: float | None = None
    latency_ms_std: float | None = None
    latency_ms_median: float | None = None
    latency_ms_p90: float | None = None
    latency_ms_min: float | None = None
    latency_ms_max: float | None = None
    runs: int | None = None
    init_ms: float | None = None
    first_ms: float | None = None
    peak_mem_mb: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.latency_ms_mean is not None


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines() if not line.lstrip().startswith("#")]


_NUM = r"([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
_TIMINGS = re.compile(rf"Inference timings in us: Init: {_NUM}, First inference: {_NUM}, "
                      rf"Warmup \(avg\): {_NUM}, Inference \(avg\): {_NUM}")
_STATS = re.compile(r"count=(\d+)(.*)")
_PEAK = re.compile(rf"Overall peak memory footprint \(MB\) via periodic monitoring: {_NUM}")


def parse_benchmark_model(text: str) -> DeviceRun:
    tool = "tflite benchmark_model"
    lines = _lines(text)
    body = "\n".join(lines)
    timings = _TIMINGS.search(body)
    if timings is None:
        errors = [line.split("ERROR:", 1)[1].strip() for line in lines if "ERROR:" in line]
        first = next((e for e in errors if e), None)
        return DeviceRun(tool, error=f"benchmark_model failed: {first}" if first else
                         "benchmark_model printed no 'Inference timings' line")
    init_us, first_us, _, avg_us = (float(g) for g in timings.groups())
    stats: dict[str, float] = {}
    runs = None
    before = body[:timings.start()]
    matches = list(_STATS.finditer(before))
    if matches:
        last = matches[-1]
        runs = int(last.group(1))
        stats = {k: float(v) for k, v in re.findall(rf"(\w+)={_NUM}", last.group(2))}
    peak = _PEAK.search(body)
    ms = lambda key: stats[key] / 1000.0 if key in stats else None   # noqa: E731
    return DeviceRun(tool, latency_ms_mean=avg_us / 1000.0, latency_ms_std=ms("std"), latency_ms_median=ms("median"),
                     latency_ms_p90=ms("p90"), latency_ms_min=ms("min"), latency_ms_max=ms("max"), runs=runs,
                     init_ms=init_us / 1000.0, first_ms=first_us / 1000.0,
                     peak_mem_mb=float(peak.group(1)) if peak else None)


_EXECUTED = re.compile(rf"Model executed successfully (\d+) time\(s\) in {_NUM} ms")


def parse_executor_runner(text: str) -> DeviceRun:
    tool = "executorch executor_runner"
    lines = _lines(text)
    body = "\n".join(lines)
    done = _EXECUTED.search(body)
    if done:
        n, total = int(done.group(1)), float(done.group(2))
        return DeviceRun(tool, latency_ms_mean=total / n if n else None, runs=n)
    problems = [re.sub(r"^[EF] [\d:.]+ \S+\] ", "", line) for line in lines if re.match(r"^[EF] \d", line)]
    if problems:
        return DeviceRun(tool, error=f"executor_runner failed: {problems[-1].strip()}")
    if "Model executed successfully" in body:
        return DeviceRun(tool, runs=1, error="this executor_runner prints no execution time; "
                                             "use one with --num_executions (ExecuTorch >= 0.4)")
    return DeviceRun(tool, error="executor_runner printed no 'Model executed successfully' line")


_PER_ITER = re.compile(rf"Microseconds per iter: {_NUM}")


def parse_speed_benchmark_torch(text: str) -> DeviceRun:
    tool = "pytorch speed_benchmark_torch"
    lines = _lines(text)
    per_run = []
    for line in lines:
        if line.startswith("PyTorchObserver "):
            try:
                rec = json.loads(line[len("PyTorchObserver "):])
            except json.JSONDecodeError:
                continue
            if rec.get("metric") == "latency" and rec.get("unit") == "us":
                per_run.append(float(rec["value"]) / 1000.0)
    body = "\n".join(lines)
    summary = _PER_ITER.search(body)
    if per_run:
        t = np.asarray(per_run)
        return DeviceRun(tool, latency_ms_mean=float(t.mean()), latency_ms_std=float(t.std()),
                         latency_ms_median=float(np.median(t)), latency_ms_p90=float(np.percentile(t, 90)),
                         latency_ms_min=float(t.min()), latency_ms_max=float(t.max()), runs=len(per_run))
    if summary:
        return DeviceRun(tool, latency_ms_mean=float(summary.group(1)) / 1000.0)
    err = next((line.strip() for line in lines if "what():" in line or "Error" in line or "terminate" in line), None)
    return DeviceRun(tool, error=f"speed_benchmark_torch failed: {err}" if err else
                     "speed_benchmark_torch printed no 'Microseconds per iter' line")


@dataclass(frozen=True)
class DeviceTool:
    """One format's benchmark tool on an Android device.

    script: the file name under `benchmark/device/scripts/` that pushes and runs it.
    input_shapes: the tool needs the input shapes and types on its command line (the lite
      interpreter's `speed_benchmark_torch` cannot read them from the file).
    sets_threads: the tool takes the thread count (`speed_benchmark_torch` does not: its row's
      threads stay null).
    """

    label: str
    binary: str
    script: str
    parse: Callable[[str], DeviceRun]
    input_shapes: bool = False
    sets_threads: bool = True


NOT_ON_ANDROID = "Core ML runs on iOS/macOS; adb drives Android devices only"
