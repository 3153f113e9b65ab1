"""Which artifacts run in which in-browser runtime, measured: for docs/web.md.

    PYTHONPATH=src python tests/web/browser_matrix.py EXPORT_DIR... [--photo PHOTO]

Serves the folders, and in one Chromium page runs the photo (the morph: alpha 0.5) through every
browser artifact each lists (.onnx with onnxruntime-web, .tflite of any precision with LiteRT.js),
downloads each result and compares it with what Python's runtime of the same artifact computes
(`pipelines.apply`, the contract in numpy): one Markdown row per artifact with the PSNR, or the
message the page showed. Not a test: the web tests hold fp32 .onnx and .tflite to 40 dB.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "apply"))

from apply_runs import photo  # noqa: E402
from conftest import start_server, stop_server  # noqa: E402
from test_web_browser import CHROMIUM_FLAGS, chromium, psnr  # noqa: E402

from pix2mobile.pipelines.apply import apply_photo, latents, morph_frames, open_model  # noqa: E402
from pix2mobile.web.catalog import Catalog  # noqa: E402


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--photo", type=Path)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    pic = args.photo or tmp / "photo.png"
    if args.photo is None:
        Image.fromarray(photo((300, 200))).save(pic)
    with Image.open(pic) as im:
        pixels = np.asarray(im.convert("RGB")).copy()
    catalog = Catalog.open(args.folders, server=False)
    server = start_server(args.folders, tmp / "server")
    rows = []
    try:
        with sync_playwright() as pw:
            ctx = pw.chromium.launch_persistent_context(str(tmp / "profile"), executable_path=chromium(),
                                                        args=CHROMIUM_FLAGS, headless=True, accept_downloads=True)
            page = ctx.new_page()
            page.goto(server.url + "/")
            page.wait_for_selector("body[data-ready=true]")
            page.set_input_files('[data-testid="upload"]', str(pic))
            for entry in catalog.entries.values():
                variant = entry.first
                page.select_option('[data-testid="model"]', entry.id)
                for a in variant.artifacts:
                    page.select_option('[data-testid="runtime"]', f"{a.format}:{a.precision}")
                    before = int(page.get_attribute('[data-testid="result"]', "data-runs"))
                    page.click('[data-testid="run"]')
                    page.wait_for_function("document.querySelector('[data-testid=\"result\"]').dataset.runs === "
                                           f"'{before + 1}'", timeout=300_000)
                    last = page.evaluate("window.pix2mobile.last")
                    m = variant.manifest.model
                    name = f"{m.family}/{m.arch}{' ' + variant.direction if variant.direction else ''}"
                    if "error" in last:
                        rows.append((name, a, "fails", page.inner_text('[data-testid="status"]')))
                        continue
                    with page.expect_download() as info:
                        page.click('[data-testid="download"]')
                    with Image.open(info.value.path()) as im:
                        got = np.asarray(im.convert("RGB")).copy()
                    model = open_model(variant.folder, format=a.format, precision=a.precision)
                    if m.family == "morph":
                        want = morph_frames(model, [0.5])[0]
                    else:
                        z = latents(model, 1, 0)[0] if any(t.kind == "latent" for t in model.io.inputs) else None
                        want = apply_photo(model, pixels, "fit", z=z)
                    db = psnr(got, want)
                    rows.append((name, a, "runs", "identical" if db == math.inf else f"{db:.1f} dB"))
                    print(rows[-1][0], a.format, a.precision, rows[-1][3], flush=True)
            ctx.close()
    finally:
        stop_server(server)
    print("\n| model | artifact | in-browser runtime | result | against Python's runtime of the same file |")
    print("|---|---|---|---|---|")
    for name, a, ok, note in rows:
        runtime = "onnxruntime-web (WASM)" if a.format == "onnx" else "LiteRT.js (WASM)"
        print(f"| {name} | .{a.format} {a.precision} | {runtime} | {ok} | {note} |")


if __name__ == "__main__":
    main()
