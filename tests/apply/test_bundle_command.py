"""`pix2mobile bundle`: what lands in the app is runnable and its golden pair is the artifact's own."""

from __future__ import annotations

import json

import numpy as np

from pix2mobile import cli
from pix2mobile.imaging import plan as plans
from pix2mobile.imaging.pixels import to_tensor
from pix2mobile.pipelines.apply import open_model
from pix2mobile.pipelines.golden import golden_photo


def test_android_bundle_of_style_and_both_cyclegan_directions(exports, tmp_path):
    app = tmp_path / "android_demo"
    app.mkdir()
    assert cli.main(["-q", "bundle", str(exports["fast_style"]), str(exports["cyclegan"]), "--android", str(app)]) == 0
    models = app / "app/src/main/assets/models"
    assert sorted(p.name for p in models.iterdir()) == ["cyclegan-a2b", "cyclegan-b2a", "fast_style"]
    style = json.loads((models / "fast_style" / "bundle.json").read_text())
    assert sorted(a["format"] for a in style["artifacts"]) == ["pte", "ptl", "tflite"]   # no Core ML, no ONNX
    manifest = json.loads((models / "fast_style" / "manifest.json").read_text())
    assert sorted(a["format"] for a in manifest["artifacts"]) == ["pte", "ptl", "tflite"]
    photo = np.load(models / "fast_style" / style["photo"])
    assert np.array_equal(photo, golden_photo())
    canvas = plans.letterbox(photo, plans.fit_plan(photo.shape[:2], (64, 64)))
    for a in style["artifacts"]:
        assert (models / "fast_style" / a["file"]).is_file()
        x = np.load(models / "fast_style" / a["inputs"][0]["file"])
        layout = a["inputs"][0]["layout"]
        assert layout == ("NHWC" if a["format"] == "tflite" else "NCHW")
        assert np.array_equal(x, to_tensor(canvas, (0, 255), layout))
        # the golden output is this very file's output: rerun it from the bundle folder
        model = open_model(models / "fast_style", format=a["format"], precision=a["precision"])
        y = model.run([to_tensor(canvas, (0, 255), "NCHW")])[0]
        golden = np.load(models / "fast_style" / a["outputs"][0]["file"])
        if a["outputs"][0]["layout"] == "NHWC":
            golden = golden.transpose(0, 3, 1, 2)
        np.testing.assert_array_equal(y, golden)
    pair = [json.loads((models / d / "bundle.json").read_text()) for d in ("cyclegan-a2b", "cyclegan-b2a")]
    assert {p["direction"] for p in pair} == {"a2b", "b2a"} and pair[0]["group"] == pair[1]["group"] == "cyclegan"
    # bundling again needs --force, and replaces the folder whole
    assert cli.main(["-q", "bundle", str(exports["fast_style"]), "--android", str(app)]) == 2
    assert cli.main(["-q", "bundle", str(exports["fast_style"]), "--android", str(app), "--force",
                     "--formats", "tflite"]) == 0
    again = json.loads((models / "fast_style" / "bundle.json").read_text())
    assert [a["format"] for a in again["artifacts"]] == ["tflite"]
    assert sorted(p.name for p in (models / "fast_style").iterdir()) == \
        ["bundle.json", "golden", "lite_fp32.tflite", "manifest.json"]
    assert not [p for p in models.iterdir() if p.name.startswith(".")]


def test_ios_bundle_labels_evaluator_outputs(exports, tmp_path):
    app = tmp_path / "ios_demo"
    app.mkdir()
    assert cli.main(["-q", "bundle", str(exports["fast_style"]), "--ios", str(app)]) == 0
    style = json.loads((app / "App/Resources/models/fast_style/bundle.json").read_text())
    assert sorted(a["format"] for a in style["artifacts"]) == ["mlmodel", "mlpackage"]
    for a in style["artifacts"]:
        assert "numpy Core ML evaluator" in a["runtime"]
        canvas = np.load(app / "App/Resources/models/fast_style" / a["canvas"])
        assert canvas.dtype == np.uint8 and canvas.shape == (64, 64, 3)
