"""The one family of user-facing errors.

`cli.main` turns any `Pix2MobileError` into one line on stderr and exit code 2; every other
exception is a bug and keeps its traceback. Messages say what went wrong *and* what to do next.
"""

from __future__ import annotations


class Pix2MobileError(Exception):
    """Bad input or environment: reported to the user as one line, exit code 2."""


class ConfigError(Pix2MobileError):
    """An option or combination of options that cannot work."""


class ImageError(Pix2MobileError):
    """An image file that cannot be used (missing, corrupt, truncated, too large, not an image)."""


class DataError(Pix2MobileError):
    """A dataset that cannot be trained on (empty folder, mixed modes, wrong layout)."""


class OutputError(Pix2MobileError):
    """An output path that cannot be written: read-only, full, permission denied, not a directory."""


class CheckpointError(Pix2MobileError):
    """A checkpoint or state dict that is unsafe or does not fit the architecture."""


class WeightsNotFoundError(Pix2MobileError):
    """Pretrained weights that are not on this machine."""


class MissingDependencyError(Pix2MobileError):
    """An optional package a command needs is not installed."""

    def __init__(self, package: str, purpose: str):
        super().__init__(f"{purpose} needs the package '{package}', which is not installed: "
                         f"run `make venv` (or pip install {package}) and try again")
        self.package = package


class ExportError(Pix2MobileError):
    """A converter failed on a model."""


class VerificationError(Pix2MobileError):
    """An artifact does not compute what the PyTorch model computes."""


class TrainingError(Pix2MobileError):
    """Training cannot go on (a NaN loss, say); the last good checkpoint is kept."""
