"""The JSON API of `pix2mobile serve`, against a real server process: every route, every refusal,
16 concurrent applies, and results equal to `pix2mobile apply`'s for the same photo."""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import os
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image

from pix2mobile.cli import main
from pix2mobile.errors import ConfigError

LIMIT = 20_000_000


def call(server, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    host = urlsplit(server.url)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=120)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def refused(server, method: str, path: str, status: int, body: bytes | None = None, **kw) -> str:
    got, headers, data = call(server, method, path, body, **kw)
    assert got == status, (got, data[:300])
    assert headers["content-type"].startswith("application/json")
    payload = json.loads(data)
    assert list(payload) == ["error"] and isinstance(payload["error"], str)
    assert payload["error"] and "\n" not in payload["error"]
    return payload["error"]


def png_pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG" and im.mode == "RGB"
        return np.asarray(im).copy()


def apply_cli(tmp_path: Path, name: str, *argv: str) -> np.ndarray:
    """What `pix2mobile apply ARGV --out DIR` wrote for the one photo (or alpha) given."""
    out = tmp_path / name
    assert main(["apply", *argv, "--out", str(out)]) == 0
    written = sorted(out.glob("*.png"))
    assert len(written) == 1, written
    with Image.open(written[0]) as im:
        return np.asarray(im.convert("RGB")).copy()


def post_photo(server, query: str, photo: Path) -> np.ndarray:
    status, headers, data = call(server, "POST", f"/api/v1/apply?{query}", photo.read_bytes())
    assert status == 200, data[:300]
    assert headers["content-type"] == "image/png"
    assert {"decode", "pre", "infer", "post", "encode"} <= {p.split(";")[0].strip()
                                                           for p in headers["server-timing"].split(",")}
    return png_pixels(data)


# ------------------------------------------------------------------------------------ listing

def test_healthz_and_the_page(server):
    status, headers, data = call(server, "GET", "/healthz")
    assert status == 200 and json.loads(data) == {"status": "ok", "models": 6}
    status, headers, data = call(server, "GET", "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    for testid in ("upload", "model", "runtime", "run", "result", "timing"):
        assert f'data-testid="{testid}"' in data.decode()
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert headers["cross-origin-embedder-policy"] == "require-corp"
    status, headers, data = call(server, "GET", "/static/contract.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript") and b"export function" in data
    assert b"http://" not in data and b"https://" not in data           # nothing fetched from elsewhere


def test_models_list_what_the_manifests_say(server, web_models):
    status, _, data = call(server, "GET", "/api/v1/models")
    assert status == 200
    listing = json.loads(data)
    models = {m["id"]: m for m in listing["models"]}
    assert list(models) == ["fast_style", "morph", "bicyclegan", "cyclegan", "style_onnx", "style_tflite"]
    style = models["fast_style"]
    assert (style["family"], style["arch"], style["size"]) == ("fast_style", "lite", [64, 64])
    [v] = style["variants"]
    assert [(a["format"], a["precision"], a["runtime"]) for a in v["artifacts"]] == [
        ("onnx", "fp32", "onnxruntime-web"), ("tflite", "fp32", "litert")]
    assert [t["layout"] for t in v["artifacts"][1]["inputs"]] == ["NHWC"]          # as the manifest row says
    assert v["server"]["engine"] == "eager" and "eager PyTorch" in v["server"]["label"]
    assert models["style_onnx"]["variants"][0]["server"]["engine"] == "onnx"
    assert "checkpoint" in models["style_onnx"]["variants"][0]["server"]["note"]
    assert models["style_tflite"]["variants"][0]["server"]["engine"] is None
    assert models["cyclegan"]["directions"] == ["a2b", "b2a"]
    assert [v["direction"] for v in models["cyclegan"]["variants"]] == ["a2b", "b2a"]
    assert listing["limits"] == {"max_bytes": LIMIT, "max_pixels": 40_000_000}
    assert set(listing["runtimes"]) == {"onnxruntime-web", "litert"}
    # every artifact URL hands out exactly the file the manifest lists
    manifest = json.loads((web_models.exports["fast_style"] / "manifest.json").read_text())
    for a in v["artifacts"]:
        status, headers, blob = call(server, "GET", a["url"])
        assert status == 200 and headers["content-type"] == "application/octet-stream"
        row = next(r for r in manifest["artifacts"] if (r["format"], r["precision"]) == (a["format"], a["precision"]))
        assert hashlib.sha256(blob).hexdigest() == row["sha256"] == a["sha256"]


def test_latent_is_apply_s_draw(server, web_models):
    from pix2mobile.pipelines.apply import latents, open_model

    status, _, data = call(server, "GET", "/api/v1/latent?model=bicyclegan&seed=5")
    assert status == 200
    got = json.loads(data)
    model = open_model(web_models.exports["bicyclegan"], format="onnx")
    want = latents(model, 1, 5)[0]
    assert got["shape"] == [1, 8] and got["seed"] == 5
    assert np.array_equal(np.asarray(got["z"], dtype=np.float32), want.ravel())
    assert "no latent" in refused(server, "GET", "/api/v1/latent?model=fast_style", 400)


# ------------------------------------------------------------------------------------ apply == pix2mobile apply

def test_fit_and_tile_equal_apply_on_the_run(server, web_models, tmp_path):
    run, pic = str(web_models.runs["fast_style"]), str(web_models.photo)
    for mode in ("fit", "tile"):
        got = post_photo(server, f"model=fast_style&mode={mode}", web_models.photo)
        want = apply_cli(tmp_path, mode, run, pic, "--size", "64", "64", "--mode", mode)
        assert got.shape == (200, 300, 3)
        assert np.array_equal(got, want), f"{mode}: {int((got != want).sum())} values differ"
    default = post_photo(server, "model=fast_style", web_models.small)         # mode defaults to fit
    assert np.array_equal(default, apply_cli(tmp_path, "small", run, str(web_models.small), "--size", "64", "64",
                                             "--mode", "fit"))


def test_without_the_checkpoint_the_server_runs_the_onnx_as_apply_does(server, web_models, tmp_path):
    got = post_photo(server, "model=style_onnx&mode=fit", web_models.photo)
    want = apply_cli(tmp_path, "onnx", str(web_models.exports["style_onnx"]), str(web_models.photo),
                     "--format", "onnx", "--mode", "fit")
    assert np.array_equal(got, want)
    assert "cannot run on this server" in refused(server, "POST", "/api/v1/apply?model=style_tflite",
                                                  409, web_models.photo.read_bytes())


def test_cyclegan_direction_bicyclegan_seed_and_morph_alpha_equal_apply(server, web_models, tmp_path):
    pic = str(web_models.photo)
    got = post_photo(server, "model=cyclegan&direction=b2a&mode=fit", web_models.photo)
    want = apply_cli(tmp_path, "b2a", str(web_models.runs["cyclegan"]), pic, "--direction", "b2a",
                     "--size", "64", "64", "--mode", "fit")
    assert np.array_equal(got, want)
    a2b = post_photo(server, "model=cyclegan&mode=fit", web_models.photo)              # default: a2b
    assert np.array_equal(a2b, apply_cli(tmp_path, "a2b", str(web_models.runs["cyclegan"]), pic,
                                         "--size", "64", "64", "--mode", "fit"))
    assert not np.array_equal(a2b, got)

    got = post_photo(server, "model=bicyclegan&seed=3&mode=fit", web_models.photo)
    want = apply_cli(tmp_path, "bicycle", str(web_models.runs["bicyclegan"]), pic, "--seed", "3",
                     "--size", "128", "128", "--mode", "fit")
    assert np.array_equal(got, want)
    other = post_photo(server, "model=bicyclegan&seed=4&mode=fit", web_models.photo)
    assert not np.array_equal(other, got)                # a new sample is a new picture

    status, headers, data = call(server, "POST", "/api/v1/apply?model=morph&alpha=0.25")
    assert status == 200, data
    want = apply_cli(tmp_path, "morph", str(web_models.runs["morph"]), "--alpha", "0.25", "--size", "64", "64")
    assert np.array_equal(png_pixels(data), want)


def test_sixteen_concurrent_applies_are_all_correct(server, web_models):
    from pix2mobile.data.images import load_image
    from pix2mobile.pipelines.apply import apply_photo, open_model

    model = open_model(web_models.runs["fast_style"], size=(64, 64))
    photos = [web_models.photo, web_models.small]
    jobs = [(photos[i % 2], ("fit", "tile")[(i // 2) % 2]) for i in range(16)]
    want = {(p, m): apply_photo(model, np.asarray(load_image(p)), m) for p in photos for m in ("fit", "tile")}

    def one(job: tuple[Path, str]) -> np.ndarray:
        return post_photo(server, f"model=fast_style&mode={job[1]}", job[0])

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, jobs))
    for job, got in zip(jobs, results):
        assert np.array_equal(got, want[job]), job


# ------------------------------------------------------------------------------------ refusals

def _bomb_png(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height but which carries a few bytes of pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def test_size_limit_is_checked_before_the_body_is_read(server):
    # declared too large: refused on the header alone, before one byte of body is sent
    host = urlsplit(server.url)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
    conn.putrequest("POST", "/api/v1/apply?model=fast_style")
    conn.putheader("Content-Length", str(LIMIT + 1))
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 413 and "limit" in json.loads(resp.read())["error"]
    conn.close()
    # no length given: counted while the chunks stream in, refused once past the limit
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
    chunk = b"\0" * 1_000_000
    sent = 0
    try:
        conn.request("POST", "/api/v1/apply?model=fast_style", body=iter([chunk] * 25), encode_chunked=True)
        sent = 25
    except (BrokenPipeError, ConnectionResetError):
        pass                                 # the server answered and closed before all 25 MB went out
    resp = conn.getresponse()
    assert resp.status == 413, (resp.status, sent)
    assert json.loads(resp.read())["error"].startswith("the photo is over")
    conn.close()


def test_refusals_are_json_with_one_message(server, web_models):
    photo = web_models.photo.read_bytes()
    assert "not an image" in refused(server, "POST", "/api/v1/apply?model=fast_style", 415, b"hello, world")
    assert "empty" in refused(server, "POST", "/api/v1/apply?model=fast_style", 400, b"")
    message = refused(server, "POST", "/api/v1/apply?model=fast_style", 400, _bomb_png(7000, 7000))
    assert "decompression-bomb guard" in message and "before decoding" in message     # not "truncated": never decoded
    assert "decompression bomb" in refused(server, "POST", "/api/v1/apply?model=fast_style", 400,
                                           _bomb_png(20000, 20000))                    # Pillow's own guard
    truncated = photo[: len(photo) // 2]
    assert "truncated" in refused(server, "POST", "/api/v1/apply?model=fast_style", 400, truncated)
    assert "unknown model 'nope'" in refused(server, "POST", "/api/v1/apply?model=nope", 404, photo)
    assert "name a model" in refused(server, "POST", "/api/v1/apply", 400, photo)
    assert "mode must be" in refused(server, "POST", "/api/v1/apply?model=fast_style&mode=native", 400, photo)
    assert "seed" in refused(server, "POST", "/api/v1/apply?model=bicyclegan&seed=-1", 400, photo)
    assert "seed" in refused(server, "POST", "/api/v1/apply?model=fast_style&seed=1", 400, photo)
    assert "alpha" in refused(server, "POST", "/api/v1/apply?model=fast_style&alpha=0.5", 400, photo)
    assert "alpha" in refused(server, "POST", "/api/v1/apply?model=morph", 400)
    assert "between" in refused(server, "POST", "/api/v1/apply?model=morph&alpha=3", 400)
    assert "finite" in refused(server, "POST", "/api/v1/apply?model=morph&alpha=nan", 400)
    assert "no photo" in refused(server, "POST", "/api/v1/apply?model=morph&alpha=0.5", 400, photo)
    assert "no direction 'c2d'" in refused(server, "POST", "/api/v1/apply?model=cyclegan&direction=c2d", 400, photo)
    assert "no such route" in refused(server, "GET", "/api/v2/models", 404)
    assert "not allowed" in refused(server, "GET", "/api/v1/apply?model=fast_style", 405)
    assert "not allowed" in refused(server, "DELETE", "/api/v1/models", 405)
    assert "no browser artifact tflite int8" in refused(
        server, "GET", "/api/v1/artifact?model=fast_style&format=tflite&precision=int8", 404)


def test_no_path_reaches_outside_the_export_folders(server, web_models, tmp_path):
    from pix2mobile.web.catalog import Catalog

    secret = b"not for the web"
    for path in ["/static/../../manifest.json", "/static/%2e%2e/%2e%2e/manifest.json", "/static/..%2fapp.py",
                 "/vendor/onnxruntime-web/../package.json", "/vendor/onnxruntime-web/%2e%2e/package.json",
                 "/vendor/litert/%2e%2e%2f%2e%2e%2fonnxruntime-web/package.json",
                 "/node_modules/onnxruntime-web/package.json",
                 "/api/v1/artifact?model=fast_style&format=../manifest.json&precision=fp32",
                 "/api/v1/artifact?model=fast_style&format=onnx&precision=../../manifest",
                 "/api/v1/artifact?model=..%2Ffast_style&format=onnx&precision=fp32"]:
        status, _, data = call(server, "GET", path)
        assert status in (400, 404), (path, status)
        assert b'"artifacts"' not in data and b'"version"' not in data and secret not in data
    # a manifest whose rows leave the folder (a path or a symlink) is refused at start-up, not served
    for name, file in (("escape", "../secret.onnx"), ("link", "link.onnx")):
        bad = tmp_path / name
        bad.mkdir()
        (tmp_path / "secret.onnx").write_bytes(secret)
        if name == "link":
            os.symlink(tmp_path / "secret.onnx", bad / "link.onnx")
        manifest = json.loads((web_models.exports["fast_style"] / "manifest.json").read_text())
        manifest["artifacts"][0]["file"] = file
        (bad / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(ConfigError, match="outside the export folder|not inside the export folder"):
            Catalog.open([bad], server=False)


def test_nothing_is_written_to_disk_per_request(server, web_models):
    def snapshot() -> dict[str, tuple[int, int]]:
        out = {}
        for base in [server.cwd, server.tmpdir, *web_models.exports.values()]:
            for p in sorted(base.rglob("*")):
                st = p.lstat()
                out[str(p)] = (st.st_size, st.st_mtime_ns)
        return out

    before = snapshot()
    big = np.random.default_rng(0).integers(0, 256, (1500, 2000, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(big).save(buf, format="PNG", compress_level=0)          # ~9 MB: above any in-memory spool size
    assert len(buf.getvalue()) > 5_000_000
    assert post_photo(server, "model=fast_style&mode=fit", _write(server, buf.getvalue())).shape == (1500, 2000, 3)
    post_photo(server, "model=style_onnx&mode=tile", web_models.photo)
    call(server, "POST", "/api/v1/apply?model=fast_style", b"junk")
    call(server, "GET", "/api/v1/models")
    assert snapshot() == before
    assert not any(server.cwd.iterdir())


def _write(server, data: bytes) -> Path:
    """A photo for the client side, kept outside every folder the snapshot watches."""
    path = server.cwd.parent / "upload.png"
    path.write_bytes(data)
    return path


def test_serve_refuses_bad_arguments_in_one_line(tmp_path, capsys):
    assert main(["serve", str(tmp_path / "missing")]) == 2
    assert "no such export folder" in capsys.readouterr().err
    assert main(["serve", str(tmp_path), "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err
    assert main(["serve", str(tmp_path)]) == 2
    assert "holds no manifest.json" in capsys.readouterr().err
