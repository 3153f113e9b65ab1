"""Prove the CUDA training paths on the GPU(s) of this machine, in one run of at most ~10 minutes.

    python -m pix2mobile.benchmark.cuda_proof --out proof/         (or scripts/cuda_ddp_proof.sh)
    python -m pix2mobile.benchmark.cuda_proof --out proof/ --rehearse-on-cpu

Each check runs `pix2mobile train` (or torchrun, or the throughput benchmark) as a user would,
then reopens what it wrote, and prints one line: PASS, FAIL (with why) or NOT RUN (with why).

- bf16: CycleGAN with --amp bf16 trains; losses finite; the run log says bf16 autocast.
- fp16: the same with --amp fp16; the checkpoint holds a GradScaler state with a finite scale.
- channels_last: --channels-last on trains (log says channels_last).
- compile: fast-style --compile trains (log says torch.compile).
- resume: fp32 (--amp off --deterministic) CycleGAN and fast-style stopped by SIGINT mid-way and
  resumed end bit-identical (torch.equal on every tensor) to uninterrupted runs.
- nccl: with 2 or more GPUs, CycleGAN under torchrun on all of them (NCCL), and its generator
  against one GPU with the global batch (max relative difference, fp32, reported); with one GPU
  NOT RUN (NCCL refuses two ranks on one GPU).
- throughput: `train_throughput --device cuda` (ours vs the pytorch/examples-style loop), target
  ratio >= 1.5; and `--nproc 1,N` with N GPUs when there are several.

`--rehearse-on-cpu` runs the same plumbing on the CPU at tiny sizes (gloo instead of NCCL, no
fp16, no throughput target) so the script itself is tested where no GPU is; a rehearsal
proves nothing about CUDA. Writes `proof.json` and every run folder under --out.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch


@dataclass
class Check:
    name: str
    status: str = "NOT RUN"           # PASS, FAIL or NOT RUN
    detail: str = ""
    seconds: float = 0.0
    numbers: dict[str, Any] = field(default_factory=dict)


class Prover:
    def __init__(self, out: Path, cpu: bool, budget_s: float):
        self.out, self.cpu = out, cpu
        self.device = "cpu" if cpu else "cuda"
        self.gpus = 0 if cpu else torch.cuda.device_count()
        self.deadline = time.monotonic() + budget_s
        self.checks: list[Check] = []

    # running -------------------------------------------------------------------------------
    def left(self) -> float:
        return self.deadline - time.monotonic()

    def run(self, cmd: Sequence[str], timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        timeout = max(1.0, min(timeout, self.left()))
        return subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, env=env)

    def train(self, recipe: str, out: Path, *args: str, timeout: float = 180,
              nproc: int = 1) -> subprocess.CompletedProcess:
        cli = ["-m", "pix2mobile", "train", recipe, "--out", str(out), "--device", self.device, *args]
        if nproc > 1:
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc), *cli]
        else:
            cmd = [sys.executable, *cli]
        return self.run(cmd, timeout)

    def check(self, name: str, fn: Callable[[Check], None]) -> None:
        c = Check(name)
        start = time.monotonic()
        if self.left() < 20:
            c.detail = "out of time budget"
        else:
            try:
                fn(c)
            except subprocess.TimeoutExpired as exc:
                c.status, c.detail = "FAIL", f"timed out after {exc.timeout:.0f}s"
            except Exception as exc:            # a proof script reports, it does not stop
                c.status, c.detail = "FAIL", f"{type(exc).__name__}: {_tail(str(exc))}"
        c.seconds = time.monotonic() - start
        self.checks.append(c)
        print(f"{c.status:8s} {c.name:14s} {c.seconds:6.1f}s  {c.detail}", flush=True)

    # the checks ---------------------------------------------------------------------------
    def cyclegan_args(self, steps: int = 30) -> list[str]:
        size = "32" if self.cpu else "128"
        width = "8" if self.cpu else "32"
        return ["--steps", str(steps), "--size", size, "--generator", "resnet_6blocks", "--ngf", width, "--ndf", width,
                "--batch-size", "2", "--log-every", "1", "--sample-every", "0", "--save-every", "0",
                "--num-samples", "1"]

    def amp(self, c: Check, mode: str) -> None:
        if mode == "fp16" and self.cpu:
            c.detail = "fp16 autocast + GradScaler needs CUDA"
            return
        run = self.out / f"amp_{mode}"
        proc = self.train("cyclegan", run, *self.cyclegan_args(), "--amp", mode, "--force")
        said = "bf16 autocast" if mode == "bf16" else "fp16 autocast + GradScaler"
        losses = _csv_last(run / "losses.csv")
        c.numbers = {"last_losses": losses}
        if proc.returncode != 0:
            c.status, c.detail = "FAIL", f"exit {proc.returncode}: {_tail(proc.stderr)}"
        elif said not in proc.stderr:
            c.status, c.detail = "FAIL", f"the run log does not say '{said}'"
        elif not all(map(_finite, losses.values())):
            c.status, c.detail = "FAIL", f"non-finite losses {losses}"
        else:
            c.status, c.detail = "PASS", f"{said}; last losses {_short(losses)}"
            if mode == "fp16":
                state = torch.load(run / "train_state.pt", weights_only=True)
                scaler = (state.get("accel") or {}).get("scaler") or {}
                scale = float(scaler.get("scale", float("nan")))
                c.numbers["grad_scale"] = scale
                if not _finite(scale):
                    c.status, c.detail = "FAIL", f"the checkpoint's GradScaler state has no finite scale ({scaler})"
                else:
                    c.detail += f"; GradScaler scale {scale:g}"

    def layout(self, c: Check) -> None:
        run = self.out / "channels_last"
        proc = self.train("cyclegan", run, *self.cyclegan_args(20), "--channels-last", "on", "--force")
        self._said(c, proc, "channels_last")

    def compile(self, c: Check) -> None:
        run = self.out / "compile"
        size = "32" if self.cpu else "256"
        proc = self.train("fast-style", run, "--compile", "--steps", "30", "--size", size, "--arch", "lite",
                          "--batch-size", "4", "--log-every", "5", "--sample-every", "0", "--force", timeout=420)
        self._said(c, proc, "torch.compile")
        if c.status == "PASS":
            rows = _csv_rows(run / "losses.csv")
            c.numbers["img_per_s_last"] = float(rows[-1]["img_per_s"]) if rows else None
            c.detail += f"; {c.numbers['img_per_s_last']:.1f} img/s at the end" if rows else ""

    def _said(self, c: Check, proc: subprocess.CompletedProcess, text: str) -> None:
        if proc.returncode != 0:
            c.status, c.detail = "FAIL", f"exit {proc.returncode}: {_tail(proc.stderr)}"
        elif text not in proc.stderr:
            c.status, c.detail = "FAIL", f"the run log does not say '{text}'"
        else:
            c.status, c.detail = "PASS", f"trained; log says {text}"

    def resume(self, c: Check) -> None:
        """fp32, deterministic: uninterrupted == SIGINT after step 3 + resume, bitwise (in this process,
        as tests/train do it, so the interruption lands on a known step)."""
        from pix2mobile.train import cyclegan, fast_style

        common: dict[str, Any] = dict(device=self.device, amp="off", channels_last="off", deterministic=True,
                                      sample_every=0, save_every=0, log_every=1, num_samples=1, force=True)
        cases: dict[str, tuple[Callable[..., Path], Any]] = {
            "cyclegan": (cyclegan.train, cyclegan.CycleGANConfig(
                out="unused", steps=6, steps_decay=3, pool_size=2, size=32 if self.cpu else 128,
                generator="resnet_6blocks", ngf=8 if self.cpu else 32, ndf=8 if self.cpu else 32, batch_size=2,
                **common)),
            "fast-style": (fast_style.train, fast_style.FastStyleConfig(
                out="unused", steps=6, size=32 if self.cpu else 64, arch="lite", batch_size=2, **common)),
        }
        results = {}
        for name, (train, cfg) in cases.items():
            full, part = self.out / f"resume_{name}_full", self.out / f"resume_{name}_part"
            train(dataclasses.replace(cfg, out=str(full)))
            try:
                train(dataclasses.replace(cfg, out=str(part)), on_step=_sigint_after(3))
                raise RuntimeError(f"{name}: SIGINT after step 3 did not stop the run")
            except KeyboardInterrupt:         # TrainingInterrupted: checkpoint at step 3
                pass
            train(dataclasses.replace(cfg, out=None, resume=str(part), force=False))
            results[name] = _bitwise(full, part)
        c.numbers = {k: {"identical": v[0], "first_difference": v[1]} for k, v in results.items()}
        bad = {k: v[1] for k, v in results.items() if not v[0]}
        c.status = "FAIL" if bad else "PASS"
        c.detail = f"not bit-identical: {bad}" if bad else \
            "uninterrupted == stopped after step 3 + resumed: every tensor of train_state.pt (cyclegan, fast-style)"

    def nccl(self, c: Check) -> None:
        n = 2 if self.cpu else self.gpus
        if n < 2:
            c.detail = f"{n} GPU visible: DDP with NCCL needs 2 or more (NCCL refuses two ranks on one GPU)"
            return
        two, one = self.out / "ddp_world", self.out / "ddp_one"
        base = [*self.cyclegan_args(10), "--amp", "off", "--deterministic", "--force"]
        base[base.index("--batch-size") + 1] = "1"
        proc = self.train("cyclegan", two, *base, nproc=n, timeout=240)
        if proc.returncode != 0:
            c.status, c.detail = "FAIL", f"torchrun x{n}: exit {proc.returncode}: {_tail(proc.stderr)}"
            return
        one_args = list(base)
        one_args[one_args.index("--batch-size") + 1] = str(n)
        proc = self.train("cyclegan", one, *one_args)
        if proc.returncode != 0:
            c.status, c.detail = "FAIL", f"1 process x batch {n}: exit {proc.returncode}: {_tail(proc.stderr)}"
            return
        meta = json.loads((two / "model.json").read_text())
        rows_one, rows_two = _csv_rows(one / "losses.csv"), _csv_rows(two / "losses.csv")
        names = [k for k in rows_one[0] if k not in ("step", "img_per_s", "lr", "seconds")] if rows_one else []
        per_step = [max(abs(float(a[k]) - float(b[k])) / max(abs(float(a[k])), 1e-12) for k in names)
                    for a, b in zip(rows_one, rows_two)]
        c.numbers = {"world_size": meta.get("training", {}).get("world_size"), "loss_rel_diff_per_step": per_step,
                     "generator_max_rel_diff_after_10_steps": _max_rel_diff(one, two)}
        backend = "gloo (rehearsal)" if self.cpu else "NCCL"
        c.status = "PASS" if c.numbers["world_size"] == n and len(per_step) == 10 else "FAIL"
        c.detail = (f"{n} processes over {backend} trained 10 steps; vs 1 process x batch {n}, fp32: losses of "
                    f"steps 1-3 agree to {max(per_step[:3]):.1e}, of all 10 to {max(per_step):.1e} (reported, not "
                    f"gated: in fp32 Adam turns rounding noise in near-zero gradients into +-lr steps; the CPU tests "
                    f"prove the equivalence in float64)")

    def throughput(self, c: Check) -> None:
        json_path = self.out / "throughput.json"
        args = ["--device", self.device, "--json", str(json_path)]
        if self.cpu:
            args += ["--size", "64", "--arch", "lite", "--steps", "3", "--batch-size", "2"]
        proc = self.run([sys.executable, "-m", "pix2mobile.benchmark.train_throughput", *args], 300)
        if proc.returncode != 0:
            c.status, c.detail = "FAIL", f"exit {proc.returncode}: {_tail(proc.stderr)}"
            return
        result = json.loads(json_path.read_text())
        c.numbers = {k: result[k] for k in ("ratio", "paired_ratio", "images_per_s", "ours_setting", "device")}
        print(proc.stdout.rstrip(), flush=True)
        if self.cpu:
            c.status, c.detail = "PASS", f"rehearsal: ratio {result['ratio']:.2f}x (no target on CPU)"
            return
        ok = result["ratio"] >= 1.5
        c.status = "PASS" if ok else "FAIL"
        c.detail = (f"ours / pytorch-examples loop {result['ratio']:.2f}x (paired {result['paired_ratio']:.2f}x), "
                    f"target 1.5x")
        if self.gpus >= 2 and self.left() > 150:
            scale = self.run([sys.executable, "-m", "pix2mobile.benchmark.train_throughput", "--device", "cuda",
                              "--nproc", f"1,{self.gpus}"], 300)
            print(scale.stdout.rstrip(), flush=True)
            c.numbers["nproc_table"] = scale.stdout


def _sigint_after(step: int) -> Callable[[int, dict[str, float]], None]:
    def hook(done: int, losses: dict[str, float]) -> None:
        if done == step:
            os.kill(os.getpid(), signal.SIGINT)
    return hook


def _bitwise(a: Path, b: Path) -> tuple[bool, str]:
    sa = torch.load(a / "train_state.pt", weights_only=True)
    sb = torch.load(b / "train_state.pt", weights_only=True)

    def walk(x: Any, y: Any, path: str) -> str:
        if isinstance(x, torch.Tensor):
            return "" if isinstance(y, torch.Tensor) and x.shape == y.shape and torch.equal(x, y) else path
        if isinstance(x, dict):
            if not isinstance(y, dict) or x.keys() != y.keys():
                return path
            return next((d for k in x if (d := walk(x[k], y[k], f"{path}.{k}"))), "")
        if isinstance(x, (list, tuple)):
            if not isinstance(y, (list, tuple)) or len(x) != len(y):
                return path
            return next((d for i, (u, v) in enumerate(zip(x, y)) if (d := walk(u, v, f"{path}[{i}]"))), "")
        return "" if x == y else path

    where = walk(sa["model"], sb["model"], "model") or ("" if sa["step"] == sb["step"] else "step")
    return not where, where


def _max_rel_diff(a: Path, b: Path) -> float:
    from safetensors.torch import load_file

    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    return max(float((wa[k].double() - wb[k].double()).abs().max()) / (float(wa[k].abs().max()) or 1.0)
               for k in wa if wa[k].is_floating_point())


def _csv_rows(path: Path) -> list[dict[str, str]]:
    import csv

    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        return [r for r in csv.DictReader(fh) if r.get("step", "").isdigit()]


def _csv_last(path: Path) -> dict[str, float]:
    rows = _csv_rows(path)
    skip = {"step", "img_per_s", "lr", "seconds"}
    return {k: float(v) for k, v in rows[-1].items() if k not in skip} if rows else {}


def _finite(v: float) -> bool:
    return v == v and abs(v) != float("inf")


def _short(d: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.3g}" for k, v in d.items())


def _tail(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return re.sub(r"\s+", " ", lines[-1])[:300] if lines else ""


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pix2mobile.benchmark.cuda_proof", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="folder for the runs and proof.json")
    p.add_argument("--budget", type=float, default=570.0, help="seconds in all (default 570: under 10 minutes)")
    p.add_argument("--rehearse-on-cpu", action="store_true",
                   help="run the plumbing on the CPU; proves nothing about CUDA")
    args = p.parse_args(argv)
    if not args.rehearse_on_cpu and not torch.cuda.is_available():
        print("cuda_proof: error: this torch sees no CUDA device (use --rehearse-on-cpu to test the script)",
              file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    prover = Prover(args.out, args.rehearse_on_cpu, args.budget)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    head = {"torch": torch.__version__, "cuda": torch.version.cuda, "gpus": prover.gpus,
            "devices": [torch.cuda.get_device_name(i) for i in range(prover.gpus)],
            "nccl": ".".join(map(str, torch.cuda.nccl.version())) if prover.gpus else None,
            "rehearsal_on_cpu": args.rehearse_on_cpu}
    print(f"cuda_proof: torch {head['torch']}, CUDA {head['cuda']}, {prover.gpus} GPU(s) {head['devices']}, "
          f"NCCL {head['nccl']}" + (" -- REHEARSAL ON CPU: proves nothing about CUDA" if args.rehearse_on_cpu else ""),
          flush=True)
    prover.check("bf16", lambda c: prover.amp(c, "bf16"))
    prover.check("fp16", lambda c: prover.amp(c, "fp16"))
    prover.check("channels_last", prover.layout)
    prover.check("resume_fp32", prover.resume)
    prover.check("ddp_nccl", prover.nccl)
    prover.check("throughput", prover.throughput)
    prover.check("compile", prover.compile)
    report = {**head, "checks": [c.__dict__ for c in prover.checks]}
    (args.out / "proof.json").write_text(json.dumps(report, indent=2, default=str))
    failed = [c.name for c in prover.checks if c.status == "FAIL"]
    print(f"cuda_proof: {sum(c.status == 'PASS' for c in prover.checks)} passed, {len(failed)} failed "
          f"{failed if failed else ''}, {sum(c.status == 'NOT RUN' for c in prover.checks)} not run; "
          f"report in {args.out / 'proof.json'}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
