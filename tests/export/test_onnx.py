"""onnx.py: dynamo export with IOSpec names and self-describing metadata; onnxruntime runner."""

from __future__ import annotations

import json

import numpy as np
import onnx as onnx_lib
import torch

from export_nets import IMAGE_Z_IO
from pix2mobile.convert import onnx
from pix2mobile.convert.common import ExportOptions
from pix2mobile.runtimes import onnx as onnx_runtime


def test_names_metadata_and_runner(tiny, tmp_path):
    module, _ = tiny("image_z")
    x, z = torch.rand(1, 3, 32, 32) * 2 - 1, torch.randn(1, 8)
    exported = onnx.export(module, (x, z), IMAGE_Z_IO, tmp_path / "m.onnx",
                           ExportOptions(metadata={"author": "tests"}))
    model = onnx_lib.load(str(exported.path))
    assert [i.name for i in model.graph.input] == ["image", "z"]
    assert [o.name for o in model.graph.output] == ["translated"]
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["pix2mobile.author"] == "tests"
    assert json.loads(meta["pix2mobile.io"])["inputs"][1]["range"] == [-3.0, 3.0]
    got = onnx_runtime.load_runner(exported.path, IMAGE_Z_IO)((x, z))[0]
    with torch.no_grad():
        np.testing.assert_allclose(got, module(x, z).numpy(), atol=1e-5)
    assert any(n.startswith("ONNX opset") for n in exported.notes)


def test_metadata_size_comes_from_the_output_when_no_input_is_an_image(tmp_path):
    """The morph's I/O: alpha in, image out. Files read alone (`pix2mobile quantize FILE`) need the H, W."""
    from export_nets import ALPHA_IO, AlphaRenderer

    exported = onnx.export(AlphaRenderer(size=24), (torch.tensor([0.5]),), ALPHA_IO, tmp_path / "m.onnx",
                           ExportOptions())
    meta = {p.key: p.value for p in onnx_lib.load(str(exported.path)).metadata_props}
    assert json.loads(meta["pix2mobile.io"])["outputs"][0]["shape"] == [1, 3, 24, 24]
