"""Fixtures of the Android tests: the core jar `make android-core` built, and real exports of every family.

The Kotlin core is built by `make android-core` (android_demo/tools/build_core.sh) into
android_demo/core/build/. When it or its toolchain is missing these tests skip with one line,
and fail under CI=true (as CI runs), so a broken toolchain install cannot pass silently.

Exports: every family lightly trained (10 steps: the tests compare implementations of the same
arithmetic, not picture quality) and exported to .ptl (NCHW, fast), plus .tflite (NHWC) for fast
style and the morph, so both layouts go through the jar and through `pix2mobile bundle`. .pte is
left out here for time (its export takes ~50 s); tests/export covers it.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from android_env import CORE_JAR, REPORT, ROOT, need


def pytest_terminal_summary(terminalreporter) -> None:
    for line in REPORT:
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def java() -> str:
    exe = shutil.which("java")
    need(exe is not None, "no java on PATH: the Kotlin core cannot run")
    return str(exe)


@pytest.fixture(scope="session")
def core_jar(java) -> Path:
    need(CORE_JAR.is_file(), f"{CORE_JAR.relative_to(ROOT)} is not built")
    return CORE_JAR


@pytest.fixture(scope="session")
def jar(core_jar, java):
    """Run the core's command-line tool: jar(*args) -> CompletedProcess (text)."""
    def run(*args: object, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([java, "-jar", str(core_jar), *map(str, args)], capture_output=True, text=True,
                              timeout=300)
        if check and proc.returncode != 0:
            raise AssertionError(f"jar {' '.join(map(str, args))} exited {proc.returncode}:\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc
    return run


@dataclass(frozen=True)
class Export:
    family: str
    folder: Path          # the folder holding manifest.json
    formats: tuple[str, ...]


def _export(run: Path, out: Path, formats: str, direction: str | None = None) -> None:
    from pix2mobile.cli import main

    argv = ["-q", "export", str(run), "--formats", formats, "--out", str(out), "--samples", "1"]
    if direction:
        argv += ["--direction", direction]
    assert main(argv) == 0, f"export of {run} failed"


@pytest.fixture(scope="session")
def exports(tmp_path_factory) -> dict[str, Export]:
    """fast_style, cyclegan-a2b, cyclegan-b2a, bicyclegan, morph: real exports, once per session."""
    from apply_runs import make_run

    root = tmp_path_factory.mktemp("android_exports")
    out: dict[str, Export] = {}
    plan = {"fast_style": "tflite,ptl", "cyclegan": "ptl", "bicyclegan": "ptl", "morph": "tflite,ptl"}
    for family, formats in plan.items():
        run = make_run(root / "runs", family, steps=10)
        target = root / family
        _export(run, target, formats, "both" if family == "cyclegan" else None)
        if family == "cyclegan":
            for d in ("a2b", "b2a"):
                out[f"cyclegan-{d}"] = Export("cyclegan", target / d, tuple(formats.split(",")))
        else:
            out[family] = Export(family, target, tuple(formats.split(",")))
    return out
