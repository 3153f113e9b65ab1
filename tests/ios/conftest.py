"""The iOS core under test: the Swift toolchain, the built `pix2mobile-core`, small Core ML exports.

`swift` comes from PATH. On our Linux machines it is the wrapper `ios_demo/tools/swift-chroot.sh
provision` writes (Swift 6.0.3 in a Debian 13 chroot); beside it, `swift-chroot-exec` runs the
built program inside the same chroot (it links the chroot's Swift runtime and glibc). With a
native toolchain (a Mac, or Linux with Swift installed) the program runs directly.

Without swift the tests skip with one line, except under CI=true, where a missing toolchain fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "ios_demo" / "Pix2MobileCore"
HOW = "ios_demo/tools/swift-chroot.sh provision makes one (ios_demo/README.md)"
BUILD_TIMEOUT_S = 900


def missing(reason: str) -> None:
    """Skip (a developer's machine without the toolchain) or fail (CI must run these)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI=true requires it", pytrace=False)
    pytest.skip(reason)


@dataclass(frozen=True)
class Swift:
    swift: str
    prefix: tuple[str, ...]       # how to run a built program: () natively, (swift-chroot-exec,) in the chroot

    def run(self, args: list[str], cwd: Path, timeout: float = BUILD_TIMEOUT_S) -> subprocess.CompletedProcess:
        return subprocess.run([self.swift, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def swift() -> Swift:
    exe = shutil.which("swift")
    if exe is None:
        missing(f"swift is not on PATH: {HOW}")
    beside = Path(exe).parent / "swift-chroot-exec"
    return Swift(exe, (str(beside),) if beside.is_file() else ())


Core = Callable[..., subprocess.CompletedProcess]


@pytest.fixture(scope="session")
def core(swift: Swift) -> Core:
    """`core(*args)` runs the built pix2mobile-core (building it first, incrementally)."""
    built = swift.run(["build", "--product", "pix2mobile-core"], PACKAGE)
    if built.returncode != 0:
        pytest.fail(f"swift build failed:\n{built.stdout[-4000:]}\n{built.stderr[-4000:]}", pytrace=False)
    where = swift.run(["build", "--show-bin-path"], PACKAGE, timeout=120)
    exe = Path(where.stdout.strip().splitlines()[-1]) / "pix2mobile-core"
    if not exe.is_file():
        pytest.fail(f"swift build made no {exe}", pytrace=False)

    def run(*args: object) -> subprocess.CompletedProcess:
        return subprocess.run([*swift.prefix, str(exe), *map(str, args)], cwd=REPO, capture_output=True,
                              text=True, timeout=300)
    return run


# ------------------------------------------------------------------------------ exports

# One export per family, covering both Core ML formats and both I/O styles the manifest can say:
# image I/O (raw 0..255 pixels, color_layout RGB: export's default) and tensor I/O (the model's range).
EXPORTS = {
    "fast_style": ("mlpackage", True),      # pixels in, pixels out
    "cyclegan": ("mlmodel", False),         # [-1, 1] tensors in and out (the a2b generator)
    "bicyclegan": ("mlmodel", True),        # pixels and a latent z in, pixels out
    "morph": ("mlpackage", False),          # a scalar alpha in, a [0, 1] tensor out
}


@dataclass(frozen=True)
class Export:
    family: str
    folder: Path
    format: str


@pytest.fixture(scope="session")
def ios_exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Export]:
    """Lightly trained runs of every family (30 steps: outputs with the structure of photos), each exported to
    one Core ML file, fp32, one parity sample (the gate still runs)."""
    sys.path.insert(0, str(REPO / "tests" / "apply"))
    from apply_runs import make_run  # noqa: E402

    from pix2mobile.convert.common import ExportOptions
    from pix2mobile.models.loading import load_generator
    from pix2mobile.pipelines.export import export_model

    root = tmp_path_factory.mktemp("ios_exports")
    out = {}
    for family, (fmt, image_io) in EXPORTS.items():
        run = make_run(root / "runs", family, steps=30)
        loaded = load_generator(run, direction="a2b" if family == "cyclegan" else None)
        size = tuple(loaded.meta.get("training", {}).get("size_hw", (64, 64)))
        folder = root / "exports" / family
        manifest = export_model(loaded.generator, loaded.spec, size, [fmt], folder, options=loaded.options,
                                precisions={fmt: ["fp32"]}, export_options=ExportOptions(image_io=image_io),
                                checkpoint=run, checkpoint_sha256=loaded.sha256, direction=loaded.direction,
                                samples=1)
        assert manifest.ok, [a.reason for a in manifest.artifacts]
        out[family] = Export(family, folder, fmt)
    return out


@pytest.fixture(scope="session")
def odd_photo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """A real photo (scikit-learn's china.jpg) at an odd size, 301 x 227, as the .npy the core reads."""
    import numpy as np

    sys.path.insert(0, str(REPO / "tests" / "apply"))
    from apply_runs import photo  # noqa: E402

    pixels = photo((301, 227))
    path = tmp_path_factory.mktemp("ios_photo") / "photo.npy"
    np.save(path, pixels)
    return path, pixels
