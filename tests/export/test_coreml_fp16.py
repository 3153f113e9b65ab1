"""coreml_check evaluates fp16 ML Programs with fp16 intermediates, so fp16 overflow fails the gate;
the exporter's fp16 rewrite (convert.mobile_graph) keeps the same net inside fp16.

An InstanceNorm whose input deviates from its mean by more than 256 squares that deviation past
fp16's 65504 on a phone's GPU or ANE when Core ML's own instance_norm computes it; the evaluator
used to compute the op in float32 and passed such a model at 72 dB.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from export_nets import CYCLE_IO
from pix2mobile.convert.formats import FORMATS
from pix2mobile.runtimes.coreml_eval import _np_kernels as K
from pix2mobile.convert.common import ExportOptions
from pix2mobile.convert.coreml import export_mlpackage
from pix2mobile.convert.mobile_graph import plain_graphs
from pix2mobile.pipelines.export import parity_inputs, verify

SIZE = (32, 32)


class Normed(nn.Module):
    """conv -> InstanceNorm -> ReLU -> conv -> tanh, the first conv's weight and bias times `gain`.

    InstanceNorm removes the gain, so every gain computes the same function (eps aside); only the
    magnitude of the activations entering the norm changes.
    """

    def __init__(self, gain: float):
        super().__init__()
        torch.manual_seed(0)
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.norm = nn.InstanceNorm2d(8, affine=True)
        self.c2 = nn.Conv2d(8, 3, 3, padding=1)
        with torch.no_grad():
            self.c1.weight.mul_(gain)
            self.c1.bias.mul_(gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.c2(torch.relu(self.norm(self.c1(x)))))


def _gate(module: nn.Module, path: Path, precision: str, threshold: float) -> tuple[float, str | None]:
    inputs = parity_inputs(CYCLE_IO, SIZE, n=2)
    with torch.no_grad():
        reference = [np.concatenate([module(*s).numpy() for s in inputs])]
    export_mlpackage(module.eval(), inputs[0], CYCLE_IO, path, ExportOptions(precision=precision))
    parity, reason = verify(FORMATS["mlpackage"], path, CYCLE_IO, inputs, reference, threshold)
    return (float("-inf") if parity.psnr_db is None else parity.psnr_db), reason


@pytest.mark.slow
def test_fp16_overflow_fails_the_gate_and_the_rescaled_net_passes(tmp_path):
    hot, cool = Normed(1000.0).eval(), Normed(1.0).eval()
    x = parity_inputs(CYCLE_IO, SIZE, n=1)[0][0]
    with torch.no_grad():
        deviation = hot.c1(x) - hot.c1(x).mean(dim=(2, 3), keepdim=True)
        np.testing.assert_allclose(hot(x).numpy(), cool(x).numpy(), atol=3e-3)    # one function, up to eps
    assert deviation.abs().max() > 256          # its square is beyond fp16's 65504

    with plain_graphs():                        # Core ML's own instance_norm, as the converter makes it
        psnr_hot, reason_hot = _gate(hot, tmp_path / "hot.mlpackage", "fp16", 35.0)
        psnr_cool, reason_cool = _gate(cool, tmp_path / "cool.mlpackage", "fp16", 35.0)
        psnr_fp32, reason_fp32 = _gate(hot, tmp_path / "hot32.mlpackage", "fp32", 45.0)
    assert reason_hot is not None and psnr_hot < 35.0, psnr_hot        # was 71.9 dB in float32
    assert reason_cool is None and psnr_cool >= 35.0, (psnr_cool, reason_cool)
    assert reason_fp32 is None, (psnr_fp32, reason_fp32)              # an fp32 program has no such limit
    # the exporter's fp16 program: the norm written out, x - mean scaled by 2^-3 before it is squared
    psnr_rewritten, reason_rewritten = _gate(hot, tmp_path / "hot_rewritten.mlpackage", "fp16", 35.0)
    assert reason_rewritten is None and psnr_rewritten >= 35.0, (psnr_rewritten, reason_rewritten)


@pytest.mark.slow
def test_fp32_islands_keep_activations_past_fp16_in_fp32(tmp_path, monkeypatch):
    """A conv whose outputs pass 65504 (cyclegan/vgg_unet's Caffe VGG encoder reaches 8.6e6): no
    power-of-two shift inside the norm helps, the fp16 program computes inf. The exporter keeps
    that conv and its readers fp32 (an fp16 program with fp32 islands) and the gate passes."""
    from pix2mobile.convert import coreml

    huge = Normed(3e5).eval()
    x = parity_inputs(CYCLE_IO, SIZE, n=1)[0][0]
    with torch.no_grad():
        assert huge.c1(x).abs().max() > 65504
    islands = coreml.fp32_islands(torch.export.export(huge, (x,)).run_decompositions({}), (x,))
    assert "conv2d" in islands and islands["conv2d"] > 65504
    assert "conv2d_1" not in islands and "tanh" not in islands      # after the norm: fp16

    psnr, reason = _gate(huge, tmp_path / "islands.mlpackage", "fp16", 35.0)
    assert reason is None and psnr >= 35.0, (psnr, reason)
    exported = export_mlpackage(huge, (x,), CYCLE_IO, tmp_path / "notes.mlpackage", ExportOptions(precision="fp16"))
    assert any("kept fp32" in n and "conv2d" in n for n in exported.notes), exported.notes

    monkeypatch.setattr(coreml, "fp32_islands", lambda *a, **k: {})   # all fp16, as before
    psnr_all, reason_all = _gate(huge, tmp_path / "all16.mlpackage", "fp16", 35.0)
    assert reason_all is not None and psnr_all < 35.0, psnr_all


def test_half_normalize_overflows_where_fp16_squares_do():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 16, 16)).astype(np.float32)
    exact = K.normalize(x, (2, 3), 1e-5)
    near = K.normalize(x * 50, (2, 3), 1e-5, half=True)           # deviations < 200: squares fit
    np.testing.assert_allclose(near, exact, atol=5e-3)
    assert np.abs(near - exact).max() > 1e-5                       # but with fp16's error
    far = K.normalize(x * 1000, (2, 3), 1e-5, half=True)           # squares of ~1000 do not
    assert np.abs(far - exact).max() > 1.0
    np.testing.assert_allclose(K.normalize(x * 1000, (2, 3), 1e-5), exact, atol=1e-4)   # float32 is fine


def test_half_softmax_stays_finite_and_fp16_rounds_like_a_tensor():
    x = np.array([[0.0, 1.0, 300.0, -300.0]], np.float32)             # exp after the max shift: <= 1
    np.testing.assert_allclose(K.softmax(x, -1, half=True), K.softmax(x, -1), atol=1e-3)
    assert K.fp16(np.float32(65504.0)) == 65504.0 and np.isinf(K.fp16(np.float32(65520.0)))
