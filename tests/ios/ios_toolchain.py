"""The Swift toolchain the iOS tests use (shared by conftest.py and the test modules).

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
from dataclasses import dataclass
from pathlib import Path

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


def find_swift() -> Swift:
    """`swift` on PATH (skips or fails without it); runs built programs through the chroot when the
    wrapper's `swift-chroot-exec` sits beside it."""
    exe = shutil.which("swift")
    if exe is None:
        missing(f"swift is not on PATH: {HOW}")
        raise AssertionError("unreachable")
    beside = Path(exe).parent / "swift-chroot-exec"
    return Swift(exe, (str(beside),) if beside.is_file() else ())
