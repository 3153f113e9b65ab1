"""Session fixtures of the apply tests: run directories of every family, exports, a real photo."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from apply_runs import make_run, write_photo  # noqa: E402


@pytest.fixture(scope="session")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("apply_runs")
    return {name: make_run(root, name, steps=40 if name == "cyclegan" else 60)
            for name in ("fast_style", "cyclegan", "bicyclegan", "morph")}


@pytest.fixture(scope="session")
def photo_file(tmp_path_factory) -> Path:
    """A real photo, non-square and much larger than the 64-px models: 1500 x 1000."""
    return write_photo(tmp_path_factory.mktemp("photo") / "china.png", (1500, 1000))


@pytest.fixture(scope="session")
def exports(runs, tmp_path_factory) -> dict[str, Path]:
    """fast_style in every format; the CycleGAN (both directions), BicycleGAN and morph in onnx."""
    from pix2mobile import cli

    root = tmp_path_factory.mktemp("apply_exports")
    out = {}
    for name, formats in (("fast_style", "ptl,tflite,mlpackage,mlmodel,onnx,pte"), ("cyclegan", "onnx,tflite"),
                          ("bicyclegan", "onnx"), ("morph", "onnx")):
        argv = ["-q", "export", str(runs[name]), "--out", str(root / name), "--formats", formats]
        if name == "fast_style":
            argv += ["--precision", "fp32"]
        assert cli.main(argv) == 0, name
        out[name] = root / name
    return out
