"""`pix2mobile quantize` on what export already wrote: new gated rows in the manifest, single files."""

from __future__ import annotations

import argparse
import json
import shutil

import pytest

from pix2mobile.errors import ConfigError
from pix2mobile.pipelines.export import export_model
from pix2mobile.manifest import Manifest
from pix2mobile.models.spec import IOSpec
from pix2mobile.pipelines.quantize import quantize_export_dir, quantize_file
from quant_nets import CYCLE_IO, SIZE


@pytest.fixture(scope="module")
def export_dir(_trained_cycle, tmp_path_factory):
    from pix2mobile.pipelines.export import ModelRef

    out = tmp_path_factory.mktemp("exp")
    export_model(_trained_cycle, ModelRef("test", "cycle", CYCLE_IO), SIZE, ["tflite", "mlmodel", "pte"], out)
    return out


def test_manifest_io_round_trips(export_dir):
    io, size = IOSpec.from_json(dict(Manifest.read(export_dir).io))
    assert io == CYCLE_IO and size == (SIZE, SIZE)


@pytest.mark.slow
def test_folder_gains_gated_rows_and_refuses_to_clobber(export_dir, tmp_path, calib):
    folder = tmp_path / "exp"
    shutil.copytree(export_dir, folder)
    manifest = quantize_export_dir(folder, ["int8", "w8"], calibration=calib)
    assert Manifest.read(folder) == manifest
    for fmt, precision in (("tflite", "int8"), ("tflite", "w8"), ("mlmodel", "w8")):
        row = manifest.artifact(fmt, precision)
        assert row.ok, row.reason
        assert row.file == f"cycle_{precision}.{fmt}" and (folder / row.file).exists()
        assert row.parity.psnr_db >= 30 and row.parity.ssim > 0.9 and row.bytes < manifest.artifact(fmt, "fp32").bytes
        assert any("parity reference: cycle_fp32" in n for n in row.notes)
        assert row.inputs == manifest.artifact(fmt, "fp32").inputs
    assert len([a for a in manifest.artifacts if a.format == "pte"]) == 1      # pte int8 needs the module
    with pytest.raises(ConfigError, match="already exists"):
        quantize_export_dir(folder, ["int8"], formats=["tflite"], calibration=calib)
    again = quantize_export_dir(folder, ["int8"], formats=["tflite"], calibration=calib, force=True)
    assert len(again.artifacts) == len(manifest.artifacts)
    with pytest.raises(ConfigError, match="nothing here can be made into palette4"):
        quantize_export_dir(folder, ["palette4"], formats=["tflite"])


@pytest.mark.slow
def test_single_files(export_dir, tmp_path):
    src = tmp_path / "solo.mlmodel"                    # no manifest beside it: the Core ML metadata has the io
    shutil.copy(export_dir / "cycle_fp32.mlmodel", src)
    path, row = quantize_file(src, "palette6")
    assert path == tmp_path / "solo_palette6.mlmodel" and row.ok and row.parity.psnr_db >= 30
    with pytest.raises(ConfigError, match="already exists"):
        quantize_file(src, "palette6")
    lone = tmp_path / "lone.tflite"
    shutil.copy(export_dir / "cycle_fp32.tflite", lone)
    with pytest.raises(ConfigError, match="no manifest.json beside it"):
        quantize_file(lone, "int8")
    with pytest.raises(ConfigError, match="quantizes the PyTorch module"):
        quantize_file(export_dir / "cycle_fp32.pte", "int8")


@pytest.mark.slow
def test_command_exit_codes(export_dir, tmp_path):
    from pix2mobile.commands import quantize as cmd

    folder = tmp_path / "exp"
    shutil.copytree(export_dir, folder)
    parser = argparse.ArgumentParser()
    cmd.add_arguments(parser)
    args = parser.parse_args([str(folder), "--precision", "int8-dynamic", "--format", "tflite"])
    assert cmd.run(args) == 0
    rows = json.loads((folder / "manifest.json").read_text())["artifacts"]
    assert any(r["format"] == "tflite" and r["precision"] == "int8-dynamic" and r["status"] == "ok" for r in rows)
    with pytest.raises(ConfigError):
        cmd.run(parser.parse_args([str(folder), "--precision", "int8", "--out", "x.tflite"]))


@pytest.mark.slow
def test_command_judges_only_the_rows_it_made(export_dir, tmp_path):
    """A failed row already in the folder (another format, same precision) is not this run's failure."""
    from pix2mobile.commands import quantize as cmd

    folder = tmp_path / "exp"
    shutil.copytree(export_dir, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    old = dict(next(r for r in manifest["artifacts"] if r["format"] == "mlmodel"), precision="w8", status="failed",
               reason="an earlier run", file=None)
    manifest["artifacts"].append(old)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    parser = argparse.ArgumentParser()
    cmd.add_arguments(parser)
    assert cmd.run(parser.parse_args([str(folder), "--precision", "w8", "--format", "tflite"])) == 0


@pytest.fixture(scope="module")
def lite_export(tmp_path_factory):
    """A tiny registry model (fast_style/lite) saved as a .pth and exported to tflite fp32 at 32 px: its
    manifest records model.checkpoint, so quantize can rebuild eager PyTorch."""
    import torch

    from pix2mobile.models import get_variant
    from pix2mobile.models.loading import load_generator

    torch.manual_seed(0)
    tmp = tmp_path_factory.mktemp("lite")
    options = {"width": 4, "n_res": 1}
    pth = tmp / "lite.pth"
    torch.save(get_variant("fast_style", "lite").create(**options).state_dict(), pth)
    loaded = load_generator(pth, "fast_style", "lite", options)
    out = tmp / "exp"
    manifest = export_model(loaded.generator, loaded.spec, SIZE, ["tflite"], out, options=loaded.options,
                            checkpoint=pth, checkpoint_sha256=loaded.sha256)
    assert manifest.ok, manifest.artifacts[0].reason
    return out


def _quantize_cli(argv, capsys):
    from pix2mobile import cli

    code = cli.main(["-q", "quantize", *map(str, argv)])
    return code, capsys.readouterr()


@pytest.mark.slow
def test_quantize_file_says_which_reference_it_used(lite_export, tmp_path, capsys):
    """README promised eager fp32; the code always compared with the float artifact. Now: eager when the
    manifest's checkpoint is reachable, else the float artifact, and both the row and the output say so."""
    folder = tmp_path / "exp"
    shutil.copytree(lite_export, folder)
    code, out = _quantize_cli([folder / "lite_fp32.tflite", "--precision", "fp16", "--out", tmp_path / "a_fp16.tflite"],
                              capsys)
    assert code == 0, out.err
    assert "reference: eager" in out.out
    _, row = quantize_file(folder / "lite_fp32.tflite", "fp16", out=tmp_path / "b_fp16.tflite")
    assert row.parity.reference == "eager" and any("parity reference: eager" in n for n in row.notes)
    assert row.parity.samples == 4 and row.parity.psnr_db == min(row.parity.psnr_db_per_image)

    data = json.loads((folder / "manifest.json").read_text())
    data["model"]["checkpoint"] = str(tmp_path / "gone.pth")          # not on this machine any more
    (folder / "manifest.json").write_text(json.dumps(data))
    code, out = _quantize_cli([folder / "lite_fp32.tflite", "--precision", "fp16", "--out", tmp_path / "c_fp16.tflite"],
                              capsys)
    assert code == 0, out.err
    assert "reference: float artifact" in out.out and "reference: eager" not in out.out
    _, row = quantize_file(folder / "lite_fp32.tflite", "fp16", out=tmp_path / "d_fp16.tflite")
    assert row.parity.reference == "float artifact" and any("not on this machine" in n for n in row.notes)


@pytest.mark.slow
def test_failure_in_the_second_job_leaves_the_first_row_on_disk(lite_export, tmp_path, monkeypatch):
    """quantize DIR used to rename job 1's file into place and write the manifest only at the end: a
    failure in job 2 left a final-named file the manifest on disk did not list."""
    from folder_invariant import assert_folder_honest
    from pix2mobile.convert.quantize import build

    folder = tmp_path / "exp"
    shutil.copytree(lite_export, folder)
    real, calls = build.transform_artifact, []

    def second_one_breaks(recipe, float_path, out_path, io, **kw):
        calls.append(recipe.precision)
        if len(calls) == 2:
            out_path.write_bytes(b"half a model")
            raise KeyboardInterrupt
        return real(recipe, float_path, out_path, io, **kw)

    monkeypatch.setattr(build, "transform_artifact", second_one_breaks)
    with pytest.raises(KeyboardInterrupt):
        quantize_export_dir(folder, ["fp16", "w8"])
    data = assert_folder_honest(folder)
    rows = {a["precision"]: a for a in data["artifacts"]}
    assert rows["fp16"]["status"] == "ok" and (folder / "lite_fp16.tflite").is_file()
    assert rows["w8"]["status"] == "failed" and rows["w8"]["reason"].startswith("not made") and data["ok"] is False


@pytest.mark.slow
def test_quantize_file_force_failing_removes_the_old_passing_file(lite_export, tmp_path, monkeypatch):
    from pix2mobile.runtimes import parity

    src = tmp_path / "lite_fp32.tflite"
    shutil.copy(lite_export / "lite_fp32.tflite", src)
    shutil.copy(lite_export / "manifest.json", tmp_path / "manifest.json")
    path, row = quantize_file(src, "fp16")
    assert row.ok and path == tmp_path / "lite_fp16.tflite"
    monkeypatch.setitem(parity.DEFAULT_THRESHOLDS_DB, "fp16", 1000.0)
    path, row = quantize_file(src, "fp16", force=True)
    assert not row.ok and path == tmp_path / "lite_fp16.failed.tflite" and path.is_file()
    assert not (tmp_path / "lite_fp16.tflite").exists(), "a final name must hold a file that passed"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.slow
def test_sigint_mid_quantize_leaves_an_honest_folder(lite_export, tmp_path):
    from folder_invariant import assert_folder_honest
    from sigint import interrupt_when

    folder = tmp_path / "exp"
    shutil.copytree(lite_export, folder)
    code, err = interrupt_when(["quantize", str(folder), "--precision", "fp16,w8,int8-dynamic,int8"],
                               folder / "lite_fp16.tflite")
    assert code == 130, err
    data = assert_folder_honest(folder)
    rows = {a["precision"]: a for a in data["artifacts"]}
    assert rows["fp16"]["status"] == "ok" and rows["int8"]["status"] == "failed" and data["ok"] is False
