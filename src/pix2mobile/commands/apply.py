"""Apply a trained model or an exported artifact to photos of any size.

Examples:
  pix2mobile apply runs/style photo.jpg --out styled/                      (eager PyTorch, whole photo)
  pix2mobile apply exports/style --format tflite photos/ --out styled/     (the .tflite, as the app runs it)
  pix2mobile apply exports/style --format onnx big.jpg --mode tile --out styled/
  pix2mobile apply exports/h2z --direction b2a --format onnx zebra.jpg --out horses/
  pix2mobile apply runs/e2s --samples 6 edges.png --out shoes/                   (BicycleGAN: 6 z draws + a grid)
  pix2mobile apply runs/morph --frames 24 --animate morph.gif --out frames/        (morph: no photos)
  pix2mobile apply runs/style 'video/*.png' --animate styled.mp4 --out frames/    (a folder of video frames)

SOURCE is a run directory, a .pth (with --family/--arch), or an export folder (with --format and
optionally --precision; a CycleGAN export folder holding a2b/ and b2a/ takes --direction). An
artifact runs through its own runtime, exactly as an app would (Core ML files through pix2mobile's
numpy evaluator, and the output says so).

Modes (docs/preprocessing.md has the exact algorithm the Android, iOS and web code share):
  fit     letterbox the photo into the model's size keeping aspect, run once, cut out and resize
          back (default for fixed-size artifacts)
  tile    overlapping tiles of the model's size, blended with a smooth window: full resolution
          for large photos; each tile normalises on its own, so style can vary a little across it
  native  the whole photo at once, padded to the model's size multiple (default for eager
          PyTorch and artifacts exported with a size range)

Outputs are PNGs named after the inputs (OUT/NAME.png; BicycleGAN: OUT/NAME_z0.png... and
OUT/NAME_grid.png), each written atomically, and always the photo's own size. Existing outputs
are refused unless --force.
"""

from __future__ import annotations

import argparse
import glob
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from pix2mobile.errors import ConfigError, ImageError
from pix2mobile.limits import check_side

HELP = "run a model or artifact on photos of any size (fit, tile or native), or render morph frames"
log = logging.getLogger(__name__)

MAX_Z_SAMPLES = 64
MAX_FRAMES = 1000


def _floats(text: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got '{text}'") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


def add_arguments(p: argparse.ArgumentParser) -> None:
    from pix2mobile.imaging.plan import MODES

    p.add_argument("source", type=Path, help="run directory, .pth (with --family/--arch), or export folder")
    p.add_argument("images", nargs="*", help="photos, folders of photos, or quoted globs ('frames/*.png')")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--format", help="export folder: the artifact's format (ptl, tflite, mlpackage, mlmodel, onnx, pte)")
    p.add_argument("--precision", help="export folder: the artifact's precision (default: its first passing one)")
    p.add_argument("--family", help="family of a foreign .pth")
    p.add_argument("--arch", help="architecture of a foreign .pth")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="architecture option of a .pth")
    p.add_argument("--direction", choices=("a2b", "b2a"), help="CycleGAN: which generator (default: a2b)")
    p.add_argument("--mode", choices=MODES, help="fit, tile or native (default: native for eager PyTorch and "
                                                  "size-range artifacts, fit otherwise)")
    p.add_argument("--size", type=int, nargs=2, metavar=("H", "W"),
                   help="eager only: the model size fit and tile use, and the morph's frame size "
                        "(default: the training size)")
    p.add_argument("--overlap", type=int, help="tile: overlap in pixels (default: a quarter of the tile)")
    p.add_argument("--samples", type=int, default=1, help="BicycleGAN: outputs per photo from seeded z (default: 1)")
    p.add_argument("--seed", type=int, default=0, help="BicycleGAN: seed of the z draws (default: 0)")
    p.add_argument("--alpha", type=_floats, help="morph: comma-separated alphas in [0, 1], one frame each")
    p.add_argument("--frames", type=int, help="morph: N frames with alpha evenly from 0 to 1")
    p.add_argument("--animate", type=Path, metavar="FILE.gif|FILE.mp4",
                   help="also write the outputs, in order, as an animated GIF or an MP4 (in --out)")
    p.add_argument("--fps", type=float, default=12.0, help="--animate frame rate (default: 12)")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")


def _options(pairs: list[str]) -> dict[str, Any]:
    from pix2mobile.commands.export import _option

    out = {}
    for text in pairs:
        try:
            key, value = _option(text)
        except argparse.ArgumentTypeError as exc:
            raise ConfigError(f"--option: {exc}") from None
        out[key] = value
    return out


def collect_images(args: list[str]) -> list[Path]:
    """Files, folders (their images, sorted by name) and globs, in the order given; one line for a
    path that does not exist or a glob or folder with no image."""
    from pix2mobile.data.images import IMAGE_SUFFIXES

    found: list[Path] = []
    for arg in args:
        p = Path(arg)
        if p.is_dir():
            inside = sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES)
            if not inside:
                raise ConfigError(f"{p}: a folder with no images ({', '.join(IMAGE_SUFFIXES)})")
            found += inside
        elif p.is_file():
            found.append(p)
        elif any(c in arg for c in "*?["):
            matches = sorted(Path(m) for m in glob.glob(arg) if Path(m).is_file())
            if not matches:
                raise ConfigError(f"{arg}: the pattern matches no file")
            found += matches
        else:
            raise ConfigError(f"{arg}: no such file or folder")
    return found


def _outputs(images: list[Path], out: Path, samples: int, bicycle: bool) -> list[list[Path]]:
    names: dict[Path, Path] = {}
    planned = []
    for img in images:
        stems = ([f"{img.stem}_z{k}" for k in range(samples)] + [f"{img.stem}_grid"]) if bicycle and samples > 1 \
            else [img.stem]
        paths = [out / f"{s}.png" for s in stems]
        for q in paths:
            if q in names:
                raise ConfigError(f"{names[q]} and {img} would both write {q}: rename one, or apply them separately")
            names[q] = img
        planned.append(paths)
    return planned


def run(args: argparse.Namespace) -> int:
    from pix2mobile import files
    from pix2mobile.pipelines.apply import open_model

    if args.size is not None:
        for side in args.size:
            check_side("--size", side)
    if not 1 <= args.samples <= MAX_Z_SAMPLES:
        raise ConfigError(f"--samples must be between 1 and {MAX_Z_SAMPLES}, got {args.samples}")
    if args.frames is not None and not 2 <= args.frames <= MAX_FRAMES:
        raise ConfigError(f"--frames must be between 2 and {MAX_FRAMES}, got {args.frames}")
    if not 0 < args.fps <= 240:
        raise ConfigError(f"--fps must be above 0 and at most 240, got {args.fps}")
    if args.animate is not None and (args.animate.suffix.lower() not in (".gif", ".mp4") or args.animate.name
                                     != str(args.animate)):
        raise ConfigError(f"--animate takes a file name ending .gif or .mp4 (written in --out), got {args.animate}")
    morph = args.alpha is not None or args.frames is not None
    if morph and args.images:
        raise ConfigError("--alpha/--frames render the morph, which takes no photos: drop the image arguments")
    if not morph and not args.images:
        raise ConfigError("give photos, folders or globs to apply (or --alpha/--frames for a morph)")
    images = [] if morph else collect_images(args.images)
    files.check_writable(args.out, "dir")

    model = open_model(args.source, family=args.family, arch=args.arch, options=_options(args.option),
                       format=args.format, precision=args.precision, direction=args.direction,
                       size=tuple(args.size) if args.size else None)
    if args.size is not None and not model.eager:
        raise ConfigError(f"--size applies to eager models; the artifact's size is fixed by its export "
                          f"({model.describe_sizes()})")
    if morph:
        return _run_morph(args, model)
    if model.family == "morph":
        raise ConfigError("the morph takes no photo: render it with --alpha or --frames")
    bicycle = any(s.kind == "latent" for s in model.io.inputs)
    if args.samples > 1 and not bicycle:
        raise ConfigError(f"--samples draws several z; {model.family} has no latent input")
    mode = args.mode or model.default_mode
    if args.overlap is not None and mode != "tile":
        raise ConfigError("--overlap applies to --mode tile")
    overlap = None
    if args.overlap is not None:
        if not 0 <= args.overlap < min(model.size):
            raise ConfigError(f"--overlap must be between 0 and {min(model.size) - 1} (the tile is "
                              f"{model.size[0]}x{model.size[1]}), got {args.overlap}")
        overlap = (args.overlap, args.overlap)
    planned = _outputs(images, args.out, args.samples, bicycle)
    _refuse_existing([q for paths in planned for q in paths] + ([args.out / args.animate] if args.animate else []),
                     args.force)
    return _run_photos(args, model, mode, overlap, images, planned, bicycle)


def _refuse_existing(paths: list[Path], force: bool) -> None:
    if force:
        return
    clash = [q for q in paths if q.exists() or q.is_symlink()]
    if clash:
        more = f" (and {len(clash) - 1} more)" if len(clash) > 1 else ""
        raise ConfigError(f"{clash[0]} already exists{more}; pass --force to overwrite")


def _run_photos(args: argparse.Namespace, model: Any, mode: str, overlap: tuple[int, int] | None,
                images: list[Path], planned: list[list[Path]], bicycle: bool) -> int:
    from pix2mobile import progress
    from pix2mobile.data.images import load_image
    from pix2mobile.pipelines.apply import apply_photo, latents

    zs = latents(model, args.samples, args.seed) if bicycle else [None]
    print(f"{model.label}; mode {mode}" + (f" at {model.size[0]}x{model.size[1]}" if mode != "native" else "")
          + (f"; {len(zs)} z draws from seed {args.seed}" if bicycle else ""))
    written: list[Path] = []
    seconds, megapixels = 0.0, 0.0
    with progress.bar(len(images) * len(zs), "apply", unit="image") as bar:
        for img, paths in zip(images, planned):
            try:
                pixels = np.asarray(load_image(img))
            except ImageError as exc:
                raise ImageError(f"{exc} (nothing written for it; {len(written)} output(s) already written)") from None
            outs = []
            for z in zs:
                t0 = time.perf_counter()
                outs.append(apply_photo(model, pixels, mode, z=z, overlap=overlap))   # type: ignore[arg-type]
                seconds += time.perf_counter() - t0
                megapixels += pixels.shape[0] * pixels.shape[1] / 1e6
                bar.update(1)
            if len(outs) > 1:
                outs.append(_grid([pixels, *outs]))
            for q, out in zip(paths, outs):
                written.append(_save(out, q))
    if args.animate:
        _animate([np.asarray(load_png(q)) for paths in planned for q in paths[:1]], args.out / args.animate, args.fps)
        written.append(args.out / args.animate)
    per_mp = seconds / megapixels if megapixels else 0.0
    print(f"wrote {len(written)} file(s) to {args.out}: {len(images)} photo(s), {seconds:.2f} s of model time "
          f"({per_mp:.2f} s per megapixel)")
    return 0


def _run_morph(args: argparse.Namespace, model: Any) -> int:
    from pix2mobile.pipelines.apply import morph_frames

    if model.family != "morph":
        raise ConfigError(f"--alpha/--frames render a morph; {args.source} holds {model.family}")
    alphas = args.alpha if args.alpha is not None else [i / (args.frames - 1) for i in range(args.frames)]
    paths = [args.out / f"alpha_{a:.4f}.png" for a in alphas] if args.alpha is not None \
        else [args.out / f"frame_{i:04d}.png" for i in range(len(alphas))]
    if len(set(paths)) != len(paths):
        raise ConfigError("--alpha lists the same value twice")
    _refuse_existing(paths + ([args.out / args.animate] if args.animate else []), args.force)
    print(f"{model.label}; {len(alphas)} frame(s) at {model.size[0]}x{model.size[1]}")
    frames = morph_frames(model, alphas)
    for f, q in zip(frames, paths):
        _save(f, q)
    if args.animate:
        _animate(frames, args.out / args.animate, args.fps)
    print(f"wrote {len(paths) + (1 if args.animate else 0)} file(s) to {args.out}")
    return 0


def _grid(images: list[np.ndarray], pad: int = 4) -> np.ndarray:
    """The input and its samples side by side on white."""
    h, w = images[0].shape[:2]
    grid = np.full((h, len(images) * w + (len(images) - 1) * pad, 3), 255, dtype=np.uint8)
    for i, im in enumerate(images):
        grid[:, i * (w + pad):i * (w + pad) + w] = im
    return grid


def _save(pixels: np.ndarray, path: Path) -> Path:
    from PIL import Image

    from pix2mobile.data.images import save_image

    return save_image(Image.fromarray(pixels), path)


def load_png(path: Path) -> Any:
    from PIL import Image

    with Image.open(path) as im:
        return im.convert("RGB")


def _animate(frames: list[np.ndarray], path: Path, fps: float) -> Path:
    """GIF through Pillow, MP4 (H.264) through imageio-ffmpeg's bundled ffmpeg; both written atomically.
    Frames of different sizes (photos of a folder) are padded to the largest on black."""
    from pix2mobile import files

    h = max(f.shape[0] for f in frames)
    w = max(f.shape[1] for f in frames)
    if path.suffix.lower() == ".mp4":
        h, w = h + h % 2, w + w % 2               # H.264 in yuv420p needs even sides
    canvas = []
    for f in frames:
        c = np.zeros((h, w, 3), dtype=np.uint8)
        c[:f.shape[0], :f.shape[1]] = f
        canvas.append(c)
    if path.suffix.lower() == ".gif":
        from PIL import Image

        pics = [Image.fromarray(c) for c in canvas]
        with files.atomic_path(path) as tmp:
            pics[0].save(tmp, format="GIF", save_all=True, append_images=pics[1:], duration=round(1000 / fps), loop=0)
        return path
    try:
        import imageio_ffmpeg
    except ImportError:
        raise ConfigError("writing MP4 needs the imageio-ffmpeg package (pip install imageio-ffmpeg); "
                          "--animate NAME.gif needs nothing more") from None
    with files.atomic_path(path) as tmp:
        writer = imageio_ffmpeg.write_frames(str(tmp), (w, h), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                                             macro_block_size=2, ffmpeg_log_level="error")
        writer.send(None)
        for c in canvas:
            writer.send(np.ascontiguousarray(c))
        writer.close()
    return path
