"""tflite.py: litert-torch conversion, named signature, NHWC option, ai-edge-litert runner."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ai_edge_litert.interpreter import Interpreter

from export_nets import CYCLE_IO, IMAGE_Z_IO
from pix2mobile.convert import tflite
from pix2mobile.convert.common import ExportOptions
from pix2mobile.runtimes import tflite as tflite_runtime


@pytest.mark.parametrize("channel_last", [True, False])
def test_layout_option_and_names(tiny, tmp_path, channel_last):
    module, _ = tiny("cycle")
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    exported = tflite.export(module, (x,), CYCLE_IO, tmp_path / "m.tflite", ExportOptions(channel_last=channel_last))
    runner = Interpreter(model_path=str(exported.path)).get_signature_runner("serving_default")
    shape = tuple(runner.get_input_details()["image"]["shape"])
    assert shape == ((1, 32, 32, 3) if channel_last else (1, 3, 32, 32))
    assert exported.inputs[0].layout == ("NHWC" if channel_last else "NCHW")
    assert exported.outputs[0].shape == shape and exported.outputs[0].name == "translated"
    got = tflite_runtime.load_runner(exported.path, CYCLE_IO)((x,))[0]     # runner speaks NCHW either way
    with torch.no_grad():
        np.testing.assert_allclose(got, module(x).numpy(), atol=1e-5)


def test_image_plus_latent_converts_and_runs(tiny, tmp_path):
    """z expanded over the image: litert-torch's BROADCAST_TO would be refused; the expand rewrite fixes it."""
    module, _ = tiny("image_z")
    x, z = torch.rand(1, 3, 32, 32) * 2 - 1, torch.randn(1, 8)
    exported = tflite.export(module, (x, z), IMAGE_Z_IO, tmp_path / "m.tflite", ExportOptions())
    assert [t.layout for t in exported.inputs] == ["NHWC", "NC"]
    assert any("expand" in n for n in exported.notes)
    got = tflite_runtime.load_runner(exported.path, IMAGE_Z_IO)((x, z))[0]
    with torch.no_grad():
        np.testing.assert_allclose(got, module(x, z).numpy(), atol=1e-5)


def test_tensor_names_lose_package_paths_only(tiny, tmp_path, monkeypatch):
    module, _ = tiny("cycle")
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    short = tflite.export(module, (x,), CYCLE_IO, tmp_path / "short.tflite", ExportOptions()).path
    monkeypatch.setattr(tflite, "compact_names", lambda path: 0)
    long = tflite.export(module, (x,), CYCLE_IO, tmp_path / "long.tflite", ExportOptions()).path

    def names(path):
        interpreter = Interpreter(model_path=str(path))
        return interpreter, [d["name"] for d in interpreter.get_tensor_details()]

    long_i, long_names = names(long)
    short_i, short_names = names(short)
    assert any("torch.nn.modules.conv.Conv2d_" in n for n in long_names)
    assert not any("torch.nn." in n or "export_nets." in n for n in short_names)
    assert any("/Conv2d_" in n for n in short_names) and len(short_names) == len(long_names)
    assert short.stat().st_size < long.stat().st_size
    assert short_i.get_signature_list() == long_i.get_signature_list()
    feed = x.permute(0, 2, 3, 1).contiguous().numpy()
    a = long_i.get_signature_runner("serving_default")(image=feed)["translated"]
    b = short_i.get_signature_runner("serving_default")(image=feed)["translated"]
    np.testing.assert_array_equal(a, b)
    assert tflite.compact_names(short) == 0                               # nothing left to drop


def test_progress_env_is_restored(monkeypatch):
    import os

    monkeypatch.setenv("LITERT_TORCH_SHOW_PROGRESS", "y")
    with tflite._quiet_litert(LAYOUT_OPTIMIZE_PARTITIONER="GREEDY"):
        assert os.environ["LITERT_TORCH_SHOW_PROGRESS"] == "n"
    assert os.environ["LITERT_TORCH_SHOW_PROGRESS"] == "y" and "LAYOUT_OPTIMIZE_PARTITIONER" not in os.environ
