"""fast_style: johnson loads pytorch/examples files and computes what TransformerNet computes;
lite is >= 8x cheaper, converter-friendly and trainable."""

from __future__ import annotations

import logging
import operator

import pytest
import torch
import torch.nn.functional as F
from torch import fx, nn

from pix2mobile.checkpoint import load_pth, load_state_dict_strict
from pix2mobile.errors import CheckpointError
from pix2mobile.models import fast_style, model_cost


# --- pytorch/examples fast_neural_style/neural_style/transformer_net.py, restated ---------------
class RefConvLayer(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride):
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x):
        return self.conv2d(self.reflection_pad(x))


class RefResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = RefConvLayer(channels, channels, kernel_size=3, stride=1)
        self.in1 = nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = RefConvLayer(channels, channels, kernel_size=3, stride=1)
        self.in2 = nn.InstanceNorm2d(channels, affine=True)
        self.relu = nn.ReLU()

    def forward(self, x):
        residual = x
        out = self.relu(self.in1(self.conv1(x)))
        out = self.in2(self.conv2(out))
        return out + residual


class RefUpsampleConvLayer(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride, upsample=None):
        super().__init__()
        self.upsample = upsample
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x):
        if self.upsample:
            x = F.interpolate(x, mode="nearest", scale_factor=self.upsample)
        return self.conv2d(self.reflection_pad(x))


class RefTransformerNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = RefConvLayer(3, 32, kernel_size=9, stride=1)
        self.in1 = nn.InstanceNorm2d(32, affine=True)
        self.conv2 = RefConvLayer(32, 64, kernel_size=3, stride=2)
        self.in2 = nn.InstanceNorm2d(64, affine=True)
        self.conv3 = RefConvLayer(64, 128, kernel_size=3, stride=2)
        self.in3 = nn.InstanceNorm2d(128, affine=True)
        for i in range(1, 6):
            setattr(self, f"res{i}", RefResidualBlock(128))
        self.deconv1 = RefUpsampleConvLayer(128, 64, kernel_size=3, stride=1, upsample=2)
        self.in4 = nn.InstanceNorm2d(64, affine=True)
        self.deconv2 = RefUpsampleConvLayer(64, 32, kernel_size=3, stride=1, upsample=2)
        self.in5 = nn.InstanceNorm2d(32, affine=True)
        self.deconv3 = RefConvLayer(32, 3, kernel_size=9, stride=1)
        self.relu = nn.ReLU()

    def forward(self, X):
        y = self.relu(self.in1(self.conv1(X)))
        y = self.relu(self.in2(self.conv2(y)))
        y = self.relu(self.in3(self.conv3(y)))
        for i in range(1, 6):
            y = getattr(self, f"res{i}")(y)
        y = self.relu(self.in4(self.deconv1(y)))
        y = self.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)
# ------------------------------------------------------------------------------------------------


@pytest.fixture
def reference(randomize) -> RefTransformerNet:
    return randomize(RefTransformerNet()).eval()


def _load(path) -> nn.Module:
    net = fast_style.JOHNSON.create().eval()
    load_state_dict_strict(net, fast_style.JOHNSON.convert_reference(load_pth(path)), source=str(path))
    return net


def test_johnson_matches_reference_checkpoint(reference, tmp_path):
    path = tmp_path / "candy.pth"
    torch.save(reference.state_dict(), path)
    net = _load(path)
    x = torch.rand(1, 3, 32, 32) * 255
    with torch.no_grad():
        torch.testing.assert_close(net(x), reference(x))
    assert "res1.conv1.conv2d.weight" in net.state_dict() and "deconv1.conv2d.weight" in net.state_dict()


def test_johnson_loads_old_file_with_instancenorm_stats(reference, tmp_path, caplog):
    sd = reference.state_dict()
    stale = {}
    for name, mod in reference.named_modules():
        if isinstance(mod, nn.InstanceNorm2d):   # what PyTorch < 0.4 saved for every InstanceNorm
            stale[f"{name}.running_mean"] = torch.zeros(mod.num_features)
            stale[f"{name}.running_var"] = torch.ones(mod.num_features)
            stale[f"{name}.num_batches_tracked"] = torch.tensor(0)
    path = tmp_path / "mosaic.pth"
    torch.save({**sd, **stale}, path)
    with caplog.at_level(logging.INFO, logger="pix2mobile"):
        net = _load(path)
    assert len(stale) == 3 * 15
    assert any(f"dropped {len(stale)} " in r.getMessage() for r in caplog.records)
    x = torch.rand(1, 3, 32, 32) * 255
    with torch.no_grad():
        torch.testing.assert_close(net(x), reference(x))


def test_johnson_missing_or_extra_key_names_it(reference, tmp_path):
    sd = reference.state_dict()
    missing = {k: v for k, v in sd.items() if k != "res3.in2.bias"}
    torch.save(missing, tmp_path / "missing.pth")
    with pytest.raises(CheckpointError, match=r"res3\.in2\.bias"):
        _load(tmp_path / "missing.pth")
    torch.save({**sd, "res6.conv1.conv2d.weight": torch.zeros(1)}, tmp_path / "extra.pth")
    with pytest.raises(CheckpointError, match=r"res6\.conv1\.conv2d\.weight"):
        _load(tmp_path / "extra.pth")


def test_johnson_strips_dataparallel_prefix():
    sd = {f"module.{k}": v for k, v in fast_style.TransformerNet().state_dict().items()}
    assert set(fast_style.convert_johnson(sd)) == set(fast_style.TransformerNet().state_dict())


@pytest.mark.parametrize("spec", [fast_style.JOHNSON, fast_style.LITE], ids=lambda s: s.arch)
def test_forward_shape_and_declared_range(spec):
    assert spec.io.inputs[0].range == (0.0, 255.0) and spec.io.outputs[0].range == (0.0, 255.0)
    net = spec.create().eval()
    x = torch.rand(2, 3, spec.min_size, spec.min_size) * 255
    with torch.no_grad():
        y = net(x)
    assert y.shape == x.shape and torch.isfinite(y).all()


def test_cost_johnson_about_10g_and_lite_8x_cheaper():
    johnson = model_cost(fast_style.JOHNSON, (256, 256))
    lite = model_cost(fast_style.LITE, (256, 256))
    assert 8e9 <= johnson["macs"] <= 12e9
    assert johnson["params"] == sum(p.numel() for p in fast_style.TransformerNet().parameters())
    assert lite["macs"] * 8 <= johnson["macs"]


def test_lite_uses_only_converter_friendly_ops():
    allowed_modules = (fast_style.LiteTransformerNet, fast_style.ConvLayer, fast_style.SeparableConv,
                       fast_style.SeparableResidualBlock, nn.Sequential, nn.Conv2d, nn.InstanceNorm2d,
                       nn.ReLU, nn.ReflectionPad2d)
    net = fast_style.LiteTransformerNet()
    for name, mod in net.named_modules():
        assert isinstance(mod, allowed_modules), name
        if isinstance(mod, nn.InstanceNorm2d):
            assert mod.affine
    graph = fx.symbolic_trace(net).graph
    functions = {n.target for n in graph.nodes if n.op == "call_function"}
    assert functions <= {F.interpolate, operator.add}
    for node in graph.nodes:
        if node.target is F.interpolate:
            assert node.kwargs["scale_factor"] == 2 and node.kwargs["mode"] == "nearest"


def test_lite_trains():
    """A few Adam steps on a fixed pair lower the loss: the net has usable gradients."""
    net = fast_style.LiteTransformerNet()
    x = torch.rand(1, 3, 32, 32) * 255
    target = torch.rand(1, 3, 32, 32) * 255
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(5):
        loss = F.l1_loss(net(x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
