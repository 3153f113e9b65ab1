"""`pix2mobile bundle --ios` output read by the Swift core, as the app reads it.

The app lists models from its bundled `models/` folder (`Catalog`) and its self-test first checks
that its own pre-processing of each model's golden photo reproduces the golden input exactly. Core
ML cannot predict on Linux, so `pix2mobile-core selftest` runs that first step here; the phone runs
the prediction and the PSNR comparison too.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from pix2mobile.pipelines.bundle import bundle


@pytest.fixture(scope="module")
def ios_app(ios_exports, tmp_path_factory):
    app = tmp_path_factory.mktemp("ios_app")
    bundle([e.folder for e in ios_exports.values()], app, "ios")
    return app / "App" / "Resources" / "models"


def test_selftest_reads_every_bundled_model(core, ios_app):
    names = sorted(p.name for p in ios_app.iterdir())
    assert names == ["bicyclegan", "cyclegan-a2b", "fast_style", "morph"]
    r = core("selftest", ios_app)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    for name in names:
        index = json.loads((ios_app / name / "bundle.json").read_text())
        for a in index["artifacts"]:
            assert any(line.startswith(f"ok   {name}/{a['format']}_{a['precision']}:") for line in lines), r.stdout
            assert "evaluator" in a["runtime"]            # golden outputs are labelled as the evaluator's


def test_selftest_fails_loudly_on_a_wrong_golden_input(core, ios_app, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(ios_app, models)
    index = json.loads((models / "cyclegan-a2b" / "bundle.json").read_text())
    vec = index["artifacts"][0]["inputs"][0]["file"]        # cyclegan's tensor input, range [-1, 1]
    x = np.load(models / "cyclegan-a2b" / vec)
    x.reshape(-1)[1234] = np.nextafter(x.reshape(-1)[1234], np.float32(2))  # one value, one ulp
    np.save(models / "cyclegan-a2b" / vec, x)
    r = core("selftest", models)
    assert r.returncode == 1
    assert "FAIL cyclegan-a2b/mlmodel_fp32: pre-processing: 1 of 12288 values differ" in r.stdout, r.stdout


def test_selftest_reports_a_broken_folder(core, ios_app, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(ios_app, models)
    (models / "morph" / "manifest.json").write_text('{"schema_version": 2}')
    r = core("selftest", models)
    assert r.returncode == 1
    assert "FAIL morph:" in r.stdout and "schema_version 2 is not supported" in r.stdout, r.stdout
