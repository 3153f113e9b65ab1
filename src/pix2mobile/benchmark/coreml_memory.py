"""Peak memory of the numpy Core ML evaluator (`runtimes.coreml_eval`) on johnson at real sizes.

Verification of a `.mlpackage`/`.mlmodel` on Linux runs the whole network in numpy, so its memory
is what decides whether `pix2mobile export` works at 1024^2 on a laptop. For each size, johnson
(`fast_style/johnson`, random init: memory does not depend on the weights' values) is exported
as `.mlpackage` fp16 and `.mlmodel` fp32; then a fresh child process imports the evaluator,
reads the model once and evaluates one image, and reports its `VmHWM` (peak resident set of
its own address space, see `memory.py`), its resident size once coremltools is imported but
before the model is read (coremltools imports torch: a few hundred MB of any peak), and the
seconds reading and evaluating took.

    python -m pix2mobile.benchmark.coreml_memory [--sizes 256 512 1024] [--formats mlpackage mlmodel]

Measured (2-core host shared with other jobs, so seconds are loose): peak MB at 256/512/1024^2,
.mlpackage fp16 593/732/1465, .mlmodel fp32 600/791/1567, of which 492 is Python with
coremltools and torch imported; evaluation 7/12/41 s and 4/9/30 s. The evaluator before tiled
convolution and dropping dead tensors peaked at 1478 MB at 256^2 and 4148 MB at 512^2
(.mlpackage fp16).
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

log = logging.getLogger(__name__)
PRECISION = {"mlpackage": "fp16", "mlmodel": "fp32"}


@dataclass(frozen=True)
class EvalMemory:
    size: int
    format: str
    precision: str
    peak_mb: float
    baseline_mb: float
    load_s: float
    predict_s: float


def export_johnson(size: int, fmt: str, out_dir: Path) -> Path:
    """johnson at size x size as `fmt` (mlpackage fp16 or mlmodel fp32) under `out_dir`."""
    import torch

    from pix2mobile.convert.common import ExportOptions
    from pix2mobile.convert.formats import FORMATS
    from pix2mobile.models import get_variant

    spec = get_variant("fast_style", "johnson")
    torch.manual_seed(0)
    module = spec.exportable(spec.create().eval(), (size, size)).eval()
    x = torch.rand(1, 3, size, size) * 255
    path = out_dir / f"johnson_{size}_{PRECISION[fmt]}{FORMATS[fmt].suffix}"
    FORMATS[fmt].export_fn(module, (x,), spec.io, path, ExportOptions(precision=PRECISION[fmt]))
    return path


def measure(path: Path, size: int, fmt: str, timeout_s: float = 1800) -> EvalMemory:
    """Evaluate `path` once in a fresh child process; its peak memory and times."""
    proc = subprocess.run([sys.executable, "-m", "pix2mobile.benchmark.coreml_memory", "--child", str(path),
                           str(size)], capture_output=True, text=True, timeout=timeout_s, check=False)
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        raise RuntimeError(f"evaluator child failed on {path.name} (exit code {proc.returncode}): {tail}")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return EvalMemory(size=size, format=fmt, precision=PRECISION[fmt], **data)


def _child(path: str, size: int) -> int:
    import coremltools  # noqa: F401  (in the baseline: the evaluator needs it for any model)
    import numpy as np

    from pix2mobile.benchmark.memory import _now_mb, _peak_mb
    from pix2mobile.runtimes.coreml_eval.evaluator import CoreMLModel

    pixels = np.random.default_rng(0).integers(0, 256, (1, 3, size, size)).astype(np.uint8)
    baseline = _now_mb()
    t0 = time.perf_counter()
    model = CoreMLModel(path)
    t1 = time.perf_counter()
    (name,) = [f["name"] for f in model.describe()["inputs"]]
    model.predict({name: pixels})
    t2 = time.perf_counter()
    peak, _ = _peak_mb()
    print(json.dumps({"peak_mb": round(peak, 1), "baseline_mb": round(baseline, 1), "load_s": round(t1 - t0, 2),
                      "predict_s": round(t2 - t1, 2)}))
    return 0


def run(sizes: Sequence[int], formats: Sequence[str], work: Path) -> list[EvalMemory]:
    rows = []
    for size in sizes:
        for fmt in formats:
            path = export_johnson(size, fmt, work)
            rows.append(measure(path, size, fmt))
            print(_row(rows[-1]), flush=True)
    return rows


def _row(r: EvalMemory) -> str:
    return (f"{r.size:>5}  {r.format:<10} {r.precision:<5} {r.peak_mb:>8.0f} {r.baseline_mb:>8.0f} "
            f"{r.load_s:>7.2f} {r.predict_s:>8.2f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024], help="square image sizes")
    parser.add_argument("--formats", nargs="+", default=list(PRECISION), choices=list(PRECISION))
    parser.add_argument("--workdir", type=Path, default=None, help="where to export (default: a temporary folder)")
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args.child[0], int(args.child[1]))
    logging.basicConfig(level=logging.WARNING)
    print(f"{'size':>5}  {'format':<10} {'prec':<5} {'peak MB':>8} {'base MB':>8} {'load s':>7} {'eval s':>8}")
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        run(args.sizes, args.formats, args.workdir)
    else:
        with tempfile.TemporaryDirectory(prefix="coreml_memory_") as tmp:
            run(args.sizes, args.formats, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
