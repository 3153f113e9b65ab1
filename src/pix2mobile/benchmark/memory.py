"""Peak memory per runtime: a child process loads one artifact and runs it once; its peak RSS is the answer.

Each artifact gets a fresh child that imports only its own runtime (`runtimes/timing.py` imports
nothing at module level), so the figure is what an app process holding that runtime needs:

- `peak_mem_mb`: the child's peak resident set size, runtime library and Python included.
- `peak_mem_delta_mb`: how far that peak rose above the resident size after importing the
  runtime and reading the inputs, i.e. what loading the model and running it once added.

Which counter: on Linux, `getrusage(RUSAGE_SELF).ru_maxrss` survives `execve` and so starts at
the *parent's* resident size when the child was forked (a parent holding torch makes every
child look 500 MB big). The peak therefore comes from `VmHWM` in /proc/self/status, the same
high-water mark but of the child's own address space, which exec resets. Where /proc does not
exist (macOS), `ru_maxrss` is used and the report says so.

    python -m pix2mobile.benchmark.memory JOB.json RESULT.json     (what the parent runs)
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from pix2mobile.benchmark.latency import TimedEntry, _one_line, child_env, open_item, read_feed, write_job

log = logging.getLogger(__name__)
CHILD_TIMEOUT_S = 1800


@dataclass(frozen=True)
class PeakMemory:
    peak_mem_mb: float | None
    peak_mem_delta_mb: float | None
    reason: str | None = None
    counter: str | None = None


def _status_mb(field: str) -> float | None:
    """The `field` line of /proc/self/status (`VmHWM:  1234 kB`) in MiB; None without /proc or that line."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def _peak_mb() -> tuple[float, str]:
    hwm = _status_mb("VmHWM")
    if hwm is not None:
        return hwm, "VmHWM"
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (rss / (1024.0 * 1024.0) if sys.platform == "darwin" else rss / 1024.0), "ru_maxrss"


def _now_mb() -> float:
    now = _status_mb("VmRSS")
    return now if now is not None else _peak_mb()[0]


def measure_memory(entry: TimedEntry, threads: int, workdir: Path, index: int) -> PeakMemory:
    job = write_job([entry], workdir, {"threads": threads}, f"memory_{index}")
    out = workdir / f"memory_{index}.result.json"
    cmd = [sys.executable, "-m", "pix2mobile.benchmark.memory", str(job), str(out)]
    try:
        proc = subprocess.run(cmd, env=child_env(threads), capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return PeakMemory(None, None, f"memory child gave no result within {CHILD_TIMEOUT_S} s")
    if proc.returncode != 0 or not out.is_file():
        tail = " | ".join(proc.stderr.strip().splitlines()[-2:])[-300:]
        return PeakMemory(None, None, f"memory child failed (exit code {proc.returncode}): {tail}")
    data = json.loads(out.read_text())
    if data.get("error"):
        return PeakMemory(None, None, data["error"])
    return PeakMemory(round(data["peak_mb"], 2), round(max(0.0, data["peak_mb"] - data["baseline_mb"]), 2),
                      counter=data["counter"])


def _child(job_path: str, out_path: str) -> int:
    from pix2mobile.runtimes.timing import import_runtime

    job = json.loads(Path(job_path).read_text())
    item = job["entries"][0]
    try:
        import_runtime(item["modules"])
        feed = read_feed(item)
        baseline = _now_mb()
        run = open_item(item, feed, int(job["threads"]))
        run()
        peak, counter = _peak_mb()
        result = {"baseline_mb": baseline, "peak_mb": peak, "counter": counter}
    except Exception as exc:   # reported as the row's memory reason
        result = {"error": f"could not load and run: {_one_line(exc)}"}
    Path(out_path).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1], sys.argv[2]))
