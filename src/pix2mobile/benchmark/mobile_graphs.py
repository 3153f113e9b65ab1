"""What the mobile graph rewrites buy: the phone runtimes before and after, against eager PyTorch.

    python -m pix2mobile.benchmark.mobile_graphs                       # johnson, lite, cyclegan at 256 px
    python -m pix2mobile.benchmark.mobile_graphs --models lite --runs 10 --markdown table.md

For each model: build it, `lightly_train` it (cached under --cache, shared with `quant_speed`),
then export `.tflite` and `.pte` in fp32 and int8 twice through `export_model`: "before" inside
`convert.mobile_graph.plain_graphs()` (the graphs the converters make by themselves), "after" as
`pix2mobile export` makes them (`convert.mobile_graph`), plus `.onnx` fp32 and `.ptl` int8 for
reference. int8 rows are calibrated on --calibration-count built-in crops; every row's PSNR is
the export's parity gate: the worst of --samples held-out photos against eager fp32. When an
"after" int8 row misses its 30 dB gate, `pipelines.auto.choose_precision` looks (at --search-size,
as `pix2mobile export --auto` would) for the float fallback layers with which every calibration
crop reaches 30 dB, and that format's int8 is exported again with them ("int8+float" rows, the
layers named); the float layers run inside the same delegate.

Then eager PyTorch and every artifact run in this one process, interleaved round-robin, with
OMP_WAIT_POLICY=PASSIVE (the script re-executes itself with it when unset) and --threads threads
in every runtime; medians are reported, and each artifact's speed as a ratio to eager's median
from the same rounds. Residency (delegate segments and portable-kernel calls of a `.pte`, op
count, layout TRANSPOSEs and LiteRT's GPU verdict of a `.tflite`) is read from each file.

Targets (issue 17; exit 1 when one is missed, each printed with the reason):
- every "after" `.pte` has 1 delegate segment and 0 portable-kernel calls; every "after"
  `.tflite` passes LiteRT's GPU delegate rules (`runtimes.tflite_gpu`) and has no TRANSPOSE;
- johnson and lite: "after" `.tflite` and `.pte` fp32 at least --min-fp32-speedup (1.5) x eager;
- johnson: an "after" int8 at least --min-int8-speedup (2.5) x eager at --min-int8-psnr (35) dB;
- lite: an "after" int8 at most --max-lite-int8-ms (25) ms;
- cyclegan (resnet_9blocks): every "after" int8 at least --min-cyclegan-psnr (30) dB;
- every "after" int8 `.tflite` no slower than its fp32.
`--markdown` writes the before/after table the README shows, with the machine it ran on.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path
from typing import Any

MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "johnson": ("fast_style/johnson", {}),
    "lite": ("fast_style/lite", {}),
    "cyclegan": ("cyclegan/resnet_9blocks", {}),
}
PLAN: dict[str, tuple[str, ...]] = {"tflite": ("fp32", "int8"), "pte": ("fp32", "int8")}
REFERENCE: dict[str, tuple[str, ...]] = {"onnx": ("fp32",), "ptl": ("int8",)}
"""Formats the rewrites do not touch, timed once for comparison."""


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m pix2mobile.benchmark.mobile_graphs", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="johnson,lite,cyclegan", help="comma-separated: johnson, lite, cyclegan")
    p.add_argument("--size", type=int, default=256, help="H = W in pixels (default 256)")
    p.add_argument("--train-size", type=int, default=128, help="lightly_train crop size (default 128)")
    p.add_argument("--steps", type=int, default=100, help="lightly_train steps (default 100)")
    p.add_argument("--samples", type=int, default=6, help="held-out parity photos per artifact (default 6)")
    p.add_argument("--calibration-count", type=int, default=16, help="built-in calibration crops (default 16)")
    p.add_argument("--runs", type=int, default=15, help="timed rounds (default 15)")
    p.add_argument("--warmup", type=int, default=2, help="untimed rounds first (default 2)")
    p.add_argument("--threads", type=int, default=2, help="runtime threads (default 2)")
    p.add_argument("--no-before", action="store_true", help="skip the plain-graph exports")
    p.add_argument("--search-size", type=int, default=128,
                   help="size of the float-fallback search for an int8 row that misses its gate (default 128)")
    p.add_argument("--min-fp32-speedup", type=float, default=1.5)
    p.add_argument("--min-int8-speedup", type=float, default=2.5)
    p.add_argument("--min-int8-psnr", type=float, default=35.0)
    p.add_argument("--max-lite-int8-ms", type=float, default=25.0)
    p.add_argument("--min-cyclegan-psnr", type=float, default=30.0)
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "pix2mobile" / "quant_speed",
                   help="where trained weights are kept between runs (shared with quant_speed)")
    p.add_argument("--out", type=Path, default=Path.home() / ".cache" / "pix2mobile" / "mobile_graphs",
                   help="where the exports are written (replaced on each run)")
    p.add_argument("--json", type=Path, default=None, help="also write every number here")
    p.add_argument("--markdown", type=Path, default=None, help="write the before/after table here")
    return p.parse_args(argv)


def _machine(threads: int) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {threads} thread(s), {platform.system()} {platform.release()}"


def _residency_text(res: Any) -> str:
    return "-" if res is None else res.summary()


def main(argv: list[str] | None = None) -> int:
    from pix2mobile.benchmark.targets import reexec_passive

    reexec_passive("pix2mobile.benchmark.mobile_graphs")
    args = _parse(argv)
    import torch

    from pix2mobile.benchmark.host import feed_for
    from pix2mobile.benchmark.latency import round_robin
    from pix2mobile.benchmark.quant_speed import _trained
    from pix2mobile.convert.common import ExportOptions
    from pix2mobile.convert.formats import FORMATS, timed_runtimes
    from pix2mobile.convert.mobile_graph import plain_graphs
    from pix2mobile.convert.quantize.calibration import builtin_calibration
    from pix2mobile.manifest import artifact_path
    from pix2mobile.pipelines.export import export_model
    from pix2mobile.runtimes.timing import open_eager

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        print(f"mobile_graphs: unknown model(s) {', '.join(unknown)}: choose from {', '.join(MODELS)}",
              file=sys.stderr)
        return 2
    phases = ("after",) if args.no_before else ("before", "after")
    rows: list[dict[str, Any]] = []
    misses: list[str] = []
    for name in models:
        key, options = MODELS[name]
        spec, generator = _trained(key, options, args.train_size, args.steps, args.cache)
        calibration = builtin_calibration(spec.io, args.size, args.calibration_count)
        opts = ExportOptions(calibration=calibration)
        sample = calibration.samples[0]
        order = [s.name for s in spec.io.inputs]
        calls: dict[str, Any] = {}
        found: list[tuple[str, str, str, Any, Path]] = []
        for phase in phases:
            plan = dict(PLAN, **REFERENCE) if phase == "after" else PLAN
            out = args.out / name / phase
            print(f"{name}: exporting {phase} ({', '.join(f'{f} {p}' for f, ps in plan.items() for p in ps)})",
                  flush=True)
            if phase == "before":
                with plain_graphs():
                    manifest = export_model(generator, spec, args.size, list(plan), out, precisions=plan,
                                            samples=args.samples, force=True, export_options=opts)
            else:
                manifest = export_model(generator, spec, args.size, list(plan), out, precisions=plan,
                                        samples=args.samples, force=True, export_options=opts)
            arts = list(manifest.artifacts)
            if phase == "after":
                arts += _fallbacks(spec, generator, manifest, args, out)
            for art in arts:
                label = f"{art.format} {art.precision} {phase}"
                if art.file is None:
                    misses.append(f"{name} {label}: no file ({art.reason})")
                    continue
                path = artifact_path(out / "fallback" / art.format if art.precision == FALLBACK else out, art.file)
                opener = timed_runtimes()[art.format].open
                assert opener is not None
                calls[label] = opener(path, feed_for(art, spec.io, sample), order, args.threads)
                found.append((art.format, art.precision, phase, art, path))
        exportable = spec.exportable(generator, (args.size, args.size)).eval()
        calls["eager"] = open_eager(exportable, feed_for(None, spec.io, sample), order, args.threads)
        threads = torch.get_num_threads()
        torch.set_num_threads(args.threads)
        print(f"{name}: timing {len(calls)} runtimes x {args.runs} interleaved rounds", flush=True)
        timings, errors = round_robin(calls, args.warmup, args.runs)
        torch.set_num_threads(threads)
        ms = {k: t.stats()["latency_ms_median"] for k, t in timings.items()}
        for label, why in errors.items():
            misses.append(f"{name} {label}: {why}")
        eager_ms = ms.get("eager")
        rows.append({"model": name, "arch": key, "format": "pytorch", "precision": "fp32", "phase": "eager",
                     "ms": eager_ms, "speedup": 1.0 if eager_ms else None, "psnr_db": None, "bytes": None,
                     "residency": None, "status": "ok"})
        for fmt, precision, phase, art, path in found:
            label = f"{fmt} {precision} {phase}"
            inspect = FORMATS[fmt].residency_fn
            residency = art.residency if art.residency is not None else (inspect(path) if inspect else None)
            t = ms.get(label)
            rows.append({"model": name, "arch": key, "format": fmt, "precision": precision, "phase": phase,
                         "ms": t, "speedup": (eager_ms / t) if eager_ms and t else None,
                         "psnr_db": art.parity.psnr_db, "bytes": art.bytes, "status": art.status,
                         "residency": residency.to_json() if residency is not None else None,
                         "residency_text": _residency_text(residency),
                         "float_layers": art.notes[0][len("float: "):] if precision == FALLBACK else None,
                         "residency_problems": list(residency.problems()) if residency is not None else []})
        misses += _targets(name, [r for r in rows if r["model"] == name], args)
        if args.json:          # after each model, so a later failure keeps what was measured
            from pix2mobile.files import write_json

            write_json(args.json, {"machine": _machine(args.threads), "size": args.size, "runs": args.runs,
                                   "rows": rows, "misses": misses, "partial": True})
    _print(rows, args)
    if args.markdown:
        from pix2mobile.files import atomic_path

        with atomic_path(args.markdown) as tmp:
            Path(tmp).write_text(markdown(rows, args))
    from pix2mobile.benchmark.targets import finish

    return finish(args.json, {"machine": _machine(args.threads), "size": args.size, "runs": args.runs, "rows": rows},
                  misses)


FALLBACK = "int8+float"


def _fallbacks(spec: Any, generator: Any, manifest: Any, args: argparse.Namespace, out: Path) -> list[Any]:
    """For each int8 row that missed its gate: int8 again with the float layers the search found,
    as an entry whose precision reads FALLBACK and whose notes name the layers."""
    import dataclasses

    from pix2mobile.convert.common import ExportOptions
    from pix2mobile.convert.quantize.calibration import builtin_calibration
    from pix2mobile.pipelines.auto import choose_precision
    from pix2mobile.pipelines.export import export_model

    extra = []
    for art in manifest.artifacts:
        if art.precision != "int8" or art.ok or art.format not in PLAN:
            continue
        print(f"{spec.arch}: {art.format} int8 at {art.parity.psnr_db:.1f} dB misses its gate; searching float "
              f"fallback layers at {args.search_size}x{args.search_size}", flush=True)
        search = choose_precision(generator, spec, args.search_size, art.format, target_psnr=30.0,
                                  calibration=builtin_calibration(spec.io, args.search_size, args.calibration_count),
                                  precisions=["int8"])
        print(f"{spec.arch}: {art.format}: {search.describe()}", flush=True)
        if not search.keep_float:
            print(f"{spec.arch}: {art.format}: the search found no float fallback ({search.describe()})", flush=True)
            continue
        opts = ExportOptions(calibration=builtin_calibration(spec.io, args.size, args.calibration_count),
                             keep_float=tuple(search.keep_float))
        redo = export_model(generator, spec, args.size, [art.format], out / "fallback" / art.format,
                            precisions={art.format: ["int8"]}, samples=args.samples, force=True,
                            export_options=opts).artifacts[0]
        extra.append(dataclasses.replace(redo, precision=FALLBACK,
                                         notes=(f"float: {', '.join(search.keep_float)}", *redo.notes)))
    return extra


def _targets(name: str, rows: list[dict[str, Any]], args: argparse.Namespace) -> list[str]:
    """The issue's targets for one model's rows; a line per miss."""
    misses = []
    after = [r for r in rows if r["phase"] == "after" and r["format"] in PLAN]
    for r in after:
        if r["residency_problems"]:
            misses.append(f"{name} {r['format']} {r['precision']}: {'; '.join(r['residency_problems'])}")
        rescued = r["precision"] == "int8" and any(x["format"] == r["format"] and x["precision"] == FALLBACK
                                                     and x["status"] == "ok" for x in after)
        if r["status"] != "ok" and not rescued:
            misses.append(f"{name} {r['format']} {r['precision']}: failed its parity gate ({r['psnr_db']} dB)")

    def speed(fmt: str, precision: str) -> float | None:
        return next((r["speedup"] for r in after if r["format"] == fmt and r["precision"] == precision), None)

    def row_ms(fmt: str, precision: str) -> float | None:
        return next((r["ms"] for r in after if r["format"] == fmt and r["precision"] == precision), None)

    if name in ("johnson", "lite"):
        for fmt in PLAN:
            s = speed(fmt, "fp32")
            if s is None or s < args.min_fp32_speedup:
                misses.append(f"{name} {fmt} fp32: {s or 0:.2f}x eager, target {args.min_fp32_speedup}x")
    int8 = [r for r in after if r["precision"] in ("int8", FALLBACK)]
    if name == "johnson":
        good = [r for r in int8 if (r["speedup"] or 0) >= args.min_int8_speedup
                and (r["psnr_db"] or 0) >= args.min_int8_psnr]
        if not good:
            seen = ", ".join(f"{r['format']} {r['speedup'] or 0:.2f}x at {r['psnr_db'] or 0:.1f} dB" for r in int8)
            misses.append(f"johnson int8: none at {args.min_int8_speedup}x eager and {args.min_int8_psnr} dB ({seen})")
    if name == "lite":
        if not any((r["ms"] or 1e9) <= args.max_lite_int8_ms for r in int8):
            seen = ", ".join(f"{r['format']} {r['ms'] or 0:.1f} ms" for r in int8)
            misses.append(f"lite int8: none at or under {args.max_lite_int8_ms} ms ({seen})")
    if name == "cyclegan":
        for fmt in PLAN:
            best = max((r["psnr_db"] or 0 for r in int8 if r["format"] == fmt), default=0.0)
            if best < args.min_cyclegan_psnr:
                misses.append(f"cyclegan {fmt} int8: {best:.2f} dB worst image at best, "
                              f"target {args.min_cyclegan_psnr} dB")
    f_ms, i_ms = row_ms("tflite", "fp32"), row_ms("tflite", "int8")
    if f_ms and i_ms and i_ms > f_ms:
        misses.append(f"{name} tflite int8: {i_ms:.1f} ms, slower than its fp32 ({f_ms:.1f} ms)")
    return misses


def _num(v: Any, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def _print(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(f"\n{args.size}x{args.size}, median of {args.runs} interleaved rounds, {_machine(args.threads)}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    print(f"{'model':8s} {'format':7s} {'prec':5s} {'graph':7s} {'ms':>8s} {'x eager':>8s} {'PSNR dB':>8s} "
          f"{'MB':>7s}  residency")
    for r in rows:
        print(f"{r['model']:8s} {r['format']:7s} {r['precision']:5s} {r['phase']:7s} {_num(r['ms'], '8.1f')} "
              f"{_num(r['speedup'], '7.2f')}x {_num(r['psnr_db'], '8.2f')} "
              f"{_num(r['bytes'] and r['bytes'] / 1e6, '7.2f')}  {r.get('residency_text', '')}")


def markdown(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    """The README's table: one line per model, format and precision, before and after side by side."""
    lines = [f"{args.size}x{args.size}, median of {args.runs} interleaved rounds on {_machine(args.threads)}; "
             "PSNR: worst held-out photo against eager fp32.", "",
             "| model | format | precision | before ms (x eager) | after ms (x eager) | after PSNR dB | "
             "before residency | after residency |",
             "|---|---|---|---|---|---|---|---|"]
    by = {(r["model"], r["format"], r["precision"], r["phase"]): r for r in rows}
    for r in rows:
        if r["phase"] == "before":
            continue
        before = by.get((r["model"], r["format"], r["precision"], "before"))

        def cell(x: dict[str, Any] | None) -> str:
            if x is None or x["ms"] is None:
                return "—"
            return f"{x['ms']:.1f} ({x['speedup']:.2f}x)" if x["speedup"] else f"{x['ms']:.1f}"
        lines.append(f"| {r['arch']} | {r['format']} | {r['precision']} | {cell(before)} | {cell(r)} | "
                     f"{_num(r['psnr_db'], '.1f')} | {before.get('residency_text', '—') if before else '—'} | "
                     f"{r.get('residency_text', '') or '—'} |")
    for r in rows:
        if r.get("float_layers"):
            lines.append(f"\n{r['arch']} {r['format']} int8+float: plain int8 missed its 30 dB gate; the float "
                         f"fallback search kept {r['float_layers']} in float.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
