"""The page in a real Chromium (Debian's `chromium`, driven by Playwright; never a downloaded browser):
upload a photo, run it in the browser with onnxruntime-web and LiteRT.js and on the server, download
each result and compare it with what Python computes for the same photo and artifact.

Without Chromium (or the npm packages, or Playwright) these tests skip with one reason line; with
CI=true they fail instead. WEB_SCREENSHOT=PATH also saves the page's screenshot there (the README's
docs/web_demo.png comes from `make web-screenshot`).
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import shutil
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
from PIL import Image

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
RESULT = '[data-testid="result"]'
MIN_DB = 40.0


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the browser tests must run)")
    pytest.skip(reason)


def chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


@pytest.fixture(scope="module")
def context(server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    executable = chromium()
    if executable is None:
        unavailable("Chromium is not installed: `apt-get install chromium` (make web-deps does it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the Python package playwright is not installed: make venv")
    with urllib.request.urlopen(f"{server.url}/api/v1/models") as resp:
        runtimes = json.loads(resp.read())["runtimes"]
    missing = [r["reason"] for r in runtimes.values() if not r["available"]]
    if missing:
        unavailable(f"the page's npm packages are missing: {missing[0]}")
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=executable, args=CHROMIUM_FLAGS,
            headless=True, accept_downloads=True, viewport={"width": 1100, "height": 900},
            permissions=["camera"])
        yield ctx
        ctx.close()


@pytest.fixture
def page(context, server) -> Iterator[Any]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url + "/")
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    yield page
    page.close()
    assert not errors, errors


def select(page, testid: str, value: str) -> None:
    page.select_option(f'[data-testid="{testid}"]', value)


def finish(page, runs_before: int, timeout_ms: int = 120_000) -> dict[str, Any]:
    page.wait_for_function(f"document.querySelector('{RESULT}').dataset.runs === '{runs_before + 1}'",
                           timeout=timeout_ms)
    state = page.get_attribute(RESULT, "data-state")
    message = page.inner_text('[data-testid="status"]')
    assert state == "done", message
    return page.evaluate("window.pix2mobile.last")


def run(page, runtime: str) -> dict[str, Any]:
    before = int(page.get_attribute(RESULT, "data-runs"))
    select(page, "runtime", runtime)
    page.click('[data-testid="run"]')
    return finish(page, before)


def download(page) -> np.ndarray:
    with page.expect_download() as info:
        page.click('[data-testid="download"]')
    path = info.value.path()
    with Image.open(path) as im:
        assert im.format == "PNG"
        return np.asarray(im.convert("RGB")).copy()


def check_timing(page, last: dict[str, Any]) -> None:
    t = last["timing"]
    assert t["infer"] > 0 and t["pre"] >= 0 and t["post"] >= 0
    text = page.inner_text('[data-testid="timing"]')
    for word in ("pre-process", "inference", "post-process"):
        assert word in text


def readme_screenshot(context, tmp_path: Path) -> bytes | None:
    """With WEB_SCREENSHOT_EXPORT=FOLDER (`make web-screenshot`: the demo's style export), the same
    steps on a real style model and the golden photo, for the README; None without it."""
    folder = os.environ.get("WEB_SCREENSHOT_EXPORT")
    if not folder:
        return None
    from conftest import start_server, stop_server

    golden = Path(__file__).resolve().parents[1] / "golden" / "photo.png"
    demo = start_server([Path(folder)], tmp_path / "screenshot-server")
    page = context.new_page()
    try:
        page.goto(demo.url + "/")
        page.wait_for_selector("body[data-ready=true]", timeout=30_000)
        page.set_input_files('[data-testid="upload"]', str(golden))
        page.wait_for_function("document.querySelector('[data-testid=\"run\"]').disabled === false")
        run(page, "server")
        run(page, "onnx:fp32")
        return page.screenshot(full_page=True)
    finally:
        page.close()
        stop_server(demo)


def test_photo_in_onnxruntime_web_litert_and_on_the_server(page, web_models, tmp_path):
    from pix2mobile.data.images import load_image
    from pix2mobile.pipelines.apply import apply_photo, open_model

    pixels = np.asarray(load_image(web_models.photo))
    export = web_models.exports["fast_style"]
    want = {"onnx:fp32": apply_photo(open_model(export, format="onnx"), pixels, "fit"),
            "tflite:fp32": apply_photo(open_model(export, format="tflite"), pixels, "fit"),
            "server": apply_photo(open_model(web_models.runs["fast_style"], size=(64, 64)), pixels, "fit")}

    page.set_input_files('[data-testid="upload"]', str(web_models.photo))
    page.wait_for_function("document.querySelector('[data-testid=\"run\"]').disabled === false")
    assert "300×200" in page.inner_text('[data-testid="input-caption"]')
    select(page, "model", "fast_style")
    got, seen = {}, {}
    for runtime in ("onnx:fp32", "tflite:fp32", "server"):
        last = run(page, runtime)
        check_timing(page, last)
        got[runtime] = download(page)
        seen[runtime] = psnr(got[runtime], want[runtime])
        print(f"{runtime}: {seen[runtime]:.2f} dB against Python; timing {last['timing']}; load {last['loadMs']}")
        assert (last["width"], last["height"]) == (300, 200)
    # in the browser: the same artifact as Python ran, through the same contract (>= 40 dB after 8-bit rounding)
    assert seen["onnx:fp32"] >= MIN_DB and seen["tflite:fp32"] >= MIN_DB, seen
    # on the server: exactly `apply`'s result (the page sent the file's bytes; the server decoded them as apply does)
    assert seen["server"] == math.inf, seen
    # the page's PSNR readout is the PSNR of what it showed, for both browser runtimes against the server
    shown = page.evaluate("window.pix2mobile.last.psnr")
    assert set(shown) == {"onnx:fp32", "tflite:fp32"}
    for runtime in shown:
        ours = psnr(got[runtime], got["server"])
        assert shown[runtime] == ours or abs(shown[runtime] - ours) < 1e-6, (shown, ours)
    lines = page.inner_text('[data-testid="psnr"]')
    assert "onnxruntime-web" in lines and "LiteRT.js" in lines and " dB" in lines

    shot = page.screenshot(full_page=True)
    with Image.open(io.BytesIO(shot)) as im:
        assert im.width == 1100 and im.height >= 600
    target = os.environ.get("WEB_SCREENSHOT")
    if target:                      # 256 colours: a third of the bytes, for the README
        with Image.open(io.BytesIO(readme_screenshot(page.context, tmp_path) or shot)) as im:
            im.convert("RGB").quantize(256, Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
                target, optimize=True)

    # tile mode in the browser: the blended result equals Python's tile run on the same artifact
    select(page, "mode", "tile")
    last = run(page, "onnx:fp32")
    tiled = download(page)
    assert psnr(tiled, apply_photo(open_model(export, format="onnx"), pixels, "tile")) >= MIN_DB
    assert last["timing"]["infer"] > 0


def test_morph_alpha_bicyclegan_sample_cyclegan_direction(page, web_models):
    from pix2mobile.data.images import load_image
    from pix2mobile.pipelines.apply import apply_photo, latents, morph_frames, open_model

    pixels = np.asarray(load_image(web_models.small))
    page.set_input_files('[data-testid="upload"]', str(web_models.small))
    page.wait_for_function("document.querySelector('[data-testid=\"run\"]').disabled === false")

    # morph: moving the slider renders the frame at that alpha
    select(page, "model", "morph")
    assert page.is_visible('[data-testid="alpha"]') and not page.is_visible('[data-testid="mode"]')
    select(page, "runtime", "onnx:fp32")
    before = int(page.get_attribute(RESULT, "data-runs"))
    page.evaluate("""() => { const s = document.querySelector('[data-testid="alpha"]'); s.value = '0.3';
                             s.dispatchEvent(new Event('input')); s.dispatchEvent(new Event('change')); }""")
    finish(page, before)
    want = morph_frames(open_model(web_models.exports["morph"], format="onnx"), [0.3])[0]
    assert psnr(download(page), want) >= MIN_DB

    # BicycleGAN: "new sample" draws z from the next seed (the server's draw, as apply --seed makes it)
    select(page, "model", "bicyclegan")
    select(page, "runtime", "onnx:fp32")
    before = int(page.get_attribute(RESULT, "data-runs"))
    page.click('[data-testid="sample"]')
    finish(page, before)
    assert "seed 1" in page.inner_text('[data-testid="seed"]')
    bicycle = open_model(web_models.exports["bicyclegan"], format="onnx")
    sample = download(page)
    assert psnr(sample, apply_photo(bicycle, pixels, "fit", z=latents(bicycle, 1, 1)[0])) >= MIN_DB
    assert psnr(sample, apply_photo(bicycle, pixels, "fit", z=latents(bicycle, 1, 0)[0])) < MIN_DB

    # CycleGAN: the direction picks the generator
    select(page, "model", "cyclegan")
    select(page, "direction", "b2a")
    run(page, "onnx:fp32")
    b2a = open_model(web_models.exports["cyclegan"], format="onnx", direction="b2a")
    assert psnr(download(page), apply_photo(b2a, pixels, "fit")) >= MIN_DB

    # a model nothing can run on the server: the page offers only the browser, and says why
    select(page, "model", "style_tflite")
    assert page.is_disabled('[data-testid="runtime"] option[value="server"]')
    assert "Server: no server-side run" in page.inner_text('[data-testid="runtimes"]')


def test_webcam_picture(page, web_models):
    from pix2mobile.pipelines.apply import apply_photo, open_model

    page.click('[data-testid="webcam"]')
    page.wait_for_function("document.querySelector('[data-testid=\"video\"]').videoWidth > 0", timeout=30_000)
    page.click('[data-testid="capture"]')
    page.wait_for_function("window.pix2mobile.photo && window.pix2mobile.photo.name === 'webcam.png'")
    encoded = page.evaluate("""async () => {
        const b = new Uint8Array(await window.pix2mobile.photo.bytes.arrayBuffer());
        let s = ''; for (const x of b) s += String.fromCharCode(x); return btoa(s); }""")
    with Image.open(io.BytesIO(base64.b64decode(encoded))) as im:
        captured = np.asarray(im.convert("RGB")).copy()
    assert captured.std() > 5                                  # Chromium's fake camera draws a moving pattern
    select(page, "model", "fast_style")
    last = run(page, "onnx:fp32")
    assert (last["height"], last["width"]) == captured.shape[:2]
    want = apply_photo(open_model(web_models.exports["fast_style"], format="onnx"), captured, "fit")
    assert psnr(download(page), want) >= MIN_DB
