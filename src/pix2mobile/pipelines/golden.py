"""The golden vectors of `docs/preprocessing.md`: what Python's contract makes of real pixels, for
the Kotlin, Swift and JavaScript implementations (and Python itself) to reproduce.

    python -m pix2mobile.pipelines.golden --out tests/golden

Every file is .npy (little-endian, C order) or JSON, which every language here reads without an
image decoder; the photos are also PNGs for people. Model outputs come from small registry
generators lightly trained towards photographs (`train.warmup`), so they have the structure and
the overshoot of real outputs; they are data for the post-processing step, not models to ship.
Regenerating rewrites model outputs too (they depend on BLAS), so tests never regenerate: they
check that the committed inputs and results follow from the committed photo and outputs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pix2mobile import files
from pix2mobile.imaging import plan as plans
from pix2mobile.imaging.pixels import to_pixels, to_tensor
from pix2mobile.imaging.resize import axis_weights, resize

PHOTO_BOX = (25, 59, 250, 333)
"""(top, left, height, width) of the golden photo inside scikit-image's chelsea.png (300x451): a real
photo of odd width, cropped (not resampled) so its pixels are the file's own."""
MODEL = (64, 64)
NATIVE_BOX = (0, 0, 37, 45)        # a small odd crop of the golden photo for the native case
TILE_BOX = (0, 0, 111, 150)        # ... and for the tile case (tile 64, overlap 16: 2 x 3 tiles)
TILE, OVERLAP = (64, 64), (16, 16)
LARGE = ((3024, 4032), (256, 256))  # a 12-megapixel photo in 256 px tiles: the plan only
RESIZES = (((250, 333), (97, 128)), ((37, 45), (101, 77)))   # a shrink and a grow

FAMILIES: dict[str, tuple[str, str, dict[str, Any], tuple[int, int]]] = {
    "fast_style": ("fast_style", "lite", {"width": 8, "n_res": 2}, MODEL),
    "cyclegan": ("cyclegan", "resnet_6blocks", {"ngf": 8}, MODEL),
    "bicyclegan": ("bicyclegan", "unet_128", {"ngf": 8}, (128, 128)),
    "morph": ("morph", "mlp", {"hidden": 32}, MODEL),
}


def golden_photo() -> np.ndarray:
    from pix2mobile.data.builtin import content_images

    t, left, h, w = PHOTO_BOX
    chelsea = dict(content_images())["chelsea"]
    return np.ascontiguousarray(np.asarray(chelsea)[t:t + h, left:left + w])


def _net(family: str) -> tuple[Any, Any]:
    from pix2mobile.models import get_variant
    from pix2mobile.train.warmup import lightly_train

    fam, arch, options, size = FAMILIES[family]
    spec = get_variant(fam, arch)
    torch.manual_seed(0)
    gen = spec.create(**options)
    module = spec.exportable(gen, size).eval()
    lightly_train(module, spec.io, size, steps=60, seed=0)
    return spec, module.eval()


def _run(module: Any, inputs: list[np.ndarray]) -> np.ndarray:
    with torch.no_grad():
        out = module(*[torch.from_numpy(x) for x in inputs])
    return (out[0] if isinstance(out, (tuple, list)) else out).numpy().astype(np.float32)


def _io(spec: Any) -> dict[str, Any]:
    return {"inputs": [{"name": s.name, "kind": s.kind, "range": list(s.range)} for s in spec.io.inputs],
            "outputs": [{"name": s.name, "kind": s.kind, "range": list(s.range)} for s in spec.io.outputs]}


def _save(folder: Path, name: str, array: np.ndarray) -> None:
    with files.atomic_path(folder / name) as tmp:
        np.save(tmp, np.ascontiguousarray(array), allow_pickle=False)


def _png(folder: Path, name: str, pixels: np.ndarray) -> None:
    from PIL import Image

    with files.atomic_path(folder / name) as tmp:
        Image.fromarray(pixels).save(tmp, format="PNG")


def _nhwc(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def write_family(out: Path, family: str, photo: np.ndarray) -> dict[str, Any]:
    """<family>/: the fit case (input in both layouts, the model's output in both, the result)."""
    spec, module = _net(family)
    size = FAMILIES[family][3]
    folder = out / family
    folder.mkdir(parents=True, exist_ok=True)
    case: dict[str, Any] = {"family": family, "arch": spec.arch, "model": list(size), "io": _io(spec)}
    if family == "morph":
        alpha = np.asarray([0.375], dtype=np.float32)      # exact in binary: the same alpha in every language
        output = _run(module, [alpha])
        case.update(mode=None, alpha=0.375)
        _save(folder, "alpha.npy", alpha)
    else:
        image_spec = spec.io.inputs[0]
        fit = plans.fit_plan(photo.shape[:2], size)
        canvas = plans.letterbox(photo, fit)
        x = to_tensor(canvas, image_spec.range, "NCHW")
        feed = [x]
        if family == "bicyclegan":
            z = torch.randn((1, spec.io.inputs[1].dim), generator=torch.Generator().manual_seed(0))
            z_np = z.clamp(*spec.io.inputs[1].range).numpy().astype(np.float32)
            _save(folder, "z.npy", z_np)
            feed.append(z_np)
        output = _run(module, feed)
        case.update(mode="fit", photo=list(photo.shape[:2]), plan=fit.to_json())
        _save(folder, "canvas.npy", canvas)
        _save(folder, "input_nchw.npy", x)
        _save(folder, "input_nhwc.npy", to_tensor(canvas, image_spec.range, "NHWC"))
    _save(folder, "output_nchw.npy", output)
    _save(folder, "output_nhwc.npy", _nhwc(output))
    out_range = spec.io.outputs[0].range
    model_pixels = to_pixels(output, out_range, "NCHW")
    _save(folder, "output_pixels.npy", model_pixels)
    result = model_pixels if family == "morph" else plans.unletterbox(model_pixels, fit)
    _save(folder, "result.npy", result)
    _png(folder, "result.png", result)
    files.write_json(folder / "case.json", case)
    return case


def write_native(out: Path, photo: np.ndarray) -> None:
    """native/: a small odd crop padded to fast style's multiple of 4, run whole, cropped back."""
    spec, module = _net("fast_style")
    t, left, h, w = NATIVE_BOX
    crop = np.ascontiguousarray(photo[t:t + h, left:left + w])
    size = plans.native_size((h, w), spec.size_multiple, spec.min_size)
    canvas = plans.pad_edge(crop, size)
    x = to_tensor(canvas, spec.io.inputs[0].range, "NCHW")
    output = _run(module, [x])
    result = np.ascontiguousarray(to_pixels(output, spec.io.outputs[0].range)[:h, :w])
    folder = out / "native"
    folder.mkdir(parents=True, exist_ok=True)
    for name, arr in (("photo.npy", crop), ("canvas.npy", canvas), ("input_nchw.npy", x),
                      ("output_nchw.npy", output), ("result.npy", result)):
        _save(folder, name, arr)
    files.write_json(folder / "case.json", {"family": "fast_style", "mode": "native", "photo": [h, w],
                                            "multiple": spec.size_multiple, "minimum": spec.min_size,
                                            "padded": list(size), "io": _io(spec)})


def write_tile(out: Path, photo: np.ndarray) -> None:
    """tile/: a small case run through fast style (every tile's input pixels and output tensor,
    the blended result) and the plan of a 12-megapixel photo."""
    spec, module = _net("fast_style")
    t, left, h, w = TILE_BOX
    crop = np.ascontiguousarray(photo[t:t + h, left:left + w])
    plan = plans.tile_plan((h, w), TILE, OVERLAP)
    canvas = plans.pad_edge(crop, plan.padded)
    tiles = [np.ascontiguousarray(canvas[y:y + TILE[0], x:x + TILE[1]]) for y, x in plan.boxes]
    outputs = [_run(module, [to_tensor(tile, spec.io.inputs[0].range)]) for tile in tiles]
    result = plans.blend(plan, outputs, spec.io.outputs[0].range)
    folder = out / "tile"
    folder.mkdir(parents=True, exist_ok=True)
    _save(folder, "photo.npy", crop)
    _save(folder, "tile_pixels.npy", np.stack(tiles))
    _save(folder, "tile_outputs_nchw.npy", np.concatenate(outputs))
    _save(folder, "result.npy", result)
    files.write_json(folder / "case.json", {"family": "fast_style", "mode": "tile", "plan": plan.to_json(),
                                            "io": _io(spec)})
    large = plans.tile_plan(*LARGE)
    files.write_json(folder / "plan_large.json", {"photo": list(LARGE[0]), "tile": list(LARGE[1]),
                                                  "plan": large.to_json()})


def write_resize(out: Path, photo: np.ndarray) -> None:
    """resize/: the resampler alone, shrinking the photo and growing a small crop; plus the tap
    weights of the shrink so a failing implementation can see which step differs."""
    folder = out / "resize"
    folder.mkdir(parents=True, exist_ok=True)
    cases = []
    for k, (src, dst) in enumerate(RESIZES):
        image = np.ascontiguousarray(photo[:src[0], :src[1]])
        _save(folder, f"case{k}_in.npy", image)
        _save(folder, f"case{k}_out.npy", resize(image, dst))
        firsts, weights = axis_weights(src[1], dst[1])
        cases.append({"in": list(src), "out": list(dst), "x_first": firsts, "x_weights": weights})
    files.write_json(folder / "case.json", {"cases": cases})


RANGES = ((0.0, 255.0), (-1.0, 1.0), (0.0, 1.0))
"""The value ranges our families use: fast style, CycleGAN/BicycleGAN, the morph."""


def edge_values(value_range: tuple[float, float]) -> np.ndarray:
    """Tensor values that test every branch of tensor -> pixel: each level's exact value, values a
    hair either side of the rounding midpoints, overshoot both ways, infinities and NaN."""
    lo, hi = value_range
    levels = np.arange(256, dtype=np.float64)
    exact = lo + levels * (hi - lo) / 255.0
    mid = lo + (levels[:-1] + 0.5) * (hi - lo) / 255.0
    gen = np.random.default_rng(0)
    extra = [lo - (hi - lo), lo - 1e-3, hi + 1e-3, hi + (hi - lo), np.inf, -np.inf, np.nan, -0.0]
    values = np.concatenate([exact, mid, np.nextafter(mid.astype(np.float32), np.float32(-np.inf)),
                             np.nextafter(mid.astype(np.float32), np.float32(np.inf)),
                             gen.uniform(lo, hi, 300), extra])
    return values.astype(np.float32)


def write_pixels(out: Path) -> None:
    """pixels/: for each range, all 256 levels -> tensor values, and edge values -> pixels."""
    folder = out / "pixels"
    folder.mkdir(parents=True, exist_ok=True)
    ramp = np.stack([np.arange(256, dtype=np.uint8), np.arange(256, dtype=np.uint8)[::-1],
                     (np.arange(256) * 7 % 256).astype(np.uint8)], axis=-1)[None]         # (1, 256, 3)
    _save(folder, "levels.npy", ramp)
    cases = []
    for k, rng in enumerate(RANGES):
        _save(folder, f"range{k}_tensor.npy", to_tensor(ramp, rng, "NCHW"))
        values = edge_values(rng)
        tensor = np.stack([values, values[::-1], np.roll(values, 7)])[None, :, None, :]    # (1, 3, 1, N)
        _save(folder, f"range{k}_values.npy", tensor)
        _save(folder, f"range{k}_pixels.npy", to_pixels(tensor, rng, "NCHW"))
        cases.append({"range": list(rng), "tensor": f"range{k}_tensor.npy", "values": f"range{k}_values.npy",
                      "pixels": f"range{k}_pixels.npy"})
    files.write_json(folder / "case.json", {"levels": "levels.npy", "cases": cases})


def write_all(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    photo = golden_photo()
    _save(out, "photo.npy", photo)
    _png(out, "photo.png", photo)
    for family in FAMILIES:
        write_family(out, family, photo)
    write_native(out, photo)
    write_tile(out, photo)
    write_resize(out, photo)
    write_pixels(out)
    files.write_json(out / "index.json", {
        "contract": "docs/preprocessing.md", "photo": "photo.npy (uint8 H x W x 3, RGB; photo.png for people)",
        "families": list(FAMILIES), "cases": ["native", "tile", "resize", "pixels"],
        "source": "scikit-image chelsea.png cropped at (top, left, height, width) = " + json.dumps(PHOTO_BOX)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("tests/golden"))
    args = parser.parse_args()
    write_all(args.out)
    print(f"golden vectors written to {args.out}")


if __name__ == "__main__":
    main()
