"""The eager PyTorch fp32 baseline, rebuilt from the manifest plus the run it was exported from.

The manifest records the model's family, arch, build options and export size, the checkpoint's
sha256 and (since `model.checkpoint`) where it was. That checkpoint is a run directory or a
foreign `.pth` (`pix2mobile export u.pth --family fast_style --arch johnson`); both are rebuilt
with `models.loading.load_generator` from the manifest's family, arch and options.
`--checkpoint PATH` overrides the recorded path. When the manifest records
`model.checkpoint_sha256`, the weights (the run's `model.safetensors`, or the `.pth` itself) must
hash to it: parity against other weights would be meaningless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from pix2mobile.errors import CheckpointError, ConfigError
from pix2mobile.files import tree_sha256
from pix2mobile.models.spec import IOSpec

NO_CHECKPOINT = ("the manifest records no checkpoint path (only model.checkpoint_sha256); "
                 "pass --checkpoint RUN_DIR to rebuild the eager PyTorch baseline")


@dataclass(frozen=True)
class EagerRecipe:
    """Everything a (child) process needs to rebuild the module export traced."""

    checkpoint: str
    family: str
    arch: str
    size: tuple[int, int]
    options: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"checkpoint": self.checkpoint, "family": self.family, "arch": self.arch,
                "size": list(self.size), "options": dict(self.options)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> EagerRecipe:
        return cls(checkpoint=d["checkpoint"], family=d["family"], arch=d["arch"],
                   size=(int(d["size"][0]), int(d["size"][1])), options=dict(d.get("options", {})))

    def build(self) -> EagerModel:
        from pix2mobile.models.loading import load_generator

        path = Path(self.checkpoint)
        if path.is_dir():
            from pix2mobile.checkpoint import load_run

            meta, _ = load_run(path)
            if (meta.get("family"), meta.get("arch")) != (self.family, self.arch):
                raise CheckpointError(f"{self.checkpoint} holds {meta.get('family')}/{meta.get('arch')}, but the "
                                      f"manifest was exported from {self.family}/{self.arch}; pass the right run")
        loaded = load_generator(path, self.family, self.arch, dict(self.options))
        generator = loaded.generator.eval()
        module = loaded.spec.exportable(generator, self.size).eval()
        return EagerModel(module=module, generator=generator, meta=dict(loaded.meta))


@dataclass
class EagerModel:
    module: Any        # nn.Module: what export traced (the morph's MorphGenerator, others the generator)
    generator: Any     # nn.Module: the registry generator (the morph's MorphStack)
    meta: dict[str, Any]


def checkpoint_sha256(run_dir: str | Path) -> str:
    """sha256 of RUN_DIR/model.safetensors (or of a `.pth` file), what export records as checkpoint_sha256."""
    from pix2mobile.checkpoint import WEIGHTS_NAME

    if Path(run_dir).is_file():
        return tree_sha256(Path(run_dir))[1]
    path = Path(run_dir) / WEIGHTS_NAME
    if not path.is_file():
        raise CheckpointError(f"{run_dir}: no {WEIGHTS_NAME}; pass a run directory written by `pix2mobile train`")
    return tree_sha256(path)[1]


def recipe_for(model: Any, checkpoint: str | Path | None,
               export_dir: str | Path | None = None) -> tuple[EagerRecipe | None, str | None]:
    """(recipe, None), or (None, why no eager baseline) for a manifest's `model` entry.

    checkpoint: `--checkpoint`; when None, `model.checkpoint` if this manifest records one
    (a path, relative to `export_dir` unless absolute).
    """
    from pix2mobile.models import MODELS

    key = f"{model.family}/{model.arch}"
    if key not in MODELS:
        return None, f"{key} is not a registry model, so its eager module cannot be rebuilt"
    if model.size is None:
        return None, "the manifest records no export size (model.size)"
    recorded = getattr(model, "checkpoint", None)
    if checkpoint is None and recorded:
        run = Path(recorded) if Path(recorded).is_absolute() else Path(export_dir or ".") / recorded
        if not run.exists():
            return None, (f"the manifest's checkpoint {recorded} is not on this machine; "
                          "pass --checkpoint RUN_DIR to rebuild the eager PyTorch baseline")
    elif checkpoint is None:
        return None, NO_CHECKPOINT
    else:
        run = Path(checkpoint)
    if not run.exists():
        raise ConfigError(f"--checkpoint {run}: no such run directory or .pth file")
    if model.checkpoint_sha256:
        found = checkpoint_sha256(run)
        if found != model.checkpoint_sha256:
            raise ConfigError(f"--checkpoint {run}: its model.safetensors (sha256 {found[:12]}...) is not the "
                              f"checkpoint these artifacts were exported from ({model.checkpoint_sha256[:12]}...)")
    return EagerRecipe(checkpoint=str(run.resolve()), family=model.family, arch=model.arch,
                       size=tuple(model.size), options=dict(model.options)), None


def io_from_manifest(io_json: Mapping[str, Any]) -> IOSpec:
    """The model's IOSpec from the manifest's `io` entry."""
    return IOSpec.from_json(io_json)[0]

