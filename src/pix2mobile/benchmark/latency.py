"""Host latency: every artifact through its own runtime, interleaved round-robin in one child process.

Why a child: `OMP_WAIT_POLICY` is read once, when the OpenMP runtime loads with torch. The
parent (the CLI, pytest) has usually imported torch already, so the timing process is started
fresh with `OMP_WAIT_POLICY=PASSIVE` and `OMP_NUM_THREADS=N`: idle OpenMP workers sleep instead
of spinning, and one runtime's workers do not slow the next (onnxruntime's own pool has spinning
turned off, see `runtimes/timing.py`). The same process measures the host's peak GFLOP/s first.

The protocol: every artifact is loaded, then warmed up (`warmup` runs each, round-robin); then
rounds run each artifact once, the starting artifact rotating per round, until every artifact
has `runs` timings and `min_seconds` have passed. Machine drift therefore hits all artifacts
alike. Each run is timed alone (perf_counter around one call). Reported: median, p90 and min of
all timed runs, and mean and std after 3-sigma clipping (twice), as Ultralytics' profiler trims.

If the child dies (a runtime crashing on an artifact), each artifact is retried in a child of
its own so the others still get numbers; the crash becomes that artifact's reason.

    python -m pix2mobile.benchmark.latency JOB.json RESULT.json     (what the parent runs)
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from pix2mobile.runtimes.timing import (EAGER, EAGER_RUNTIME, RunOnce, Runtime, import_runtime, open_eager,
                                        resolve_opener)

log = logging.getLogger(__name__)
CHILD_TIMEOUT_S = 3600
MAX_ROUNDS_FACTOR = 100     # min_seconds never makes a round count beyond runs x this


@dataclass(frozen=True)
class Timing:
    """One artifact's timed runs in milliseconds."""

    times_ms: tuple[float, ...]
    warmup: int

    @property
    def runs(self) -> int:
        return len(self.times_ms)

    def stats(self) -> dict[str, float]:
        t = np.asarray(self.times_ms, dtype=np.float64)
        kept = sigma_clip(t)
        return {"latency_ms_median": float(np.median(t)), "latency_ms_p90": float(np.percentile(t, 90)),
                "latency_ms_min": float(t.min()), "latency_ms_mean": float(kept.mean()),
                "latency_ms_std": float(kept.std())}

    def to_json(self) -> dict[str, Any]:
        return {"times_ms": list(self.times_ms), "warmup": self.warmup}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Timing:
        return cls(tuple(float(x) for x in d["times_ms"]), int(d["warmup"]))


def _one_line(exc: BaseException) -> str:
    text = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def sigma_clip(x: np.ndarray, sigma: float = 3.0, iterations: int = 2) -> np.ndarray:
    for _ in range(iterations):
        if x.size < 3:
            break
        keep = np.abs(x - x.mean()) <= sigma * x.std()
        if keep.all():
            break
        x = x[keep]
    return x


def round_robin(calls: Mapping[str, RunOnce], warmup: int, runs: int, min_seconds: float = 0.0,
                clock: Callable[[], float] = time.perf_counter) -> tuple[dict[str, Timing], dict[str, str]]:
    """Warm up, then time `calls` in rotating rounds. Returns (timings, errors by key)."""
    live = dict(calls)
    errors: dict[str, str] = {}
    times: dict[str, list[float]] = {k: [] for k in live}

    def once(key: str, record: bool) -> None:
        try:
            t0 = clock()
            live[key]()
            dt = clock() - t0
        except Exception as exc:   # a runtime failing mid-run loses its row, not the others'
            errors[key] = f"failed while timing: {_one_line(exc)}"
            del live[key]
            return
        if record:
            times[key].append(dt * 1000.0)

    for _ in range(warmup):
        for key in list(live):
            once(key, record=False)
    start, rounds = clock(), 0
    while live and (rounds < runs or clock() - start < min_seconds) and rounds < runs * MAX_ROUNDS_FACTOR:
        keys = list(live)
        shift = rounds % len(keys)
        for key in keys[shift:] + keys[:shift]:
            if key in live:
                once(key, record=True)
        rounds += 1
    return ({k: Timing(tuple(v), warmup) for k, v in times.items() if k not in errors and v}, errors)


@dataclass
class TimedEntry:
    """One thing to time: an artifact (format + path) or the eager baseline (format "pytorch")."""

    key: str
    format: str
    path: str | None
    feed: dict[str, np.ndarray]
    order: list[str]
    eager: dict[str, Any] | None = None
    timing: Runtime | None = None
    """The format's host runtime; None: its row's in `convert.formats.FORMATS` (or eager's)."""

    def runtime(self) -> Runtime:
        if self.timing is not None:
            return self.timing
        if self.format == EAGER:
            return EAGER_RUNTIME
        from pix2mobile.convert.formats import FORMATS     # the parent only: a child never imports the table

        row = FORMATS.get(self.format)
        if row is None or not isinstance(row.timing, Runtime):
            raise ValueError(f"no host runtime times format {self.format!r}")
        return row.timing


@dataclass
class LatencyResult:
    timings: dict[str, Timing] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    peak: dict[str, Any] | None = None


def child_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(OMP_WAIT_POLICY="PASSIVE", OMP_NUM_THREADS=str(threads), PYTHONUNBUFFERED="1",
               LITERT_TORCH_SHOW_PROGRESS="n")
    return env


def write_job(entries: Sequence[TimedEntry], workdir: Path, settings: Mapping[str, Any], name: str) -> Path:
    items = []
    for i, e in enumerate(entries):
        feeds = workdir / f"{name}_{i}.npz"
        # Any: mypy would match a dict of arrays unpacked by ** against savez's `allow_pickle: bool`
        arrays: dict[str, Any] = {f"in{j}": e.feed[n] for j, n in enumerate(e.order)}
        np.savez(feeds, **arrays)
        runtime = e.runtime()
        items.append({"key": e.key, "format": e.format, "path": e.path, "feeds": str(feeds),
                      "order": list(e.order), "eager": e.eager, "modules": list(runtime.modules),
                      "opener": None if e.format == EAGER else runtime.opener_ref()})
    job = workdir / f"{name}.json"
    job.write_text(json.dumps({**settings, "entries": items}))
    return job


def read_feed(item: Mapping[str, Any]) -> dict[str, np.ndarray]:
    with np.load(item["feeds"]) as data:
        return {n: np.array(data[f"in{j}"]) for j, n in enumerate(item["order"])}


def measure_latency(entries: Sequence[TimedEntry], threads: int, warmup: int, runs: int, min_seconds: float,
                    peak_size: int | None, workdir: Path) -> LatencyResult:
    """Time `entries` round-robin in one child process (see the module docstring)."""
    settings = {"threads": threads, "warmup": warmup, "runs": runs, "min_seconds": min_seconds,
                "peak_size": peak_size}
    if not entries:
        return LatencyResult()
    result, failure = _run_child(workdir, write_job(entries, workdir, settings, "latency_all"), "latency_all", threads)
    if result is not None:
        return result
    log.warning("the timing process failed (%s); timing each artifact in a process of its own", failure)
    merged = LatencyResult()
    for i, entry in enumerate(entries):
        solo = {**settings, "peak_size": peak_size if merged.peak is None else None}
        res, why = _run_child(workdir, write_job([entry], workdir, solo, f"latency_{i}"), f"latency_{i}", threads)
        if res is None:
            merged.errors[entry.key] = f"runtime crashed: {why}"
            continue
        merged.timings.update(res.timings)
        merged.errors.update(res.errors)
        merged.peak = merged.peak or res.peak
    return merged


def _run_child(workdir: Path, job: Path, name: str, threads: int) -> tuple[LatencyResult | None, str]:
    out = workdir / f"{name}.result.json"
    cmd = [sys.executable, "-m", "pix2mobile.benchmark.latency", str(job), str(out)]
    try:
        proc = subprocess.run(cmd, env=child_env(threads), capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return None, f"no result within {CHILD_TIMEOUT_S} s"
    if proc.returncode != 0 or not out.is_file():
        tail = " | ".join(line for line in proc.stderr.strip().splitlines()[-3:])
        return None, f"exit code {proc.returncode}: {tail[-300:]}"
    log.debug("timing child stderr:\n%s", proc.stderr)
    data = json.loads(out.read_text())
    return LatencyResult(timings={k: Timing.from_json(v) for k, v in data["timings"].items()},
                         errors=dict(data["errors"]), peak=data.get("peak")), ""


def eager_module(item: Mapping[str, Any]) -> Any:
    """The module an eager entry times, rebuilt from its recipe; None for an artifact. Imported
    lazily: a child timing only an ONNX file must not pay for torch."""
    if item.get("format") != EAGER:
        return None
    from pix2mobile.benchmark.eager import EagerRecipe

    return EagerRecipe.from_json(item.get("eager") or {}).build().module


def open_item(item: Mapping[str, Any], feed: Mapping[str, np.ndarray], threads: int) -> RunOnce:
    """Open one job entry with the opener it names (eager: the module rebuilt from its recipe)."""
    if item["format"] == EAGER:
        return open_eager(eager_module(item), feed, item["order"], threads)
    return resolve_opener(item["opener"])(item["path"], feed, item["order"], threads)


def _child(job_path: str, out_path: str) -> int:
    job = json.loads(Path(job_path).read_text())
    threads = int(job["threads"])
    calls: dict[str, RunOnce] = {}
    errors: dict[str, str] = {}
    for item in job["entries"]:
        try:
            import_runtime(item["modules"])
            calls[item["key"]] = open_item(item, read_feed(item), threads)
        except Exception as exc:   # a runtime refusing an artifact loses its row only
            errors[item["key"]] = f"could not load: {_one_line(exc)}"
    peak = None
    if job.get("peak_size"):
        from pix2mobile.benchmark.hostpeak import measure_peak

        peak = measure_peak(int(job["peak_size"]), threads)
    timings, run_errors = round_robin(calls, int(job["warmup"]), int(job["runs"]), float(job["min_seconds"]))
    errors.update(run_errors)
    result = {"timings": {k: t.to_json() for k, t in timings.items()}, "errors": errors, "peak": peak,
              "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}
    Path(out_path).write_text(json.dumps(result, allow_nan=False))
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1], sys.argv[2]))
