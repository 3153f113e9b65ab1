"""PT2E int8 for ExecuTorch: the q/dq pairs fold into XNNPACK kernels; keep_float leaves a conv float."""

from __future__ import annotations

import pytest
import torch

from pix2mobile.errors import ConfigError
from pix2mobile.convert.quantize.pte import QuantizedModule, prepare_int8


def _lowered_ops(module, example):
    from executorch import exir
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner

    edge = exir.to_edge_transform_and_lower(torch.export.export(module, example),
                                            partitioner=[XnnpackPartitioner()])
    return [getattr(n.target, "__name__", str(n.target)) for n in edge.exported_program().graph_module.graph.nodes
            if n.op == "call_function"]


def _quantized_convs(module):
    gm = module.graph_module
    names = [str(n.target) for n in gm.graph.nodes if n.op == "call_function"]
    return sum("dequantize_per_channel" in n for n in names)


@pytest.mark.slow
def test_int8_folds_into_xnnpack_and_keep_float_leaves_the_conv_float(cycle, calib):
    module, _ = cycle
    quantized, notes = prepare_int8(module, calib.samples[0], calib)
    assert isinstance(quantized, QuantizedModule) and not quantized.training
    assert any("XNNPACKQuantizer" in n for n in notes)
    # 3 convs + 1 transposed conv, per-channel weights; the last conv (to 3 channels) is the mobile graph's
    # PhaseConv2d: a stride-2 conv and its one-hot interleave (a transposed conv), both int8
    assert _quantized_convs(quantized) == 5
    ops = _lowered_ops(quantized, calib.samples[0])
    assert "executorch_call_delegate" in ops
    assert not [o for o in ops if "quantize" in o], "no q/dq left outside XNNPACK"
    partial, notes = prepare_int8(module, calib.samples[0], calib, keep_float=("net.11",))
    assert _quantized_convs(partial) == 3 and any("kept float: net.11" in n for n in notes)
    with pytest.raises(ConfigError, match="no module net.99"):
        prepare_int8(module, calib.samples[0], calib, keep_float=("net.99",))
    with pytest.raises(ConfigError, match="needs calibration"):
        prepare_int8(module, calib.samples[0], None)


@pytest.mark.slow
def test_int8_keeps_the_written_out_norms_float(cycle, calib):
    """convert.mobile_graph writes InstanceNorm out before PT2E; every op of those norms stays float, even
    the mean of a quantized conv output, which XNNPACK's quantizer would otherwise annotate by propagation."""
    module, _ = cycle
    quantized, notes = prepare_int8(module, calib.samples[0], calib)
    assert any("InstanceNorm2d written out" in n for n in notes), notes
    graph = quantized.graph_module.graph
    means = [n for n in graph.nodes if n.op == "call_function" and "mean" in str(n.target)]
    assert means, "the norms are written out"
    for mean in means:
        for user in mean.users:
            assert "quantize_per_tensor" not in str(user.target), (mean, user)
    # and the norm's float ops stay inside the one XNNPACK segment
    ops = _lowered_ops(quantized, calib.samples[0])
    assert ops.count("executorch_call_delegate") == 1, ops
