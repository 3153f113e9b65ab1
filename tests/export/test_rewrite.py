"""rewrite.padding_free_conv_transpose: equal to the original, never touching it, and what makes tflite work."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from export_nets import CYCLE_IO, IMAGE_Z_IO, CycleLike, ImageZ
from pix2mobile.convert import tflite
from pix2mobile.convert.common import ExportOptions
from pix2mobile.convert.rewrite import PaddingFreeConvTranspose2d, expand_as_resize, padding_free_conv_transpose
from pix2mobile.runtimes import tflite as tflite_runtime


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=3, stride=2, padding=1, output_padding=1),                # CycleGAN up-sampling
    dict(kernel_size=4, stride=2, padding=1, output_padding=1),
    dict(kernel_size=3, stride=3, padding=1, output_padding=2),                # output_padding > padding
    dict(kernel_size=3, stride=2, padding=0, output_padding=1, bias=True),     # bias on the padded rows
    dict(kernel_size=(3, 5), stride=(2, 3), padding=(1, 2), output_padding=(1, 0), dilation=1),
    dict(kernel_size=3, stride=2, padding=2, output_padding=1, dilation=2),
    dict(kernel_size=3, stride=2, padding=1, output_padding=1, groups=2, bias=False),
])
def test_rewritten_conv_transpose_equals_original(kwargs):
    torch.manual_seed(0)
    conv = nn.ConvTranspose2d(4, 6, **kwargs)
    with torch.no_grad():
        if conv.bias is not None:
            conv.bias.uniform_(-1, 1)
    x = torch.randn(2, 4, 7, 9)
    rewritten = PaddingFreeConvTranspose2d(conv)
    with torch.no_grad():
        ref, got = conv(x), rewritten(x)
    assert got.shape == ref.shape
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)


def test_rewrite_copies_and_never_touches_the_trained_model():
    torch.manual_seed(0)
    model = CycleLike().eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rewritten, notes = padding_free_conv_transpose(model)
    assert isinstance(model.net[7], nn.ConvTranspose2d), "original module was modified"
    assert isinstance(rewritten.net[7], PaddingFreeConvTranspose2d)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert notes and "net.7" in notes[0]
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(rewritten(x), model(x), atol=1e-6, rtol=0)
    unchanged, none = padding_free_conv_transpose(nn.Sequential(nn.ConvTranspose2d(2, 2, 4, 2, 1)))
    assert none == [] and isinstance(unchanged[0], nn.ConvTranspose2d)


def test_tflite_of_output_padding_model_converts_thanks_to_the_rewrite(tmp_path):
    """litert-torch 0.10 refuses ConvTranspose2d(output_padding=1); the exporter's rewrite makes it convert and match."""
    import litert_torch

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(),
                          nn.ConvTranspose2d(8, 3, 3, 2, 1, output_padding=1), nn.Tanh()).eval()
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with pytest.raises(Exception, match="failed to legalize operation 'mhlo.convolution'"):
        with tflite._quiet_litert():
            litert_torch.convert(model, (x,))
    io = CYCLE_IO
    exported = tflite.export(model, (x,), io, tmp_path / "m.tflite", ExportOptions(channel_last=False))
    assert exported.path.is_file() and any("rewrite" in n for n in exported.notes)
    got = tflite_runtime.load_runner(exported.path, io)((x,))[0]
    with torch.no_grad():
        ref = model(x).numpy()
    assert abs(got - ref).max() < 1e-5


def test_expand_as_resize_is_exact_and_only_touches_1x1_expands():
    torch.manual_seed(0)
    model = ImageZ().eval()
    x, z = torch.rand(1, 3, 32, 32) * 2 - 1, torch.randn(1, 8)
    rewritten, notes = expand_as_resize(model, (x, z))
    assert notes == ["rewrite: 1 expand(s) of an (N, C, 1, 1) map replaced by a nearest resize"]
    targets = [n.target for n in rewritten.graph.nodes if n.op == "call_function"]
    assert torch.ops.aten.expand.default not in targets and torch.ops.aten.upsample_nearest2d.vec in targets
    with torch.no_grad():
        assert torch.equal(rewritten(x, z), model(x, z))
    assert isinstance(model.enc[0], nn.Conv2d), "the original module is untouched"
    plain = CycleLike().eval()
    same, none = expand_as_resize(plain, (torch.rand(1, 3, 32, 32),))
    assert same is plain and none == []


def test_without_expand_rewrite_litert_file_is_refused_by_the_interpreter(tmp_path):
    """Pins the litert-torch 0.10 quirk the rewrite exists for (drop the rewrite when this fails)."""
    import litert_torch
    from ai_edge_litert.interpreter import Interpreter

    from pix2mobile.models import MODELS

    torch.manual_seed(0)
    model = MODELS["bicyclegan/unet_128"].create(ngf=4).eval()
    kwargs = {"image": torch.rand(1, 3, 128, 128) * 2 - 1, "z": torch.randn(1, 8)}
    with tflite._quiet_litert():
        litert_torch.convert(model, sample_kwargs=kwargs).export(str(tmp_path / "raw.tflite"))
    runner = Interpreter(model_path=str(tmp_path / "raw.tflite")).get_signature_runner()
    with pytest.raises(RuntimeError, match="BROADCAST_TO"):
        runner(**{k: v.numpy() for k, v in kwargs.items()})
    exported = tflite.export(model, tuple(kwargs.values()), IMAGE_Z_IO, tmp_path / "ok.tflite", ExportOptions())
    got = tflite_runtime.load_runner(exported.path, IMAGE_Z_IO)(tuple(kwargs.values()))[0]
    with torch.no_grad():
        assert abs(got - model(**kwargs).numpy()).max() < 1e-5
