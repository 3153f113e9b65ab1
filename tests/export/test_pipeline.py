"""export_model end to end: six formats, their gates, failures as rows, atomic and honest outputs."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from pix2mobile.errors import ConfigError, ExportError
from pix2mobile.convert.formats import FORMATS
from pix2mobile.pipelines.export import export_model
from pix2mobile.manifest import Manifest
from pix2mobile.pipelines.export import parity_inputs

from export_nets import SIZE


def _reopen_and_run(manifest, out, module, io):
    """Every ok artifact, reopened from disk by its own runtime, reproduces the eager module."""
    inputs = parity_inputs(io, (SIZE, SIZE), n=1, seed=123)[0]
    with torch.no_grad():
        ref = module.eval()(*inputs).numpy()
    for art in manifest.artifacts:
        assert art.status == "ok", (art.format, art.reason)
        path = out / art.file
        assert path.exists() and art.file == f"{path.name}"
        run = FORMATS[art.format].runner_fn(path, io)
        got = run(inputs)[0]
        lo, hi = io.outputs[0].range
        tol = 0.02 if art.precision == "fp16" or art.format in ("mlpackage", "mlmodel") else 1e-4
        np.testing.assert_allclose(np.clip((got - lo) / (hi - lo), 0, 1), np.clip((ref - lo) / (hi - lo), 0, 1),
                                   atol=tol, err_msg=f"{art.format} {art.precision}")


def test_all_six_formats_pass_their_gates(cycle_export):
    module, ref, out, manifest = cycle_export
    assert [a.format for a in manifest.artifacts] == list(FORMATS)
    assert manifest.ok, [(a.format, a.reason) for a in manifest.artifacts if not a.ok]
    for art in manifest.artifacts:
        p = art.parity
        assert p.psnr_db >= p.threshold_db and p.ssim > 0.99 and p.max_abs_err is not None
        assert p.scale == "range" and p.samples == 4 and len(p.psnr_db_per_image) == 4
        assert p.psnr_db == min(p.psnr_db_per_image) <= p.psnr_db_mean and p.reference == "eager"
        assert art.bytes > 0 and len(art.sha256) == 64
        assert art.converter and all(v for v in art.converter.values())
    # threshold per precision: fp16 mlpackage by default held to 35 dB, the rest to 45 dB
    assert manifest.artifact("mlpackage").precision == "fp16"
    assert manifest.artifact("mlpackage").parity.threshold_db == 35.0
    assert manifest.artifact("onnx").parity.threshold_db == 45.0
    assert not list(out.glob(".*")), "staging files left behind"
    _reopen_and_run(manifest, out, module, ref.io)


def test_manifest_on_disk_is_the_returned_one(cycle_export):
    _, _, out, manifest = cycle_export
    data = json.loads((out / "manifest.json").read_text())
    assert data["schema_version"] == 1 and data["ok"] is True
    assert Manifest.from_json(data) == manifest
    model = data["model"]
    assert model["family"] == "test" and model["size"] == [SIZE, SIZE]
    assert model["macs"] > 0 and model["params"] > 0 and model["checkpoint_sha256"] is None
    tfl = manifest.artifact("tflite")
    assert tfl.inputs[0].layout == "NHWC" and tfl.inputs[0].shape == (1, SIZE, SIZE, 3)
    assert any("rewrite" in n for n in tfl.notes)
    ml = manifest.artifact("mlpackage")
    assert ml.inputs[0].range == (0.0, 255.0) and ml.inputs[0].color_layout == "RGB"
    assert manifest.artifact("onnx").inputs[0].range == (-1.0, 1.0)
    assert any("optimize_for_mobile" in n for n in manifest.artifact("ptl").notes)


@pytest.mark.parametrize("name", ["image_z", "alpha", "style"])
def test_multi_input_and_non_image_inputs_export_everywhere(tiny, tmp_path, name):
    module, ref = tiny(name)
    manifest = export_model(module, ref, SIZE, None, tmp_path)
    assert manifest.ok, [(a.format, a.reason) for a in manifest.artifacts if not a.ok]
    for art in manifest.artifacts:
        assert [t.name for t in art.inputs] == [s.name for s in ref.io.inputs]
    _reopen_and_run(manifest, tmp_path, module, ref.io)


def test_failing_converter_is_a_row_and_the_others_still_export(tiny, tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise ExportError("converter exploded on purpose\nsecond line is dropped")

    monkeypatch.setitem(FORMATS, "onnx", dataclasses.replace(FORMATS["onnx"], export_fn=boom))
    module, ref = tiny("cycle")
    manifest = export_model(module, ref, SIZE, ["ptl", "onnx", "pte"], tmp_path)
    assert not manifest.ok
    row = manifest.artifact("onnx")
    assert row.status == "failed" and row.file is None and row.bytes is None
    assert row.reason == "export failed: ExportError: converter exploded on purpose"
    assert row.parity.psnr_db is None and row.parity.threshold_db == 45.0
    assert manifest.artifact("ptl").ok and manifest.artifact("pte").ok
    assert not list(tmp_path.glob("*.onnx")) and not list(tmp_path.glob(".*"))
    assert Manifest.read(tmp_path) == manifest


def test_raised_threshold_fails_gate_and_keeps_only_the_failed_name(tiny, tmp_path):
    module, ref = tiny("cycle")
    manifest = export_model(module, ref, SIZE, ["ptl"], tmp_path, thresholds={"fp32": 1000.0})
    row = manifest.artifact("ptl")
    assert row.status == "failed" and row.reason.startswith("parity gate: worst image PSNR 100.00 dB")
    assert row.file == "cycle_fp32.failed.ptl" and (tmp_path / row.file).is_file()
    assert not (tmp_path / "cycle_fp32.ptl").exists()
    assert row.parity.psnr_db == 100.0 and row.parity.threshold_db == 1000.0


def test_corrupted_artifact_fails_gate(tiny, tmp_path, monkeypatch):
    """An exporter that ships wrong weights is caught by the gate, not trusted."""
    real = FORMATS["tflite"].export_fn

    def corrupting(module, example_inputs, io, out_path, opts):
        with torch.no_grad():
            for p in module.parameters():
                p.add_(0.05 * torch.randn_like(p))
        return real(module, example_inputs, io, out_path, opts)

    monkeypatch.setitem(FORMATS, "tflite", dataclasses.replace(FORMATS["tflite"], export_fn=corrupting))
    module, ref = tiny("cycle")
    manifest = export_model(module, ref, SIZE, ["tflite"], tmp_path)
    row = manifest.artifact("tflite")
    assert row.status == "failed" and "parity gate" in row.reason
    assert row.parity.psnr_db < 45.0
    assert row.file == "cycle_fp32.failed.tflite" and not (tmp_path / "cycle_fp32.tflite").exists()


def test_rerun_with_force_replaces_stale_final_on_failure(tiny, tmp_path):
    module, ref = tiny("cycle")
    assert export_model(module, ref, SIZE, ["ptl"], tmp_path).ok
    with pytest.raises(ConfigError, match="already exists"):
        export_model(module, ref, SIZE, ["ptl"], tmp_path)
    manifest = export_model(module, ref, SIZE, ["ptl"], tmp_path, thresholds={"fp32": 1000.0}, force=True)
    assert not manifest.ok
    assert not (tmp_path / "cycle_fp32.ptl").exists(), "a final name must mean 'passed in this manifest'"
    assert export_model(module, ref, SIZE, ["ptl"], tmp_path, force=True).ok
    assert not (tmp_path / "cycle_fp32.failed.ptl").exists()


def test_plain_tuple_spec_and_options_are_recorded(tiny, tmp_path):
    module, ref = tiny("style")
    manifest = export_model(module, (ref.io, "fam", "arch", {"ngf": 8}), SIZE, ["onnx"], tmp_path, stem="net")
    assert manifest.ok and manifest.model.options == {"ngf": 8} and manifest.model.family == "fam"
    assert manifest.artifacts[0].file == "net_fp32.onnx"


def test_fp32_mlpackage_on_request(tiny, tmp_path):
    module, ref = tiny("cycle")
    manifest = export_model(module, ref, SIZE, ["mlpackage"], tmp_path, precisions={"mlpackage": ["fp16", "fp32"]})
    assert [(a.precision, a.status) for a in manifest.artifacts] == [("fp16", "ok"), ("fp32", "ok")]
    assert manifest.artifacts[1].parity.threshold_db == 45.0
    assert (tmp_path / "cycle_fp16.mlpackage").is_dir() and (tmp_path / "cycle_fp32.mlpackage").is_dir()


def test_bad_requests_raise_config_error(tiny, tmp_path):
    module, ref = tiny("cycle")
    with pytest.raises(ConfigError, match="unknown format.*choose from ptl, tflite"):
        export_model(module, ref, SIZE, ["tfl"], tmp_path)
    with pytest.raises(ConfigError, match="exports fp32, not fp16"):
        export_model(module, ref, SIZE, ["onnx"], tmp_path, precisions={"onnx": ["fp16"]})
    assert not (tmp_path / "manifest.json").exists()


def test_parity_inputs_are_real_8bit_images():
    from export_nets import IMAGE_Z_IO

    samples = parity_inputs(IMAGE_Z_IO, (SIZE, SIZE), n=2, seed=0)
    image, z = samples[0]
    assert image.shape == (1, 3, SIZE, SIZE) and z.shape == (1, 8)
    unit = (image + 1) / 2
    np.testing.assert_allclose((unit * 255).numpy(), np.round((unit * 255).numpy()), atol=1e-3)
    assert float(unit.std()) > 0.05, "photo crops, not flat noise"
    assert not torch.equal(samples[0][0], samples[1][0])


def test_gate_fails_an_artifact_bad_on_one_photo_of_four(tiny, tmp_path, monkeypatch):
    """A fake onnx runner exact on three parity photos and ~42 dB off on the fourth: its pooled PSNR (what
    the gate used to judge) clears 45 dB, the worst image does not."""
    real = FORMATS["onnx"].runner_fn

    def one_bad(path, io):
        run, calls = real(path, io), []

        def go(inputs):
            calls.append(1)
            out = run(inputs)
            return [o + 0.016 for o in out] if len(calls) == 4 else out      # 0.008 on the [0, 1] scale
        return go

    monkeypatch.setitem(FORMATS, "onnx", dataclasses.replace(FORMATS["onnx"], runner_fn=one_bad))
    module, ref = tiny("cycle")
    manifest = export_model(module, ref, SIZE, ["onnx"], tmp_path)
    p = manifest.artifact("onnx").parity
    assert manifest.artifact("onnx").status == "failed" and "worst image PSNR" in manifest.artifact("onnx").reason
    assert p.samples == 4 and p.psnr_db == min(p.psnr_db_per_image) < 45 and p.psnr_db_per_image[3] == p.psnr_db
    pooled = -10 * np.log10(np.mean([10 ** (-x / 10) for x in p.psnr_db_per_image]))
    assert pooled >= 45 and p.psnr_db_mean > 45, "a mean (or pooled) gate would have passed it"
    assert not (tmp_path / "cycle_fp32.onnx").exists() and (tmp_path / "cycle_fp32.failed.onnx").is_file()


def test_manifest_names_the_held_out_parity_photos(tiny, tmp_path):
    from pix2mobile.data.builtin import PARITY_PHOTOS

    module, ref = tiny("cycle")
    manifest = export_model(module, ref, SIZE, ["onnx"], tmp_path, samples=5)
    names = [p.rsplit("/", 1)[1].rsplit(".", 1)[0] for _, p in PARITY_PHOTOS]
    assert manifest.parity_images == (*names, names[0]) and len(names) >= 4
    assert json.loads((tmp_path / "manifest.json").read_text())["parity_images"] == list(manifest.parity_images)
    assert len(manifest.artifact("onnx").parity.psnr_db_per_image) == 5


def test_exception_in_the_second_job_leaves_an_honest_folder(tiny, tmp_path, monkeypatch):
    """Injected failure mid-run (a Ctrl-C inside the 2nd converter, after it wrote its staging file): the
    first row is already on disk as ok, the rest are listed as not made, and nothing else is there."""
    from folder_invariant import assert_folder_honest

    def interrupted(module, example_inputs, io, out_path, opts):
        out_path.write_bytes(b"half a model")
        raise KeyboardInterrupt

    monkeypatch.setitem(FORMATS, "onnx", dataclasses.replace(FORMATS["onnx"], export_fn=interrupted))
    module, ref = tiny("cycle")
    with pytest.raises(KeyboardInterrupt):
        export_model(module, ref, SIZE, ["ptl", "onnx", "pte"], tmp_path)
    data = assert_folder_honest(tmp_path)
    rows = {a["format"]: a for a in data["artifacts"]}
    assert rows["ptl"]["status"] == "ok" and (tmp_path / rows["ptl"]["file"]).is_file()
    assert rows["onnx"]["reason"] == rows["pte"]["reason"] and rows["pte"]["reason"].startswith("not made") and data["ok"] is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cycle_fp32.ptl", "manifest.json"]


def test_force_clears_our_earlier_files_the_new_manifest_does_not_list(tiny, tmp_path):
    """`export --force --formats onnx` into a folder holding a tflite export used to leave it there, unlisted."""
    from folder_invariant import assert_folder_honest

    module, ref = tiny("cycle")
    assert export_model(module, ref, SIZE, ["ptl", "onnx"], tmp_path).ok
    manifest = export_model(module, ref, SIZE, ["onnx"], tmp_path, force=True)
    assert manifest.ok and [a.format for a in manifest.artifacts] == ["onnx"]
    assert_folder_honest(tmp_path)
    assert not (tmp_path / "cycle_fp32.ptl").exists()
