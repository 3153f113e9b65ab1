"""Rebuild a generator from what a user has: a pix2mobile run directory or a foreign `.pth`.

A run directory names its own family/arch/options in `model.json`; a `.pth` from pytorch/examples
or junyanz's repositories needs them from the caller (`--family/--arch`), and goes through the
variant's `convert_reference` (stale InstanceNorm stats dropped, `module.` prefixes stripped).

`direction` picks one of a CycleGAN's two generators: "a2b" (G_A, the run's main one) or "b2a"
(G_B, saved beside it). For a `.pth` it only labels the file (junyanz's `latest_net_G_B.pth` is
"b2a"); for other families it must be None.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from torch import nn

from pix2mobile.checkpoint import META_NAME, load_pth, load_run, load_state_dict_strict, read_meta, weights_file
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
    direction: str | None = None

    @property
    def directions(self) -> tuple[str, ...]:
        """The CycleGAN directions this source holds ("a2b", "b2a"); () for other families."""
        if self.spec.family != "cyclegan":
            return ()
        held = self.meta.get("generators")
        return tuple(d for d in DIRECTIONS if isinstance(held, dict) and d in held) or (self.direction or "a2b",)


DIRECTIONS = ("a2b", "b2a")
"""CycleGAN's two generators: G_A maps domain A to B, G_B maps B back to A."""


def check_direction(family: str, direction: str | None) -> None:
    if direction is None:
        return
    if family != "cyclegan":
        raise ConfigError(f"--direction applies to CycleGAN only; {family} has one generator")
    if direction not in DIRECTIONS:
        raise ConfigError(f"--direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")


def load_generator(checkpoint: str | Path, family: str | None = None, arch: str | None = None,
                   options: Mapping[str, Any] | None = None, direction: str | None = None) -> LoadedModel:
    """Load a run directory or a `.pth` into its registry generator (eval mode, CPU)."""
    path = Path(checkpoint)
    if path.is_dir():
        if not (path / META_NAME).is_file():
            raise CheckpointError(f"{path}: a directory without {META_NAME}; pass a run directory written "
                                  "by `pix2mobile train`, or a .pth file with --family and --arch")
        meta = read_meta(path)
        check_direction(meta["family"], direction)
        main = meta.get("direction") if meta["family"] == "cyclegan" else None
        wanted = None if direction is None or direction == (main or "a2b") else direction
        if wanted is not None and not meta.get("generators"):
            raise CheckpointError(f"{path}: holds only the {main or 'a2b'} generator (a run written before both "
                                  "were saved); export it without --direction, or retrain")
        meta, state = load_run(path, wanted)
        if (family and family != meta["family"]) or (arch and arch != meta["arch"]):
            raise ConfigError(f"{path} holds {meta['family']}/{meta['arch']}, not {family}/{arch}")
        spec = get_variant(meta["family"], meta["arch"])
        opts = {**spec.defaults, **meta.get("options", {}), **(options or {})}
        generator = spec.create(**opts)
        weights = weights_file(path, meta, wanted)
        load_state_dict_strict(generator, state, source=str(weights))
        chosen = (direction or main or "a2b") if meta["family"] == "cyclegan" else None
        return LoadedModel(spec, generator.eval(), opts, path, tree_sha256(weights)[1], meta, chosen)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file or run directory")
    if not family or not arch:
        raise ConfigError(f"{path.name} is a foreign checkpoint: say what it holds with --family and --arch "
                          "(see `pix2mobile info` for the list)")
    spec = get_variant(family, arch)
    check_direction(spec.family, direction)
    opts = {**spec.defaults, **(options or {})}
    generator = spec.create(**opts)
    load_state_dict_strict(generator, spec.convert_reference(load_pth(path)), source=str(path))
    log.info("loaded %s as %s", path, spec.key)
    return LoadedModel(spec, generator.eval(), opts, path, tree_sha256(path)[1],
                       direction=(direction or "a2b") if spec.family == "cyclegan" else None)
