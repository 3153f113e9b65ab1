"""export_model records each row's residency in manifest.json, equal to what the inspectors read from the files."""

from __future__ import annotations

import dataclasses
import logging

from pix2mobile.convert.formats import FORMATS
from pix2mobile.manifest import Manifest, artifact_path
from pix2mobile.pipelines.export import export_model
from residency_nets import IO, SIZE, Clean


def test_manifest_records_what_the_files_hold(style_export):
    on_disk = Manifest.read(style_export.out)
    assert on_disk.artifacts == style_export.manifest.artifacts
    rows = {(a.format, a.precision): a for a in on_disk.artifacts}
    assert set(rows) == {("pte", "fp32"), ("tflite", "fp32"), ("tflite", "fp16"), ("onnx", "fp32"),
                         ("mlpackage", "fp16")}
    for (fmt, precision), row in rows.items():
        assert row.file is not None, row.reason
        assert row.residency == FORMATS[fmt].residency_fn(artifact_path(style_export.out, row.file)), (fmt, precision)
    # the fp16 gate was out of reach: those rows failed on parity and still carry their record
    for key in (("tflite", "fp16"), ("mlpackage", "fp16")):
        assert rows[key].status == "failed" and "parity gate" in rows[key].reason and rows[key].residency is not None
    fp16_ops = dict(rows["tflite", "fp16"].residency.ops)      # fp16 weights, widened by DEQUANTIZE ops
    assert fp16_ops.pop("DEQUANTIZE") > 0 and fp16_ops == rows["tflite", "fp32"].residency.ops
    assert rows["pte", "fp32"].status == "ok" and rows["pte", "fp32"].residency.delegate_segments >= 1


def test_clean_module_exports_clean(clean_export):
    rows = {a.format: a for a in clean_export.manifest.artifacts}
    assert all(a.ok for a in rows.values())
    assert rows["pte"].residency.summary() == "1 delegate segment, 0 portable calls"
    assert rows["tflite"].residency.layout_transposes == 0 and rows["tflite"].residency.clean()


def test_an_inspector_that_raises_leaves_the_row_ok_without_a_record(tmp_path, monkeypatch, caplog):
    def broken(path):
        raise RuntimeError("cannot parse this")

    monkeypatch.setitem(FORMATS, "ptl", dataclasses.replace(FORMATS["ptl"], residency_fn=broken))
    with caplog.at_level(logging.WARNING, logger="pix2mobile.pipelines.export"):
        manifest = export_model(Clean().eval(), (IO, "test", "clean"), SIZE, ["ptl"], tmp_path)
    row = manifest.artifact("ptl")
    assert row.ok and row.residency is None and Manifest.read(tmp_path).artifact("ptl").residency is None
    assert "ptl residency not recorded: RuntimeError: cannot parse this" in caplog.text


def test_a_row_whose_export_failed_has_no_record(tmp_path, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("converter crashed")

    monkeypatch.setitem(FORMATS, "onnx", dataclasses.replace(FORMATS["onnx"], export_fn=crash))
    row = export_model(Clean().eval(), (IO, "test", "clean"), SIZE, ["onnx"], tmp_path).artifact("onnx")
    assert row.status == "failed" and row.file is None and row.residency is None
