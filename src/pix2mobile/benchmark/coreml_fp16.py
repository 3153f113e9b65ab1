"""Every registry generator's fp16 ML Program at 256x256 and 512x512, through the fp16-emulating evaluator.

    python -m pix2mobile.benchmark.coreml_fp16                        # all variants, default options
    python -m pix2mobile.benchmark.coreml_fp16 --variants fast_style/johnson --before

Each variant is built with its default options, `lightly_train`-ed (cached under --cache) and
exported as an fp16 `.mlpackage` by `export_model` at the first --sizes entry with the others as
enumerated sizes, so the parity gate (35 dB for fp16, worst of --samples held-out photos) runs at
every size (`parity.psnr_db_by_size`); a model without an image input (the morph) is exported at
each size on its own. `runtimes.coreml_eval` keeps fp16 intermediates inside each op, as a phone's
GPU or Neural Engine does, so an overflow fails the gate here as it would there.

--before also exports inside `convert.mobile_graph.plain_graphs()`: Core ML's own instance_norm,
which squares x - mean in fp16 (johnson: inf variance, about 20 dB).
Exit 1 when a variant fails at some size (each printed with its reason).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m pix2mobile.benchmark.coreml_fp16", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variants", default="all", help="comma-separated registry keys, or all (default)")
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512], help="H = W sizes (default 256 512)")
    p.add_argument("--train-size", type=int, default=128, help="lightly_train crop size (default 128)")
    p.add_argument("--steps", type=int, default=60, help="lightly_train steps (default 60)")
    p.add_argument("--samples", type=int, default=3, help="held-out parity photos per size (default 3)")
    p.add_argument("--before", action="store_true", help="also export without the mobile graph rewrites")
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "pix2mobile" / "quant_speed",
                   help="where trained weights are kept between runs (shared with quant_speed)")
    p.add_argument("--out", type=Path, default=Path.home() / ".cache" / "pix2mobile" / "coreml_fp16",
                   help="where the exports are written (replaced on each run)")
    p.add_argument("--json", type=Path, default=None, help="also write every number here")
    return p.parse_args(argv)


def _sizes_for(spec: Any, sizes: list[int]) -> list[int]:
    """The requested sizes this variant takes (a multiple of its size_multiple, at least its min_size)."""
    return [s for s in sizes if s >= (spec.min_size or 1) and s % (spec.size_multiple or 1) == 0]


def _generator(key: str, size: int, steps: int, cache: Path) -> Any:
    """The variant with default options, lightly trained (cached). The morph trains its exportable
    module (alpha in, image out) and hands the MLPs back to the stack `export_model` takes."""
    import torch

    from pix2mobile.benchmark.quant_speed import _trained
    from pix2mobile.models import MODELS
    from pix2mobile.train.warmup import lightly_train

    if key != "morph/mlp":
        return _trained(key, {}, size, steps, cache)[1]
    spec = MODELS[key]
    torch.manual_seed(0)
    stack: Any = spec.create()
    morph: Any = lightly_train(spec.exportable(stack, (size, size)), spec.io, size, steps=steps)
    stack.mlps[0].layers.load_state_dict(morph.layers_a.state_dict())
    stack.mlps[1].layers.load_state_dict(morph.layers_b.state_dict())
    return stack.eval()


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    from pix2mobile.convert.mobile_graph import plain_graphs
    from pix2mobile.models import MODELS
    from pix2mobile.pipelines.export import export_model
    from pix2mobile.convert.common import has_image_input

    keys = sorted(MODELS) if args.variants == "all" else [k.strip() for k in args.variants.split(",") if k.strip()]
    unknown = [k for k in keys if k not in MODELS]
    if unknown:
        print(f"coreml_fp16: unknown variant(s) {', '.join(unknown)}: choose from {', '.join(MODELS)}", file=sys.stderr)
        return 2
    rows: list[dict[str, Any]] = []
    misses: list[str] = []
    for key in keys:
        spec = MODELS[key]
        sizes = _sizes_for(spec, args.sizes)
        if not sizes:
            misses.append(f"{key}: takes none of the sizes {args.sizes}")
            continue
        generator = _generator(key, max(args.train_size, spec.min_size or 0), args.steps, args.cache)
        for phase in (("before", "after") if args.before else ("after",)):
            groups = [sizes] if has_image_input(spec.io) else [[s] for s in sizes]
            for group in groups:
                out = args.out / key.replace("/", "_") / phase / str(group[0])
                print(f"{key}: mlpackage fp16 {phase} at {', '.join(f'{s}x{s}' for s in group)}", flush=True)

                context = plain_graphs() if phase == "before" else contextlib.nullcontext()
                with context:
                    manifest = export_model(generator, spec, group[0], ["mlpackage"], out,
                                            precisions={"mlpackage": ["fp16"]}, samples=args.samples, force=True,
                                            sizes=group[1:] or None)
                art = manifest.artifacts[0]
                by_size: dict[str, float | None] = dict(art.parity.psnr_db_by_size)
                if len(group) == 1 or not by_size:          # one size, or the others were never reached
                    by_size = {f"{group[0]}x{group[0]}": art.parity.psnr_db}
                for size in group:
                    psnr = by_size.get(f"{size}x{size}")
                    rows.append({"variant": key, "phase": phase, "size": size, "psnr_db": psnr, "status": art.status,
                                 "reason": art.reason, "shapes": art.shapes.kind,
                                 "notes": [n for n in art.notes if "fp16" in n or "InstanceNorm" in n]})
                if phase == "after" and not art.ok:
                    misses.append(f"{key} at {', '.join(str(s) for s in group)}: {art.reason}")
    print(f"\n{'variant':26s} {'graph':7s} {'size':>9s} {'PSNR dB':>8s}  status")
    for r in rows:
        text = "-" if r["psnr_db"] is None else f"{r['psnr_db']:.1f}"
        print(f"{r['variant']:26s} {r['phase']:7s} {r['size']:>4d}x{r['size']:<4d} {text:>8s}  {r['status']}"
              + (f" ({r['reason']})" if r["reason"] else ""))
    from pix2mobile.benchmark.targets import finish

    return finish(args.json, {"rows": rows}, misses)


if __name__ == "__main__":
    sys.exit(main())
