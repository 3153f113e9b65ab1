"""morph: each image's MSE falls, the chain starts image 1 from image 0's network, the stack
rebuilds from the run, resume is exact, and render_transition writes N frames and a GIF."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from pix2mobile.errors import ConfigError
from pix2mobile.train import morph
from pix2mobile.train.morph import MorphConfig

from train_helpers import assert_resume_matches, rebuild_generator, record

TINY = dict(size=16, hidden=32, fourier=2, lr=1e-2, log_every=1, sample_every=0, save_every=0)


def test_fits_each_image_and_renders_transition(tmp_path):
    cfg = MorphConfig(out=str(tmp_path / "run"), images=("builtin:0", "builtin:3"), steps=100, **TINY)
    mse, hook = record("mse")
    run = morph.train(cfg, on_step=hook)
    assert len(mse) == 200
    assert mse[99] < 0.1 * mse[0] and mse[199] < 0.1 * mse[100], mse[::20]

    meta, stack = rebuild_generator(run)
    assert meta["images"] == ["builtin:0", "builtin:3"] and meta["options"]["num_images"] == 2
    target = morph.load_images(cfg)[1]
    with torch.no_grad():
        err = (stack.render(1, (16, 16)) - target[1:2]).pow(2).mean()
    assert abs(float(err) - mse[-1]) < 0.02

    frames = morph.render_transition(run, 5, (12, 20), tmp_path / "frames", (1, 0))
    assert [p.name for p in frames] == [f"frame_{i:03d}.png" for i in range(5)] + ["morph_1_0.gif"]
    assert Image.open(frames[0]).size == (20, 12)
    gif = Image.open(frames[-1])
    assert gif.n_frames == 8   # forth and back
    with pytest.raises(ConfigError, match="not empty"):
        morph.render_transition(run, 5, (12, 20), tmp_path / "frames", (1, 0))


def test_resume_matches_uninterrupted_across_images(tmp_path):
    """Interrupted inside image 0's fit; resumed, the chain copy and image 1's fit match."""
    cfg = MorphConfig(out="unused", images=("builtin",), steps=3, **TINY)
    assert_resume_matches(morph.train, cfg, tmp_path, stop=2)


@pytest.mark.parametrize("chain", [True, False])
def test_chain_starts_from_previous_fit(tmp_path, chain):
    """The same image twice: chained, image 1 starts where image 0 ended; independent, from the init."""
    cfg = MorphConfig(out=str(tmp_path / "run"), images=("builtin:1", "builtin:1"), steps=20, chain=chain, **TINY)
    mse, hook = record("mse")
    morph.train(cfg, on_step=hook)
    if chain:
        assert mse[20] <= mse[19] < 0.5 * mse[0]
    else:
        assert mse[20] == mse[0] and mse[39] == mse[19]


def test_needs_two_images():
    with pytest.raises(ConfigError, match="at least 2"):
        morph.train(MorphConfig(out="x", images=("builtin",), builtin_count=1))
