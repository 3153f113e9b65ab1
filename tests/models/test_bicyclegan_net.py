"""bicyclegan: G (both where_add), E and the multi-scale D load junyanz/BicycleGAN files and
compute what BicycleGAN's networks compute."""

from __future__ import annotations

import functools

import pytest
import torch
from torch import nn

from pix2mobile.checkpoint import load_pth, load_state_dict_strict
from pix2mobile.errors import CheckpointError, ConfigError
from pix2mobile.models import bicyclegan
from pix2mobile.models.flops import example_inputs

# --- junyanz/BicycleGAN models/networks.py (norm instance, nl relu, upsample basic), restated ---
norm_layer = functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
relu = functools.partial(nn.ReLU, inplace=True)
lrelu = functools.partial(nn.LeakyReLU, negative_slope=0.2, inplace=True)


def upsampleLayer(inplanes, outplanes):
    return [nn.ConvTranspose2d(inplanes, outplanes, kernel_size=4, stride=2, padding=1)]


class RefUnetBlock(nn.Module):
    def __init__(self, input_nc, outer_nc, inner_nc, submodule=None, outermost=False, innermost=False):
        super().__init__()
        self.outermost = outermost
        downconv = [nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1)]
        downrelu, downnorm = nn.LeakyReLU(0.2, True), norm_layer(inner_nc)
        uprelu, upnorm = relu(), norm_layer(outer_nc)
        if outermost:
            model = downconv + [submodule] + [uprelu] + upsampleLayer(inner_nc * 2, outer_nc) + [nn.Tanh()]
        elif innermost:
            model = [downrelu] + downconv + [uprelu] + upsampleLayer(inner_nc, outer_nc) + [upnorm]
        else:
            model = ([downrelu] + downconv + [downnorm] + [submodule]
                     + [uprelu] + upsampleLayer(inner_nc * 2, outer_nc) + [upnorm])
        self.model = nn.Sequential(*model)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        return torch.cat([self.model(x), x], 1)


class RefG_Unet_add_input(nn.Module):
    def __init__(self, input_nc, output_nc, nz, num_downs, ngf=64):
        super().__init__()
        self.nz = nz
        unet_block = RefUnetBlock(ngf * 8, ngf * 8, ngf * 8, innermost=True)
        for i in range(num_downs - 5):
            unet_block = RefUnetBlock(ngf * 8, ngf * 8, ngf * 8, unet_block)
        unet_block = RefUnetBlock(ngf * 4, ngf * 4, ngf * 8, unet_block)
        unet_block = RefUnetBlock(ngf * 2, ngf * 2, ngf * 4, unet_block)
        unet_block = RefUnetBlock(ngf, ngf, ngf * 2, unet_block)
        unet_block = RefUnetBlock(input_nc + nz, output_nc, ngf, unet_block, outermost=True)
        self.model = unet_block

    def forward(self, x, z=None):
        z_img = z.view(z.size(0), z.size(1), 1, 1).expand(z.size(0), z.size(1), x.size(2), x.size(3))
        return self.model(torch.cat([x, z_img], 1))


class RefUnetBlock_with_z(nn.Module):
    def __init__(self, input_nc, outer_nc, inner_nc, nz=0, submodule=None, outermost=False, innermost=False):
        super().__init__()
        self.outermost, self.innermost, self.nz = outermost, innermost, nz
        downconv = [nn.Conv2d(input_nc + nz, inner_nc, kernel_size=4, stride=2, padding=1)]
        downrelu, uprelu = nn.LeakyReLU(0.2, True), relu()
        if outermost:
            down = downconv
            up = [uprelu] + upsampleLayer(inner_nc * 2, outer_nc) + [nn.Tanh()]
        elif innermost:
            down = [downrelu] + downconv
            up = [uprelu] + upsampleLayer(inner_nc, outer_nc) + [norm_layer(outer_nc)]
        else:
            down = [downrelu] + downconv + [norm_layer(inner_nc)]
            up = [uprelu] + upsampleLayer(inner_nc * 2, outer_nc) + [norm_layer(outer_nc)]
        self.down = nn.Sequential(*down)
        self.submodule = submodule
        self.up = nn.Sequential(*up)

    def forward(self, x, z):
        z_img = z.view(z.size(0), z.size(1), 1, 1).expand(z.size(0), z.size(1), x.size(2), x.size(3))
        x_and_z = torch.cat([x, z_img], 1)
        if self.outermost:
            return self.up(self.submodule(self.down(x_and_z), z))
        if self.innermost:
            return torch.cat([self.up(self.down(x_and_z)), x], 1)
        return torch.cat([self.up(self.submodule(self.down(x_and_z), z)), x], 1)


class RefG_Unet_add_all(nn.Module):
    def __init__(self, input_nc, output_nc, nz, num_downs, ngf=64):
        super().__init__()
        unet_block = RefUnetBlock_with_z(ngf * 8, ngf * 8, ngf * 8, nz, None, innermost=True)
        unet_block = RefUnetBlock_with_z(ngf * 8, ngf * 8, ngf * 8, nz, unet_block)
        for i in range(num_downs - 6):
            unet_block = RefUnetBlock_with_z(ngf * 8, ngf * 8, ngf * 8, nz, unet_block)
        unet_block = RefUnetBlock_with_z(ngf * 4, ngf * 4, ngf * 8, nz, unet_block)
        unet_block = RefUnetBlock_with_z(ngf * 2, ngf * 2, ngf * 4, nz, unet_block)
        unet_block = RefUnetBlock_with_z(ngf, ngf, ngf * 2, nz, unet_block)
        unet_block = RefUnetBlock_with_z(input_nc, output_nc, ngf, nz, unet_block, outermost=True)
        self.model = unet_block

    def forward(self, x, z):
        return self.model(x, z)


def conv3x3(in_planes, out_planes):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=1, padding=1, bias=True)


class RefBasicBlock(nn.Module):
    def __init__(self, inplanes, outplanes):
        super().__init__()
        layers = [norm_layer(inplanes), lrelu(), conv3x3(inplanes, inplanes), norm_layer(inplanes), lrelu(),
                  nn.Sequential(conv3x3(inplanes, outplanes), nn.AvgPool2d(kernel_size=2, stride=2))]
        self.conv = nn.Sequential(*layers)
        self.shortcut = nn.Sequential(nn.AvgPool2d(kernel_size=2, stride=2),
                                      nn.Conv2d(inplanes, outplanes, kernel_size=1, stride=1, padding=0, bias=True))

    def forward(self, x):
        return self.conv(x) + self.shortcut(x)


class RefE_ResNet(nn.Module):
    def __init__(self, input_nc=3, output_nc=1, ndf=64, n_blocks=4):
        super().__init__()
        max_ndf = 4
        conv_layers = [nn.Conv2d(input_nc, ndf, kernel_size=4, stride=2, padding=1, bias=True)]
        for n in range(1, n_blocks):
            input_ndf = ndf * min(max_ndf, n)
            output_ndf = ndf * min(max_ndf, n + 1)
            conv_layers += [RefBasicBlock(input_ndf, output_ndf)]
        conv_layers += [lrelu(), nn.AvgPool2d(8)]
        self.fc = nn.Sequential(*[nn.Linear(output_ndf, output_nc)])
        self.fcVar = nn.Sequential(*[nn.Linear(output_ndf, output_nc)])
        self.conv = nn.Sequential(*conv_layers)

    def forward(self, x):
        conv_flat = self.conv(x).view(x.size(0), -1)
        return self.fc(conv_flat), self.fcVar(conv_flat)


class RefD_NLayersMulti(nn.Module):
    def __init__(self, input_nc, ndf=64, n_layers=3, num_D=1):
        super().__init__()
        self.num_D = num_D
        self.add_module("model_0", nn.Sequential(*self.get_layers(input_nc, ndf, n_layers)))
        self.down = nn.AvgPool2d(3, stride=2, padding=[1, 1], count_include_pad=False)
        for i in range(1, num_D):
            ndf_i = int(round(ndf / (2 ** i)))
            self.add_module("model_%d" % i, nn.Sequential(*self.get_layers(input_nc, ndf_i, n_layers)))

    def get_layers(self, input_nc, ndf=64, n_layers=3):
        kw, padw = 4, 1
        sequence = [nn.Conv2d(input_nc, ndf, kernel_size=kw, stride=2, padding=padw), nn.LeakyReLU(0.2, True)]
        nf_mult = 1
        for n in range(1, n_layers):
            nf_mult_prev, nf_mult = nf_mult, min(2 ** n, 8)
            sequence += [nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, kernel_size=kw, stride=2, padding=padw),
                         norm_layer(ndf * nf_mult), nn.LeakyReLU(0.2, True)]
        nf_mult_prev, nf_mult = nf_mult, min(2 ** n_layers, 8)
        sequence += [nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, kernel_size=kw, stride=1, padding=padw),
                     norm_layer(ndf * nf_mult), nn.LeakyReLU(0.2, True)]
        sequence += [nn.Conv2d(ndf * nf_mult, 1, kernel_size=kw, stride=1, padding=padw)]
        return sequence

    def forward(self, input):
        result, down = [], input
        for i in range(self.num_D):
            result.append(getattr(self, "model_%d" % i)(down))
            if i != self.num_D - 1:
                down = self.down(down)
        return result
# ------------------------------------------------------------------------------------------------


def _load_into(module: nn.Module, path) -> nn.Module:
    load_state_dict_strict(module, bicyclegan.UNET_256.convert_reference(load_pth(path)), source=str(path))
    return module.eval()


REF_G = {"input": RefG_Unet_add_input, "all": RefG_Unet_add_all}


@pytest.mark.parametrize("where_add", ["all", "input"])
@pytest.mark.parametrize("spec,num_downs", [(bicyclegan.UNET_128, 7), (bicyclegan.UNET_256, 8)],
                         ids=["unet_128", "unet_256"])
def test_generator_matches_reference_checkpoint(spec, num_downs, where_add, tmp_path, randomize):
    ref = randomize(REF_G[where_add](3, 3, 8, num_downs, ngf=8)).eval()
    torch.save({f"module.{k}": v for k, v in ref.state_dict().items()}, tmp_path / "latest_net_G.pth")
    net = _load_into(spec.create(ngf=8, where_add=where_add), tmp_path / "latest_net_G.pth")
    image, z = example_inputs(spec.io, (spec.min_size, spec.min_size), batch=2)
    assert image.shape == (2, 3, spec.min_size, spec.min_size) and z.shape == (2, 8)
    with torch.no_grad():
        y = net(image, z)
        torch.testing.assert_close(y, ref(image, z))
        assert not torch.allclose(y[0], net(image, torch.randn(2, 8))[0])   # z steers the output
    assert y.shape == image.shape and y.abs().max() <= 1


def test_default_width_names_match_reference():
    for where_add, ref_cls in REF_G.items():
        with torch.device("meta"):   # names and shapes only: no 55M-parameter allocation
            ours = bicyclegan.UNET_256.create(where_add=where_add).state_dict()
            ref = ref_cls(3, 3, 8, 8, ngf=64).state_dict()
        assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in ref.items()}


def test_one_channel_input_for_edges_models(tmp_path, randomize):
    ref = randomize(RefG_Unet_add_all(1, 3, 8, 8, ngf=8)).eval()
    torch.save(ref.state_dict(), tmp_path / "edges2shoes_net_G.pth")
    net = _load_into(bicyclegan.UNET_256.create(ngf=8, input_nc=1), tmp_path / "edges2shoes_net_G.pth")
    x, z = torch.rand(1, 1, 256, 256) * 2 - 1, torch.randn(1, 8)
    with torch.no_grad():
        torch.testing.assert_close(net(x, z), ref(x, z))


def test_missing_or_extra_key_names_it(tmp_path):
    sd = RefG_Unet_add_input(3, 3, 8, 7, ngf=8).state_dict()
    key = "model.model.1.model.1.bias"
    torch.save({k: v for k, v in sd.items() if k != key}, tmp_path / "m.pth")
    with pytest.raises(CheckpointError, match=key.replace(".", r"\.")):
        _load_into(bicyclegan.UNET_128.create(ngf=8, where_add="input"), tmp_path / "m.pth")
    torch.save({**sd, "model.model.9.weight": torch.zeros(2)}, tmp_path / "x.pth")
    with pytest.raises(CheckpointError, match=r"model\.model\.9\.weight"):
        _load_into(bicyclegan.UNET_128.create(ngf=8, where_add="input"), tmp_path / "x.pth")


def test_where_add_is_checked():
    with pytest.raises(ConfigError, match="where_add"):
        bicyclegan.UNET_128.create(where_add="middle")


@pytest.mark.parametrize("arch,size", [("resnet_128", 128), ("resnet_256", 256)])
def test_encoder_matches_reference(arch, size, tmp_path, randomize):
    ref = randomize(RefE_ResNet(3, 8, ndf=8, n_blocks=4 if arch == "resnet_128" else 5)).eval()
    torch.save(ref.state_dict(), tmp_path / "latest_net_E.pth")
    enc = _load_into(bicyclegan.build_encoder(arch, nef=8), tmp_path / "latest_net_E.pth")
    x = torch.rand(2, 3, size, size) * 2 - 1
    with torch.no_grad():
        mu, logvar = enc(x)
        ref_mu, ref_logvar = ref(x)
    assert mu.shape == logvar.shape == (2, 8)
    torch.testing.assert_close(mu, ref_mu)
    torch.testing.assert_close(logvar, ref_logvar)


def test_multiscale_discriminator_matches_reference(tmp_path, randomize):
    ref = randomize(RefD_NLayersMulti(3, ndf=8, n_layers=3, num_D=2)).eval()
    torch.save(ref.state_dict(), tmp_path / "latest_net_D.pth")
    disc = _load_into(bicyclegan.build_discriminator(ndf=8), tmp_path / "latest_net_D.pth")
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        ours, theirs = disc(x), ref(x)
    assert [o.shape for o in ours] == [(1, 1, 6, 6), (1, 1, 2, 2)]
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b)


def test_io_declares_image_and_latent():
    image, z = bicyclegan.UNET_256.io.inputs
    assert image.range == (-1.0, 1.0) and bicyclegan.UNET_256.io.outputs[0].range == (-1.0, 1.0)
    assert z.kind == "latent" and z.dim == 8 and z.shape((256, 256)) == (1, 8)
