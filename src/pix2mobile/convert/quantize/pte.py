"""ExecuTorch int8: torchao PT2E with ExecuTorch's XNNPACK quantizer, before `export.pte` lowers it.

`prepare_int8` returns the converted PT2E module (quantize/dequantize pairs around int8 convs,
per-channel symmetric weights, per-tensor activations observed with a histogram on the
calibration images). `export.pte` exports and lowers it as it lowers any module; XNNPACK's
partitioner folds each q/dq pattern into a quantized kernel (QS8 conv, add). Ops the XNNPACK
quantizer does not annotate (instance norm, reflection pad, tanh) stay float.

`keep_float` module names are left unannotated, so their convs run in float.
"""

from __future__ import annotations

import copy
from typing import Any, Sequence

import torch
from torch import nn

from pix2mobile.convert.quantize.layers import check_keep_float
from pix2mobile.errors import ConfigError, ExportError
from pix2mobile.runtimes.common import first_line, require

DESCRIPTION = ("torchao PT2E + ExecuTorch XNNPACKQuantizer: per-channel int8 weights, calibrated per-tensor "
               "int8 activations, lowered to XNNPACK")


class QuantizedModule(nn.Module):
    """A converted PT2E graph as a plain module: `eval()` works on it like on any module."""

    def __init__(self, graph_module: nn.Module):
        super().__init__()
        self.graph_module = graph_module

    def forward(self, *args: torch.Tensor) -> Any:
        return self.graph_module(*args)


def _under(stack: dict[str, Any] | None, names: Sequence[str]) -> bool:
    if not stack:
        return False
    paths = [v[0] for v in stack.values() if isinstance(v, tuple) and v]
    return any(p == n or p.startswith(n + ".") for p in paths for n in names)


def prepare_int8(module: nn.Module, example_inputs: tuple[torch.Tensor, ...], calibration: Any, *,
                 keep_float: Sequence[str] = ()) -> tuple[nn.Module, list[str]]:
    """The PT2E-quantized copy of `module` (calibrated on `calibration.samples`) and notes."""
    pt2e = require("torchao.quantization.pt2e.quantize_pt2e", "torchao", "PT2E int8 quantization")
    pt2e_utils = require("torchao.quantization.pt2e", "torchao", "PT2E int8 quantization")
    xq = require("executorch.backends.xnnpack.quantizer.xnnpack_quantizer", "executorch",
                 "ExecuTorch XNNPACK quantization")
    if calibration is None:
        raise ConfigError("pte int8 needs calibration images; pass a CalibrationSet")
    check_keep_float(module, keep_float)
    quantizer = xq.XNNPACKQuantizer().set_global(xq.get_symmetric_quantization_config(is_per_channel=True))
    if keep_float:
        quantizer.set_filter_function(lambda node: not _under(node.meta.get("nn_module_stack"), keep_float))
    module = copy.deepcopy(module).eval()
    try:
        with torch.no_grad():
            graph = torch.export.export(module, tuple(example_inputs)).module()
            prepared = pt2e.prepare_pt2e(graph, quantizer)
            for sample in calibration.samples:
                prepared(*sample)
            converted = pt2e.convert_pt2e(prepared)
    except ConfigError:
        raise
    except Exception as exc:
        raise ExportError(f"PT2E int8 quantization failed: {first_line(exc)}") from exc
    pt2e_utils.allow_exported_model_train_eval(converted)
    notes = [DESCRIPTION, f"calibrated on {calibration.describe()}"]
    if keep_float:
        notes.append(f"kept float: {', '.join(keep_float)}")
    return QuantizedModule(converted).eval(), notes


def prepare(module: nn.Module, example_inputs: tuple[torch.Tensor, ...], calibration: Any,
            keep_float: Sequence[str]) -> tuple[nn.Module, list[str]]:
    """The pte int8 row's module-stage recipe (`Recipe.prepare`): `prepare_int8`."""
    return prepare_int8(module, example_inputs, calibration, keep_float=keep_float)


def after_export(out_path: Any, exported: Any) -> list[str]:
    """Notes on the exported int8 program (`Recipe.after_export`)."""
    if any("quantize_per" in n for n in exported.notes):
        return ["some quantize/dequantize pairs were not folded into XNNPACK kernels (see above)"]
    return []
