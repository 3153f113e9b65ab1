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


def test_quantized_norms_read_contiguous_inputs():
    """A quantized conv writes channels-last and quantized::instance_norm computes something else on
    such a tensor than on the same values laid out NCHW (fast_style/lite's int8 .ptl scored 9.8 dB
    for it, 37.7 dB with the fix): every quantized norm of the converted graph reads `.contiguous()`."""
    import torch
    from torch import nn
    from torch.ao.nn import quantized as nnq

    from pix2mobile.convert.quantize.calibration import builtin_calibration

    torch.manual_seed(0)
    x = torch.randn(1, 16, 64, 64) * 3 + torch.arange(16.0).view(1, 16, 1, 1)
    q = torch.quantize_per_tensor(x, 0.05, 128, torch.quint8)
    last = q.contiguous(memory_format=torch.channels_last)
    ones, zeros = torch.ones(16), torch.zeros(16)
    nchw = torch.ops.quantized.instance_norm(q, ones, zeros, 1e-5, 0.02, 128).dequantize()
    nhwc = torch.ops.quantized.instance_norm(last, ones, zeros, 1e-5, 0.02, 128).dequantize()
    assert (nchw - nhwc).abs().max() > 0.1          # the kernel's fault this works around
    assert torch.equal(last.dequantize(), q.dequantize())

    module = nn.Sequential(nn.Conv2d(3, 16, 1), nn.InstanceNorm2d(16, affine=True), nn.ReLU(),
                           nn.Conv2d(16, 16, 3), nn.InstanceNorm2d(16), nn.Conv2d(16, 3, 1)).eval()
    calib = builtin_calibration(CYCLE_IO, 32, 4)
    quantized, notes = prepare_int8(module, calib.samples[0], calib)
    assert any("2 quantized InstanceNorm input(s) made contiguous" in n for n in notes), notes
    norms = [n for n in quantized.graph.nodes
             if n.op == "call_module" and isinstance(quantized.get_submodule(n.target), nnq.InstanceNorm2d)]
    assert len(norms) == 2
    assert all(n.args[0].op == "call_method" and n.args[0].target == "contiguous" for n in norms)
