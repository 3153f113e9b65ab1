"""TorchScript Lite (.ptl): trace, freeze, optimize for mobile where possible, save for the lite interpreter.

`optimize_for_mobile` needs a torch built with XNNPACK. Wheels without it (the CPU wheel used
here has no `torch.backends.xnnpack`) raise an INTERNAL ASSERT ("Mobile optimization only
available with XNNPACK at the moment"); we detect that first, skip the pass and say so in the
artifact's notes. Verified with `torch.jit.mobile._load_for_lite_interpreter`.

Several sizes (`ExportOptions.sizes`): a trace records shape arithmetic (`aten::size`) rather
than numbers unless the model turns a size into a Python int, so conv nets usually generalise.
The saved file is run at every requested size against eager (`probe_sizes`); when all match it
declares the request (a range as a range: the same graph runs at any size), else only the
export size with `shapes.note` naming the size and what went wrong.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch
from torch import nn

from pix2mobile.convert.common import Exported, ExportOptions, flexible_request, plain_io, probe_sizes
from pix2mobile.errors import ExportError
from pix2mobile.files import atomic_path
from pix2mobile.models.spec import IOSpec
from pix2mobile.runtimes.common import as_outputs, first_line

log = logging.getLogger(__name__)


def xnnpack_available() -> tuple[bool, str]:
    """(available, why not) for `optimize_for_mobile`."""
    backend = getattr(torch.backends, "xnnpack", None)
    if backend is None:
        return False, "this torch build has no XNNPACK (torch.backends.xnnpack does not exist)"
    if not getattr(backend, "enabled", False):
        return False, "torch.backends.xnnpack.enabled is False in this torch build"
    return True, ""


def export(module: nn.Module, example_inputs: tuple[torch.Tensor, ...], io: IOSpec, out_path: Path,
           opts: ExportOptions) -> Exported:
    if opts.precision != "fp32":
        raise ExportError(f"ptl exports fp32 only, not {opts.precision}")
    module = module.eval()
    notes: list[str] = []
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        try:
            traced = torch.jit.trace(module, example_inputs, strict=False)
            script = torch.jit.freeze(traced.eval())
        except Exception as exc:
            raise ExportError(f"torch.jit.trace/freeze failed: {first_line(exc)}") from exc
        outputs = as_outputs(module(*example_inputs), io)
    if opts.optimize:
        available, why = xnnpack_available()
        if available:
            from torch.utils.mobile_optimizer import optimize_for_mobile

            try:
                script = optimize_for_mobile(script)
                notes.append("optimize_for_mobile applied (XNNPACK)")
            except RuntimeError as exc:
                notes.append(f"optimize_for_mobile skipped: {first_line(exc)}")
        else:
            notes.append(f"optimize_for_mobile skipped: {why}; the artifact runs the plain frozen graph")
    else:
        notes.append("optimize_for_mobile not requested")
    with atomic_path(out_path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")   # "_save_for_lite_interpreter is deprecated" on recent torch
        script._save_for_lite_interpreter(str(tmp))
    request = flexible_request(opts, io)
    shapes = None
    if request is not None:
        from pix2mobile.runtimes.ptl import load_runner

        problem = probe_sizes(load_runner(out_path, io), module, io, example_inputs, request.checked)
        shapes = request.fixed(f"ptl: the traced graph fails {problem}") if problem else request.shapes()
    inputs_info, outputs_info = plain_io(io, example_inputs, outputs)
    return Exported(Path(out_path), inputs_info, outputs_info, tuple(notes), shapes)

