"""bicyclegan: the L1 term falls on a fixed pair, G rebuilds with its (image, z) inputs,
the sample grid shows several z, resume is exact, and bad sizes/pairs fail up front."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from pix2mobile.errors import ConfigError, DataError
from pix2mobile.train import bicyclegan
from pix2mobile.train.bicyclegan import BicycleGANConfig

from train_helpers import assert_resume_matches, first_last, rebuild_generator, record

TINY = dict(size=128, ngf=8, nef=8, ndf=8, log_every=1, sample_every=0, save_every=0)


def test_l1_falls_and_generator_rebuilds(tmp_path, image_folder):
    pairs = image_folder("pairs", n=1, size=(256, 128))
    cfg = BicycleGANConfig(out=str(tmp_path / "run"), data=str(pairs), steps=25, lr=2e-3, augment=False,
                           num_samples=2, num_z=2, **TINY)
    l1, hook = record("G_L1")
    run = bicyclegan.train(cfg, on_step=hook)
    first, last = first_last(l1, 5)
    assert last < 0.7 * first, l1

    meta, g = rebuild_generator(run)
    assert (meta["family"], meta["arch"]) == ("bicyclegan", "unet_128")
    assert meta["options"] == {"where_add": "all", "ngf": 8, "input_nc": 3}
    assert [t["name"] for t in meta["io"]["inputs"]] == ["image", "z"]
    state = torch.load(run / "train_state.pt", weights_only=True)
    trained = bicyclegan.get_variant("bicyclegan", "unet_128").create(ngf=8)
    trained.load_state_dict(state["model"]["G"])
    x, z = torch.rand(1, 3, 128, 128) * 2 - 1, torch.randn(1, 8)
    with torch.no_grad():
        torch.testing.assert_close(g(x, z), trained.eval()(x, z), rtol=0, atol=0)
    grid = Image.open(run / "samples" / "step_000025.png")
    assert grid.size == (5 * 130 + 2, 2 * 130 + 2)   # input, real, encoded, 2 random z; 2 rows


def test_resume_matches_uninterrupted(tmp_path):
    cfg = BicycleGANConfig(out="unused", steps=3, **TINY)
    assert_resume_matches(bicyclegan.train, cfg, tmp_path, stop=1)


@pytest.mark.parametrize("bad, match", [(dict(size=64), "128 or 256"), (dict(batch_size=3), "even")])
def test_bad_options(bad, match):
    with pytest.raises(ConfigError, match=match):
        BicycleGANConfig(out="x", **bad)


def test_unpaired_images_fail_before_training(tmp_path, image_folder):
    square = image_folder("square", n=1, size=(64, 64))
    with pytest.raises(DataError, match="side by side"):
        bicyclegan.train(BicycleGANConfig(out=str(tmp_path / "run"), data=str(square), **TINY))
