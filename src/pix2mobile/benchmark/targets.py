"""How a benchmark script ends: every number as JSON (when asked), a line per missed target, exit 1 if any.

The scripts (`quant_speed`, `mobile_graphs`, `coreml_fp16`) hold their targets as options and print
ratios; a target is a line on stderr, never a timed test.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence


def finish(json_path: Path | None, payload: Mapping[str, Any], misses: Sequence[str]) -> int:
    """Write `payload` (plus the misses) to `json_path` when given, print each miss; the exit code."""
    if json_path:
        from pix2mobile.files import write_json

        write_json(json_path, {**payload, "misses": list(misses)})
    for miss in misses:
        print(f"target missed: {miss}", file=sys.stderr)
    return 1 if misses else 0


def reexec_passive(module: str) -> None:
    """Re-execute `python -m module` with OMP_WAIT_POLICY=PASSIVE unless it is set: OpenMP reads it when torch
    loads, and a spinning pool would steal the CPU from the runtime timed next."""
    if os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE":
        env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
        os.execve(sys.executable, [sys.executable, "-m", module, *sys.argv[1:]], env)
