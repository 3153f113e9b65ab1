"""The page's in-browser timings next to the server's, for the issue note and docs/web.md.

    PYTHONPATH=src python tests/web/measure_timings.py [--runs 7] [--out DIR]

Makes untrained (seeded, valid) fast-style `lite` (default width 16) and `johnson` generators at
256x256 (the weights do not change the work, so timing needs no training), exports each to .onnx
and .tflite fp32, serves them (plus a copy without the checkpoint, so the server runs the .onnx),
and in one Chromium page session runs a 256x256 photo through every runtime: one warm-up, then
--runs timed runs; prints the median pre-process / inference / post-process per runtime as a
Markdown table. Not a test: it takes a few minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "apply"))

from apply_runs import photo  # noqa: E402
from conftest import _doctor, start_server, stop_server  # noqa: E402
from test_web_browser import CHROMIUM_FLAGS, chromium  # noqa: E402

from pix2mobile.checkpoint import save_run  # noqa: E402
from pix2mobile.models import get_variant  # noqa: E402
from pix2mobile.models.loading import load_generator  # noqa: E402
from pix2mobile.pipelines.export import export_model  # noqa: E402
from pix2mobile.train.loop import export_meta  # noqa: E402

SIZE = 256


def make(root: Path, arch: str) -> tuple[Path, Path]:
    spec = get_variant("fast_style", arch)
    torch.manual_seed(0)
    gen = spec.create(**spec.defaults)
    run = save_run(root / "runs" / arch, gen.state_dict(), export_meta(spec, dict(spec.defaults), SIZE))
    loaded = load_generator(run)
    out = root / "exports" / arch
    manifest = export_model(loaded.generator, loaded.spec, SIZE, ["onnx", "tflite"], out, options=loaded.options,
                            checkpoint_sha256=loaded.sha256, checkpoint=loaded.source, samples=1)
    assert manifest.ok, [(a.format, a.reason) for a in manifest.artifacts]
    return run, out


def measure(url: str, pic: Path, models: list[str], runs: int) -> list[dict]:
    from playwright.sync_api import sync_playwright

    rows = []
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        ctx = pw.chromium.launch_persistent_context(profile, executable_path=chromium(), args=CHROMIUM_FLAGS,
                                                    headless=True)
        page = ctx.new_page()
        page.goto(url + "/")
        page.wait_for_selector("body[data-ready=true]")
        page.set_input_files('[data-testid="upload"]', str(pic))
        page.wait_for_function("document.querySelector('[data-testid=\"run\"]').disabled === false")
        for model in models:
            page.select_option('[data-testid="model"]', model)
            options = page.eval_on_selector_all('[data-testid="runtime"] option:not([disabled])',
                                                "os => os.map(o => o.value)")
            for runtime in options:
                page.select_option('[data-testid="runtime"]', runtime)
                samples = []
                for _ in range(runs + 1):
                    before = int(page.get_attribute('[data-testid="result"]', "data-runs"))
                    page.click('[data-testid="run"]')
                    page.wait_for_function("document.querySelector('[data-testid=\"result\"]').dataset.runs === "
                                           f"'{before + 1}'", timeout=600_000)
                    last = page.evaluate("window.pix2mobile.last")
                    if "error" in last:
                        raise SystemExit(f"{model} {runtime}: {last['error']}")
                    samples.append(last)
                timed = samples[1:]
                med = {k: statistics.median(s["timing"][k] for s in timed) for k in ("pre", "infer", "post")}
                rows.append({"model": model, "runtime": runtime, "label": samples[-1]["label"],
                             "load_ms": samples[0]["loadMs"], **med,
                             "network": statistics.median(s["timing"].get("network") or 0 for s in timed)})
                print(json.dumps(rows[-1]), flush=True)
        ctx.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None, help="keep the exports here (default: a temp folder)")
    parser.add_argument("--archs", default="lite,johnson", help="fast-style architectures (default: lite,johnson)")
    parser.add_argument("--photo-size", type=int, nargs=2, default=(SIZE, SIZE), metavar=("W", "H"),
                        help="the photo (default: 256 256, the model's size: fit then resizes nothing)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        folders = []
        archs = [a for a in args.archs.split(",") if a]
        for arch in archs:
            export = root / "exports" / arch
            if not (export / "manifest.json").is_file():
                make(root, arch)
            folders.append(export)
            copy = root / "exports" / f"{arch}_onnx"
            if not copy.exists():
                _doctor(export, copy, ("onnx",), str(root / "no-such-run"))
            folders.append(copy)
        w, h = args.photo_size
        pic = root / f"photo{w}x{h}.png"
        wide = photo((max(w, h * 3 // 2), h))                   # a real photo, cropped to W x H
        Image.fromarray(np.ascontiguousarray(wide[:, (wide.shape[1] - w) // 2:][:, :w])).save(pic)
        server = start_server(folders, Path(tempfile.mkdtemp(dir=root)))
        try:
            rows = measure(server.url, pic, [m for a in archs for m in (a, f"{a}_onnx")], args.runs)
        finally:
            stop_server(server)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nphoto {w}x{h}, model 256x256, mode fit; medians of {args.runs} runs after one warm-up; "
          f"{os.cpu_count()} cores, load average afterwards {load} (other work on the host slows every row)")
    print("\n| model | where | runtime | pre-process ms | inference ms | post-process ms | first load ms |")
    print("|---|---|---|---:|---:|---:|---:|")
    for r in rows:
        if r["model"].endswith("_onnx") and r["runtime"] != "server":
            continue                                  # the same browser artifacts again
        where = "server" if r["runtime"] == "server" else "browser"
        load = f"{r['load_ms']:.0f}" if r["load_ms"] else ""
        print(f"| {r['model'].replace('_onnx', '')} | {where} | {r['label']} | {r['pre']:.1f} | {r['infer']:.1f} "
              f"| {r['post']:.1f} | {load} |")


if __name__ == "__main__":
    main()
