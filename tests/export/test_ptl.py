"""ptl.py: trace + freeze + lite save; optimize_for_mobile detected, never crashing without XNNPACK."""

from __future__ import annotations

import numpy as np
import torch

from export_nets import CYCLE_IO
from pix2mobile.convert import ptl
from pix2mobile.convert.common import ExportOptions
from pix2mobile.runtimes import ptl as ptl_runtime


def test_export_and_lite_runner_match(tiny, tmp_path):
    module, ref = tiny("cycle")
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    exported = ptl.export(module, (x,), CYCLE_IO, tmp_path / "m.ptl", ExportOptions())
    assert exported.path == tmp_path / "m.ptl" and exported.path.stat().st_size > 0
    assert [p.name for p in tmp_path.iterdir()] == ["m.ptl"]
    got = ptl_runtime.load_runner(exported.path, CYCLE_IO)((x.numpy(),))[0]
    with torch.no_grad():
        np.testing.assert_allclose(got, module(x).numpy(), atol=1e-5)
    assert exported.inputs[0].layout == "NCHW" and exported.inputs[0].range == (-1.0, 1.0)


def test_optimize_for_mobile_skipped_with_reason_when_no_xnnpack(tiny, tmp_path, monkeypatch):
    module, _ = tiny("cycle")
    x = torch.rand(1, 3, 32, 32)
    available, why = ptl.xnnpack_available()
    exported = ptl.export(module, (x,), CYCLE_IO, tmp_path / "m.ptl", ExportOptions())
    if available:
        assert any("optimize_for_mobile applied" in n for n in exported.notes)
    else:
        assert "XNNPACK" in why
        assert any(n.startswith("optimize_for_mobile skipped") and "XNNPACK" in n for n in exported.notes)
    # a build that claims XNNPACK but whose pass still fails: noted, not raised
    monkeypatch.setattr(ptl, "xnnpack_available", lambda: (True, ""))
    exported = ptl.export(module, (x,), CYCLE_IO, tmp_path / "n.ptl", ExportOptions())
    assert exported.path.is_file()
    if not available:
        assert any("skipped" in n and "XNNPACK" in n for n in exported.notes)
