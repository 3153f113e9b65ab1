"""`pix2mobile bundle --android` on real exports of all four families, then the core jar's `selftest` on
what it wrote, and the adb benchmark reading a bundled model folder.

The jar cannot run the models (LiteRT, ExecuTorch and PyTorch Lite are Android libraries); it
checks everything around them: each golden input recomputed from golden/photo.npy bit for bit,
the PSNR comparison on the golden output (itself: the cap; perturbed: finite; NaN: red) and the
post-processed result against result.png. The app's self-test screen and androidTest run the models.
"""

from __future__ import annotations

import json
import shutil
import stat

import numpy as np
import pytest
from android_env import ANDROID

from pix2mobile.cli import main
from pix2mobile.manifest import Manifest


@pytest.fixture(scope="module")
def bundled(exports, tmp_path_factory):
    app = tmp_path_factory.mktemp("app") / "android_demo"
    app.mkdir()
    cyclegan_root = exports["cyclegan-a2b"].folder.parent
    folders = [exports["fast_style"].folder, cyclegan_root, exports["bicyclegan"].folder, exports["morph"].folder]
    assert main(["-q", "bundle", *map(str, folders), "--android", str(app)]) == 0
    return app / "app" / "src" / "main" / "assets" / "models"


def test_bundle_writes_every_family(bundled, exports):
    names = sorted(p.name for p in bundled.iterdir())
    assert names == ["bicyclegan", "cyclegan-a2b", "cyclegan-b2a", "fast_style", "morph"]
    for name in names:
        folder = bundled / name
        b = json.loads((folder / "bundle.json").read_text())
        m = Manifest.read(folder)
        assert b["schema_version"] == 1 and b["name"] == name and b["family"] == m.model.family
        assert (folder / b["photo"]).is_file() and (folder / "golden" / "photo.png").is_file()
        assert {(a["format"], a["precision"]) for a in b["artifacts"]} == {(a.format, a.precision) for a in m.artifacts}
        for a in b["artifacts"]:
            assert (folder / a["file"]).is_file()
            assert (folder / a["result"]).is_file()
            for t in [*a["inputs"], *a["outputs"]]:
                arr = np.load(folder / t["file"])
                assert arr.dtype == np.float32
                row = m.artifact(a["format"], a["precision"])
                spec = next(s for s in [*row.inputs, *row.outputs] if s.name == t["name"])
                assert list(arr.shape) == list(spec.shape) and t["layout"] == spec.layout
    cyc = [json.loads((bundled / n / "bundle.json").read_text()) for n in ("cyclegan-a2b", "cyclegan-b2a")]
    assert cyc[0]["group"] == cyc[1]["group"] and {c["direction"] for c in cyc} == {"a2b", "b2a"}
    bicycle = json.loads((bundled / "bicyclegan" / "bundle.json").read_text())
    assert [i["kind"] for i in bicycle["artifacts"][0]["inputs"]] == ["image", "latent"]
    morph = json.loads((bundled / "morph" / "bundle.json").read_text())
    assert [i["kind"] for i in morph["artifacts"][0]["inputs"]] == ["scalar"] and morph["plan"] is None
    nhwc = next(a for a in json.loads((bundled / "fast_style" / "bundle.json").read_text())["artifacts"]
                if a["format"] == "tflite")
    assert nhwc["inputs"][0]["layout"] == "NHWC"


def test_bundle_refuses_a_format_the_app_cannot_run(exports, tmp_path, capsys):
    app = tmp_path / "android_demo"
    app.mkdir()
    assert main(["bundle", str(exports["fast_style"].folder), "--android", str(app), "--formats", "onnx"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot run .onnx" in err[0]
    assert not (app / "app").exists()


def test_jar_selftest_passes_on_the_bundle(bundled, jar):
    proc = jar("selftest", bundled)
    lines = proc.stdout.splitlines()
    assert sum(1 for x in lines if x.startswith("ok ")) == 7, proc.stdout          # 2 + 1 + 1 + 1 + 2 artifacts
    assert "7 artifact(s) of 5 model(s) checked, 0 failed" in proc.stdout
    assert "largest result pixel difference 0" in proc.stdout or "largest result pixel difference 1" in proc.stdout
    single = jar("selftest", bundled / "morph")
    assert "2 artifact(s) of 1 model(s) checked, 0 failed" in single.stdout


def test_jar_selftest_fails_on_a_golden_input_it_does_not_reproduce(bundled, jar, tmp_path):
    copy = tmp_path / "models"
    shutil.copytree(bundled / "fast_style", copy / "fast_style")
    b = json.loads((copy / "fast_style" / "bundle.json").read_text())
    path = copy / "fast_style" / b["artifacts"][0]["inputs"][0]["file"]
    x = np.load(path)
    x.flat[7] = np.nextafter(x.flat[7], np.float32(np.inf))        # one value, one ulp
    np.save(path, x)
    proc = jar("selftest", copy, check=False)
    assert proc.returncode == 1
    assert "1 of" in proc.stdout and "differ in their bits" in proc.stdout, proc.stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    assert jar("selftest", empty, check=False).returncode == 2


def test_adb_benchmark_reads_a_bundled_model_folder(bundled, tmp_path):
    """benchmark/device takes a folder with manifest.json: the app's bundled model folder is one."""
    from pix2mobile.benchmark.device import device_rows

    samples = ANDROID.parent / "src" / "pix2mobile" / "benchmark" / "device" / "samples"
    adb = tmp_path / "adb"
    adb.write_text(f"""#!/usr/bin/env bash
echo "$*" >> "{tmp_path}/adb.log"
if [ "$1" = devices ]; then printf 'List of devices attached\\nPHONE1\\tdevice\\n\\n'; exit 0; fi
shift 2
case "$1" in
  push) exit 0;;
  shell) shift; case "$*" in
      mkdir*|test*) exit 0;;
      *benchmark_model*) cat "{samples}/tflite_benchmark_model.txt";;
      *speed_benchmark_torch*) cat "{samples}/speed_benchmark_torch.txt";;
    esac;;
esac
""")
    adb.chmod(adb.stat().st_mode | stat.S_IXUSR)
    folder = bundled / "fast_style"
    rows, why = device_rows(Manifest.read(folder), folder, "PHONE1", str(adb), "/data/local/tmp/p2m", 4, 20, 5,
                            "fast_style/lite")
    assert why is None
    assert {r.format: r.status for r in rows} == {"tflite": "ok", "ptl": "ok"}
    pushed = (tmp_path / "adb.log").read_text()
    assert str(folder / "lite_fp32.tflite") in pushed and str(folder / "lite_fp32.ptl") in pushed
