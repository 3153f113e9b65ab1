"""The `pix2mobile` command: one entry point, one subcommand per pipeline stage.

Bad input (any `Pix2MobileError`) is one line on stderr and exit code 2, with nothing
half-written. So is an OS error (a full disk, a read-only or missing mount, permission denied,
a file where a folder should be): the machine, not pix2mobile, refused, and the user can act on
one line naming the path (-v adds the traceback). Any other exception is a bug and keeps its
traceback (exit 1).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass
from typing import Callable, Sequence

from pix2mobile import __version__
from pix2mobile.commands import apply, bench, bundle, demo, export, info, morph, nst, quantize, serve, train
from pix2mobile.errors import Pix2MobileError

log = logging.getLogger("pix2mobile.cli")


@dataclass(frozen=True)
class Command:
    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    tail: str | None = None
    """A `nargs="*"` positional that may also follow options (`apply SRC --format onnx a.jpg b.jpg`):
    argparse fills such a list at its first position only, so main() appends the later ones."""


COMMANDS: dict[str, Command] = {
    "train": Command(train.HELP, train.__doc__ or "", train.add_arguments, train.run),
    "morph": Command(morph.HELP, morph.__doc__ or "", morph.add_arguments, morph.run),
    "nst": Command(nst.HELP, nst.__doc__ or "", nst.add_arguments, nst.run),
    "export": Command(export.HELP, export.__doc__ or "", export.add_arguments, export.run),
    "info": Command(info.HELP, info.__doc__ or "", info.add_arguments, info.run),
    "apply": Command(apply.HELP, apply.__doc__ or "", apply.add_arguments, apply.run, tail="images"),
    "bundle": Command(bundle.HELP, bundle.__doc__ or "", bundle.add_arguments, bundle.run),
    "quantize": Command(quantize.HELP, quantize.__doc__ or "", quantize.add_arguments, quantize.run),
    "bench": Command(bench.HELP, bench.__doc__ or "", bench.add_arguments, bench.run),
    "demo": Command(demo.HELP, demo.__doc__ or "", demo.add_arguments, demo.run),
    "serve": Command(serve.HELP, serve.__doc__ or "", serve.add_arguments, serve.run),
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


HARMLESS = (
    "libcoremlpython",                          # Core ML's runtime exists only on macOS; we convert, never predict
    "Maximum required version",                 # coremltools' scikit-learn converter, which we do not use
    "has not been tested with coremltools",     # torch 2.13 is pinned; tests convert and verify every artifact
    "torchao/_C",                               # CUDA kernels of torchao, absent from a CPU install
    "Detected no triton",
    "torchvision is not installed",             # by design (see models/vgg.py); ONNX only skips its ops
    "is an Enum subclass",                      # torch's own deprecation notes about torch internals
    "isinstance(treespec, LeafSpec)",
    "experimental_preserve_all_tensors",        # ai-edge-quantizer's calibrator needs every tensor kept
)
"""Third-party warnings every run prints on a CPU Linux machine and no user can act on: shown with -v only."""


class _DropHarmless(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in HARMLESS)


def _configure_logging(verbose: bool, quiet: bool) -> None:
    """Our INFO and everyone's warnings; converters log a lot at INFO (litert-torch on the root logger)."""
    ours = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)   # no-op if set up
    logging.getLogger().setLevel(logging.DEBUG if verbose else logging.WARNING)
    logging.getLogger("pix2mobile").setLevel(ours)
    if not verbose:
        logging.captureWarnings(True)       # warnings.warn() as records, so the filter sees them too
        for name in ("", "torch"):          # torch logs through a handler of its own
            for handler in logging.getLogger(name).handlers:
                handler.addFilter(_DropHarmless())
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")    # litert's C++ INFO lines (op counts)
        # torch's loggers get their own handlers on import, later than this: quiet the one that nags
        logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)


def describe_os_error(exc: OSError) -> str:
    """`cannot use <path>: <strerror>` on one line, from whatever the OS said."""
    reason = exc.strerror or " ".join(str(exc).split()) or type(exc).__name__
    if exc.filename is None:
        return f"{reason} (errno {exc.errno})"
    where = f"{exc.filename} -> {exc.filename2}" if exc.filename2 is not None else f"{exc.filename}"
    return f"cannot use {where}: {reason}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    tail = COMMANDS[args.command].tail
    if extras:
        if tail is None or any(e.startswith("-") for e in extras):
            parser.error(f"unrecognized arguments: {' '.join(extras)}")
        setattr(args, tail, [*getattr(args, tail), *extras])
    _configure_logging(args.verbose, args.quiet)
    try:
        return int(args._run(args) or 0)
    except Pix2MobileError as exc:
        print(f"pix2mobile {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno is None:       # raised by a library about its own input, not by the OS: a bug
            raise
        log.debug("OS error", exc_info=True)
        print(f"pix2mobile {args.command}: error: {describe_os_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pix2mobile {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
