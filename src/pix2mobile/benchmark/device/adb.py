"""On-device rows over adb: push each artifact, run its format's benchmark tool, parse the output.

Which tool, script and parser a format uses is its row's `device` (`convert.formats.FORMATS`,
the tools and parsers themselves in `runtimes.device`; `docs/formats.md` lists them). A row
whose `device` is a sentence gets a skipped row with that sentence; one with None, a skipped
row saying pix2mobile has no on-device runner for it.

The tools are expected at `--device-dir` on the phone (pushed once by hand; the scripts say how
when one is missing). Every artifact gets a row for the device whatever happens: when adb is
missing or the serial is not attached, each row is `skipped` with that reason in plain words.
The scripts are also usable on their own (`bash scripts/tflite_benchmark_model.sh SERIAL ...`).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Sequence

from pix2mobile.benchmark.report import Row, Status
from pix2mobile.convert.formats import FORMATS
from pix2mobile.manifest import artifact_path
from pix2mobile.runtimes.device import DeviceRun, DeviceTool

log = logging.getLogger(__name__)
SCRIPTS = Path(__file__).resolve().parent / "scripts"
TOOL_TIMEOUT_S = 1800


def tools() -> dict[str, DeviceTool]:
    """The on-device tool of every format that has one, from the format table."""
    return {k: f.device for k, f in FORMATS.items() if isinstance(f.device, DeviceTool)}


def find_adb(adb_path: str) -> str | None:
    """The adb executable, or None. `adb_path` is a name looked up on PATH, or a path."""
    return shutil.which(adb_path)


def list_devices(adb: str) -> list[str]:
    """Serials `adb devices` lists in the 'device' state (attached and authorised)."""
    proc = subprocess.run([adb, "devices"], capture_output=True, text=True, timeout=60)
    serials = []
    for line in proc.stdout.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 2 and parts[1] == "device":
            serials.append(parts[0])
    return serials


def unavailable_reason(serial: str, adb_path: str) -> tuple[str | None, str | None]:
    """(adb executable, None) when `serial` is attached; else (None, the plain reason why not)."""
    adb = find_adb(adb_path)
    if adb is None:
        return None, (f"no device rows: adb was not found ('{adb_path}' is not an executable on PATH); "
                      "install Android platform-tools or pass --adb-path")
    try:
        attached = list_devices(adb)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"no device rows: `{adb} devices` failed ({exc})"
    if serial not in attached:
        listed = ", ".join(attached) if attached else "none"
        return None, f"no device rows: device {serial} is not attached (adb devices lists: {listed})"
    return adb, None


def _input_args(artifact: Any) -> list[str]:
    dims = ";".join(",".join(str(int(s)) for s in t.shape) for t in artifact.inputs)
    types = ";".join("float" for _ in artifact.inputs)
    return [dims, types]


def run_tool(adb: str, serial: str, fmt: str, path: Path, device_dir: str, threads: int, runs: int,
             warmup: int, extra: Sequence[str] = ()) -> tuple[DeviceRun | None, str | None]:
    """Run one script; (parsed run, None) or (None, why it could not run)."""
    tool = tools()[fmt]
    cmd = ["bash", str(SCRIPTS / tool.script), serial, str(path), device_dir, str(threads), str(runs),
           str(warmup), *extra]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S,
                              env={**os.environ, "ADB": adb})
    except subprocess.TimeoutExpired:
        return None, f"{tool.label} gave no result within {TOOL_TIMEOUT_S} s"
    except OSError as exc:
        return None, f"could not run {tool.script}: {exc}"
    err = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
    if proc.returncode == 2:
        return None, f"adb could not push the artifact: {err}"
    if proc.returncode == 3:
        return None, err or f"{tool.binary} is not on the device at {device_dir}"
    parsed = tool.parse(proc.stdout)
    if proc.returncode != 0 and parsed.error is None:
        parsed = DeviceRun(parsed.tool, error=f"{tool.binary} exited with status {proc.returncode}: {err}")
    return parsed, None


def device_rows(manifest: Any, export_dir: Path, serial: str, adb_path: str, device_dir: str,
                threads: int, runs: int, warmup: int, model_name: str) -> tuple[list[Row], str | None]:
    """One row per manifest artifact on `serial`; and the plain reason when no device was usable."""
    device = f"android:{serial}"
    adb, why = unavailable_reason(serial, adb_path)
    rows = []
    known = tools()
    for art in manifest.artifacts:
        fmt = FORMATS.get(art.format)
        base = dict(model=model_name, format=art.format, precision=art.precision, device=device, file=art.file,
                    bytes=art.bytes, size_mb=None if art.bytes is None else art.bytes / 1e6,
                    params=manifest.model.params, macs=manifest.model.macs)
        if art.status == "failed" and art.file is None:
            rows.append(Row(status="export_failed", reason=art.reason, **base))
        elif why is not None:
            rows.append(Row(status="skipped", reason=why, **base))
        elif fmt is not None and isinstance(fmt.device, str):
            rows.append(Row(status="skipped", reason=fmt.device, **base))
        elif art.format not in known:
            rows.append(Row(status="skipped", reason=f"pix2mobile has no on-device runner for {art.format} "
                                                     f"(only {', '.join(known)})", **base))
        else:
            rows.append(_run_row(adb, serial, art, export_dir, device_dir, threads, runs, warmup, base))
    if why:
        log.warning("%s", why)
    return rows, why


def _run_row(adb: str | None, serial: str, art: Any, export_dir: Path, device_dir: str, threads: int,
             runs: int, warmup: int, base: dict[str, Any]) -> Row:
    tool = tools()[art.format]
    path = artifact_path(export_dir, art.file)      # never push a file from outside the export folder
    if not path.exists():
        return Row(status="skipped", reason=f"artifact file {art.file} is missing", **base)
    extra = _input_args(art) if tool.input_shapes else []
    parsed, why = run_tool(adb or "adb", serial, art.format, path, device_dir, threads, runs, warmup, extra)
    if parsed is None:
        return Row(status="skipped", reason=why, runtime=tool.label, **base)
    status: Status = "verify_failed" if art.status == "failed" else "ok"
    if parsed.error:
        return Row(status="verify_failed", reason=f"on device: {parsed.error}", runtime=tool.label, **base)
    missing = [k for k in ("median", "p90", "min", "std") if getattr(parsed, f"latency_ms_{k}") is None]
    note = (f"{tool.binary} does not report {', '.join(missing)}; left null" if missing else None)
    return Row(status=status, reason=art.reason if status != "ok" else None, runtime=tool.label,
               latency_ms_median=parsed.latency_ms_median, latency_ms_p90=parsed.latency_ms_p90,
               latency_ms_min=parsed.latency_ms_min, latency_ms_mean=parsed.latency_ms_mean,
               latency_ms_std=parsed.latency_ms_std, latency_note=note, warmup=warmup,
               runs=parsed.runs, threads=threads if tool.sets_threads else None,
               peak_mem_mb=parsed.peak_mem_mb,
               notes=[f"init {parsed.init_ms:.3g} ms, first run {parsed.first_ms:.3g} ms"]
               if parsed.init_ms is not None and parsed.first_ms is not None else [], **base)
