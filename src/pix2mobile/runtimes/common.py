"""What every format's runner shares: the runner type, tensor conversion, pixel mapping, one-line errors.

Nothing here imports a runtime; each runner imports its own inside its functions and raises
`MissingDependencyError` (through `require`) naming the package when it is absent.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from pix2mobile import __version__
from pix2mobile.errors import ConfigError, MissingDependencyError
from pix2mobile.models.spec import IOSpec, TensorSpec

Runner = Callable[[Sequence["np.ndarray | torch.Tensor"]], list[np.ndarray]]
"""Runs one artifact: inputs and outputs in the IOSpec's layout (NCHW images) and ranges."""


def require(module: str, package: str, purpose: str) -> Any:
    """Import `module` or raise MissingDependencyError naming the pip `package`."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(package, purpose) from None


def as_outputs(result: Any, io: IOSpec) -> list[torch.Tensor]:
    """A module's return value as a list in IOSpec output order."""
    if isinstance(result, torch.Tensor):
        outs = [result]
    elif isinstance(result, Mapping):
        outs = [result[s.name] for s in io.outputs]
    else:
        outs = list(result)
    if len(outs) != len(io.outputs):
        raise ConfigError(f"the model returned {len(outs)} outputs but its IOSpec declares {len(io.outputs)}")
    return outs


def to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy().astype(np.float32, copy=False)
    return np.asarray(x, dtype=np.float32)


def to_tensor(x: Any) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().float().contiguous()
    return torch.from_numpy(np.ascontiguousarray(np.asarray(x, dtype=np.float32)))


def to_pixels(x: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """An image in the spec's range as raw RGB pixel values 0..255 (rounded, as a bitmap holds them)."""
    lo, hi = spec.range
    return np.clip(np.rint((np.asarray(x, np.float64) - lo) / (hi - lo) * 255.0), 0, 255).astype(np.float32)


def from_pixels(x: np.ndarray, spec: TensorSpec) -> np.ndarray:
    lo, hi = spec.range
    return (np.asarray(x, np.float64) / 255.0 * (hi - lo) + lo).astype(np.float32)


def first_line(exc: BaseException, limit: int = 300) -> str:
    """An exception as one line: its type and the first non-empty line of its message."""
    text = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


def call_runner(runner: Callable[[dict[str, np.ndarray]], Mapping[str, np.ndarray]], io: IOSpec,
                inputs: Sequence[Any]) -> list[np.ndarray]:
    """Feed inputs by name, return outputs in IOSpec order."""
    named = {s.name: to_numpy(x) for s, x in zip(io.inputs, inputs)}
    out = runner(named)
    return [np.asarray(out[s.name], dtype=np.float32) for s in io.outputs]


def package_versions(names: Sequence[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in names:
        if name.startswith("pix2mobile"):
            out[name] = __version__
            continue
        try:
            out[name] = importlib.metadata.version(name.split(".")[0].replace("_", "-"))
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def run_all(runner: Any, samples: Sequence[tuple[torch.Tensor, ...]], n_outputs: int) -> list[np.ndarray]:
    per_sample = [runner(s) for s in samples]
    return [np.concatenate([np.asarray(o[i]) for o in per_sample], axis=0) for i in range(n_outputs)]
