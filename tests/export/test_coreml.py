"""coreml.py: ML Program and NeuralNetwork with image I/O from the IOSpec range, metadata, numpy runner."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from export_nets import ALPHA_IO, CYCLE_IO, IMAGE_Z_IO, STYLE_IO
from pix2mobile.convert import coreml
from pix2mobile.runtimes.coreml_eval import evaluator as coreml_check
from pix2mobile.convert.common import ExportOptions
from pix2mobile.runtimes import coreml as coreml_runtime

META = ExportOptions(metadata={"author": "pix2mobile tests", "license": "BSD-3-Clause", "description": "tiny",
                               "version": "0.0.1"})


@pytest.mark.parametrize("fn, suffix", [(coreml.export_mlpackage, ".mlpackage"), (coreml.export_mlmodel, ".mlmodel")])
@pytest.mark.parametrize("name, io, lo, hi", [("cycle", CYCLE_IO, -1.0, 1.0), ("style", STYLE_IO, 0.0, 255.0)])
def test_image_io_scale_bias_from_range_and_metadata(tiny, tmp_path, fn, suffix, name, io, lo, hi):
    import coremltools as ct

    module, _ = tiny(name)
    x = io.inputs[0].from_unit(torch.round(torch.rand(1, 3, 32, 32) * 255) / 255)
    exported = fn(module, (x,), io, tmp_path / f"m{suffix}", META)
    assert exported.path.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    info = coreml_check.describe(exported.path)
    image_in, image_out = info["inputs"][0], info["outputs"][0]
    assert image_in["kind"] == "image" and image_in["color_layout"] == "RGB"
    assert image_in["scale"] == pytest.approx((hi - lo) / 255, rel=1e-3)
    assert image_in["bias"] == pytest.approx([lo] * 3, abs=1e-3)
    assert image_out["kind"] == "image" and image_out["name"] == io.outputs[0].name
    assert exported.inputs[0].range == (0.0, 255.0) and exported.inputs[0].dtype == "uint8"
    spec = ct.utils.load_spec(str(exported.path))
    assert spec.description.metadata.author == "pix2mobile tests"
    assert spec.description.metadata.license == "BSD-3-Clause"
    assert "raw pixels" in spec.description.input[0].shortDescription
    assert "pix2mobile.io" in spec.description.metadata.userDefined
    got = coreml_runtime.load_runner(exported.path, io)((x,))[0]
    with torch.no_grad():
        ref = module(x).numpy()
    unit = lambda a: np.clip((a - lo) / (hi - lo), 0, 1)  # noqa: E731
    tol = 0.01 if suffix == ".mlpackage" else 1e-4      # fp16 program by default
    np.testing.assert_allclose(unit(got), unit(ref), atol=tol)


@pytest.mark.parametrize("name, io", [("image_z", IMAGE_Z_IO), ("alpha", ALPHA_IO)])
def test_multi_input_and_scalar_models_keep_all_inputs(tiny, tmp_path, name, io):
    module, _ = tiny(name)
    pixels = torch.round(torch.rand(1, 3, 32, 32) * 255) / 255       # the runner feeds 8-bit pixels
    inputs = (pixels * 2 - 1, torch.randn(1, 8)) if name == "image_z" else (torch.tensor([0.7]),)
    exported = coreml.export_mlpackage(module, inputs, io, tmp_path / "m.mlpackage", ExportOptions(precision="fp32"))
    info = coreml_check.describe(exported.path)
    assert [f["name"] for f in info["inputs"]] == [s.name for s in io.inputs]
    kinds = [f["kind"] for f in info["inputs"]]
    assert kinds == (["image", "multiarray"] if name == "image_z" else ["multiarray"])
    got = coreml_runtime.load_runner(exported.path, io)(inputs)[0]
    with torch.no_grad():
        ref = module(*inputs).numpy()
    lo, hi = io.outputs[0].range
    np.testing.assert_allclose(np.clip(got, lo, hi), np.clip(ref, lo, hi), atol=1e-3 * (hi - lo))


def test_tensor_io_on_request(tiny, tmp_path):
    module, _ = tiny("cycle")
    x = torch.rand(1, 3, 32, 32) * 2 - 1          # tensor input: no 8-bit pixels involved
    exported = coreml.export_mlmodel(module, (x,), CYCLE_IO, tmp_path / "t.mlmodel", ExportOptions(image_io=False))
    info = coreml_check.describe(exported.path)
    assert info["inputs"][0]["kind"] == "multiarray" and info["outputs"][0]["kind"] == "multiarray"
    assert exported.inputs[0].range == (-1.0, 1.0) and exported.inputs[0].color_layout is None
    got = coreml_runtime.load_runner(exported.path, CYCLE_IO)((x,))[0]
    with torch.no_grad():
        np.testing.assert_allclose(got, module(x).numpy(), atol=1e-4)
