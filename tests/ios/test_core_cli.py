"""The Swift core's `pix2mobile-core` against Python's pre/post-processing, for every family.

On a real photo of odd size (301 x 227), for each family's Core ML export (both formats, both I/O
styles, see conftest.EXPORTS) and both modes:
- preprocess: the tensor(s) the core writes are bit-equal to `pix2mobile.imaging` applied with the
  layout and range of the artifact's own manifest row;
- postprocess: given the artifact's real outputs (pix2mobile's numpy Core ML evaluator run on
  Python's inputs), the core's picture equals Python's, pixel for pixel (.npy and .png).
The largest pixel difference seen is printed (run pytest -s to see it); the contract expects 0.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pix2mobile.imaging import plan as plans
from pix2mobile.imaging.pixels import to_pixels, to_tensor
from pix2mobile.manifest import Manifest, TensorInfo
from pix2mobile.runtimes.coreml_eval.evaluator import CoreMLModel

PHOTO_FAMILIES = ["fast_style", "cyclegan", "bicyclegan"]
MODES = ["fit", "tile"]


def image_input(row) -> TensorInfo:
    return next(t for t in row.inputs if t.layout in ("NCHW", "NHWC"))


def hw(info: TensorInfo) -> tuple[int, int]:
    return (info.shape[2], info.shape[3]) if info.layout == "NCHW" else (info.shape[1], info.shape[2])


def python_canvases(pixels: np.ndarray, size: tuple[int, int], mode: str):
    """(plan, the model-sized canvases in running order), as pix2mobile.imaging makes them."""
    if mode == "fit":
        fit = plans.fit_plan(pixels.shape[:2], size)
        return fit, [plans.letterbox(pixels, fit)]
    tile = plans.tile_plan(pixels.shape[:2], size)
    padded = plans.pad_edge(pixels, tile.padded)
    return tile, [np.ascontiguousarray(padded[y:y + size[0], x:x + size[1]]) for y, x in tile.boxes]


def bits_equal(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype == np.float32 and got.shape == want.shape, (got.dtype, got.shape, want.shape)
    differ = int((got.view(np.uint32) != want.view(np.uint32)).sum())
    assert differ == 0, f"{differ} of {want.size} values differ in their bits"


def row_of(export):
    manifest = Manifest.read(export.folder)
    return manifest, manifest.artifact(export.format)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("family", PHOTO_FAMILIES)
def test_preprocess_is_bit_equal_to_python(core, ios_exports, odd_photo, tmp_path, family, mode):
    export = ios_exports[family]
    path, pixels = odd_photo
    _, row = row_of(export)
    info = image_input(row)
    _, canvases = python_canvases(pixels, hw(info), mode)
    want = np.concatenate([to_tensor(c, info.range, info.layout) for c in canvases])
    out = tmp_path / "input.npy"
    r = core("preprocess", export.folder, path, out, "--format", export.format, "--mode", mode)
    assert r.returncode == 0, r.stderr
    bits_equal(np.load(out), want)
    if info.color_layout is not None:          # a Core ML image input: the tensor is the raw pixels
        assert info.range == (0.0, 255.0) and np.array_equal(want, np.round(want))
    assert len(canvases) > (1 if mode == "tile" else 0)


def test_preprocess_drops_alpha(core, ios_exports, odd_photo, tmp_path):
    export = ios_exports["cyclegan"]
    path, pixels = odd_photo
    rgba = np.concatenate([pixels, np.random.default_rng(0).integers(0, 256, pixels.shape[:2] + (1,), np.uint8)], 2)
    np.save(tmp_path / "rgba.npy", rgba)
    for name, src in (("rgb.npy", path), ("rgba_in.npy", tmp_path / "rgba.npy")):
        r = core("preprocess", export.folder, src, tmp_path / name, "--format", export.format)
        assert r.returncode == 0, r.stderr
    bits_equal(np.load(tmp_path / "rgba_in.npy"), np.load(tmp_path / "rgb.npy"))


def artifact_outputs(export, row, canvases) -> np.ndarray:
    """The artifact's own outputs (first output, its manifest layout and range) for each canvas,
    stacked: what an app gets back from Core ML, computed by pix2mobile's numpy evaluator."""
    model = CoreMLModel(export.folder / row.file)
    info = image_input(row)
    others = {}
    for t in row.inputs:
        if t.layout == "NC":                     # BicycleGAN's z: a fixed draw
            others[t.name] = np.clip(np.random.default_rng(1).standard_normal(t.shape), *t.range).astype(np.float32)
    outs = []
    for canvas in canvases:
        feed = {info.name: to_tensor(canvas, info.range, info.layout), **others}
        outs.append(np.asarray(model.predict(feed)[row.outputs[0].name], dtype=np.float32))
    out = np.concatenate(outs)
    assert out.shape[1:] == tuple(row.outputs[0].shape[1:]), out.shape
    return np.ascontiguousarray(out)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("family", PHOTO_FAMILIES)
def test_postprocess_equals_python(core, ios_exports, odd_photo, tmp_path, family, mode):
    export = ios_exports[family]
    path, pixels = odd_photo
    _, row = row_of(export)
    info = image_input(row)
    out_info = row.outputs[0]
    plan, canvases = python_canvases(pixels, hw(info), mode)
    outputs = artifact_outputs(export, row, canvases)
    if mode == "fit":
        want = plans.unletterbox(to_pixels(outputs, out_info.range, out_info.layout), plan)
    else:
        nchw = outputs if out_info.layout == "NCHW" else outputs.transpose(0, 3, 1, 2)
        want = plans.blend(plan, [nchw[k:k + 1] for k in range(len(nchw))], out_info.range)
    assert want.shape == pixels.shape and want.std() > 5          # a picture, not a flat field
    np.save(tmp_path / "out.npy", outputs)
    for name in ("result.npy", "result.png"):
        r = core("postprocess", export.folder, tmp_path / "out.npy", tmp_path / name, "--format", export.format,
                 "--like", path, "--mode", mode)
        assert r.returncode == 0, r.stderr
    got = np.load(tmp_path / "result.npy")
    png = np.asarray(Image.open(tmp_path / "result.png").convert("RGB"))
    diff = int(np.abs(got.astype(int) - want.astype(int)).max())
    print(f"{family} {export.format} {mode}: largest pixel difference Swift vs Python {diff}")
    assert got.dtype == np.uint8 and got.shape == want.shape and diff == 0
    assert np.array_equal(png, got)


def test_morph(core, ios_exports, odd_photo, tmp_path):
    export = ios_exports["morph"]
    _, row = row_of(export)
    out_info = row.outputs[0]
    model = CoreMLModel(export.folder / row.file)
    y = np.asarray(model.predict({row.inputs[0].name: np.asarray([0.375], np.float32)})[out_info.name], np.float32)
    np.save(tmp_path / "y.npy", y)
    r = core("postprocess", export.folder, tmp_path / "y.npy", tmp_path / "m.npy", "--format", export.format)
    assert r.returncode == 0, r.stderr
    assert np.array_equal(np.load(tmp_path / "m.npy"), to_pixels(y, out_info.range, out_info.layout))
    # no photo to pre-process, and none to be "like": both are refused, in one line, exit 2
    r = core("preprocess", export.folder, odd_photo[0], tmp_path / "x.npy", "--format", export.format)
    assert r.returncode == 2 and "takes no photo" in r.stderr and r.stderr.count("\n") == 1
    r = core("postprocess", export.folder, tmp_path / "y.npy", tmp_path / "m.npy", "--format", export.format,
             "--like", odd_photo[0])
    assert r.returncode == 2 and "drop --like" in r.stderr


@pytest.mark.parametrize("args, message", [
    (["--format", "tflite"], "no passing tflite artifact"),
    (["--format", "mlpackage", "--mode", "native"], "--mode must be fit or tile"),
    (["--format", "mlpackage", "--overlap", "64"], "tile overlap must be between 0"),
    ([], "--format is required"),
    (["--format", "mlpackage", "--bogus", "1"], "unknown option --bogus"),
])
def test_user_errors_are_one_line_exit_2(core, ios_exports, odd_photo, tmp_path, args, message):
    export = ios_exports["fast_style"]
    mode = ["--mode", "tile"] if "--overlap" in args else []
    r = core("preprocess", export.folder, odd_photo[0], tmp_path / "x.npy", *args, *mode)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert message in r.stderr and r.stderr.startswith("pix2mobile-core: error:")
    assert not (tmp_path / "x.npy").exists()


def test_unreadable_inputs(core, ios_exports, tmp_path):
    export = ios_exports["fast_style"]
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    np.save(tmp_path / "float.npy", np.zeros((4, 4, 3), np.float32))
    for src, message in (("bad.npy", "not a .npy file"), ("float.npy", "expected 8-bit RGB(A) pixels"),
                         ("missing.npy", "cannot read it")):
        r = core("preprocess", export.folder, tmp_path / src, tmp_path / "x.npy", "--format", export.format)
        assert r.returncode == 2 and message in r.stderr, r.stderr
    r = core("preprocess", tmp_path, tmp_path / "bad.npy", tmp_path / "x.npy", "--format", "mlpackage")
    assert r.returncode == 2 and "no such manifest" in r.stderr
