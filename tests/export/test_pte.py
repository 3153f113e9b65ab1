"""pte.py: ExecuTorch with the XNNPACK delegate, run by executorch.runtime."""

from __future__ import annotations

import numpy as np
import torch

from export_nets import ALPHA_IO, CYCLE_IO
from pix2mobile.convert import pte
from pix2mobile.convert.common import ExportOptions
from pix2mobile.runtimes import pte as pte_runtime


def test_export_delegates_and_runtime_matches(tiny, tmp_path):
    module, _ = tiny("cycle")
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    exported = pte.export(module, (x,), CYCLE_IO, tmp_path / "m.pte", ExportOptions())
    assert "XNNPACK delegate: 1 partition(s)" in exported.notes        # one segment (convert.mobile_graph)
    assert any(n.startswith("rewrite: ") for n in exported.notes)
    got = pte_runtime.load_runner(exported.path, CYCLE_IO)((x,))[0]
    with torch.no_grad():
        np.testing.assert_allclose(got, module(x).numpy(), atol=1e-5)


def test_scalar_input_model(tiny, tmp_path):
    module, _ = tiny("alpha")
    alpha = torch.tensor([0.3])
    exported = pte.export(module, (alpha,), ALPHA_IO, tmp_path / "a.pte", ExportOptions())
    assert exported.inputs[0].layout == "N" and exported.inputs[0].shape == (1,)
    got = pte_runtime.load_runner(exported.path, ALPHA_IO)((alpha.numpy(),))[0]
    with torch.no_grad():
        np.testing.assert_allclose(got, module(alpha).numpy(), atol=1e-5)
