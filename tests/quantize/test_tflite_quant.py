"""ai-edge-quantizer recipes: int8 is really int8 (weights and activations), with float I/O and
float normalisation; calibration pins image inputs to their range and clips rare outliers."""

from __future__ import annotations

import numpy as np
import pytest

from pix2mobile.errors import ConfigError
from pix2mobile.convert import tflite
from pix2mobile.convert.common import ExportOptions
from pix2mobile.convert.quantize.tflite import NORM_SCOPE, calibrate, clip_range, quantize_tflite
from quant_nets import CYCLE_IO


@pytest.fixture(scope="module")
def float_tflite(_trained_cycle, calib, tmp_path_factory):
    import copy

    path = tmp_path_factory.mktemp("tfl") / "cycle_fp32.tflite"
    tflite.export(copy.deepcopy(_trained_cycle), calib.samples[0], CYCLE_IO, path, ExportOptions())
    return path


def _tensors(path):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    names = {t["index"]: t for t in it.get_tensor_details()}
    ops = [(d["op_name"], [names[i] for i in d["outputs"]]) for d in it._get_ops_details()]
    return it, ops


@pytest.mark.slow
def test_int8_has_int8_convs_float_io_and_float_instance_norm(float_tflite, calib, tmp_path):
    out = tmp_path / "cycle_int8.tflite"
    notes = quantize_tflite(float_tflite, out, "int8", CYCLE_IO, calibration=calib)
    assert any("normalisation ops kept float" in n for n in notes)
    it, ops = _tensors(out)
    conv_out = [t["dtype"] for op, ts in ops if op in ("CONV_2D", "TRANSPOSE_CONV") for t in ts]
    assert conv_out and all(d == np.int8 for d in conv_out)
    norm_out = [t["dtype"] for op, ts in ops if op in ("MEAN", "RSQRT") for t in ts]
    assert norm_out and all(d == np.float32 for d in norm_out)
    runner = it.get_signature_runner("serving_default")
    assert runner.get_input_details()["image"]["dtype"] == np.float32
    assert runner.get_output_details()["translated"]["dtype"] == np.float32
    assert out.stat().st_size < float_tflite.stat().st_size


@pytest.mark.slow
def test_dynamic_and_weight_only_keep_float_activations(float_tflite, tmp_path):
    for precision in ("int8-dynamic", "w8", "fp16"):
        out = tmp_path / f"c_{precision}.tflite"
        quantize_tflite(float_tflite, out, precision, CYCLE_IO)
        _, ops = _tensors(out)
        convs = [t["dtype"] for op, ts in ops if op == "CONV_2D" for t in ts]
        assert convs and all(d == np.float32 for d in convs), precision


@pytest.mark.slow
def test_calibration_pins_inputs_and_clips_within_the_data(float_tflite, calib):
    data = float_tflite.read_bytes()
    qsvs = calibrate(data, CYCLE_IO, calib.samples)
    assert qsvs["serving_default_image:0" if "serving_default_image:0" in qsvs else "serving_default_image"][
        "min"].item() == -1.0
    one = calibrate(data, CYCLE_IO, calib.samples[:1])
    assert len(qsvs) == len(one) > 20
    for q in qsvs.values():
        assert q["min"].item() <= 0.0 <= q["max"].item()


def test_clip_range_keeps_uniform_spans_and_clips_rare_outliers():
    rng = np.random.default_rng(0)
    uniform = rng.uniform(-1, 3, 100_000)
    h, _ = np.histogram(uniform, bins=1024, range=(uniform.min(), uniform.max()))
    lo, hi = clip_range(uniform.min(), uniform.max(), h)
    assert lo == pytest.approx(uniform.min()) and hi == pytest.approx(uniform.max())
    tailed = rng.laplace(0, 1, 100_000)                                   # long tails: the extremes are rare
    h, _ = np.histogram(tailed, bins=1024, range=(tailed.min(), tailed.max()))
    lo, hi = clip_range(tailed.min(), tailed.max(), h)
    assert 0.95 * tailed.min() < lo < 0.4 * tailed.min() and 0.4 * tailed.max() < hi < 0.95 * tailed.max()


@pytest.mark.slow
def test_keep_float_and_errors(float_tflite, calib, tmp_path):
    out = tmp_path / "kf.tflite"
    notes = quantize_tflite(float_tflite, out, "int8", CYCLE_IO, calibration=calib, keep_float=("net.11",))
    assert any("kept float: net.11" in n for n in notes)
    _, ops = _tensors(out)
    # the head's conv and tanh stay float; the conv to 3 channels is the mobile graph's PhaseConv2d (a
    # stride-2 conv per output parity and a one-hot TRANSPOSE_CONV interleaving them)
    tail = [op for op, ts in ops if op != "DEQUANTIZE"][-3:]
    assert tail == ["CONV_2D", "TRANSPOSE_CONV", "TANH"]
    head = [t["dtype"] for op, ts in ops[-3:] for t in ts]
    assert all(d == np.float32 for d in head)
    with pytest.raises(ConfigError, match="names no ops"):
        quantize_tflite(float_tflite, tmp_path / "x.tflite", "int8", CYCLE_IO, calibration=calib,
                        keep_float=("net.99",))
    with pytest.raises(ConfigError, match="needs calibration"):
        quantize_tflite(float_tflite, tmp_path / "x.tflite", "int8", CYCLE_IO)
    with pytest.raises(ConfigError, match="already quantized"):
        quantize_tflite(out, tmp_path / "x.tflite", "w8", CYCLE_IO)
    assert not (tmp_path / "x.tflite").exists()


def test_norm_scope_matches_torch_class_names():
    import re

    assert re.search(NORM_SCOPE, "a/torch.nn.modules.instancenorm.InstanceNorm2d_in1;3")
    assert not re.search(NORM_SCOPE, "a/torch.nn.modules.conv.Conv2d_1;2")
    assert re.search(NORM_SCOPE, "NamedIO/Net_module/InstanceNorm2d_in1;3")        # as export writes it now
    assert not re.search(NORM_SCOPE, "NamedIO/Net_module/MyInstanceNorm2d_in1;3")
