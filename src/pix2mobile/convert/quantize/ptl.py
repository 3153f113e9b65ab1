"""TorchScript Lite int8: torch.ao FX graph-mode static quantization with the qnnpack config.

`prepare_int8` returns a converted FX module whose convs, adds and instance norms are real
quantized modules (`quantized::conv2d`, `quantized::add`, `quantized::instance_norm`, quint8
activations, per-tensor qnnpack qconfig). `export.ptl` traces, freezes and saves it like any
module; `check_lite_ops` then reads the operator list of the saved file and refuses an artifact
without quantized kernels or with fake-quantize ops, so a float graph is never shipped as int8.

The lite interpreter runs these ops with the quantized engine of the process: qnnpack on
phones; on x86 desktops torch's default engine ("x86", fbgemm/onednn kernels) runs them for
verification. FX graph mode is deprecated in torch 2.13 in favour of PT2E, which has no
TorchScript path; its warnings are silenced for these calls only.

`quantized::instance_norm` reads its input as contiguous NCHW, but a quantized conv hands it a
channels-last tensor, and the kernel's result then differs from the same values laid out NCHW
(by up to 1.5 on a unit-variance output, tests/quantize/test_ptl_quant.py). fast_style/lite's int8
file scored 9.8 dB for it; `contiguous_norm_inputs` puts a `.contiguous()` before each quantized
norm (a copy where the layout differs): 37.7 dB (benchmark.mobile_graphs, 256x256).
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from pix2mobile.convert.quantize.layers import with_followers
from pix2mobile.convert.quantize.layers import check_keep_float
from pix2mobile.errors import ConfigError, ExportError
from pix2mobile.runtimes.common import first_line

DESCRIPTION = ("torch.ao FX static int8 (qnnpack qconfig): quantized::conv2d/add/instance_norm kernels, "
               "quint8 per-tensor activations calibrated on real images")
QUANTIZED_NAMESPACE = "quantized::"
FAKE_QUANT_OPS = ("fake_quantize",)


def prepare_int8(module: nn.Module, example_inputs: tuple[torch.Tensor, ...], calibration: Any, *,
                 keep_float: Sequence[str] = ()) -> tuple[nn.Module, list[str]]:
    """The FX-quantized copy of `module`, calibrated on `calibration.samples`, and notes."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    if calibration is None:
        raise ConfigError("ptl int8 needs calibration images; pass a CalibrationSet")
    check_keep_float(module, keep_float)
    module = copy.deepcopy(module).eval()
    mapping = get_default_qconfig_mapping("qnnpack")
    for name in with_followers(module, tuple(example_inputs), keep_float):
        mapping = mapping.set_module_name(name, None)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", UserWarning)
            prepared = prepare_fx(module, mapping, tuple(example_inputs))
            for sample in calibration.samples:
                prepared(*sample)
            converted = convert_fx(prepared)
    except Exception as exc:
        raise ExportError(f"torch.ao FX int8 quantization failed: {first_line(exc)}") from exc
    notes = [DESCRIPTION, f"calibrated on {calibration.describe()}"]
    norms = contiguous_norm_inputs(converted)
    if norms:
        notes.append(f"{norms} quantized InstanceNorm input(s) made contiguous (the kernel reads NCHW; "
                     "quantized convs write channels-last)")
    if keep_float:
        notes.append(f"kept float: {', '.join(keep_float)}")
    return converted.eval(), notes


def contiguous_norm_inputs(converted: Any) -> int:
    """Insert `.contiguous()` before every quantized InstanceNorm of an FX-converted module; how many."""
    from torch.ao.nn import quantized as nnq

    graph = converted.graph
    count = 0
    for node in list(graph.nodes):
        if node.op == "call_module" and isinstance(converted.get_submodule(node.target), nnq.InstanceNorm2d):
            with graph.inserting_before(node):
                made = graph.call_method("contiguous", (node.args[0],))
            node.replace_input_with(node.args[0], made)
            count += 1
    if count:
        graph.lint()
        converted.recompile()
    return count


def lite_ops(path: str | Path) -> list[str]:
    """The operator names a saved .ptl calls, as the lite interpreter lists them."""
    from torch.jit.mobile import _export_operator_list, _load_for_lite_interpreter

    return sorted(_export_operator_list(_load_for_lite_interpreter(str(path))))


def check_lite_ops(path: str | Path) -> list[str]:
    """Refuse a .ptl that is not really int8; return a note listing its quantized kernels."""
    ops = lite_ops(path)
    fake = [op for op in ops if any(f in op for f in FAKE_QUANT_OPS)]
    quantized = [op for op in ops if op.startswith(QUANTIZED_NAMESPACE)]
    if fake:
        raise ExportError(f"{path}: the int8 graph still calls fake-quantize ops ({', '.join(fake)})")
    if not quantized:
        raise ExportError(f"{path}: the int8 graph calls no quantized:: kernels; it would run in float")
    return [f"lite interpreter kernels: {', '.join(quantized)}"]


def prepare(module: nn.Module, example_inputs: tuple[torch.Tensor, ...], calibration: Any,
            keep_float: Sequence[str]) -> tuple[nn.Module, list[str]]:
    """The ptl int8 row's module-stage recipe (`Recipe.prepare`): `prepare_int8`."""
    return prepare_int8(module, example_inputs, calibration, keep_float=keep_float)


def after_export(out_path: Any, exported: Any) -> list[str]:
    """The lite interpreter's check of the exported int8 file (`Recipe.after_export`)."""
    return check_lite_ops(out_path)
