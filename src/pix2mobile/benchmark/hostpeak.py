"""This host's measured fp32 peak: one large square matrix product, timed, best of a few.

An artifact's achieved GFLOP/s (2 x MACs / latency) is reported as a fraction of this number,
measured in the same process, with the same thread count, as the artifact timings. It is a
practical peak (what the BLAS behind torch reaches), not the CPU's theoretical one.
"""

from __future__ import annotations

import time
from typing import Any


def measure_peak(n: int = 1024, threads: int | None = None, repeats: int = 5) -> dict[str, Any]:
    """Time an n x n fp32 matrix product `repeats` times after one warm-up; the fastest decides."""
    try:
        import torch
        have_torch = True
    except ImportError:   # numpy's BLAS stands in
        have_torch = False
    if have_torch:
        if threads is not None:
            torch.set_num_threads(threads)
        gen = torch.Generator().manual_seed(0)
        a = torch.rand((n, n), generator=gen)
        b = torch.rand((n, n), generator=gen)
        method = f"torch.mm fp32 {n}x{n} (torch {torch.__version__}, {torch.get_num_threads()} threads)"

        def product() -> Any:
            return torch.mm(a, b)
    else:
        import numpy as np

        rng = np.random.default_rng(0)
        a_np, b_np = (rng.random((n, n), dtype=np.float32) for _ in range(2))
        method = f"numpy.matmul fp32 {n}x{n}"

        def product() -> Any:
            return a_np @ b_np
    product()
    best = float("inf")
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        product()
        best = min(best, time.perf_counter() - t0)
    flops = 2.0 * n ** 3
    return {"gflops": flops / best / 1e9, "n": n, "seconds": best, "repeats": repeats, "method": method}
