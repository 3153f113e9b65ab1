"""coreml_check at real sizes: conv in bounded memory, each model file read once per verification."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from export_nets import CYCLE_IO
from pix2mobile.convert.formats import FORMATS
from pix2mobile.runtimes.coreml_eval import _np_kernels as K, evaluator as coreml_check
from pix2mobile.convert.common import ExportOptions
from pix2mobile.convert.coreml import export_mlmodel, export_mlpackage
from pix2mobile.pipelines.export import parity_inputs, verify


def test_big_kernel_conv_peak_memory_is_bounded():
    """johnson's last conv (32 -> 3, 9x9) at 200^2: a whole im2col would be 415 MB; a tile is 32 MiB."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 32, 200, 200)).astype(np.float32)
    w = rng.standard_normal((3, 32, 9, 9)).astype(np.float32) * 0.02
    tracemalloc.start()
    try:
        y = K.conv2d(x, w, None, (1, 1), (4, 4, 4, 4), (1, 1), 1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    padded = 32 * 208 * 208 * 4
    assert peak < (32 << 20) + padded + 3 * y.nbytes + (4 << 20), peak / 2 ** 20
    ref = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=4).numpy()
    np.testing.assert_allclose(y, ref, atol=1e-4)


@pytest.mark.parametrize("stride, dilation, groups", [(1, 1, 1), (2, 1, 1), (1, 2, 2), (2, 1, 4)])
def test_tiled_conv_matches_torch_and_does_not_depend_on_the_tile(monkeypatch, stride, dilation, groups):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 8, 19, 23)).astype(np.float32)
    w = rng.standard_normal((12, 8 // groups, 3, 5)).astype(np.float32)
    b = rng.standard_normal(12).astype(np.float32)
    args = (w, b, (stride, stride), (1, 2, 2, 1), (dilation, dilation), groups)
    whole = K.conv2d(x, *args)
    monkeypatch.setattr(K, "TILE_BYTES", 1)          # one output row per tile
    tiled = K.conv2d(x, *args)
    np.testing.assert_allclose(tiled, whole, rtol=1e-5, atol=1e-5)   # BLAS may block a narrower GEMM otherwise
    ref = F.conv2d(F.pad(torch.from_numpy(x), (2, 1, 1, 2)), torch.from_numpy(w), torch.from_numpy(b),
                   stride=stride, dilation=dilation, groups=groups).numpy()
    np.testing.assert_allclose(whole, ref, rtol=1e-5, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".mlpackage", ".mlmodel"])
def test_verification_reads_the_model_once(tmp_path, monkeypatch, suffix):
    torch.manual_seed(0)
    module = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.InstanceNorm2d(4), nn.ReLU(), nn.Conv2d(4, 3, 1),
                           nn.Tanh()).eval()
    inputs = parity_inputs(CYCLE_IO, (32, 32), n=3)
    with torch.no_grad():
        reference = [np.concatenate([module(*s).numpy() for s in inputs])]
    export = export_mlpackage if suffix == ".mlpackage" else export_mlmodel
    path = export(module, inputs[0], CYCLE_IO, tmp_path / f"m{suffix}", ExportOptions(precision="fp32")).path
    parses, loads = [], []
    parse, load = coreml_check._parse, coreml_check._load_function
    monkeypatch.setattr(coreml_check, "_parse", lambda p: parses.append(p) or parse(p))
    monkeypatch.setattr(coreml_check, "_load_function", lambda *a: loads.append(a) or load(*a))
    parity, reason = verify(FORMATS[suffix[1:]], path, CYCLE_IO, inputs, reference, 45.0)
    assert reason is None and parity.samples == 3, reason
    assert len(parses) == 1 and len(loads) == (suffix == ".mlpackage"), (len(parses), len(loads))
