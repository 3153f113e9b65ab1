"""Each mobile graph rewrite computes what the model computes, on every registry variant.

Padding, upsampling and broadcasting move the same floats: bit-equal. InstanceNorm written out
is the same formula with the reductions spelt out: float round-off. The trained model is never
touched. fp16: the shifted norm keeps every square finite where the plain one overflows.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pix2mobile.convert import pte as pte_export
from pix2mobile.convert import tflite as tflite_export
from pix2mobile.convert.mobile_graph import (MAX_SHIFT, REWRITTEN, ExplicitInstanceNorm2d, MobilePlan,
                                             PhaseConv2d, SliceReflectionPad2d, TransposedUpsampleConv,
                                             expand_as_add, fold_constants, fp16_shifts, mobile_graph,
                                             nearest_as_concat, plain_graphs)
from pix2mobile.models.fast_style import UpsampleConvLayer
from pix2mobile.models import MODELS
from pix2mobile.pipelines.export import parity_inputs

from test_export_registry import TINY

PAD = MobilePlan(reflection_pad=True)
NORM = MobilePlan(instance_norm=True)
GRAPH = MobilePlan(nearest_upsample=True, broadcast_add=True)
CONVS = MobilePlan(upsample_conv=True, narrow_conv=True)


def _variant(key: str):
    spec = MODELS[key]
    options, size = TINY[key]
    torch.manual_seed(0)
    module = spec.exportable(spec.create(**options).eval(), (size, size)).eval()
    return spec, module, parity_inputs(spec.io, (size, size), n=2, seed=3)


def _run(module: nn.Module, inputs) -> list[torch.Tensor]:
    with torch.no_grad():
        return [module(*x) for x in inputs]


@pytest.mark.parametrize("key", sorted(TINY))
def test_rewrites_are_exact_on_every_variant(key):
    spec, module, inputs = _variant(key)
    before = {k: v.clone() for k, v in module.state_dict().items()}
    ref = _run(module, inputs)
    lo, hi = spec.io.outputs[0].range
    for plan, exact in ((PAD, True), (GRAPH, True), (NORM, False), (CONVS, False), (pte_export.PLAN, False),
                        (tflite_export.PLAN, False)):
        rewritten, _notes = mobile_graph(module, inputs[0], plan)
        assert getattr(rewritten, REWRITTEN) and rewritten is not module
        for got, want in zip(_run(rewritten, inputs), ref):
            if exact:
                assert torch.equal(got, want), (key, plan)
            else:
                assert (got - want).abs().max().item() <= 2e-5 * (hi - lo), (key, plan)
    # the model itself: same modules, same weights, bit for bit
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())
    assert not any(isinstance(m, (SliceReflectionPad2d, ExplicitInstanceNorm2d, TransposedUpsampleConv, PhaseConv2d))
                   for m in module.modules())


def test_each_rewrite_finds_what_it_rewrites():
    _spec, lite, inputs = _variant("fast_style/lite")
    _, notes = mobile_graph(lite, inputs[0], pte_export.PLAN)
    text = "; ".join(notes)
    pads = sum(isinstance(m, nn.ReflectionPad2d) for m in lite.modules())
    norms = sum(isinstance(m, nn.InstanceNorm2d) for m in lite.modules())
    assert f"{pads} ReflectionPad2d" in text and f"{norms} InstanceNorm2d" in text
    assert "2 nearest upsample(s)" in text
    _spec, bicycle, inputs = _variant("bicyclegan/unet_128")
    _, notes = mobile_graph(bicycle, inputs[0], GRAPH)
    assert any("broadcast(s)" in n for n in notes), notes
    with plain_graphs():
        same, notes = mobile_graph(lite, inputs[0], pte_export.PLAN)
    assert same is lite and notes == []
    # the conv rewrites: johnson's two upsampling layers and its last 9x9 to 3 channels; the
    # CycleGAN ResNet's last 7x7; nothing in a U-Net (its last layer is a 3x3 or transposed) or the MLP
    expected = {"fast_style/johnson": (2, 1), "fast_style/lite": (0, 1), "cyclegan/resnet_6blocks": (0, 1),
                "cyclegan/vgg_unet": (0, 0), "bicyclegan/unet_128": (0, 0), "morph/mlp": (0, 0)}
    for key, (upconvs, narrow) in expected.items():
        _spec, module, inputs = _variant(key)
        rewritten, _ = mobile_graph(module, inputs[0], CONVS)
        assert sum(isinstance(m, UpsampleConvLayer) for m in module.modules()) >= upconvs, key
        assert sum(isinstance(m, TransposedUpsampleConv) for m in rewritten.modules()) == upconvs, key
        assert sum(isinstance(m, PhaseConv2d) for m in rewritten.modules()) == narrow, key


def test_resizable_plans_drop_the_size_pinning_rewrites():
    for plan in (pte_export.PLAN, tflite_export.PLAN):
        loose = plan.resizable()
        assert not (loose.reflection_pad or loose.upsample_conv or loose.narrow_conv)
        assert loose.instance_norm == plan.instance_norm and loose.fp16_safe == plan.fp16_safe


@pytest.mark.parametrize("size", [(8, 8), (7, 10), (1, 1)])
def test_transposed_upsample_conv_is_upsample_reflect_conv(size):
    torch.manual_seed(1)
    layer = UpsampleConvLayer(5, 6, 3).double()
    x = torch.randn(2, 5, *size, dtype=torch.float64)
    want = layer.conv2d(F.pad(F.interpolate(x, scale_factor=2, mode="nearest"), (1, 1, 1, 1), mode="reflect"))
    got = TransposedUpsampleConv(layer.conv2d)(x)
    assert got.shape == want.shape == (2, 6, 2 * size[0], 2 * size[1])
    assert (got - want).abs().max().item() < 1e-12
    with pytest.raises(ValueError, match="3x3"):
        TransposedUpsampleConv(nn.Conv2d(5, 6, 3, stride=2))


@pytest.mark.parametrize("kernel,padding,out_ch,size", [(9, 0, 3, (24, 30)), (7, 3, 3, (16, 16)), (5, 2, 1, (10, 12)),
                                                         (7, 0, 4, (13, 16)), (5, 1, 3, (9, 9))])
def test_phase_conv_is_the_conv(kernel, padding, out_ch, size):
    """Even outputs go through the parity conv and the one-hot interleave, odd ones the original conv."""
    torch.manual_seed(2)
    conv = nn.Conv2d(6, out_ch, kernel, padding=padding).double()
    x = torch.randn(2, 6, *size, dtype=torch.float64)
    want = conv(x)
    got = PhaseConv2d(conv)(x)
    assert got.shape == want.shape
    assert (got - want).abs().max().item() < 1e-12
    with pytest.raises(ValueError, match="stride-1"):
        PhaseConv2d(nn.Conv2d(6, 3, 7, stride=2))


@pytest.mark.parametrize("pad", [(1, 1, 1, 1), (4, 4, 4, 4), (3, 0, 2, 1), (0, 2, 0, 0)])
def test_slice_reflection_pad_is_bit_equal(pad):
    x = torch.randn(2, 3, 9, 7)
    assert torch.equal(SliceReflectionPad2d(pad)(x), F.pad(x, pad, mode="reflect"))
    with pytest.raises(ValueError, match="needs more than"):
        SliceReflectionPad2d((7, 7, 0, 0))(x)


@pytest.mark.parametrize("factors", [(2, 2), (3, 2), (1, 2), (2, 1)])
def test_nearest_as_concat_is_bit_equal(factors):
    class Up(nn.Module):
        def forward(self, x):
            return F.interpolate(x, scale_factor=factors, mode="nearest") * 1.5

    x = torch.randn(1, 4, 5, 6)
    graph = torch.export.export(Up(), (x,)).module()
    assert nearest_as_concat(graph) == 1
    assert torch.equal(graph(x), Up()(x))
    names = {str(n.target) for n in graph.graph.nodes if n.op == "call_function"}
    assert not any("upsample" in n for n in names), names


def test_expand_and_batched_matmul_as_add():
    class Broadcasts(nn.Module):
        def forward(self, x, z, w):
            zmap = z[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
            grid = x.flatten(2).transpose(1, 2)[0]                    # (P, C): 2-D, broadcast over w's batch
            return torch.cat([x, zmap], 1), torch.matmul(grid, w)

    args = (torch.randn(1, 3, 4, 5), torch.randn(1, 2), torch.randn(1, 3, 6))
    graph = torch.export.export(Broadcasts(), args).module()
    assert expand_as_add(graph) == 2
    for got, want in zip(graph(*args), Broadcasts()(*args)):
        assert torch.equal(got, want)
    targets = {str(n.target) for n in graph.graph.nodes if n.op == "call_function"}
    assert not any("expand" in t or "matmul" in t for t in targets), targets


def test_fold_constants_computes_weight_only_ops_once():
    class Mixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Parameter(torch.randn(4, 5))
            self.b = nn.Parameter(torch.randn(5, 3))

        def forward(self, x):
            w = torch.matmul(self.a, self.b).t() * 2.0          # weights only: folded
            return torch.matmul(x, w.t()) + torch.rand_like(x[..., :1]) * 0   # rand: never folded

    x = torch.randn(2, 4)
    module = Mixed()
    graph = torch.export.export(module, (x,)).module()
    assert fold_constants(graph) == 1
    torch.manual_seed(0)
    want = module(x)
    torch.manual_seed(0)
    assert torch.equal(graph(x), want)
    targets = [str(n.target) for n in graph.graph.nodes if n.op == "call_function"]
    assert any("rand" in t for t in targets), targets                  # left in place
    assert sum("matmul" in t or ".mm" in t for t in targets) == 1, targets    # only x @ w remains


def _fp16_square_overflows(module: nn.Module, inputs) -> int:
    """Channels whose fp16 (x - mean)^2 (or 2^-k scaled) overflows, over every norm and input."""
    bad = 0

    def hook(m, args, _out):
        nonlocal bad
        x = args[0]
        d = x - x.mean(dim=(2, 3), keepdim=True)
        if isinstance(m, ExplicitInstanceNorm2d):
            d = d * 2.0 ** -m.shift
        with np.errstate(over="ignore"):
            sq = d.numpy().astype(np.float16) ** 2
        bad += int((~np.isfinite(sq)).any(axis=(2, 3)).sum())

    hooks = [m.register_forward_hook(hook) for m in module.modules()
             if isinstance(m, (nn.InstanceNorm2d, ExplicitInstanceNorm2d))]
    _run(module, inputs)
    for h in hooks:
        h.remove()
    return bad


def test_fp16_shift_keeps_johnson_squares_finite_and_fp32_exact():
    spec = MODELS["fast_style/johnson"]
    torch.manual_seed(0)
    from pix2mobile.train.warmup import lightly_train

    johnson = lightly_train(spec.create(), spec.io, 32, steps=40)
    inputs = parity_inputs(spec.io, (96, 96), n=3, seed=5)
    shifts = fp16_shifts(johnson, inputs[0])
    assert shifts["in1"][1] > 256 and shifts["in1"][0] >= 1     # the plain square overflows fp16 there
    assert all(0 <= k <= MAX_SHIFT for k, _ in shifts.values())
    rewritten, notes = mobile_graph(johnson, inputs[0], MobilePlan(instance_norm=True, fp16_safe=True))
    assert any("fp16-safe" in n for n in notes)
    assert _fp16_square_overflows(johnson, inputs) > 0
    assert _fp16_square_overflows(rewritten, inputs[1:]) == 0      # photos it did not see when choosing k
    for got, want in zip(_run(rewritten, inputs), _run(johnson, inputs)):
        assert (got - want).abs().max().item() < 255 * 2e-5
    # a constant channel normalises to 0 (eps * 4^-k stays a non-zero fp16 value), not NaN
    norm = ExplicitInstanceNorm2d(nn.InstanceNorm2d(2), shift=MAX_SHIFT)
    flat = norm(torch.full((1, 2, 4, 4), 7.0).half().float())
    assert torch.equal(flat, torch.zeros_like(flat))
    assert np.float16(norm.eps * 4.0 ** -MAX_SHIFT) > 0
