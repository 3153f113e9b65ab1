"""Python's contract (pix2mobile.imaging) reproduces the committed golden vectors exactly.

The same files are what the Kotlin, Swift and JavaScript implementations are held to, so these
checks also prove the files themselves say what docs/preprocessing.md says.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pix2mobile.imaging import plan as plans
from pix2mobile.imaging.pixels import to_pixels, to_tensor
from pix2mobile.imaging.resize import axis_weights, resize
from pix2mobile.pipelines.golden import golden_photo

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def load(*parts: str) -> np.ndarray:
    return np.load(GOLDEN.joinpath(*parts), allow_pickle=False)


def case(*parts: str) -> dict:
    return json.loads(GOLDEN.joinpath(*parts, "case.json").read_text())


def bits_equal(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape and a.dtype == b.dtype == np.float32
    assert np.array_equal(a.view(np.uint32), b.view(np.uint32)), \
        f"{int((a.view(np.uint32) != b.view(np.uint32)).sum())} of {a.size} values differ in their bits"


def test_photo_is_the_documented_crop_of_a_real_photo():
    photo = load("photo.npy")
    assert photo.shape == (250, 333, 3) and photo.dtype == np.uint8
    assert np.array_equal(photo, golden_photo())
    assert photo.std() > 20                      # a photograph, not a flat test card


@pytest.mark.parametrize("family", ["fast_style", "cyclegan", "bicyclegan"])
def test_fit_case(family):
    c, photo = case(family), load("photo.npy")
    size = tuple(c["model"])
    fit = plans.fit_plan(photo.shape[:2], size)
    assert fit.to_json() == c["plan"]
    canvas = plans.letterbox(photo, fit)
    assert np.array_equal(canvas, load(family, "canvas.npy"))
    in_range = c["io"]["inputs"][0]["range"]
    bits_equal(to_tensor(canvas, in_range, "NCHW"), load(family, "input_nchw.npy"))
    bits_equal(to_tensor(canvas, in_range, "NHWC"), load(family, "input_nhwc.npy"))
    out_range = c["io"]["outputs"][0]["range"]
    pixels = to_pixels(load(family, "output_nchw.npy"), out_range, "NCHW")
    assert np.array_equal(pixels, load(family, "output_pixels.npy"))
    assert np.array_equal(to_pixels(load(family, "output_nhwc.npy"), out_range, "NHWC"), pixels)
    result = plans.unletterbox(pixels, fit)
    assert result.shape == photo.shape and np.array_equal(result, load(family, "result.npy"))


def test_morph_case():
    c = case("morph")
    assert load("morph", "alpha.npy").tolist() == [c["alpha"]]
    pixels = to_pixels(load("morph", "output_nchw.npy"), c["io"]["outputs"][0]["range"])
    assert np.array_equal(pixels, load("morph", "output_pixels.npy"))
    assert np.array_equal(pixels, load("morph", "result.npy"))


def test_native_case():
    c = case("native")
    photo = load("native", "photo.npy")
    size = plans.native_size(photo.shape[:2], c["multiple"], c["minimum"])
    assert list(size) == c["padded"] and size != photo.shape[:2]       # the case does pad
    canvas = plans.pad_edge(photo, size)
    assert np.array_equal(canvas, load("native", "canvas.npy"))
    bits_equal(to_tensor(canvas, c["io"]["inputs"][0]["range"]), load("native", "input_nchw.npy"))
    out = to_pixels(load("native", "output_nchw.npy"), c["io"]["outputs"][0]["range"])
    assert np.array_equal(out[:photo.shape[0], :photo.shape[1]], load("native", "result.npy"))


def test_tile_case():
    c = case("tile")
    photo = load("tile", "photo.npy")
    p = c["plan"]
    plan = plans.tile_plan(photo.shape[:2], tuple(p["tile"]), tuple(p["overlap"]))
    assert plan.to_json() == p
    assert len(plan.ys) * len(plan.xs) == 6 and plan.padded == photo.shape[:2]
    canvas = plans.pad_edge(photo, plan.padded)
    tiles = np.stack([canvas[y:y + 64, x:x + 64] for y, x in plan.boxes])
    assert np.array_equal(tiles, load("tile", "tile_pixels.npy"))
    outputs = load("tile", "tile_outputs_nchw.npy")
    result = plans.blend(plan, [outputs[k:k + 1] for k in range(len(outputs))], c["io"]["outputs"][0]["range"])
    assert np.array_equal(result, load("tile", "result.npy"))


def test_large_tile_plan():
    big = json.loads((GOLDEN / "tile" / "plan_large.json").read_text())
    plan = plans.tile_plan(tuple(big["photo"]), tuple(big["tile"]))
    assert plan.to_json() == big["plan"]
    ys, xs = plan.ys, plan.xs
    assert ys[0] == 0 and ys[-1] == 3024 - 256 and xs[-1] == 4032 - 256
    assert min(256 - (b - a) for a, b in zip(xs, xs[1:])) >= 64      # every overlap at least the requested 64


def test_resize_cases():
    c = case("resize")
    for k, rc in enumerate(c["cases"]):
        image = load("resize", f"case{k}_in.npy")
        assert list(image.shape[:2]) == rc["in"]
        assert np.array_equal(resize(image, tuple(rc["out"])), load("resize", f"case{k}_out.npy"))
        firsts, weights = axis_weights(rc["in"][1], rc["out"][1])
        assert firsts == rc["x_first"] and weights == rc["x_weights"]


def test_pixel_cases():
    c = case("pixels")
    levels = load("pixels", c["levels"])
    for rc in c["cases"]:
        bits_equal(to_tensor(levels, rc["range"]), load("pixels", rc["tensor"]))
        values = load("pixels", rc["values"])
        assert np.array_equal(to_pixels(values, rc["range"]), load("pixels", rc["pixels"]))
    # [0, 255] gives the integers back, and every range round-trips all 256 levels
    assert np.array_equal(load("pixels", "range0_tensor.npy")[0].transpose(1, 2, 0), levels.astype(np.float32))
    for rc in c["cases"]:
        assert np.array_equal(to_pixels(load("pixels", rc["tensor"]), rc["range"]), levels)
