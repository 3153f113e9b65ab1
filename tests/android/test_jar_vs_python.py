"""The core's jar against Python's `apply` pre/post-processing, for every family, on a real photo of odd size.

For each export (fast style .tflite NHWC and .ptl NCHW, CycleGAN both directions, BicycleGAN,
the morph): `preprocess` (fit and tile) must give Python's tensors bit for bit in the artifact's
layout and range; the artifact is then run by Python on the jar's tensor, and `postprocess` of its
real output must give the pixels `pix2mobile apply` gives, within 1 level (the largest difference
seen is reported; it is expected to be 0).
"""

from __future__ import annotations

import numpy as np
import pytest
from android_env import GOLDEN, REPORT
from PIL import Image

from pix2mobile.imaging import plan as plans
from pix2mobile.imaging.pixels import to_pixels, to_tensor
from pix2mobile.pipelines.apply import apply_photo, latents, morph_frames, open_model

CASES = [("fast_style", "tflite"), ("fast_style", "ptl"), ("cyclegan-a2b", "ptl"), ("cyclegan-b2a", "ptl"),
         ("bicyclegan", "ptl")]
MAX_DIFF: dict[str, int] = {}


@pytest.fixture(scope="module")
def photo_png():
    path = GOLDEN / "photo.png"
    pixels = np.asarray(Image.open(path).convert("RGB"))
    assert pixels.shape == (250, 333, 3)          # odd, and not the model's aspect
    return path, pixels


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    if MAX_DIFF:
        worst = max(MAX_DIFF, key=lambda k: MAX_DIFF[k])
        REPORT.append(f"android core jar vs Python apply: largest pixel difference {MAX_DIFF[worst]} level(s) "
                      f"over {len(MAX_DIFF)} comparisons ({worst}; 1 allowed)")


def _bits_equal(a: np.ndarray, b: np.ndarray, what: str) -> None:
    assert a.shape == b.shape and a.dtype == b.dtype == np.float32, \
        f"{what}: {a.shape} {a.dtype} vs {b.shape} {b.dtype}"
    differ = int((a.view(np.uint32) != b.view(np.uint32)).sum())
    assert differ == 0, f"{what}: {differ} of {a.size} values differ in their bits"


def _within_one(ours: np.ndarray, theirs: np.ndarray, key: str) -> None:
    assert ours.shape == theirs.shape, f"{key}: {ours.shape} vs {theirs.shape}"
    d = int(np.abs(ours.astype(np.int16) - theirs.astype(np.int16)).max())
    MAX_DIFF[key] = d
    assert d <= 1, f"{key}: differs from Python by {d} levels"


def _layout(row, name):
    return next(t for t in [*row.inputs, *row.outputs] if t.name == name)


@pytest.mark.parametrize("name,fmt", CASES)
def test_fit_and_tile_match_python(name, fmt, exports, jar, photo_png, tmp_path):
    export = exports[name]
    png, photo = photo_png
    model = open_model(export.folder, format=fmt)
    row = model.entry
    image_spec = model.image_input
    in_layout = _layout(row, image_spec.name).layout
    out_layout = _layout(row, model.io.outputs[0].name).layout
    z = latents(model, 1, seed=3)[0] if any(s.kind == "latent" for s in model.io.inputs) else None

    def run_nchw(x_nchw: np.ndarray) -> np.ndarray:
        feed = []
        for s in model.io.inputs:
            feed.append(x_nchw if s.kind == "image" else z)
        return model.run(feed)[0]

    for mode in ("fit", "tile"):
        key = f"{name} {fmt} {mode}"
        tensor_npy = tmp_path / f"{mode}_in.npy"
        jar("preprocess", export.folder, png, tensor_npy, "--format", fmt, "--mode", mode)
        ours = np.load(tensor_npy)
        if mode == "fit":
            fit = plans.fit_plan(photo.shape[:2], model.size)
            canvases = [plans.letterbox(photo, fit)]
        else:
            tp = plans.tile_plan(photo.shape[:2], model.size)
            padded = plans.pad_edge(photo, tp.padded)
            canvases = [padded[y:y + model.size[0], x:x + model.size[1]] for y, x in tp.boxes]
        theirs = np.concatenate([to_tensor(c, image_spec.range, in_layout) for c in canvases])
        _bits_equal(ours, theirs, f"{key} input ({in_layout})")
        # the artifact itself (Python's runtime for it) on the jar's tensors, then back through the jar
        nchw = ours if in_layout == "NCHW" else ours.transpose(0, 3, 1, 2)
        outs = [run_nchw(np.ascontiguousarray(nchw[k:k + 1])) for k in range(len(nchw))]
        stacked = np.concatenate(outs)
        if out_layout == "NHWC":
            stacked = stacked.transpose(0, 2, 3, 1)
        out_npy = tmp_path / f"{mode}_out.npy"
        np.save(out_npy, np.ascontiguousarray(stacked, dtype=np.float32))
        result_png = tmp_path / f"{mode}_result.png"
        jar("postprocess", export.folder, out_npy, result_png, "--format", fmt, "--mode", mode, "--like", png)
        ours_px = np.asarray(Image.open(result_png).convert("RGB"))
        theirs_px = apply_photo(model, photo, mode, z=z)          # pix2mobile apply's own path
        _within_one(ours_px, theirs_px, key)


@pytest.mark.parametrize("fmt", ["tflite", "ptl"])
def test_morph_postprocess_matches_python(fmt, exports, jar, tmp_path):
    export = exports["morph"]
    model = open_model(export.folder, format=fmt)
    out_layout = model.entry.outputs[0].layout
    y = model.run([np.asarray([0.375], dtype=np.float32)])[0]
    if out_layout == "NHWC":
        y = np.ascontiguousarray(y.transpose(0, 2, 3, 1))
    np.save(tmp_path / "y.npy", y)
    jar("postprocess", export.folder, tmp_path / "y.npy", tmp_path / "frame.npy", "--format", fmt)
    ours = np.load(tmp_path / "frame.npy")
    _within_one(ours, morph_frames(model, [0.375])[0], f"morph {fmt}")
    assert np.array_equal(ours, to_pixels(y, model.io.outputs[0].range, out_layout))
    refused = jar("preprocess", export.folder, GOLDEN / "photo.png", tmp_path / "x.npy", "--format", fmt, check=False)
    assert refused.returncode == 2 and "takes no photo" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


def test_jar_refuses_bad_input_with_one_line(exports, jar, tmp_path):
    folder = exports["fast_style"].folder
    cases = [
        ("preprocess", folder, GOLDEN / "photo.png", tmp_path / "x.npy", "--format", "onnx"),
        ("preprocess", tmp_path, GOLDEN / "photo.png", tmp_path / "x.npy", "--format", "ptl"),
        ("preprocess", folder, tmp_path / "missing.png", tmp_path / "x.npy", "--format", "ptl"),
        ("preprocess", folder, GOLDEN / "photo.png", tmp_path / "x.npy", "--format", "ptl", "--mode", "native"),
        ("postprocess", folder, GOLDEN / "fast_style" / "output_nchw.npy", tmp_path / "x.png", "--format", "ptl",
         "--mode", "tile"),
        ("frobnicate",),
    ]
    for args in cases:
        proc = jar(*args, check=False)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) >= 1 and "Exception" not in proc.stderr, proc.stderr
