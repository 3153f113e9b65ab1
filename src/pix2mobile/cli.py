"""The `pix2mobile` command: one entry point, one subcommand per pipeline stage.

Bad input (any `Pix2MobileError`) is one line on stderr and exit code 2, with nothing
half-written; any other exception is a bug and keeps its traceback (exit 1).
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from typing import Callable, Sequence

from . import __version__
from .commands import bench, demo, export, info, morph, nst, quantize, train
from .errors import Pix2MobileError


@dataclass(frozen=True)
class Command:
    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS: dict[str, Command] = {
    "train": Command(train.HELP, train.__doc__ or "", train.add_arguments, train.run),
    "morph": Command(morph.HELP, morph.__doc__ or "", morph.add_arguments, morph.run),
    "nst": Command(nst.HELP, nst.__doc__ or "", nst.add_arguments, nst.run),
    "export": Command(export.HELP, export.__doc__ or "", export.add_arguments, export.run),
    "info": Command(info.HELP, info.__doc__ or "", info.add_arguments, info.run),
    "quantize": Command(quantize.HELP, quantize.__doc__ or "", quantize.add_arguments, quantize.run),
    "bench": Command(bench.HELP, bench.__doc__ or "", bench.add_arguments, bench.run),
    "demo": Command(demo.HELP, demo.__doc__ or "", demo.add_arguments, demo.run),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pix2mobile",
        description="Train image-to-image generators, export them to phones, and prove each artifact "
                    "computes what the PyTorch model computes.")
    parser.add_argument("--version", action="version", version=f"pix2mobile {__version__}")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    verbosity.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, cmd in COMMANDS.items():
        p = sub.add_parser(name, help=cmd.help, description=cmd.description,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        cmd.add_arguments(p)
        p.set_defaults(_run=cmd.run)
    return parser


def _configure_logging(verbose: bool, quiet: bool) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # Converters log a lot at INFO; keep our own INFO and their warnings.
    for noisy in ("absl", "coremltools", "torch", "onnxscript", "executorch", "tensorflow", "jax"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose, args.quiet)
    try:
        return int(args._run(args) or 0)
    except Pix2MobileError as exc:
        print(f"pix2mobile {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pix2mobile {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
