"""A torchrun worker for the tests: `pix2mobile ARGS`, optionally in float64, optionally with
one fault injected on one rank.

    torchrun ... tests/train/ddp_worker.py [--float64] [KIND RANK STEP] -- ARGS...

--float64 trains in double precision (see `use_float64`). KIND is `nan` (the losses of step
STEP are NaN on RANK), `sigint` (RANK sends itself SIGINT during step STEP, as a Ctrl-C that
reached one worker), or `badbatch` (RANK's batch for step STEP fails to load with a DataError,
as a corrupt image would). The other ranks run unpatched, so the test sees whether they stop
with it. The library has no test hooks: this script patches.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any, Callable

import torch

from pix2mobile import cli
from pix2mobile.errors import DataError
from pix2mobile.train import bicyclegan, cyclegan, data, fast_style, morph
from pix2mobile.train.accel import Accel
from pix2mobile.train.image_pool import ImagePool

MODELS = (fast_style.FastStyleModel, cyclegan.CycleGANModel, bicyclegan.BicycleGANModel, morph.MorphModel)


def main() -> int:
    split = sys.argv.index("--")
    ours, args = sys.argv[1:split], sys.argv[split + 1:]
    if ours[:1] == ["--float64"]:
        use_float64()
        ours = ours[1:]
    if ours:
        kind, rank, step = ours[0], int(ours[1]), int(ours[2])
        if int(os.environ["RANK"]) == rank:
            inject(kind, step)
    return cli.main(args)


def use_float64(setattr: Callable[[Any, str, Any], None] = setattr) -> None:
    """Networks, optimisers and batches in float64 (the loss terms that call .float() stay fp32).

    In float32, rounding noise in a gradient element near zero becomes a full +-lr step under
    Adam (which divides by the gradient's own size), so two correct runs that sum in different
    orders part after a step or two; in float64 that noise is 1e-16 and the weights of the two
    runs can be compared at float tolerance. `setattr`: pytest's monkeypatch.setattr in-process.
    """
    torch.set_default_dtype(torch.float64)
    batch, query = Accel.batch, ImagePool.query

    def double_batch(self: Accel, obj: Any) -> Any:
        return _double(batch(self, obj))

    def pooled(self: ImagePool, images: torch.Tensor) -> torch.Tensor:    # the pool keeps float32 images
        return query(self, images).to(images.dtype)
    setattr(Accel, "batch", double_batch)
    setattr(ImagePool, "query", pooled)


def _double(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.double() if obj.is_floating_point() else obj
    if isinstance(obj, dict):
        return {k: _double(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_double(v) for v in obj)
    return obj


def inject(kind: str, at: int) -> None:
    calls = {"optimize": 0, "next": 0}
    if kind in ("nan", "sigint"):
        for cls in MODELS:
            original = cls.optimize

            def optimize(self: Any, _original: Any = original) -> dict[str, float]:
                losses = _original(self)
                calls["optimize"] += 1
                if calls["optimize"] == at:
                    if kind == "sigint":
                        os.kill(os.getpid(), signal.SIGINT)
                    else:
                        losses = {k: float("nan") for k in losses}
                return losses
            cls.optimize = optimize  # type: ignore[method-assign]
    elif kind == "badbatch":
        for source in (data.SeededBatches, data.Repeat):
            original_next = source.__next__

            def next_batch(self: Any, _original: Any = original_next) -> Any:
                calls["next"] += 1
                if calls["next"] == at:
                    raise DataError("cannot read images/07.png: truncated file (injected on this rank)")
                return _original(self)
            source.__next__ = next_batch  # type: ignore[method-assign]
    else:
        raise SystemExit(f"unknown fault {kind}")


if __name__ == "__main__":
    sys.exit(main())
