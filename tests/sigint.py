"""Run `python -m pix2mobile ...` in a child, send it a real SIGINT once a file appears, return its exit code."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def interrupt_when(argv: list[str], appears: Path, timeout: float = 240.0) -> tuple[int, str]:
    """Start `pix2mobile argv`; when `appears` exists, SIGINT it; (exit code, stderr)."""
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1"}
    # A shell starts background jobs with SIGINT ignored, and a child inherits that: Python then keeps
    # ignoring it (no KeyboardInterrupt at all). Give the child the default, as a terminal would.
    proc = subprocess.Popen([sys.executable, "-m", "pix2mobile", "-q", *argv], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + timeout
        while not appears.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{appears.name} never appeared (exit {proc.poll()}): {proc.stderr.read()}")
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        return proc.returncode, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
