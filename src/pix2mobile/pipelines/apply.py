"""`pix2mobile apply`: run a trained model or an exported artifact on photos of any size.

A `Model` is what runs: eager PyTorch from a run directory or `.pth`, or one artifact of an export
folder through its own runtime (what an app runs; Core ML files through pix2mobile's numpy
evaluator, since Core ML itself runs only on Apple devices, and the label says so). Whatever the
source, a photo goes through the contract of `docs/preprocessing.md` (`pix2mobile.imaging`):
8-bit pixels -> tensor in the model's range -> output tensor -> 8-bit pixels, by one of three
modes (`fit`, `tile`, `native`). The apps and the web page implement the same steps and are
tested against the same golden vectors, so `apply`'s output is what they show.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from pix2mobile.errors import ConfigError
from pix2mobile.imaging import plan as plans
from pix2mobile.imaging.pixels import to_pixels, to_tensor
from pix2mobile.manifest import MANIFEST_NAME, ArtifactEntry, Manifest, artifact_path
from pix2mobile.models.spec import IOSpec, TensorSpec

log = logging.getLogger(__name__)

Run = Callable[[Sequence[np.ndarray]], list[np.ndarray]]
"""NCHW float32 inputs in the IOSpec's ranges -> outputs the same way (batch 1)."""


@dataclass
class Model:
    """Something `apply` can run, with what it accepts.

    size: the fixed (H, W) of an artifact, or the default size of an eager model (fit/tile and
      the morph's frame size); `flexible` says which other sizes it takes (None: any size that
      is a multiple of `multiple` and at least `minimum`, as eager PyTorch takes).
    """

    label: str
    family: str
    io: IOSpec
    size: tuple[int, int]
    run: Run
    multiple: int = 1
    minimum: int = 1
    flexible: Any = None                        # manifest.Shapes of an artifact; None for eager
    eager: bool = False
    direction: str | None = None
    entry: ArtifactEntry | None = field(default=None, repr=False)
    rebuild: Callable[[tuple[int, int]], Run] | None = field(default=None, repr=False)

    @property
    def image_input(self) -> TensorSpec | None:
        return next((s for s in self.io.inputs if s.kind == "image"), None)

    @property
    def default_mode(self) -> plans.Mode:
        return "native" if self.eager or (self.flexible is not None and self.flexible.kind == "range") else "fit"

    def accepts(self, size: tuple[int, int]) -> bool:
        if self.eager:
            return True
        if self.flexible is None:
            return tuple(size) == self.size
        return bool(self.flexible.accepts(tuple(size), self.size))

    def describe_sizes(self) -> str:
        if self.eager:
            return f"any size (multiples of {self.multiple}, at least {self.minimum})"
        return self.flexible.describe(self.size) if self.flexible is not None else f"only {self.size[0]}x{self.size[1]}"


# ------------------------------------------------------------------------------ opening a source

def open_model(source: str | Path, *, family: str | None = None, arch: str | None = None,
               options: dict[str, Any] | None = None, format: str | None = None, precision: str | None = None,
               direction: str | None = None, size: tuple[int, int] | None = None) -> Model:
    """A run directory, a `.pth` (with family/arch), or an export folder (with `format`).

    An export folder of a CycleGAN holding `a2b/` and `b2a/` (what `export` writes for a run) is
    opened at `direction` (default a2b)."""
    path = Path(source)
    folder = _export_folder(path, direction)
    if folder is not None:
        if family or arch or options:
            raise ConfigError(f"{path} is an export folder: its manifest names the model; "
                              "drop --family/--arch/--option")
        return _open_artifact(folder, format, precision, direction)
    if format or precision:
        raise ConfigError(f"{path} is not an export folder (no {MANIFEST_NAME}): --format/--precision choose an "
                          "artifact of one; for a run directory or .pth, drop them")
    return _open_eager(path, family, arch, options, direction, size)


def _export_folder(path: Path, direction: str | None) -> Path | None:
    if path.is_file() and path.name == MANIFEST_NAME:
        return path.parent
    if not path.is_dir():
        return None
    if (path / MANIFEST_NAME).is_file():
        return path
    pairs = [d for d in ("a2b", "b2a") if (path / d / MANIFEST_NAME).is_file()]
    if pairs:
        want = direction or "a2b"
        if want not in pairs:
            raise ConfigError(f"{path} holds the CycleGAN direction(s) {', '.join(pairs)}, not {want}")
        return path / want
    return None


def _open_artifact(folder: Path, format: str | None, precision: str | None, direction: str | None) -> Model:
    from pix2mobile.convert.formats import FORMATS

    manifest = Manifest.read(folder)
    m = manifest.model
    if direction is not None and m.direction != direction:
        if m.family != "cyclegan":
            raise ConfigError(f"--direction applies to CycleGAN only; {folder} holds {m.family}/{m.arch}")
        raise ConfigError(f"{folder} holds the CycleGAN {m.direction} generator, not {direction}")
    ok = [a for a in manifest.artifacts if a.ok]
    have = ", ".join(sorted({f"{a.format} {a.precision}" for a in ok})) or "none"
    if format is None:
        raise ConfigError(f"{folder} is an export folder: choose an artifact with --format (it has: {have})")
    rows = [a for a in ok if a.format == format and (precision is None or a.precision == precision)]
    if not rows:
        raise ConfigError(f"{folder} has no passing {format}" + (f" {precision}" if precision else "")
                          + f" artifact (it has: {have})")
    if format not in FORMATS:
        raise ConfigError(f"unknown format {format}: choose from {', '.join(FORMATS)}")
    entry = rows[0]
    io, size = IOSpec.from_json(manifest.io)
    if size == (0, 0) and m.size is not None:
        size = m.size
    fmt = FORMATS[format]
    path = artifact_path(folder, entry.file or "")
    runner = fmt.runner_fn(path, io)
    runtime = ("pix2mobile's numpy Core ML evaluator (Core ML itself runs only on Apple devices)"
               if format in ("mlpackage", "mlmodel") else fmt.runtime)
    label = f"{path.name} ({format} {entry.precision}) via {runtime}"

    def run(inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [np.asarray(o, dtype=np.float32) for o in runner([torch.from_numpy(np.ascontiguousarray(x))
                                                                 for x in inputs])]

    shapes = entry.shapes if entry.shapes.kind != "fixed" else None
    return Model(label=label, family=m.family, io=io, size=size, run=run, multiple=m.size_multiple or 1,
                 minimum=m.min_size or 1, flexible=shapes, direction=m.direction, entry=entry)


def _open_eager(path: Path, family: str | None, arch: str | None, options: dict[str, Any] | None,
                direction: str | None, size: tuple[int, int] | None) -> Model:
    from pix2mobile.models.loading import load_generator
    from pix2mobile.runtimes.common import as_outputs, to_numpy

    loaded = load_generator(path, family, arch, options, direction=direction)
    spec = loaded.spec
    default = tuple(loaded.meta.get("training", {}).get("size_hw", (256, 256)))
    hw = (int(size[0]), int(size[1])) if size else (int(default[0]), int(default[1]))

    def build(at: tuple[int, int]) -> Run:
        module = spec.exportable(loaded.generator, at).eval()

        def run(inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
            with torch.no_grad():
                outs = as_outputs(module(*[torch.from_numpy(np.ascontiguousarray(x)) for x in inputs]), spec.io)
            return [to_numpy(o) for o in outs]
        return run

    which = f" {loaded.direction}" if loaded.direction else ""
    return Model(label=f"eager PyTorch fp32, {spec.key}{which} from {path}", family=spec.family, io=spec.io,
                 size=hw, run=build(hw), multiple=spec.size_multiple, minimum=spec.min_size, eager=True,
                 direction=loaded.direction, rebuild=build)


# ------------------------------------------------------------------------------ running photos

def latents(model: Model, count: int, seed: int) -> list[np.ndarray]:
    """`count` seeded z draws (N(0, 1) clipped to the latent's range), one (1, dim) array each."""
    spec = next(s for s in model.io.inputs if s.kind == "latent")
    gen = torch.Generator().manual_seed(seed)
    zs = torch.randn((count, spec.dim), generator=gen).clamp(*spec.range)
    return [zs[i:i + 1].numpy().astype(np.float32) for i in range(count)]


def apply_photo(model: Model, pixels: np.ndarray, mode: plans.Mode, *, z: np.ndarray | None = None,
                overlap: tuple[int, int] | None = None,
                progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """One photo (H, W, 3) uint8 -> the model's output photo (H, W, 3) uint8 by `mode`."""
    image = model.image_input
    if image is None:
        raise ConfigError(f"{model.family} takes no photo (its input is {', '.join(s.name for s in model.io.inputs)})")
    out_spec = model.io.outputs[0]
    h, w = pixels.shape[:2]

    def runner_at(at: tuple[int, int]) -> plans.ImageRun:
        run = model.rebuild(at) if model.rebuild is not None and at != model.size else model.run

        def image_run(canvas: np.ndarray) -> np.ndarray:
            feed = []
            for spec in model.io.inputs:
                if spec.kind == "image":
                    feed.append(to_tensor(canvas, spec.range, "NCHW"))
                elif spec.kind == "latent":
                    if z is None:
                        raise ConfigError("this model takes a latent z; pass one (apply draws them from --seed)")
                    feed.append(z)
                else:
                    raise ConfigError(f"input '{spec.name}' ({spec.kind}) cannot be fed from a photo")
            return run(feed)[0]
        return image_run

    if mode == "fit":
        return plans.run_fit(pixels, model.size, runner_at(model.size), out_spec.range)
    if mode == "tile":
        return plans.run_tile(pixels, model.size, runner_at(model.size), out_spec.range, overlap, progress)
    if mode == "native":
        padded = plans.native_size((h, w), model.multiple, model.minimum)
        if not model.accepts(padded):
            raise ConfigError(f"--mode native runs the whole {w}x{h} photo (padded to {padded[1]}x{padded[0]}), but "
                              f"{model.label} takes {model.describe_sizes()}: use --mode fit or --mode tile")
        return plans.run_native(pixels, model.multiple, model.minimum, runner_at(padded), out_spec.range)
    raise ConfigError(f"--mode must be one of {', '.join(plans.MODES)}, got {mode!r}")


def morph_frames(model: Model, alphas: Sequence[float]) -> list[np.ndarray]:
    """The morph's image at each alpha (its scalar input), (H, W, 3) uint8 at the model's size."""
    spec = model.io.inputs[0]
    if spec.kind != "scalar" or len(model.io.inputs) != 1:
        raise ConfigError(f"--alpha/--frames drive the morph; {model.family} takes {spec.name}")
    lo, hi = spec.range
    frames = []
    for a in alphas:
        if not lo <= a <= hi:
            raise ConfigError(f"alpha must be between {lo:g} and {hi:g}, got {a:g}")
        out = model.run([np.asarray([a], dtype=np.float32)])[0]
        frames.append(to_pixels(out, model.io.outputs[0].range))
    return frames
