"""The shared loop: NaN stops the run and keeps the last good checkpoint, run-directory rules,
resume errors, TensorBoard optional; and the pieces it relies on (data order, schedule, pool)."""

from __future__ import annotations

import hashlib
import logging
import sys

import pytest
import torch

from pix2mobile.checkpoint import load_run
from pix2mobile.errors import CheckpointError, ConfigError, TrainingError
from pix2mobile.train import cyclegan, morph
from pix2mobile.train.config import merge_resumed
from pix2mobile.train.data import SeededBatches, fixed_batch
from pix2mobile.train.image_pool import ImagePool
from pix2mobile.train.morph import MorphConfig
from pix2mobile.train.schedule import LinearDecay

TINY = dict(images=("builtin",), size=8, hidden=8, fourier=0, lr=1e-2, log_every=1, sample_every=0)


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_nan_loss_stops_and_keeps_last_checkpoint(tmp_path, monkeypatch):
    run = tmp_path / "run"
    original = morph.MorphModel.optimize
    seen: dict[str, str] = {}

    def optimize(self):
        losses = original(self)
        return {**losses, "mse": float("nan")} if self.step == 5 else losses

    def remember(step, losses):
        if step == 4:
            seen.update(weights=_sha(run / "model.safetensors"), state=_sha(run / "train_state.pt"))

    monkeypatch.setattr(morph.MorphModel, "optimize", optimize)
    with pytest.raises(TrainingError, match=r"step 5: loss 'mse' is nan.*step 4.* is kept"):
        morph.train(MorphConfig(out=str(run), steps=4, save_every=2, **TINY), on_step=remember)
    meta, weights = load_run(run)
    assert meta["steps_done"] == 4 and all(torch.isfinite(w).all() for w in weights.values())
    assert _sha(run / "model.safetensors") == seen["weights"] and _sha(run / "train_state.pt") == seen["state"]


def test_nan_weights_are_never_saved(tmp_path, monkeypatch):
    original = morph.MorphModel.optimize

    def optimize(self):
        losses = original(self)
        if self.step == 2:
            with torch.no_grad():
                self.generator.mlps[0].layers[0].weight.fill_(float("inf"))
        return losses

    monkeypatch.setattr(morph.MorphModel, "optimize", optimize)
    with pytest.raises(TrainingError, match="weight 'mlps.0.layers.0.weight' is not finite.*No checkpoint"):
        morph.train(MorphConfig(out=str(tmp_path / "run"), steps=4, save_every=2, **TINY))
    assert not (tmp_path / "run" / "model.safetensors").exists()


def test_out_rules(tmp_path):
    run = tmp_path / "run"
    cfg = MorphConfig(out=str(run), steps=1, **TINY)
    morph.train(cfg)
    with pytest.raises(ConfigError, match="not empty.*--resume.*--force"):
        morph.train(cfg)
    before = load_run(run)[0]["config"]["seed"]
    morph.train(MorphConfig(out=str(run), steps=1, force=True, seed=3, **TINY))
    assert (before, load_run(run)[0]["config"]["seed"]) == (0, 3)
    with pytest.raises(ConfigError, match="done 2 of its 2 steps"):
        morph.train(MorphConfig(resume=str(run)))
    with pytest.raises(ConfigError, match="morph run"):
        cyclegan.train(cyclegan.CycleGANConfig(resume=str(run)))
    with pytest.raises(CheckpointError, match="no train_state.pt"):
        morph.train(MorphConfig(resume=str(tmp_path)))
    with pytest.raises(ConfigError, match="--out RUN_DIR"):
        MorphConfig()


def test_runs_without_tensorboard(tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with caplog.at_level(logging.WARNING):
        run = morph.train(MorphConfig(out=str(tmp_path / "run"), steps=1, **TINY))
    assert "TensorBoard logging is off" in caplog.text and not (run / "tb").exists()
    assert (run / "losses.csv").read_text().count("\n") == 3


def test_merge_resumed_takes_saved_values_and_allowed_changes():
    saved = MorphConfig(out="r", steps=10, lr=0.5, images=("a.png", "b.png"), **{
        k: v for k, v in TINY.items() if k not in ("lr", "images")}).to_dict()
    merged = merge_resumed(MorphConfig(resume="r", steps=20, log_every=5), saved)
    got = (merged.lr, merged.images, merged.steps, merged.log_every, merged.size)
    assert got == (0.5, ("a.png", "b.png"), 20, 5, 8)
    with pytest.raises(ConfigError, match="--hidden 64 differs"):
        merge_resumed(MorphConfig(resume="r", hidden=64), saved)


def test_seeded_batches_resume_at_position():
    data = [torch.tensor([float(i)]) for i in range(5)]
    batches = SeededBatches(data, 3, seed=1)
    stream = [next(batches) for _ in range(4)]            # 12 items: wraps into epoch 2 and 3
    assert sorted(torch.cat(stream[:2]).flatten()[:5].tolist()) == [0, 1, 2, 3, 4]
    again = SeededBatches(data, 3, seed=1)
    again.load_state_dict({"position": 6})
    assert torch.equal(next(again), stream[2]) and torch.equal(next(again), stream[3])
    assert torch.equal(fixed_batch(data, 2, 0), torch.stack([data[0], data[1]]))


def test_linear_decay_is_junyanz_linear_policy():
    f = LinearDecay(total=6, decay=3)
    assert [round(f(s), 4) for s in range(6)] == [1.0, 1.0, 1.0, 0.75, 0.5, 0.25]
    assert LinearDecay(4, 0)(3) == 1.0


def test_image_pool_fills_then_swaps_and_round_trips():
    torch.manual_seed(0)
    pool = ImagePool(2)
    first = pool.query(torch.zeros(2, 3, 4, 4))
    assert torch.equal(first, torch.zeros(2, 3, 4, 4)) and len(pool.images) == 2
    outs = [pool.query(torch.full((1, 3, 4, 4), float(i + 1))) for i in range(20)]
    assert any(o.max() == 0 for o in outs) and any(o.max() > 0 for o in outs)
    copy = ImagePool(2)
    copy.load_state_dict(pool.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(copy.images, pool.images))
