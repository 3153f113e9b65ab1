"""Each family against its desktop reference: run the `Reference` its `Family` declares
(`pix2mobile.families`: fast style vs Gatys NST, the exported morph vs the desktop morph,
BicycleGAN's diversity over z; CycleGAN has none) and draw its plot.

Runners take a tuple of NCHW tensors in the IOSpec's ranges and return outputs the same way
(`FORMATS[fmt].runner_fn`, or `eager_runner` for the PyTorch module), so every artifact and the
eager baseline are measured by the same code. What each reference measures is documented in its
family's module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from pix2mobile.families import FAMILIES, ReferenceInputs
from pix2mobile.families.family import Runner, skipped
from pix2mobile.models.spec import IOSpec


def eager_runner(module: torch.nn.Module) -> Runner:
    from pix2mobile.runtimes.common import to_numpy

    def run(inputs: Sequence[torch.Tensor]) -> list[np.ndarray]:
        with torch.no_grad():
            out = module(*inputs)
        return [to_numpy(y) for y in (out if isinstance(out, (list, tuple)) else [out])]
    return run


def run_references(family: str, cfg: Any, io: IOSpec, size: tuple[int, int],
                   samples: Sequence[tuple[torch.Tensor, ...]], eager: Any, runners: Mapping[str, Runner],
                   latency_ms: Mapping[str, float | None], threads: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The desktop reference of `family` (none for a family without one, or one not registered).

    Returns (JSON-ready results by name, plot images by name). A reference that cannot be
    measured is reported with status "skipped" and its reason, never dropped.
    """
    from pix2mobile.errors import Pix2MobileError

    reference = FAMILIES[family].reference if family in FAMILIES else None
    if reference is None:
        return {}, {}
    with_eager = ({"pytorch fp32": eager_runner(eager.module)} if eager is not None else {}) | dict(runners)
    refs: dict[str, Any] = {}
    images: dict[str, Any] = {}
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        refs[reference.name], images[reference.name] = reference.measure(ReferenceInputs(
            cfg=cfg, io=io, size=size, samples=samples, eager=eager, runners=runners, with_eager=with_eager,
            latency_ms=latency_ms))
    except Pix2MobileError as exc:   # e.g. VGG weights or a style image missing: say so, keep the report
        refs[reference.name] = skipped(str(exc))
        images.pop(reference.name, None)
    finally:
        torch.set_num_threads(old_threads)
    return refs, images


def plot_references(family: str, refs: Mapping[str, Any], images: Mapping[str, Any], out: Path) -> dict[str, Path]:
    """The family's reference plot, when its reference was measured: {plot name: PNG path}."""
    from pix2mobile.benchmark import plots

    reference = FAMILIES[family].reference if family in FAMILIES else None
    if reference is None:
        return {}
    result = refs.get(reference.name)
    if not result or result.get("status") != "ok" or images.get(reference.name) is None:
        return {}
    return {reference.plot_name: reference.plot(result, images[reference.name],
                                                out / f"{reference.plot_name}.png", plots)}
