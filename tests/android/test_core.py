"""The Kotlin core's JUnit tests (android_demo/core/src/test): golden vectors of docs/preprocessing.md,
manifests of every family, the pipeline around a fake runtime, latency statistics, PSNR, the self-test.

`make android-core` compiles them; this runs them with the JUnit 5 launcher and reports the
runner's own `N passed, N failed` line."""

from __future__ import annotations

import re
import subprocess

from android_env import GOLDEN, JUNIT, REPORT, TEST_CLASSES, need


def test_core_junit(core_jar, java):
    need(JUNIT.is_file(), f"JUnit 5 is not installed ({JUNIT}; Debian junit5)")
    need((TEST_CLASSES / ".built").is_file(), "the core's test classes are not built")
    cp = ":".join(map(str, [core_jar, TEST_CLASSES, JUNIT]))
    proc = subprocess.run([java, f"-Dpix2mobile.golden={GOLDEN}", "-cp", cp, "pix2mobile.core.RunTestsKt"],
                          capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    summary = re.search(r"^(\d+) passed, (\d+) failed.*$", out, re.M)
    assert summary is not None, f"no summary from the JUnit runner:\n{out}"
    diff = re.search(r"largest result difference .*$", out, re.M)
    REPORT.append(f"android core JUnit: {summary.group(0)}" + (f" ({diff.group(0)})" if diff else ""))
    assert proc.returncode == 0 and summary.group(2) == "0", out
    assert int(summary.group(1)) >= 20, out
