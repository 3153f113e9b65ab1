"""`pix2mobile quantize` on what export already wrote: new gated rows in the manifest, single files."""

from __future__ import annotations

import argparse
import json
import shutil

import pytest

from pix2mobile.errors import ConfigError
from pix2mobile.export import export_model
from pix2mobile.export.manifest import Manifest
from pix2mobile.models.spec import IOSpec
from pix2mobile.quantize import quantize_export_dir, quantize_file
from quant_nets import CYCLE_IO, SIZE


@pytest.fixture(scope="module")
def export_dir(_trained_cycle, tmp_path_factory):
    from pix2mobile.export.pipeline import ModelRef

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
