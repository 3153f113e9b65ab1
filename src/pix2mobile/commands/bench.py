"""Benchmark an export: latency, memory, cost and parity of every artifact, against eager PyTorch and references.

Examples:
  pix2mobile bench runs/export --out runs/bench --checkpoint runs/style
  pix2mobile bench runs/export --out runs/bench --checkpoint runs/style --threads 1 --runs 100
  pix2mobile bench runs/export --out runs/bench --adb R58M123ABC        # add rows measured on a phone
  pix2mobile bench runs/export --out runs/bench --fail-below 40          # CI gate: exit 1 if any row fails
  pix2mobile bench runs/export --out runs/bench --require-resident       # CI gate: ops must stay on the delegate

Reads only EXPORT_DIR/manifest.json and the files it lists. Writes OUT/report.json (every
number; null = not measured), OUT/report.md (one table) and PNG plots.

Timing runs every artifact through its own runtime, interleaved round-robin in one child
process started with OMP_WAIT_POLICY=PASSIVE and OMP_NUM_THREADS=--threads (OpenMP reads these
when torch loads, which in this process has usually happened already; the child gets them
fresh), so one runtime's spinning threads do not slow the next. Peak memory: one child per
artifact. Core ML is not timed on Linux (its numpy evaluator only checks parity): its latency
is null with that reason.

--fail-below PSNR: exit 1, with a one-line summary on stderr, when any artifact's PSNR
against eager fp32 is below PSNR dB, or an artifact failed export or verification. Skipped
rows (runtime or device absent) do not count. The report is written either way.

--require-resident: the same gate (alone or with --fail-below) on where each artifact's ops
run, the residency recorded in its manifest row (or read from the file for older manifests):
a .pte fails unless it is one XNNPACK delegate segment with no portable-kernel call, a .tflite
fails with any layout TRANSPOSE op or when an op breaks LiteRT's GPU delegate rules. The
summary names each row and why ("pte fp32: 31 delegate segments, 239 portable calls"). Formats
without a rule (Core ML, ONNX) or without a record (.ptl) pass; report.md shows every record.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pix2mobile.commands.flags import add_config_args, config_from_args

HELP = "benchmark an export's artifacts (latency, memory, parity, desktop references, optional phone)"
log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from pix2mobile.benchmark.config import BenchConfig

    p.add_argument("export_dir", type=Path, help="directory holding manifest.json (written by `pix2mobile export`)")
    p.add_argument("--out", required=True, type=Path, help="directory for report.json, report.md and plots")
    add_config_args(p, BenchConfig)


def run(args: argparse.Namespace) -> int:
    from pix2mobile.benchmark.config import BenchConfig
    from pix2mobile.benchmark.run import run_bench

    cfg = config_from_args(BenchConfig, args)
    report = run_bench(args.export_dir, args.out, cfg)
    for row in report.rows:
        ms = "—" if row.latency_ms_median is None else f"{row.latency_ms_median:.3f} ms"
        psnr = "—" if row.psnr_db is None else f"{row.psnr_db:.2f} dB"
        log.info("%-28s %-5s %-13s %10s %10s%s", row.label, row.precision, row.status, ms, psnr,
                 f"  ({row.reason})" if row.reason and row.status != "ok" else "")
    log.info("report: %s", args.out / "report.md")
    if report.gate is not None and report.gate_failed:
        print(f"pix2mobile bench: {report.gate['summary']}", file=sys.stderr)
        return 1
    return 0
