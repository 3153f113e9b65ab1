"""ExecuTorch int8: torchao PT2E with ExecuTorch's XNNPACK quantizer, before `export.pte` lowers it.

`prepare_int8` returns the converted PT2E module (quantize/dequantize pairs around int8 convs,
per-channel symmetric weights, per-tensor activations observed with a histogram on the
calibration images). The module is first rewritten as `export.pte` rewrites a float one
(`convert.pte.PLAN`: padding as slices, InstanceNorm written out, upsampling as concatenations),
so the quantizer sees the ops XNNPACK will run and the int8 program stays one delegate segment.
`export.pte` then lowers it as it lowers any module; XNNPACK's partitioner folds each q/dq
pattern into a quantized kernel (QS8 conv, add). The written-out InstanceNorms stay float (as
the tflite int8 recipe keeps them), inside the same delegate segment; so do ops the quantizer
does not annotate (tanh). Quantizing the norms' mean, square and rsqrt as well cost the lightly
trained registry nets of tests/export up to 17 dB worst image (johnson 49.4 -> 32.8 dB,
bicyclegan unet_256 43.5 -> 29.7, vgg_unet 37.8 -> 26.8).

`keep_float` module names are left unannotated, so their convs run in float.
"""

from __future__ import annotations

import copy
from typing import Any, Sequence

import torch
from torch import nn

from pix2mobile.convert import pte as pte_export
from pix2mobile.convert.mobile_graph import REWRITTEN, ExplicitInstanceNorm2d, mobile_graph
from pix2mobile.convert.quantize.layers import check_keep_float
from pix2mobile.errors import ConfigError, ExportError
from pix2mobile.runtimes.common import first_line, require

NORM_CLASS = ExplicitInstanceNorm2d.__name__
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


def _in_norm(stack: dict[str, Any] | None) -> bool:
    """The node belongs to a written-out InstanceNorm (`mobile_graph.ExplicitInstanceNorm2d`)."""
    def type_name(t: Any) -> str:    # a qualified name string, or the class itself
        return t if isinstance(t, str) else getattr(t, "__qualname__", str(t))

    return bool(stack) and any(isinstance(v, tuple) and len(v) > 1 and type_name(v[1]).split(".")[-1] == NORM_CLASS
                               for v in (stack or {}).values())


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
    def stays_float(node: Any) -> bool:
        stack = node.meta.get("nn_module_stack")
        return _in_norm(stack) or _under(stack, keep_float)

    class Quantizer(xq.XNNPACKQuantizer):   # type: ignore[name-defined]
        """XNNPACK's quantizer, then every annotation inside a float region removed. Its filter
        function alone does not do it: `propagate_annotation` gives every observer-sharing op
        (mean, relu, slice, reshape) the annotation of its input whatever the filter says, so a
        norm's mean of a quantized conv output came out int8 (its 8-bit offset error then
        normalised up: lite 39.0 -> 29.3 dB)."""

        def annotate(self, model: Any) -> Any:
            model = super().annotate(model)
            for node in model.graph.nodes:
                if stays_float(node):
                    node.meta.pop("quantization_annotation", None)
            return model

    quantizer = Quantizer().set_global(xq.get_symmetric_quantization_config(is_per_channel=True))
    quantizer.set_filter_function(lambda node: not stays_float(node))
    module = copy.deepcopy(module).eval()
    try:
        module, rewrite_notes = mobile_graph(module, example_inputs, pte_export.PLAN, "pte int8")
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
    notes = [*rewrite_notes, DESCRIPTION, f"calibrated on {calibration.describe()}"]
    if keep_float:
        notes.append(f"kept float: {', '.join(keep_float)}")
    quantized = QuantizedModule(converted).eval()
    setattr(quantized, REWRITTEN, True)     # export.pte lowers it as it is
    return quantized, notes


def prepare(module: nn.Module, example_inputs: tuple[torch.Tensor, ...], calibration: Any,
            keep_float: Sequence[str]) -> tuple[nn.Module, list[str]]:
    """The pte int8 row's module-stage recipe (`Recipe.prepare`): `prepare_int8`."""
    return prepare_int8(module, example_inputs, calibration, keep_float=keep_float)


def after_export(out_path: Any, exported: Any) -> list[str]:
    """Notes on the exported int8 program (`Recipe.after_export`)."""
    if any("quantize_per" in n for n in exported.notes):
        return ["some quantize/dequantize pairs were not folded into XNNPACK kernels (see above)"]
    return []
