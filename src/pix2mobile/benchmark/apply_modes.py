"""How far `fit` and `tile` are from running the whole photo, and what each costs per megapixel.

    python -m pix2mobile.benchmark.apply_modes [--run RUN_DIR ...] [--photo PATH ...] [--size 256]

For each model and photo, three `pix2mobile apply` paths in eager PyTorch fp32 (an artifact's fit
and tile equal eager's within its gate, which tests/apply holds them to):
- native: the whole photo at once, padded to the size multiple: the reference;
- fit: letterboxed into SIZE x SIZE, run, resized back (what a fixed-size phone artifact does);
- tile: SIZE x SIZE tiles overlapping by SIZE/4 and blended (full resolution).
PSNR of fit and tile against native on the 8-bit results, and seconds per megapixel of each
(one run each, in one process, `torch` threads as set; OMP_WAIT_POLICY=PASSIVE recommended).

Without --run, it builds the registry generators at their default widths and lightly trains them
towards photographs (`train.warmup.lightly_train`, 40 steps): the InstanceNorm statistics are a
real photo's, the pictures are not a trained model's; pass your own runs for figures about them.
Default photos: scikit-learn's china.jpg (640 x 427) and flower.jpg (640 x 427); real camera
photos are larger: pass them with --photo. Prints a Markdown table; `--json` writes the numbers.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

DEFAULT_VARIANTS = (("fast_style", "johnson"), ("fast_style", "lite"), ("cyclegan", "resnet_9blocks"),
                    ("bicyclegan", "unet_256"))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 100.0 if mse == 0 else 10 * float(np.log10(255.0 ** 2 / mse))


def _models(args: argparse.Namespace, size: int) -> list[tuple[str, Any]]:
    from pix2mobile.pipelines.apply import open_model

    if args.run:
        return [(str(r), open_model(r, size=(size, size))) for r in args.run]
    import tempfile

    from pix2mobile.checkpoint import save_run
    from pix2mobile.models import get_variant
    from pix2mobile.train.loop import export_meta
    from pix2mobile.train.warmup import lightly_train

    out = []
    tmp = Path(tempfile.mkdtemp(prefix="apply_modes."))
    for family, arch in DEFAULT_VARIANTS:
        spec = get_variant(family, arch)
        torch.manual_seed(0)
        gen = spec.create()
        lightly_train(gen, spec.io, min(size, 128) if spec.size_multiple <= 128 else size, steps=40, seed=0)
        run = save_run(tmp / arch, gen.state_dict(), export_meta(spec, dict(spec.defaults), size))
        out.append((f"{family}/{arch} (lightly trained)", open_model(run, size=(size, size))))
    return out


def _photos(args: argparse.Namespace) -> list[tuple[str, np.ndarray]]:
    from pix2mobile.data.images import load_image

    if args.photo:
        return [(Path(p).name, np.asarray(load_image(p))) for p in args.photo]
    from sklearn.datasets import load_sample_image

    return [(name, load_sample_image(name)) for name in ("china.jpg", "flower.jpg")]


def measure(model: Any, pixels: np.ndarray, size: int) -> dict[str, Any]:
    from pix2mobile.pipelines.apply import apply_photo, latents

    z = latents(model, 1, 0)[0] if any(s.kind == "latent" for s in model.io.inputs) else None
    mp = pixels.shape[0] * pixels.shape[1] / 1e6
    row: dict[str, Any] = {"photo": list(pixels.shape[:2]), "megapixels": round(mp, 3)}
    results = {}
    for mode in ("native", "fit", "tile"):
        t0 = time.perf_counter()
        results[mode] = apply_photo(model, pixels, mode, z=z)
        row[f"{mode}_s_per_mp"] = round((time.perf_counter() - t0) / mp, 3)
    row["fit_psnr_db"] = round(psnr(results["fit"], results["native"]), 2)
    row["tile_psnr_db"] = round(psnr(results["tile"], results["native"]), 2)
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", type=Path, action="append", help="run directory (repeatable; default: see module doc)")
    p.add_argument("--photo", type=Path, action="append", help="photo (repeatable; default: china.jpg, flower.jpg)")
    p.add_argument("--size", type=int, default=256, help="the model size fit and tile use (default: 256)")
    p.add_argument("--json", type=Path, help="also write the rows here")
    args = p.parse_args(argv)
    rows = []
    photos = _photos(args)
    print(f"torch threads: {torch.get_num_threads()}; model size {args.size}; reference: native (whole photo)")
    print("| model | photo | fit PSNR dB | tile PSNR dB | native s/MP | fit s/MP | tile s/MP |")
    print("|---|---|---|---|---|---|---|")
    for name, model in _models(args, args.size):
        for photo_name, pixels in photos:
            row = {"model": name, "photo_name": photo_name, **measure(model, pixels, args.size)}
            rows.append(row)
            h, w = row["photo"]
            print(f"| {name} | {photo_name} {w}x{h} | {row['fit_psnr_db']:.1f} | {row['tile_psnr_db']:.1f} | "
                  f"{row['native_s_per_mp']:.2f} | {row['fit_s_per_mp']:.2f} | {row['tile_s_per_mp']:.2f} |",
                  flush=True)
    if args.json:
        from pix2mobile import files

        files.write_json(args.json, {"size": args.size, "threads": torch.get_num_threads(), "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
