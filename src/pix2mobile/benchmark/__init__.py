"""pix2mobile.benchmark: measure an export against eager PyTorch, the desktop references and (optionally) a phone.

    from pix2mobile.benchmark import BenchConfig, run_bench
    report = run_bench("runs/export", "runs/bench", BenchConfig(checkpoint="runs/style", runs=50))

`run_bench` reads only the export's `manifest.json` (and the files it lists) and writes
`report.json` (every number), `report.md` (one table) and PNG plots. Modules:

- `config.py`: `BenchConfig`, the flags of `pix2mobile bench`.
- `run.py`: `run_bench`, the recipe. `host.py`: status and parity of each artifact.
- `latency.py`, `memory.py`, `hostpeak.py`: timing (round-robin, in a child with OMP_WAIT_POLICY=PASSIVE,
  through each format row's `timing` opener), peak memory (a child per artifact), the host's peak GFLOP/s.
- `eager.py`: the eager baseline rebuilt from manifest + checkpoint.
- `references.py`: runs and plots the desktop reference each family declares (`pix2mobile.families`:
  Gatys NST, the desktop morph, BicycleGAN diversity). `report.py`, `plots.py`.
- `device/`: adb scripts for benchmark_model / executor_runner / speed_benchmark_torch and parsers.
- `train_throughput.py`: training-step throughput (a separate tool).

Names are imported lazily, so `python -m pix2mobile.benchmark.memory` (a child that must import
only one runtime) does not pull in torch through this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pix2mobile.benchmark.config import BenchConfig
    from pix2mobile.benchmark.report import Report, Row
    from pix2mobile.benchmark.run import run_bench

__all__ = ["BenchConfig", "Report", "Row", "run_bench", "evaluate_gate"]

_LAZY = {"BenchConfig": "config", "Report": "report", "Row": "report", "evaluate_gate": "report", "run_bench": "run"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
