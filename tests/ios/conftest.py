"""Fixtures of the iOS core's tests: the Swift toolchain, the built `pix2mobile-core`, small Core ML
exports of every family and a real photo of odd size (see ios_toolchain.py for how swift is found)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from ios_toolchain import PACKAGE, REPO, Swift, find_swift


@pytest.fixture(scope="session")
def swift() -> Swift:
    return find_swift()


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
