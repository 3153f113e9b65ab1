"""Run directories (`model.safetensors` + `model.json`) and safe loading of foreign `.pth` files.

safetensors holds only tensors, so loading our own checkpoints never runs code; foreign
pickles go through `torch.load(weights_only=True)`, which refuses anything but tensors and
plain containers.
"""

from __future__ import annotations

import json
import logging
import pickle
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from pix2mobile import files
from pix2mobile.errors import CheckpointError

log = logging.getLogger(__name__)

WEIGHTS_NAME = "model.safetensors"
META_NAME = "model.json"
SCHEMA_VERSION = 1


def save_run(run_dir: str | Path, state_dict: Mapping[str, torch.Tensor], meta: Mapping[str, Any],
             others: Mapping[str, Mapping[str, torch.Tensor]] | None = None) -> Path:
    """Write weights then metadata, each atomically. `meta` must hold family, arch, options.

    `others` are further generators of the same architecture, by name (CycleGAN's "b2a": the
    B -> A generator beside the A -> B one in `model.safetensors`); each is written to
    `model_NAME.safetensors` and `meta["generators"]` maps every name (the main one under
    `meta["direction"]`, default "main") to its file, so export can reach either."""
    from safetensors.torch import save_file

    for key in ("family", "arch", "options"):
        if key not in meta:
            raise CheckpointError(f"checkpoint metadata lacks '{key}'")
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    written = {str(meta.get("direction") or "main"): WEIGHTS_NAME}
    for name, sd in [("", state_dict), *sorted((others or {}).items())]:
        target = run / (f"model_{name}.safetensors" if name else WEIGHTS_NAME)
        tensors = {k: v.detach().to("cpu").contiguous() for k, v in sd.items()}
        with files.atomic_path(target) as tmp:
            save_file(tensors, str(tmp))
        if name:
            written[name] = target.name
    extra = {"generators": written} if others else {}
    files.write_json(run / META_NAME, {"schema_version": SCHEMA_VERSION, **meta, **extra})
    return run


def read_meta(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / META_NAME
    if not path.is_file():
        raise CheckpointError(f"{run_dir}: not a run directory (no {META_NAME}); "
                              "pass a run directory written by `pix2mobile train`, or a .pth with --family/--arch")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: not valid JSON ({exc})") from None
    return validate_meta(meta, str(path))


def validate_meta(meta: Any, source: str) -> dict[str, Any]:
    """Check model.json field by field, so a hand-edited or damaged file is one clear line.

    Only the structure is checked here (an object; family, arch strings; options an object with
    string keys; an integer schema_version this version reads); whether the options fit the
    architecture is the registry's check (`VariantSpec.check_options`).
    """
    hint = "re-run `pix2mobile train`, or restore the file"
    if not isinstance(meta, dict):
        raise CheckpointError(f"{source}: expected a JSON object, found a {type(meta).__name__}; {hint}")
    version = meta.get("schema_version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise CheckpointError(f"{source}: schema_version must be an integer, got {version!r}; {hint}")
    if version > SCHEMA_VERSION:
        raise CheckpointError(f"{source}: written by a newer pix2mobile (schema {version}); upgrade pix2mobile")
    for key in ("family", "arch"):
        if key not in meta:
            raise CheckpointError(f"{source}: lacks '{key}'; {hint}")
        if not isinstance(meta[key], str):
            raise CheckpointError(f"{source}: '{key}' must be a string, got {meta[key]!r}; {hint}")
    options = meta.get("options", {})
    if not isinstance(options, dict):
        raise CheckpointError(f"{source}: 'options' must be an object, got {type(options).__name__}; {hint}")
    return meta


def weights_file(run_dir: str | Path, meta: Mapping[str, Any], generator: str | None = None) -> Path:
    """The weights file of `generator` (a name in `meta["generators"]`, e.g. CycleGAN's "b2a"), or
    of the main generator when None. Refuses a name the run does not hold, or a file name that is
    not a plain name inside the run (model.json is input)."""
    if generator is None:
        return Path(run_dir) / WEIGHTS_NAME
    table = meta.get("generators") or {str(meta.get("direction") or "main"): WEIGHTS_NAME}
    if not isinstance(table, Mapping) or generator not in table:
        held = ", ".join(sorted(table)) if isinstance(table, Mapping) else "none"
        raise CheckpointError(f"{run_dir}: holds no generator '{generator}' (it holds: {held})")
    name = table[generator]
    if not isinstance(name, str) or Path(name).name != name or not name.endswith(".safetensors"):
        raise CheckpointError(f"{run_dir}/{META_NAME}: generator '{generator}' names {name!r}, "
                              "not a .safetensors file in the run directory")
    return Path(run_dir) / name


def load_run(run_dir: str | Path, generator: str | None = None) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Return (meta, state_dict) of a run directory: its main generator, or the one named."""
    from safetensors.torch import load_file

    meta = read_meta(run_dir)
    weights = weights_file(run_dir, meta, generator)
    if not weights.is_file():
        raise CheckpointError(f"{run_dir}: has {META_NAME} but no {weights.name}")
    try:
        return meta, load_file(str(weights))
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise CheckpointError(f"{weights}: unreadable safetensors file ({exc})") from None


def load_pth(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a foreign `.pth` state dict without ever executing pickled code."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: no such file")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{p}: refused to load, the pickle holds more than tensors "
                              f"(weights_only=True said: {first_line(exc, 'unsafe pickle')})") from None
    except (RuntimeError, EOFError, ValueError, IndexError, KeyError, TypeError) as exc:
        reason = "the file is empty (0 bytes)" if p.stat().st_size == 0 else first_line(exc)
        raise CheckpointError(f"{p}: not a readable PyTorch checkpoint ({reason})") from None
    for wrapper in ("state_dict", "model", "params"):
        if isinstance(obj, dict) and wrapper in obj and isinstance(obj[wrapper], dict):
            obj = obj[wrapper]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{p}: expected a state dict of tensors, found {type(obj).__name__}")
    # junyanz saves DataParallel-wrapped nets with a 'module.' prefix.
    if obj and all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return dict(obj)


def first_line(exc: BaseException, default: str = "") -> str:
    """The first non-empty line of an exception's message (160 characters at most).

    Exceptions from torch.load often carry empty or multi-line messages; an empty one must not
    crash the error report itself (a zero-byte .pth raised IndexError here once).
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[0] if lines else default or type(exc).__name__)[:160]


def load_state_dict_strict(module: nn.Module, state_dict: Mapping[str, torch.Tensor],
                           source: str = "state dict") -> None:
    """Load exactly; otherwise one line naming the first mismatching key (and both shapes)."""
    own = module.state_dict()
    for key, value in own.items():
        if key not in state_dict:
            raise CheckpointError(f"{source}: missing key '{key}' (expected shape {tuple(value.shape)})")
        got = state_dict[key]
        if tuple(got.shape) != tuple(value.shape):
            raise CheckpointError(f"{source}: key '{key}' has shape {tuple(got.shape)}, "
                                  f"the architecture expects {tuple(value.shape)}")
    for key in state_dict:
        if key not in own:
            raise CheckpointError(f"{source}: unexpected key '{key}' (shape {tuple(state_dict[key].shape)}) "
                                  "for this architecture: check --family/--arch and its options")
    module.load_state_dict(dict(state_dict), strict=True)
