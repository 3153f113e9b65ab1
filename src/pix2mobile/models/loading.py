"""Rebuild a generator from what a user has: a pix2mobile run directory or a foreign `.pth`.

A run directory names its own family/arch/options in `model.json`; a `.pth` from pytorch/examples
or junyanz's repositories needs them from the caller (`--family/--arch`), and goes through the
variant's `convert_reference` (stale InstanceNorm stats dropped, `module.` prefixes stripped).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from torch import nn

from pix2mobile.checkpoint import META_NAME, WEIGHTS_NAME, load_pth, load_run, load_state_dict_strict
from pix2mobile.errors import CheckpointError, ConfigError
from pix2mobile.files import tree_sha256
from pix2mobile.models import get_variant
from pix2mobile.models.spec import VariantSpec

log = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    spec: VariantSpec
    generator: nn.Module
    options: dict[str, Any]
    source: Path
    sha256: str
    meta: dict[str, Any] = field(default_factory=dict)


def load_generator(checkpoint: str | Path, family: str | None = None, arch: str | None = None,
                   options: Mapping[str, Any] | None = None) -> LoadedModel:
    """Load a run directory or a `.pth` into its registry generator (eval mode, CPU)."""
    path = Path(checkpoint)
    if path.is_dir():
        if not (path / META_NAME).is_file():
            raise CheckpointError(f"{path}: a directory without {META_NAME}; pass a run directory written "
                                  "by `pix2mobile train`, or a .pth file with --family and --arch")
        meta, state = load_run(path)
        if (family and family != meta["family"]) or (arch and arch != meta["arch"]):
            raise ConfigError(f"{path} holds {meta['family']}/{meta['arch']}, not {family}/{arch}")
        spec = get_variant(meta["family"], meta["arch"])
        opts = {**spec.defaults, **meta.get("options", {}), **(options or {})}
        generator = spec.create(**opts)
        load_state_dict_strict(generator, state, source=str(path / WEIGHTS_NAME))
        return LoadedModel(spec, generator.eval(), opts, path, tree_sha256(path / WEIGHTS_NAME)[1], meta)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file or run directory")
    if not family or not arch:
        raise ConfigError(f"{path.name} is a foreign checkpoint: say what it holds with --family and --arch "
                          "(see `pix2mobile info` for the list)")
    spec = get_variant(family, arch)
    opts = {**spec.defaults, **(options or {})}
    generator = spec.create(**opts)
    load_state_dict_strict(generator, spec.convert_reference(load_pth(path)), source=str(path))
    log.info("loaded %s as %s", path, spec.key)
    return LoadedModel(spec, generator.eval(), opts, path, tree_sha256(path)[1])
