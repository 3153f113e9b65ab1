"""Paths and the skip-or-fail rule of the Android tests (tests/android/conftest.py holds the fixtures)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ANDROID = ROOT / "android_demo"
CORE_JAR = ANDROID / "core" / "build" / "pix2mobile-core.jar"
TEST_CLASSES = ANDROID / "core" / "build" / "test-classes"
JUNIT = Path("/usr/share/java/junit-platform-console-standalone.jar")
KTLINT = ANDROID / "build" / "toolchain" / "node_modules" / ".bin" / "ktlint"
GOLDEN = ROOT / "tests" / "golden"

sys.path.insert(0, str(ROOT / "tests" / "apply"))

REPORT: list[str] = []
"""Lines the Android tests print after pytest's summary (JUnit's own count, largest pixel differences)."""


def need(ok: bool, what: str) -> None:
    """Skip with one line when a toolchain piece is missing; fail under CI=true."""
    if ok:
        return
    msg = f"{what}; run `make android-core` (android_demo/tools/build_core.sh)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {msg}", pytrace=False)
    pytest.skip(msg)
