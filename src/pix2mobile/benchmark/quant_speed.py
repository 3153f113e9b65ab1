"""fp32 vs int8 on this CPU: size, PSNR on real images and median latency, for tflite and pte.

    python -m pix2mobile.benchmark.quant_speed                      # johnson, lite, cyclegan at 128 px
    python -m pix2mobile.benchmark.quant_speed --models lite --size 64 --runs 10 --json out.json

For each model: build it, `lightly_train` it (cached under --cache), export fp32 and int8 through
`export_model` (the int8 row calibrated on --calibration-count built-in crops and gated at 30 dB).
When plain int8 misses the gate, `quantize.choose_precision` finds the float fallback layers
(first/last convs, then the most harmful InstanceNorm neighbours) that reach --target-psnr (32 dB:
2 dB of margin, since the search measures the calibration crops and the gate other crops) and
int8 is exported again with them; the table says which. Then every artifact runs in this one process, interleaved round-robin
(fp32 and int8 of each format alternate, so drift hits both alike), with OMP_WAIT_POLICY=PASSIVE
(the script re-executes itself with it when unset, since OpenMP reads it when torch loads) and
--threads threads; medians are reported.

Targets (exit 1 when one is missed, with the reason): int8 passes its 30 dB gate, is at least
--min-size-ratio (3.5) times smaller than fp32 and at least --min-speedup (1.0) times faster.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

MODELS = {
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
    p.add_argument("--target-psnr", type=float, default=32.0,
                   help="what the float-fallback search aims for on the calibration crops (default 32)")
    p.add_argument("--runs", type=int, default=20, help="timed rounds per artifact (default 20)")
    p.add_argument("--warmup", type=int, default=3, help="untimed rounds first (default 3)")
    p.add_argument("--threads", type=int, default=1, help="runtime threads (default 1)")
    p.add_argument("--min-size-ratio", type=float, default=3.5, help="int8 must be this many times smaller")
    p.add_argument("--min-speedup", type=float, default=1.0, help="int8 must be this many times faster")
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "pix2mobile" / "quant_speed",
                   help="where trained weights and exports are kept between runs")
    p.add_argument("--json", type=Path, default=None, help="also write every number here")
    return p.parse_args(argv)


def _reexec_passive() -> None:
    if os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE":
        env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
        os.execve(sys.executable, [sys.executable, "-m", "pix2mobile.benchmark.quant_speed", *sys.argv[1:]], env)


def _trained(key: str, options: dict[str, Any], size: int, steps: int, cache: Path) -> Any:
    import torch

    from ..export._warmup import lightly_train
    from ..models import MODELS as REGISTRY

    spec = REGISTRY[key]
    torch.manual_seed(0)
    generator = spec.create(**options)
    path = cache / f"{key.replace('/', '_')}_{'_'.join(f'{k}{v}' for k, v in sorted(options.items()))}_{size}_{steps}.pt"
    if path.is_file():
        generator.load_state_dict(torch.load(path, weights_only=True))
    else:
        lightly_train(generator, spec.io, size, steps=steps, seed=0)
        path.parent.mkdir(parents=True, exist_ok=True)
        from .._io import atomic_path

        with atomic_path(path) as tmp:
            torch.save(generator.state_dict(), tmp)
    return spec, generator.eval()


def _export(spec: Any, generator: Any, size: int, fmt: str, out: Path, calibration: Any,
            keep_float: tuple[str, ...] = ()) -> Any:
    from ..export import ExportOptions, export_model

    return export_model(generator, spec, size, [fmt], out, precisions={fmt: ["fp32", "int8"]}, force=True,
                        export_options=ExportOptions(calibration=calibration, keep_float=keep_float))


def _loader(fmt: str, path: Path, threads: int, example: Any) -> Callable[[], Any]:
    import numpy as np

    if fmt == "tflite":
        from ai_edge_litert.interpreter import Interpreter

        runner = Interpreter(model_path=str(path), num_threads=threads).get_signature_runner("serving_default")
        name, detail = next(iter(runner.get_input_details().items()))
        x = example.numpy()
        if list(detail["shape"]) != list(x.shape):
            x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        return lambda: runner(**{name: x})
    from executorch.runtime import Runtime

    method = Runtime.get().load_program(path).load_method("forward")
    return lambda: method.execute([example])


def _time(calls: dict[str, Callable[[], Any]], warmup: int, runs: int) -> dict[str, float]:
    import numpy as np

    for _ in range(warmup):
        for call in calls.values():
            call()
    times: dict[str, list[float]] = {k: [] for k in calls}
    for _ in range(runs):
        for key, call in calls.items():
            t0 = time.perf_counter()
            call()
            times[key].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) * 1e3 for k, v in times.items()}


def main(argv: list[str] | None = None) -> int:
    _reexec_passive()
    args = _parse(argv)
    import torch

    from ..quantize import builtin_calibration, choose_precision

    torch.set_num_threads(args.threads)
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
        example = calibration.samples[0][0]
        calls, rows = {}, {}
        for fmt in formats:
            out = args.cache / "exports" / f"{name}_{args.size}" / fmt
            manifest = _export(spec, generator, args.size, fmt, out, calibration)
            keep: tuple[str, ...] = ()
            searched = None
            if not manifest.artifact(fmt, "int8").ok:
                search = choose_precision(generator, spec, args.size, fmt, target_psnr=args.target_psnr,
                                          calibration=calibration, precisions=["int8"])
                keep, searched = search.keep_float, search.describe()
                if search.precision == "int8":
                    manifest = _export(spec, generator, args.size, fmt, out, calibration, keep)
            fp32, int8 = manifest.artifact(fmt, "fp32"), manifest.artifact(fmt, "int8")
            rows[fmt] = {"fp32": fp32, "int8": int8, "keep_float": keep, "search": searched}
            for prec, art in (("fp32", fp32), ("int8", int8)):
                if art.file:
                    calls[f"{fmt} {prec}"] = _loader(fmt, out / art.file, args.threads, example)
        ms = _time(calls, args.warmup, args.runs)
        for fmt, row in rows.items():
            fp32, int8 = row["fp32"], row["int8"]
            f_ms, i_ms = ms.get(f"{fmt} fp32"), ms.get(f"{fmt} int8")
            entry = {"model": name, "arch": key, "options": options, "size": args.size, "format": fmt,
                     "fp32_bytes": fp32.bytes, "int8_bytes": int8.bytes,
                     "size_ratio": (fp32.bytes / int8.bytes) if fp32.bytes and int8.bytes else None,
                     "fp32_psnr_db": fp32.parity.psnr_db, "int8_psnr_db": int8.parity.psnr_db,
                     "int8_ssim": int8.parity.ssim, "int8_status": int8.status, "int8_reason": int8.reason,
                     "keep_float": list(row["keep_float"]), "search": row["search"], "fp32_ms": f_ms, "int8_ms": i_ms,
                     "speedup": (f_ms / i_ms) if f_ms and i_ms else None, "threads": args.threads,
                     "runs": args.runs}
            if not int8.ok:
                misses.append(f"{name} {fmt}: int8 failed its gate ({int8.reason})")
            if entry["size_ratio"] is None or entry["size_ratio"] < args.min_size_ratio:
                misses.append(f"{name} {fmt}: int8 is {entry['size_ratio'] or 0:.2f}x smaller, "
                              f"target {args.min_size_ratio}x")
            if entry["speedup"] is None or entry["speedup"] < args.min_speedup:
                misses.append(f"{name} {fmt}: int8 is {entry['speedup'] or 0:.2f}x as fast, "
                              f"target {args.min_speedup}x")
            results.append(entry)
    header = (f"{'model':9s} {'format':6s} {'fp32 MB':>8s} {'int8 MB':>8s} {'smaller':>8s} {'int8 dB':>8s} "
              f"{'SSIM':>6s} {'fp32 ms':>8s} {'int8 ms':>8s} {'speedup':>8s}  float layers")
    print(f"size {args.size}x{args.size}, {args.threads} thread(s), median of {args.runs} interleaved runs, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    print(header)
    for e in results:
        def fmt_num(v: Any, spec: str) -> str:
            return "-" if v is None else format(v, spec)
        print(f"{e['model']:9s} {e['format']:6s} {fmt_num(e['fp32_bytes'] and e['fp32_bytes'] / 1e6, '8.2f')} "
              f"{fmt_num(e['int8_bytes'] and e['int8_bytes'] / 1e6, '8.2f')} {fmt_num(e['size_ratio'], '7.2f')}x "
              f"{fmt_num(e['int8_psnr_db'], '8.2f')} {fmt_num(e['int8_ssim'], '6.3f')} {fmt_num(e['fp32_ms'], '8.2f')} "
              f"{fmt_num(e['int8_ms'], '8.2f')} {fmt_num(e['speedup'], '7.2f')}x  {', '.join(e['keep_float']) or '-'}")
    for e in results:
        if e["search"]:
            print(f"{e['model']} {e['format']}: {e['search']}")
    if args.json:
        from .._io import write_json

        write_json(args.json, {"results": results, "misses": misses})
    for miss in misses:
        print(f"target missed: {miss}", file=sys.stderr)
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
