"""The page's JavaScript contract (static/contract.js) against tests/golden/, under Node's test runner.

tests/web/contract.test.mjs holds every golden case: tensors bit-equal, pixels equal, plans equal.
This runs it so `make test` (and CI) does; without Node it skips, and with CI=true it fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def test_contract_js_reproduces_the_golden_vectors(capsys):
    node = shutil.which("node")
    if node is None:
        reason = "Node.js is not installed (the page's contract test runs under `node --test`)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: it must run)")
        pytest.skip(reason)
    proc = subprocess.run([node, "--test", "--test-reporter=tap", str(HERE / "contract.test.mjs")],
                          capture_output=True, text=True, timeout=300, cwd=HERE.parents[1])
    out = proc.stdout + proc.stderr
    passed = re.search(r"^# pass (\d+)$", out, re.M)
    failed = re.search(r"^# fail (\d+)$", out, re.M)
    assert passed and failed, out[-3000:]
    with capsys.disabled():
        print(f"\ncontract.js under node --test: {passed[1]} passed, {failed[1]} failed")
    assert proc.returncode == 0 and int(failed[1]) == 0, out[-6000:]
    assert int(passed[1]) >= 16, out[-3000:]
