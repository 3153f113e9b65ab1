"""The main job on embedded defaults, offline: every stage on built-in data, outputs in --out.

Stages (each writes under OUT, atomically):
  1. nst/      Gatys NST of a built-in photo with the built-in generated painting (the desktop reference)
  2. style/    train a `lite` fast-style generator on the built-in photos and that painting
  3. morph/    fit coordinate MLPs to two generated suprematist images; frames and a GIF between them
  4. export_*/ export both to ptl, tflite, mlpackage, mlmodel, onnx and pte, each verified against PyTorch;
               the style model also as int8 (tflite, pte, ptl) and palette6 (Core ML), calibrated on built-in photos
  5. bench_*/  latency, size and parity of every artifact, judged against the desktop references

The defaults take about seven minutes on two CPU cores; every stage's size is a flag.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

from pix2mobile import files


HELP = "run the whole pipeline on built-in data (what `make demo` calls)"
log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("runs/demo"), help="output directory (default: runs/demo)")
    p.add_argument("--content", default="builtin:chelsea", help="NST content image (default: builtin:chelsea)")
    p.add_argument("--style", default="builtin", help="style image (default: the built-in generated painting)")
    p.add_argument("--nst-size", type=int, default=256, help="longer side of the NST image (default: 256)")
    p.add_argument("--nst-steps", type=int, default=60, help="NST L-BFGS steps (default: 60)")
    p.add_argument("--style-size", type=int, default=128, help="fast-style training crop size (default: 128)")
    p.add_argument("--style-steps", type=int, default=300, help="fast-style training steps, batch 2 (default: 300)")
    p.add_argument("--morph-size", type=int, default=64, help="morph training image size (default: 64)")
    p.add_argument("--morph-steps", type=int, default=300, help="morph steps per image (default: 300)")
    p.add_argument("--morph-frames", type=int, default=16, help="frames of the morph GIF (default: 16)")
    p.add_argument("--export-size", type=int, default=256, help="export size of the style model (default: 256)")
    p.add_argument("--morph-export-size", type=int, default=128, help="export size of the morph (default: 128)")
    p.add_argument("--formats", default="ptl,tflite,mlpackage,mlmodel,onnx,pte",
                   help="formats to export (default: all six)")
    p.add_argument("--style-precisions", default="int8,palette6", metavar="P[,P...]",
                   help="precisions the style model gets besides each format's first, where a format makes "
                        "them (default: int8,palette6; '' for float only)")
    p.add_argument("--bench-runs", type=int, default=20, help="timed runs per artifact (default: 20)")


def _stage(n: int, total: int, what: str) -> float:
    log.info("demo %d/%d: %s", n, total, what)
    return time.perf_counter()


def run(args: argparse.Namespace) -> int:
    from pix2mobile.benchmark import BenchConfig, run_bench
    from pix2mobile.benchmark.report import markdown
    from pix2mobile.commands import nst
    from pix2mobile.commands.export import format_table
    from pix2mobile.convert.common import ExportOptions
    from pix2mobile.convert.formats import FORMATS
    from pix2mobile.errors import ConfigError
    from pix2mobile.models.gatys import NSTConfig
    from pix2mobile.models.loading import load_generator
    from pix2mobile.pipelines.export import export_model
    from pix2mobile.train import fast_style as train_style
    from pix2mobile.train import morph as train_morph

    out: Path = args.out
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    extra = [p.strip() for p in args.style_precisions.split(",") if p.strip()]
    known = {p for f in FORMATS.values() for p in f.precisions}
    if [f for f in formats if f not in FORMATS] or [p for p in extra if p not in known]:
        raise ConfigError(f"demo: unknown format or precision in --formats {args.formats} / --style-precisions "
                          f"{args.style_precisions} (formats: {', '.join(FORMATS)}; "
                          f"precisions: {', '.join(sorted(known))})")
    style_precisions = {f: list(dict.fromkeys([FORMATS[f].default_precision,
                                               *(p for p in extra if p in FORMATS[f].precisions)])) for f in formats}
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"stages": {}}
    stages = summary["stages"]
    total = 5

    t = _stage(1, total, "Gatys NST, the desktop reference")
    record = nst.run_nst(args.content, args.style, out / "nst" / "nst.png", NSTConfig(steps=args.nst_steps),
                         size=args.nst_size, force=True)
    stages["nst"] = {"image": "nst/nst.png", "seconds": round(time.perf_counter() - t, 1),
                     "style_loss": [record["history"][0]["style"], record["history"][-1]["style"]]}

    t = _stage(2, total, "train a lite fast-style generator on built-in photos")
    style_run = train_style.train(train_style.FastStyleConfig(
        out=str(out / "style"), force=True, arch="lite", style=args.style, size=args.style_size,
        batch_size=2, lr=2e-3, steps=args.style_steps, save_every=0, sample_every=max(1, args.style_steps // 3)))
    stages["style"] = {"run": str(style_run.relative_to(out)), "seconds": round(time.perf_counter() - t, 1)}

    t = _stage(3, total, "fit the morph MLPs to two generated suprematist images")
    morph_run = train_morph.train(train_morph.MorphConfig(
        out=str(out / "morph"), force=True, images=("builtin:0", "builtin:3"), size=args.morph_size,
        steps=args.morph_steps, lr=2e-3, save_every=0, sample_every=0))
    gif = train_morph.render_transition(morph_run, args.morph_frames, (args.morph_export_size,) * 2,
                                        out / "morph" / "frames", force=True)[-1]
    stages["morph"] = {"run": str(morph_run.relative_to(out)), "gif": str(gif.relative_to(out)),
                       "seconds": round(time.perf_counter() - t, 1)}

    t = _stage(4, total, f"export both to {', '.join(formats)}, each verified against PyTorch")
    manifests = {}
    for name, run_dir, size, precisions in (("style", style_run, args.export_size, style_precisions),
                                            ("morph", morph_run, args.morph_export_size, None)):
        loaded = load_generator(run_dir)
        manifests[name] = export_model(loaded.generator, loaded.spec, (size, size), formats, out / f"export_{name}",
                                       precisions=precisions, options=loaded.options, export_options=ExportOptions(),
                                       checkpoint_sha256=loaded.sha256, checkpoint=loaded.source, force=True)
        print(format_table(manifests[name]) + "\n")
    stages["export"] = {name: {"dir": f"export_{name}", "ok": m.ok} for name, m in manifests.items()}
    stages["export"]["seconds"] = round(time.perf_counter() - t, 1)

    t = _stage(5, total, "benchmark every artifact against eager PyTorch and the desktop references")
    for name in manifests:
        report = run_bench(out / f"export_{name}", out / f"bench_{name}",
                           BenchConfig(runs=args.bench_runs, content=args.content, style=args.style,
                                       nst_steps=args.nst_steps, force=True))
        print(markdown(report))
        stages.setdefault("bench", {})[name] = {"dir": f"bench_{name}", "rows": len(report.rows)}
    stages["bench"]["seconds"] = round(time.perf_counter() - t, 1)

    files.write_json(out / "demo.json", summary)
    failed = [n for n, m in manifests.items() if not m.ok]
    log.info("demo finished: outputs in %s%s", out, f" ({', '.join(failed)} had failed artifacts)" if failed else "")
    print(f"see the models in a browser: pix2mobile serve {out / 'export_style'} {out / 'export_morph'}")
    return 1 if failed else 0
