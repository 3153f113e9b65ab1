"""TorchScript Lite int8 runs real quantized kernels; a float graph is never passed off as int8."""

from __future__ import annotations

import copy

import pytest

from pix2mobile.errors import ExportError
from pix2mobile.convert import ptl
from pix2mobile.convert.common import ExportOptions
from pix2mobile.convert.quantize.ptl import check_lite_ops, lite_ops, prepare_int8
from quant_nets import CYCLE_IO


def test_lite_interpreter_runs_quantized_kernels_and_float_is_refused(cycle, calib, tmp_path):
    module, _ = cycle
    quantized, notes = prepare_int8(module, calib.samples[0], calib)
    path = tmp_path / "q.ptl"
    ptl.export(quantized, calib.samples[0], CYCLE_IO, path, ExportOptions())
    ops = lite_ops(path)
    assert {"quantized::conv2d.new", "quantized::instance_norm", "quantized::conv_transpose2d"} <= set(ops)
    assert not [o for o in ops if "fake_quantize" in o]
    assert "quantized::conv2d.new" in check_lite_ops(path)[0]
    float_path = tmp_path / "f.ptl"
    ptl.export(copy.deepcopy(module), calib.samples[0], CYCLE_IO, float_path, ExportOptions())
    with pytest.raises(ExportError, match="no quantized:: kernels"):
        check_lite_ops(float_path)


def test_keep_float_takes_the_activation_after_the_kept_conv(cycle, calib):
    """FX would quantize the tanh after a float conv with its own range (-10 dB on TinyCycle)."""
    module, _ = cycle
    quantized, _ = prepare_int8(module, calib.samples[0], calib, keep_float=("net.11",))
    code = quantized.code
    tail = code[code.index("net_11 = "):]
    assert "quantize_per_tensor" not in tail, tail
