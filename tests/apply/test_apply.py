"""`pix2mobile apply` end to end: every source kind, every mode, every family's own behaviour.

Photos are real (scikit-learn's china.jpg at 1500 x 1000, larger than the 64-px models and not
square); models are lightly trained so outputs are pictures. Each check compares numbers with an
independent computation: eager PyTorch run on the same canvas the contract builds.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from pix2mobile import cli
from pix2mobile.imaging import plan as plans
from pix2mobile.imaging.pixels import to_pixels, to_tensor
from pix2mobile.models.loading import load_generator


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 100.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def read(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def apply(*argv: str) -> None:
    assert cli.main(["-q", "apply", *[str(a) for a in argv]]) == 0


def eager_on(module, canvas: np.ndarray, lo_hi, out_lo_hi, *extra) -> np.ndarray:
    """The generator on an 8-bit canvas, computed with torch only (not with pix2mobile.imaging)."""
    lo, hi = lo_hi
    x = torch.from_numpy(canvas).permute(2, 0, 1)[None].float() * (hi - lo) / 255.0 + lo
    with torch.no_grad():
        y = module(x, *extra)[0].double()
    u = (y - out_lo_hi[0]) * 255.0 / (out_lo_hi[1] - out_lo_hi[0])
    return torch.floor(u + 0.5).clamp(0, 255).byte().permute(1, 2, 0).numpy()


def test_eager_native_is_the_generator_on_the_padded_photo(runs, photo_file, tmp_path):
    apply(runs["fast_style"], photo_file, "--out", tmp_path)
    out = read(tmp_path / "china.png")
    photo = read(photo_file)
    assert out.shape == photo.shape == (1000, 1500, 3)
    gen = load_generator(runs["fast_style"]).generator
    # independent: replicate-pad to a multiple of 4 (1500 x 1000 already is), run, crop
    x = torch.from_numpy(photo).permute(2, 0, 1)[None].float()
    padded = F.pad(x, (0, (-1500) % 4, 0, (-1000) % 4), mode="replicate").permute(0, 2, 3, 1)[0].byte().numpy()
    expected = eager_on(gen, padded, (0, 255), (0, 255))[:1000, :1500]
    assert np.abs(out.astype(int) - expected).max() <= 1      # float32 vs float64 last rounding only
    assert psnr(out, photo) < 40                               # and it did change the photo


def test_pth_source_with_family_and_arch(runs, photo_file, tmp_path):
    gen = load_generator(runs["fast_style"])
    pth = tmp_path / "lite.pth"
    torch.save(gen.generator.state_dict(), pth)
    apply(pth, photo_file, "--family", "fast_style", "--arch", "lite", "--option", "width=8", "--option", "n_res=2",
          "--out", tmp_path / "a")
    apply(runs["fast_style"], photo_file, "--out", tmp_path / "b")
    assert np.array_equal(read(tmp_path / "a" / "china.png"), read(tmp_path / "b" / "china.png"))


@pytest.mark.parametrize("fmt", ["ptl", "tflite", "mlpackage", "mlmodel", "onnx", "pte"])
def test_every_artifact_fit_matches_eager_fit(fmt, runs, exports, photo_file, tmp_path):
    """fit through the artifact's own runtime = eager PyTorch on the same letterboxed canvas, within
    the fp32 gate (45 dB), at the photo's size."""
    apply(exports["fast_style"], "--format", fmt, photo_file, "--out", tmp_path / fmt)
    out = read(tmp_path / fmt / "china.png")
    photo = read(photo_file)
    assert out.shape == photo.shape
    plan = plans.fit_plan(photo.shape[:2], (64, 64))
    assert (plan.h, plan.w) == (43, 64)
    gen = load_generator(runs["fast_style"]).generator
    model_out = eager_on(gen, plans.letterbox(photo, plan), (0, 255), (0, 255))
    expected = plans.unletterbox(model_out, plan)
    assert psnr(out, expected) >= 45, psnr(out, expected)


def test_tile_mode_runs_every_tile_and_matches_eager_tiles(runs, exports, photo_file, tmp_path):
    apply(exports["fast_style"], "--format", "onnx", photo_file, "--mode", "tile", "--out", tmp_path / "onnx")
    apply(runs["fast_style"], photo_file, "--mode", "tile", "--size", "64", "64", "--out", tmp_path / "eager")
    onnx, eager = read(tmp_path / "onnx" / "china.png"), read(tmp_path / "eager" / "china.png")
    assert onnx.shape == eager.shape == (1000, 1500, 3)
    assert psnr(onnx, eager) >= 45
    apply(runs["fast_style"], photo_file, "--out", tmp_path / "native")
    # tiles normalise on their own statistics: not the whole-photo run (the README quotes by how much)
    assert psnr(eager, read(tmp_path / "native" / "china.png")) < 60


def test_cyclegan_exports_and_applies_both_directions(runs, exports, photo_file, tmp_path):
    folder = exports["cyclegan"]
    assert (folder / "a2b" / "manifest.json").is_file() and (folder / "b2a" / "manifest.json").is_file()
    import json
    assert json.loads((folder / "b2a" / "manifest.json").read_text())["model"]["direction"] == "b2a"
    for d in ("a2b", "b2a"):
        apply(folder, "--direction", d, "--format", "tflite", photo_file, "--out", tmp_path / d)
    photo = read(photo_file)
    plan = plans.fit_plan(photo.shape[:2], (64, 64))
    canvas = plans.letterbox(photo, plan)
    results = {}
    for d in ("a2b", "b2a"):
        gen = load_generator(runs["cyclegan"], direction=d).generator
        expected = plans.unletterbox(eager_on(gen, canvas, (-1, 1), (-1, 1)), plan)
        results[d] = read(tmp_path / d / "china.png")
        assert psnr(results[d], expected) >= 45, (d, psnr(results[d], expected))
    assert psnr(results["a2b"], results["b2a"]) < 35          # two different generators


def test_bicyclegan_samples_differ_and_match_across_sources(runs, exports, photo_file, tmp_path):
    apply(runs["bicyclegan"], photo_file, "--samples", "3", "--mode", "fit", "--out", tmp_path / "eager")
    apply(exports["bicyclegan"], "--format", "onnx", photo_file, "--samples", "3", "--out", tmp_path / "onnx")
    outs = [read(tmp_path / "eager" / f"china_z{k}.png") for k in range(3)]
    assert all(o.shape == (1000, 1500, 3) for o in outs)
    assert max(psnr(outs[i], outs[j]) for i in range(3) for j in range(i + 1, 3)) < 40    # z changes the output
    for k in range(3):           # the same seeded z through the ONNX file
        assert psnr(read(tmp_path / "onnx" / f"china_z{k}.png"), outs[k]) >= 45
    grid = read(tmp_path / "eager" / "china_grid.png")
    assert grid.shape == (1000, 4 * 1500 + 3 * 4, 3)


def test_morph_frames_alpha_and_animations(runs, exports, tmp_path):
    apply(runs["morph"], "--frames", "5", "--animate", "m.gif", "--out", tmp_path / "e")
    frames = [read(tmp_path / "e" / f"frame_{i:04d}.png") for i in range(5)]
    with Image.open(tmp_path / "e" / "m.gif") as gif:
        assert gif.n_frames == 5
    apply(exports["morph"], "--format", "onnx", "--alpha", "0,1", "--animate", "m.mp4", "--out", tmp_path / "o")
    assert psnr(read(tmp_path / "o" / "alpha_0.0000.png"), frames[0]) >= 45
    assert psnr(read(tmp_path / "o" / "alpha_1.0000.png"), frames[4]) >= 45
    assert psnr(frames[0], frames[4]) < 40                      # the two memorised images differ
    import imageio_ffmpeg
    n, _ = imageio_ffmpeg.count_frames_and_secs(str(tmp_path / "o" / "m.mp4"))
    assert n == 2


def test_folder_of_video_frames_keeps_names_and_order(runs, photo_file, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    big = read(photo_file)
    for i in range(3):
        Image.fromarray(np.ascontiguousarray(big[i * 50:i * 50 + 240, i * 80:i * 80 + 320])).save(frames / f"f{i:03d}.png")
    (frames / "notes.txt").write_text("not an image")
    apply(runs["fast_style"], frames, "--animate", "clip.gif", "--out", tmp_path / "out")
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["clip.gif", "f000.png", "f001.png", "f002.png"]
    assert read(tmp_path / "out" / "f001.png").shape == (240, 320, 3)


def test_force_and_atomic_outputs(runs, photo_file, tmp_path, capsys):
    apply(runs["fast_style"], photo_file, "--mode", "fit", "--size", "64", "64", "--out", tmp_path)
    first = (tmp_path / "china.png").read_bytes()
    assert cli.main(["apply", str(runs["fast_style"]), str(photo_file), "--out", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (tmp_path / "china.png").read_bytes() == first
    apply(runs["fast_style"], photo_file, "--force", "--out", tmp_path)
    assert (tmp_path / "china.png").read_bytes() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["china.png"]     # no temp file left
