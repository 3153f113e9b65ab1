"""cyclegan: the cycle loss falls on a fixed pair, G_A rebuilds from the run, resume is exact,
and bad A/B data fails before any network is built."""

from __future__ import annotations

import pytest
import torch

from pix2mobile.errors import ConfigError, DataError
from pix2mobile.models.loading import load_generator
from pix2mobile.train import cyclegan
from pix2mobile.train.cyclegan import CycleGANConfig

from train_helpers import assert_resume_matches, first_last, rebuild_generator, record

TINY = dict(size=32, generator="resnet_6blocks", ngf=8, ndf=8, log_every=1, sample_every=0, save_every=0)


def test_cycle_loss_falls_and_generator_rebuilds(tmp_path, image_folder):
    a, b = image_folder("A", n=1, seed=0), image_folder("B", n=1, seed=5)
    cfg = CycleGANConfig(out=str(tmp_path / "run"), data_a=str(a), data_b=str(b), steps=30, lr=2e-3,
                         augment=False, **TINY)
    cycle, hook = record(("cycle_A", "cycle_B"))
    run = cyclegan.train(cfg, on_step=hook)
    first, last = first_last(cycle, 5)
    assert last < 0.7 * first, cycle

    meta, g_a = rebuild_generator(run)
    assert (meta["family"], meta["arch"], meta["options"]) == ("cyclegan", "resnet_6blocks", {"ngf": 8})
    assert meta["io"]["inputs"][0]["range"] == [-1.0, 1.0] and meta["direction"] == "a2b"
    assert meta["generators"] == {"a2b": "model.safetensors", "b2a": "model_b2a.safetensors"}
    state = torch.load(run / "train_state.pt", weights_only=True)
    assert len(state["model"]["pool_A"]["images"]) == 30      # pool of 50 still filling
    trained = cyclegan.get_variant("cyclegan", "resnet_6blocks").create(ngf=8)
    trained.load_state_dict(state["model"]["G_A"])
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(g_a(x), trained.eval()(x), rtol=0, atol=0)
    trained.load_state_dict(state["model"]["G_B"])            # the B -> A generator is saved too
    g_b = load_generator(run, direction="b2a")
    assert g_b.direction == "b2a" and g_b.sha256 != load_generator(run).sha256
    with torch.no_grad():
        torch.testing.assert_close(g_b.generator(x), trained.eval()(x), rtol=0, atol=0)
    assert (run / "samples" / "step_000030.png").is_file()


def test_resume_matches_uninterrupted(tmp_path):
    """Builtin photo2painting, augmentation and a pool that swaps: all restored exactly."""
    cfg = CycleGANConfig(out="unused", steps=4, pool_size=2, steps_decay=2, **TINY)
    assert_resume_matches(cyclegan.train, cfg, tmp_path, stop=2)


def test_mixed_modes_fail_before_training(tmp_path, image_folder):
    a = image_folder("A", n=2)
    grey = tmp_path / "B"
    grey.mkdir()
    for i in range(2):
        image_folder("tmp", n=1, seed=i)
        (tmp_path / "tmp" / "00.png").rename(grey / f"{i}.png")
    from PIL import Image
    for p in grey.iterdir():
        Image.open(p).convert("L").save(p)
    with pytest.raises(DataError, match="greyscale"):
        cyclegan.train(CycleGANConfig(out=str(tmp_path / "run"), data_a=str(a), data_b=str(grey), **TINY))
    assert not (tmp_path / "run").exists()


def test_builtin_goes_with_builtin():
    with pytest.raises(ConfigError, match="builtin"):
        CycleGANConfig(out="x", data_a="builtin", data_b="somewhere")
