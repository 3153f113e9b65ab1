"""fp32 vs int8 on this CPU: size, PSNR on real images and median latency, for tflite and pte.

    python -m pix2mobile.benchmark.quant_speed                      # johnson, lite, cyclegan at 128 px
    python -m pix2mobile.benchmark.quant_speed --models lite --size 64 --runs 10 --json out.json

For each model: build it, `lightly_train` it (cached under --cache), export fp32 and int8 through
`export_model` (the int8 row calibrated on --calibration-count built-in crops and gated at 30 dB).
When plain int8 misses the gate, `pipelines.auto.choose_precision` looks for the float fallback layers
(first/last convs, then the most harmful InstanceNorm neighbours) with which every calibration
crop reaches --target-psnr (30 dB, the gate's threshold, held by each crop rather than pooled);
int8 is exported again with them (or with the best set it tried, when none got there: the gate
then decides) and the table says which. Then every artifact runs in this one process, interleaved round-robin
(fp32 and int8 of each format alternate, so drift hits both alike), with OMP_WAIT_POLICY=PASSIVE
(the script re-executes itself with it when unset, since OpenMP reads it when torch loads) and
--threads threads in every runtime (training and export use all cores); medians are reported.

"file x" is how many times smaller the int8 file is; "consts x" the same for the weights and other
constants inside it. The difference is graph, tensor names and per-channel quantization parameters,
which int8 does not shrink: on a small net such as lite they are a large part of the file.

Targets (exit 1 when one is missed, with the reason): int8 passes its 30 dB gate, is at least
--min-size-ratio (3.5) times smaller than fp32 and at least --min-speedup (1.0) times faster.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "johnson": ("fast_style/johnson", {}),
    "lite": ("fast_style/lite", {}),
    "cyclegan": ("cyclegan/resnet_9blocks", {}),
}
FORMATS_TIMED = ("tflite", "pte")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m pix2mobile.benchmark.quant_speed", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="johnson,lite,cyclegan", help="comma-separated: johnson, lite, cyclegan")
    p.add_argument("--formats", default="tflite,pte", help="comma-separated: tflite, pte")
    p.add_argument("--size", type=int, default=128, help="H = W in pixels (default 128)")
    p.add_argument("--ngf", type=int, default=64, help="CycleGAN generator width (junyanz default 64)")
    p.add_argument("--steps", type=int, default=100, help="lightly_train steps (default 100)")
    p.add_argument("--calibration-count", type=int, default=16, help="built-in calibration crops (default 16)")
    p.add_argument("--target-psnr", type=float, default=30.0,
                   help="what the float-fallback search asks of every calibration crop (default 30, the gate)")
    p.add_argument("--runs", type=int, default=20, help="timed rounds per artifact (default 20)")
    p.add_argument("--warmup", type=int, default=3, help="untimed rounds first (default 3)")
    p.add_argument("--threads", type=int, default=1, help="runtime threads (default 1)")
    p.add_argument("--min-size-ratio", type=float, default=3.5, help="int8 must be this many times smaller")
    p.add_argument("--min-speedup", type=float, default=1.0, help="int8 must be this many times faster")
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "pix2mobile" / "quant_speed",
                   help="where trained weights and exports are kept between runs")
    p.add_argument("--json", type=Path, default=None, help="also write every number here")
    return p.parse_args(argv)


def _trained(key: str, options: dict[str, Any], size: int, steps: int, cache: Path) -> Any:
    import torch

    from pix2mobile.models import MODELS as REGISTRY
    from pix2mobile.train.warmup import lightly_train

    spec = REGISTRY[key]
    torch.manual_seed(0)
    generator = spec.create(**options)
    opts = '_'.join(f'{k}{v}' for k, v in sorted(options.items()))
    path = cache / f"{key.replace('/', '_')}_{opts}_{size}_{steps}.pt"
    if path.is_file():
        generator.load_state_dict(torch.load(path, weights_only=True))
    else:
        lightly_train(generator, spec.io, size, steps=steps, seed=0)
        path.parent.mkdir(parents=True, exist_ok=True)
        from pix2mobile.files import atomic_path

        with atomic_path(path) as tmp:
            torch.save(generator.state_dict(), tmp)
    return spec, generator.eval()


def _export(spec: Any, generator: Any, size: int, fmt: str, out: Path, calibration: Any,
            keep_float: tuple[str, ...] = (), precisions: tuple[str, ...] = ("fp32", "int8")) -> Any:
    from pix2mobile.convert.common import ExportOptions
    from pix2mobile.pipelines.export import export_model

    return export_model(generator, spec, size, [fmt], out, precisions={fmt: list(precisions)}, force=True,
                        export_options=ExportOptions(calibration=calibration, keep_float=keep_float))


def _constant_bytes(fmt: str, path: Path) -> int:
    """Bytes of weights and other constants in the file; the rest is graph, names and quantization
    parameters, which int8 does not shrink (why a small model's file is not 4x smaller)."""
    if fmt == "tflite":
        from ai_edge_litert.tools import flatbuffer_utils

        model = flatbuffer_utils.read_model(str(path))
        return sum((len(b.data) if b.data is not None else 0) + int(b.size or 0) for b in model.buffers)
    from executorch.exir._serialize._program import deserialize_pte_binary

    pte = deserialize_pte_binary(path.read_bytes())
    named = pte.named_data.buffers if pte.named_data is not None else []
    return sum(len(b) for b in named) + sum(len(b.storage) for b in pte.program.constant_buffer)


def main(argv: list[str] | None = None) -> int:
    from pix2mobile.benchmark.targets import reexec_passive

    reexec_passive("pix2mobile.benchmark.quant_speed")
    args = _parse(argv)
    import torch

    from pix2mobile.benchmark.host import feed_for
    from pix2mobile.benchmark.latency import round_robin
    from pix2mobile.convert.quantize.calibration import builtin_calibration
    from pix2mobile.manifest import artifact_path
    from pix2mobile.pipelines.auto import choose_precision
    from pix2mobile.convert.formats import timed_runtimes

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = [m for m in models if m not in MODELS] + [f for f in formats if f not in FORMATS_TIMED]
    if unknown:
        print(f"quant_speed: unknown model or format: {', '.join(unknown)}", file=sys.stderr)
        return 2
    results, misses = [], []
    for name in models:
        key, options = MODELS[name]
        if name == "cyclegan":
            options = {**options, "ngf": args.ngf}
        spec, generator = _trained(key, options, args.size, args.steps, args.cache)
        calibration = builtin_calibration(spec.io, args.size, args.calibration_count)
        sample = calibration.samples[0]
        order = [s.name for s in spec.io.inputs]
        calls, rows, consts = {}, {}, {}
        for fmt in formats:
            out = args.cache / "exports" / f"{name}_{args.size}" / fmt
            manifest = _export(spec, generator, args.size, fmt, out, calibration)
            fp32, int8, int8_dir = manifest.artifact(fmt, "fp32"), manifest.artifact(fmt, "int8"), out
            keep: tuple[str, ...] = ()
            searched = None
            if not int8.ok:
                search = choose_precision(generator, spec, args.size, fmt, target_psnr=args.target_psnr,
                                          calibration=calibration, precisions=["int8"])
                searched = search.describe()
                tried = [t for t in search.trials if t.precision == "int8" and t.psnr_db is not None]
                if search.precision != "int8" and tried:      # none cleared: take the best int8 it found
                    top = max(t.psnr_db for t in tried if t.psnr_db is not None)   # (all of them: for mypy)
                    # fewest float layers within 0.5 dB of the best
                    best = min((t for t in tried if t.psnr_db is not None and t.psnr_db >= top - 0.5),
                               key=lambda t: len(t.keep_float))
                    searched += f"; exporting the best int8 found ({best.describe()}), the gate decides"
                    keep = best.keep_float
                else:
                    keep = search.keep_float
                if keep:
                    int8_dir = out / "fallback"          # int8 again, with float layers; fp32 stands
                    int8 = _export(spec, generator, args.size, fmt, int8_dir, calibration, keep,
                                   ("int8",)).artifact(fmt, "int8")
            rows[fmt] = {"fp32": fp32, "int8": int8, "keep_float": keep, "search": searched}
            for prec, art, where in (("fp32", fp32, out), ("int8", int8, int8_dir)):
                if art.file:
                    path = artifact_path(where, art.file)
                    opener = timed_runtimes()[fmt].open
                    assert opener is not None
                    calls[f"{fmt} {prec}"] = opener(path, feed_for(art, spec.io, sample), order, args.threads)
                    consts[f"{fmt} {prec}"] = _constant_bytes(fmt, path)
        threads = torch.get_num_threads()          # training and export use every core; timing uses --threads
        torch.set_num_threads(args.threads)
        timings, errors = round_robin(calls, args.warmup, args.runs)
        torch.set_num_threads(threads)
        ms = {k: t.stats()["latency_ms_median"] for k, t in timings.items()}
        for key, why in errors.items():
            misses.append(f"{name} {key}: {why}")
        for fmt, row in rows.items():
            fp32, int8 = row["fp32"], row["int8"]
            f_ms, i_ms = ms.get(f"{fmt} fp32"), ms.get(f"{fmt} int8")
            entry = {"model": name, "arch": key, "options": options, "size": args.size, "format": fmt,
                     "fp32_bytes": fp32.bytes, "int8_bytes": int8.bytes,
                     "size_ratio": (fp32.bytes / int8.bytes) if fp32.bytes and int8.bytes else None,
                     "fp32_constant_bytes": consts.get(f"{fmt} fp32"), "int8_constant_bytes": consts.get(f"{fmt} int8"),
                     "fp32_psnr_db": fp32.parity.psnr_db, "int8_psnr_db": int8.parity.psnr_db,
                     "int8_ssim": int8.parity.ssim, "int8_status": int8.status, "int8_reason": int8.reason,
                     "keep_float": list(row["keep_float"]), "search": row["search"], "fp32_ms": f_ms, "int8_ms": i_ms,
                     "speedup": (f_ms / i_ms) if f_ms and i_ms else None, "threads": args.threads,
                     "runs": args.runs}
            if entry["fp32_constant_bytes"] and entry["int8_constant_bytes"]:
                entry["constant_ratio"] = entry["fp32_constant_bytes"] / entry["int8_constant_bytes"]
            if not int8.ok:
                misses.append(f"{name} {fmt}: int8 failed its gate ({int8.reason})")
            if entry["size_ratio"] is None or entry["size_ratio"] < args.min_size_ratio:
                misses.append(f"{name} {fmt}: int8 is {entry['size_ratio'] or 0:.2f}x smaller, "
                              f"target {args.min_size_ratio}x")
            if entry["speedup"] is None or entry["speedup"] < args.min_speedup:
                misses.append(f"{name} {fmt}: int8 is {entry['speedup'] or 0:.2f}x as fast, "
                              f"target {args.min_speedup}x")
            results.append(entry)
    header = (f"{'model':9s} {'format':6s} {'fp32 MB':>8s} {'int8 MB':>8s} {'file x':>8s} {'int8 dB':>8s} "
              f"{'SSIM':>6s} {'consts x':>8s} {'fp32 ms':>8s} {'int8 ms':>8s} {'speedup':>8s}  float layers")
    print(f"size {args.size}x{args.size}, {args.threads} thread(s), median of {args.runs} interleaved runs, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    print(header)
    for e in results:
        def fmt_num(v: Any, spec: str) -> str:
            return "-" if v is None else format(v, spec)
        print(f"{e['model']:9s} {e['format']:6s} {fmt_num(e['fp32_bytes'] and e['fp32_bytes'] / 1e6, '8.2f')} "
              f"{fmt_num(e['int8_bytes'] and e['int8_bytes'] / 1e6, '8.2f')} {fmt_num(e['size_ratio'], '7.2f')}x "
              f"{fmt_num(e['int8_psnr_db'], '8.2f')} {fmt_num(e['int8_ssim'], '6.3f')} "
              f"{fmt_num(e.get('constant_ratio'), '7.2f')}x {fmt_num(e['fp32_ms'], '8.2f')} "
              f"{fmt_num(e['int8_ms'], '8.2f')} {fmt_num(e['speedup'], '7.2f')}x  {', '.join(e['keep_float']) or '-'}")
    for e in results:
        if e["search"]:
            print(f"{e['model']} {e['format']}: {e['search']}")
    from pix2mobile.benchmark.targets import finish

    return finish(args.json, {"results": results}, misses)


if __name__ == "__main__":
    sys.exit(main())
