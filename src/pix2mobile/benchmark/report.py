"""`report.json` (every number) and `report.md` (one table), both written atomically.

One `Row` per (format, precision, device), Ultralytics-style: a status (`ok`, `verify_failed`
= exported but failed parity or its runtime, `export_failed`, `skipped` = not measured here,
with the reason), size, parity metrics, latency and residency (where the file's ops run,
`manifest.Residency` as JSON). A figure that was not measured is None
(JSON null), never 0. `report.json` is written last, so its presence means the run finished.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

from pix2mobile import files
from pix2mobile.manifest import Residency

REPORT_SCHEMA_VERSION = 1
Status = Literal["ok", "verify_failed", "export_failed", "skipped"]
STATUSES: tuple[str, ...] = ("ok", "verify_failed", "export_failed", "skipped")
HOST = "host"


@dataclass
class Row:
    model: str
    format: str
    precision: str
    status: Status
    device: str = HOST
    runtime: str | None = None
    reason: str | None = None
    file: str | None = None
    bytes: int | None = None
    size_mb: float | None = None
    params: int | None = None
    macs: int | None = None
    psnr_db: float | None = None
    ssim: float | None = None
    max_abs_err: float | None = None
    parity_scale: str | None = None
    parity_samples: int | None = None
    parity_source: Literal["bench", "export"] | None = None
    threshold_db: float | None = None
    latency_ms_median: float | None = None
    latency_ms_p90: float | None = None
    latency_ms_min: float | None = None
    latency_ms_mean: float | None = None
    latency_ms_std: float | None = None
    latency_note: str | None = None
    warmup: int | None = None
    runs: int | None = None
    threads: int | None = None
    speedup_vs_eager: float | None = None
    gflops: float | None = None
    peak_fraction: float | None = None
    peak_mem_mb: float | None = None
    peak_mem_delta_mb: float | None = None
    residency: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.format if self.device == HOST else f"{self.format} ({self.device})"

    @property
    def residency_record(self) -> Residency | None:
        return Residency.from_json(self.residency)

    def to_json(self) -> dict[str, Any]:
        return {k: _clean(v) for k, v in asdict(self).items()}


@dataclass
class Report:
    rows: list[Row]
    model: dict[str, Any]
    host: dict[str, Any]
    settings: dict[str, Any]
    export_dir: str
    created_at: str
    pix2mobile_version: str
    references: dict[str, Any] = field(default_factory=dict)
    plots: dict[str, str] = field(default_factory=dict)
    gate: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def row(self, format: str, precision: str | None = None, device: str = HOST) -> Row:
        for r in self.rows:
            if r.format == format and r.device == device and (precision is None or r.precision == precision):
                return r
        raise KeyError(f"no row for {format} {precision or ''} on {device}")

    @property
    def gate_failed(self) -> bool:
        if not self.gate:
            return False
        return not self.gate["passed"]

    def to_json(self) -> dict[str, Any]:
        return _clean({"schema_version": REPORT_SCHEMA_VERSION, "pix2mobile_version": self.pix2mobile_version,
                       "created_at": self.created_at, "export_dir": self.export_dir, "model": self.model,
                       "host": self.host, "settings": self.settings, "rows": [r.to_json() for r in self.rows],
                       "references": self.references, "plots": self.plots, "gate": self.gate, "notes": self.notes})


def _clean(obj: Any) -> Any:
    """JSON-safe: non-finite floats become None (not measured), tuples become lists."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


# ---------------------------------------------------------------- the CI gate

def evaluate_gate(rows: Sequence[Row], fail_below: float | None,
                  require_resident: bool = False) -> dict[str, Any] | None:
    """The CI gate of `--fail-below PSNR` and/or `--require-resident`: which rows fail, and a
    one-line summary (None when neither is asked for).

    With either, a row fails when the artifact failed export or verification (`export_failed`,
    `verify_failed`): an artifact that does not exist or does not verify cannot pass a gate.
    `fail_below`: a row also fails when its PSNR (bench-measured, else the export's) is below it.
    `require_resident`: a row also fails when its residency has problems
    (`manifest.Residency.problems`: a .pte not one XNNPACK segment or with portable kernel calls,
    a .tflite with layout TRANSPOSEs or GPU-incompatible); a row without a record (a format that
    keeps none, or an inspection that failed) is listed as `unchecked`, not failed. Skipped rows
    (runtime absent, no device) and the eager baseline do not count: they measure nothing.
    """
    if fail_below is None and not require_resident:
        return None
    failures: list[dict[str, Any]] = []
    unchecked: list[str] = []
    for r in rows:
        if r.format == "pytorch" or r.status == "skipped":
            continue
        base = {"format": r.format, "precision": r.precision, "device": r.device, "psnr_db": r.psnr_db}
        if r.status in ("export_failed", "verify_failed"):
            failures.append({**base, "why": r.status})
        elif fail_below is not None and r.psnr_db is not None and r.psnr_db < fail_below:
            failures.append({**base, "why": "below"})
        if require_resident and r.status != "export_failed":
            record = r.residency_record
            problems = record.problems() if record is not None else []
            if problems:
                failures.append({**base, "why": "not_resident", "problems": problems})
            elif record is None:
                unchecked.append(f"{r.label} {r.precision}")
    parts = [f"{f['format']} {f['precision']}" + (
        f" {f['psnr_db']:.2f} dB" if f["why"] == "below" else
        f": {', '.join(f['problems'])}" if f["why"] == "not_resident" else f" {f['why']}") for f in failures]
    criteria = []
    if fail_below is not None:
        criteria.append(f"below {fail_below:g} dB PSNR")
    if require_resident:
        criteria.append("not mobile-resident")
    n_rows = len({(f["format"], f["precision"], f["device"]) for f in failures})
    if failures:
        summary = f"gate failed: {n_rows} row(s) {' or '.join(criteria)} or failed: {', '.join(parts)}"
    else:
        passed = []
        if fail_below is not None:
            passed.append(f"at or above {fail_below:g} dB PSNR")
        if require_resident:
            passed.append("mobile-resident (one delegate segment, no portable kernels or layout transposes)")
        summary = f"gate passed: every artifact {' and '.join(passed)}"
        if unchecked:
            summary += f"; no residency record for {', '.join(unchecked)}"
    return {"fail_below_db": fail_below, "require_resident": require_resident, "passed": not failures,
            "failures": failures, "unchecked": unchecked, "summary": summary}


def gate_flags(gate: dict[str, Any]) -> str:
    """The flags a gate was asked with, as typed: "--fail-below 40 --require-resident"."""
    flags = []
    if gate.get("fail_below_db") is not None:
        flags.append(f"--fail-below {gate['fail_below_db']:g}")
    if gate.get("require_resident"):
        flags.append("--require-resident")
    return " ".join(flags)


# ---------------------------------------------------------------- report.md

COLUMNS = ("model", "format", "precision", "status", "MB", "PSNR dB", "SSIM", "median ms", "p90 ms", "× vs eager",
           "residency")


def _num(x: float | None, digits: int) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(report: Report) -> str:
    m = report.model
    lines = [f"# pix2mobile bench: {m.get('family')}/{m.get('arch')} at {_size(m.get('size'))}", "",
             f"- export: `{report.export_dir}` (manifest of {m.get('created_at', '?')})",
             f"- host: {report.host.get('cpu')} ({report.host.get('cores')} cores), "
             f"{report.settings.get('threads')} thread(s), peak {_num(report.host.get('peak_gflops'), 1)} GFLOP/s "
             f"({report.host.get('peak_method', 'not measured')})",
             f"- timing: {report.settings.get('warmup')} warm-up + at least {report.settings.get('runs')} runs each, "
             f"round-robin in one process, OMP_WAIT_POLICY=PASSIVE", ""]
    lines.append("| " + " | ".join(COLUMNS) + " |")
    lines.append("|" + "|".join("---" for _ in COLUMNS) + "|")
    for r in report.rows:
        psnr = _num(r.psnr_db, 2) + (" (export)" if r.parity_source == "export" else "")
        cells = [r.model, r.label, r.precision, r.status, _num(r.size_mb, 3), psnr, _num(r.ssim, 4),
                 _num(r.latency_ms_median, 3), _num(r.latency_ms_p90, 3),
                 "—" if r.speedup_vs_eager is None else f"{r.speedup_vs_eager:.2f}×", _residency_cell(r)]
        lines.append("| " + " | ".join(_md_escape(c) for c in cells) + " |")
    lines += ["", "Columns: MB is the artifact's size on disk; PSNR/SSIM compare it with eager PyTorch fp32 on "
              "real photo crops (PSNR is capped at 100 dB: MSE at most 1e-10 on the [0, 1] scale, float32 "
              "round-off); × vs eager is eager median / artifact median (above 1 is faster); residency is "
              "where the file's ops run, read from it (report.json has the whole record; ⚠ marks what keeps it "
              "off a phone's accelerator: `--require-resident` fails those rows); — is not measured.", ""]
    grouped: dict[str, list[str]] = {}
    for r in report.rows:
        for text in (r.reason, r.latency_note):
            if text:
                grouped.setdefault(text, []).append(f"{r.label} {r.precision}")
    if grouped:
        lines.append("Reasons and notes:")
        lines += [f"- {', '.join(who)}: {_md_escape(text)}" for text, who in grouped.items()]
        lines.append("")
    for name, ref in report.references.items():
        if isinstance(ref, dict) and ref.get("summary"):
            lines.append(f"- {name}: {_md_escape(ref['summary'])}")
    if report.gate:
        lines += ["", f"CI gate ({gate_flags(report.gate)}): {report.gate['summary']}"]
    if report.plots:
        lines += ["", "Plots: " + ", ".join(f"[{k}]({v})" for k, v in report.plots.items())]
    return "\n".join(lines).rstrip() + "\n"


def _residency_cell(r: Row) -> str:
    record = r.residency_record
    if record is None:
        return "—"
    problems = record.problems()
    return record.summary() + (" ⚠" if problems else "")


def _size(size: Any) -> str:
    return f"{size[0]}x{size[1]}" if size else "?"


def write_report(report: Report, out_dir: str | Path) -> tuple[Path, Path]:
    """report.md first, report.json last (its presence means a complete run), each atomically."""
    out = Path(out_dir)
    md = files.write_text(out / "report.md", markdown(report))
    js = files.write_json(out / "report.json", report.to_json())
    return js, md
