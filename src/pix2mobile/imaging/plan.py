"""How a photo of any size meets a model: `fit`, `tile` and `native` (docs/preprocessing.md).

Every plan is integer arithmetic on sizes, so all four implementations agree exactly; the only
floating-point parts are the resampler (`resize`) and the tile blend weights, both written out
in float64 in a fixed order.

- fit: shrink (or grow) the photo to fit inside the model's H x W keeping its aspect, centre it,
  fill the border by repeating the edge pixels, run once, cut the centre out of the output and
  resize it back to the photo's size. The default for fixed-size artifacts: one run, the whole
  photo seen at once (InstanceNorm statistics of the whole picture), at the model's resolution.
- tile: cover the photo (edge-padded up to one tile where it is smaller) with tiles of the model's
  size overlapping by at least `overlap`, run each, and blend: each tile's output is weighted by a
  separable ramp that rises over `overlap` pixels from each tile edge, and every pixel is the
  weighted mean of the tiles covering it. Full resolution for large photos; each tile normalises
  with its own statistics, so the style of neighbouring tiles can differ a little.
- native: the whole photo at once, padded (edge repeat, bottom and right) up to the model's size
  multiple and minimum; for eager PyTorch and size-flexible artifacts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal

import numpy as np

from pix2mobile.errors import ConfigError
from pix2mobile.imaging.pixels import to_pixels
from pix2mobile.imaging.resize import resize

Mode = Literal["fit", "tile", "native"]
MODES: tuple[Mode, ...] = ("fit", "tile", "native")


@dataclass(frozen=True)
class FitPlan:
    """The photo resized to (h, w) sits at (top, left) inside the model's (height, width)."""
    photo: tuple[int, int]
    model: tuple[int, int]
    h: int
    w: int
    top: int
    left: int

    def to_json(self) -> dict[str, Any]:
        return {"photo": list(self.photo), "model": list(self.model), "h": self.h, "w": self.w,
                "top": self.top, "left": self.left}


def fit_plan(photo: tuple[int, int], model: tuple[int, int]) -> FitPlan:
    """Integer letterbox: the limiting side fills the model, the other is rounded half up."""
    (h0, w0), (mh, mw) = photo, model
    _check_size("photo", photo)
    _check_size("model", model)
    if h0 * mw >= w0 * mh:                       # relatively taller than the model: height fills
        h, w = mh, min(mw, max(1, (2 * w0 * mh + h0) // (2 * h0)))
    else:
        w, h = mw, min(mh, max(1, (2 * h0 * mw + w0) // (2 * w0)))
    return FitPlan(photo=(h0, w0), model=(mh, mw), h=h, w=w, top=(mh - h) // 2, left=(mw - w) // 2)


def pad_edge(pixels: np.ndarray, size: tuple[int, int], top: int = 0, left: int = 0) -> np.ndarray:
    """Place `pixels` at (top, left) in a canvas of `size`; every other pixel repeats the nearest
    edge pixel: canvas[y, x] = pixels[clamp(y - top, 0, h - 1), clamp(x - left, 0, w - 1)]."""
    h, w = pixels.shape[:2]
    ys = np.clip(np.arange(size[0]) - top, 0, h - 1)
    xs = np.clip(np.arange(size[1]) - left, 0, w - 1)
    return np.ascontiguousarray(pixels[ys[:, None], xs[None, :]])


def letterbox(pixels: np.ndarray, plan: FitPlan) -> np.ndarray:
    """fit, step 1: the model-sized canvas (uint8) the model runs on."""
    return pad_edge(resize(pixels, (plan.h, plan.w)), plan.model, plan.top, plan.left)


def unletterbox(out_pixels: np.ndarray, plan: FitPlan) -> np.ndarray:
    """fit, last step: cut the photo's box out of the model-sized output and resize it back."""
    box = out_pixels[plan.top:plan.top + plan.h, plan.left:plan.left + plan.w]
    return resize(np.ascontiguousarray(box), plan.photo)


@dataclass(frozen=True)
class TilePlan:
    """Tiles of `tile` size at every (y, x) of `ys` x `xs` over the photo edge-padded to `padded`;
    `wy`/`wx` are the per-axis blend weights inside a tile (a tile's weight at (p, q) is wy[p] * wx[q])."""
    photo: tuple[int, int]
    tile: tuple[int, int]
    overlap: tuple[int, int]
    padded: tuple[int, int]
    ys: tuple[int, ...]
    xs: tuple[int, ...]
    wy: tuple[float, ...]
    wx: tuple[float, ...]

    @property
    def boxes(self) -> list[tuple[int, int]]:
        """(top, left) of every tile, rows first: the order tiles are run and summed in."""
        return [(y, x) for y in self.ys for x in self.xs]

    def to_json(self) -> dict[str, Any]:
        return {"photo": list(self.photo), "tile": list(self.tile), "overlap": list(self.overlap),
                "padded": list(self.padded), "ys": list(self.ys), "xs": list(self.xs),
                "wy": list(self.wy), "wx": list(self.wx)}


def default_overlap(tile: int) -> int:
    """A quarter of the tile: wide enough that the blend hides seams at our generators' receptive fields."""
    return tile // 4


def tile_starts(length: int, tile: int, overlap: int) -> tuple[int, ...]:
    """Evenly spread starts of n = 1 + ceil((length - tile) / (tile - overlap)) tiles from 0 to
    length - tile: start_i = floor(i * (length - tile) / (n - 1) + 1/2) in integers."""
    if length <= tile:
        return (0,)
    step = tile - overlap
    n = 1 + (length - tile + step - 1) // step
    return tuple((2 * i * (length - tile) + (n - 1)) // (2 * (n - 1)) for i in range(n))


def ramp(tile: int, overlap: int) -> tuple[float, ...]:
    """w(p) = min(1, (p + 0.5) / overlap, (tile - p - 0.5) / overlap); all 1 when overlap is 0."""
    if overlap == 0:
        return tuple(1.0 for _ in range(tile))
    return tuple(min(1.0, (p + 0.5) / overlap, (tile - p - 0.5) / overlap) for p in range(tile))


def tile_plan(photo: tuple[int, int], tile: tuple[int, int], overlap: tuple[int, int] | None = None) -> TilePlan:
    _check_size("photo", photo)
    _check_size("tile", tile)
    ov = overlap if overlap is not None else (default_overlap(tile[0]), default_overlap(tile[1]))
    for o, t in zip(ov, tile):
        if not 0 <= o < t:
            raise ConfigError(f"tile overlap must be between 0 and the tile side - 1 ({t - 1}), got {o}")
    padded = (max(photo[0], tile[0]), max(photo[1], tile[1]))
    return TilePlan(photo=photo, tile=tile, overlap=(ov[0], ov[1]), padded=padded,
                    ys=tile_starts(padded[0], tile[0], ov[0]), xs=tile_starts(padded[1], tile[1], ov[1]),
                    wy=ramp(tile[0], ov[0]), wx=ramp(tile[1], ov[1]))


def native_size(photo: tuple[int, int], multiple: int = 1, minimum: int = 1) -> tuple[int, int]:
    """The photo's size rounded up to `multiple`, and at least `minimum` (itself rounded up)."""
    _check_size("photo", photo)
    return tuple(max(-(-s // multiple) * multiple, -(-minimum // multiple) * multiple)   # type: ignore[return-value]
                 for s in photo)


# ------------------------------------------------------------------ running a model through a plan

ImageRun = Callable[[np.ndarray], np.ndarray]
"""Model input pixels (h, w, 3) uint8 -> its output tensor as (1, 3, h, w) float32 in `out_range`
(the caller turns pixels into its input tensor and adds any other inputs: z, alpha)."""


def run_fit(pixels: np.ndarray, model: tuple[int, int], run: ImageRun, out_range: tuple[float, float]) -> np.ndarray:
    plan = fit_plan(pixels.shape[:2], model)
    out = run(letterbox(pixels, plan))
    return unletterbox(to_pixels(_check_out(out, model), out_range), plan)


def run_native(pixels: np.ndarray, multiple: int, minimum: int, run: ImageRun,
               out_range: tuple[float, float]) -> np.ndarray:
    h, w = pixels.shape[:2]
    size = native_size((h, w), multiple, minimum)
    out = run(pad_edge(pixels, size))
    return np.ascontiguousarray(to_pixels(_check_out(out, size), out_range)[:h, :w])


def run_tile(pixels: np.ndarray, tile: tuple[int, int], run: ImageRun, out_range: tuple[float, float],
             overlap: tuple[int, int] | None = None, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    plan = tile_plan(pixels.shape[:2], tile, overlap)
    canvas = pad_edge(pixels, plan.padded)
    return blend(plan, (run(canvas[y:y + tile[0], x:x + tile[1]]) for y, x in plan.boxes), out_range, progress)


def blend(plan: TilePlan, outputs: Any, out_range: tuple[float, float],
          progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Weighted mean of the tiles' (1, 3, th, tw) outputs, in `plan.boxes` order, in float64:
    acc += w * y and wsum += w per tile, then each value acc / wsum is rounded to float32 and turned
    into a pixel; the padding is cut off."""
    th, tw = plan.tile
    acc = np.zeros((3, *plan.padded), dtype=np.float64)
    wsum = np.zeros(plan.padded, dtype=np.float64)
    w2d = np.asarray(plan.wy, dtype=np.float64)[:, None] * np.asarray(plan.wx, dtype=np.float64)[None, :]
    boxes = plan.boxes
    for k, ((y, x), out) in enumerate(zip(boxes, outputs)):
        y_out = _check_out(out, plan.tile)[0].astype(np.float64)
        acc[:, y:y + th, x:x + tw] = acc[:, y:y + th, x:x + tw] + w2d[None] * y_out
        wsum[y:y + th, x:x + tw] = wsum[y:y + th, x:x + tw] + w2d
        if progress is not None:
            progress(k + 1, len(boxes))
    mean = (acc / wsum[None]).astype(np.float32)
    h, w = plan.photo
    return np.ascontiguousarray(to_pixels(mean[None], out_range)[:h, :w])


def _check_out(out: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    arr = np.asarray(out, dtype=np.float32)
    if arr.ndim != 4 or arr.shape[0] != 1 or arr.shape[1] != 3 or tuple(arr.shape[2:]) != tuple(size):
        raise ConfigError(f"the model returned shape {tuple(arr.shape)}; the contract needs one RGB image "
                          f"(1, 3, {size[0]}, {size[1]}) of its input's size")
    return arr


def _check_size(what: str, size: tuple[int, int]) -> None:
    if len(size) != 2 or min(size) < 1:
        raise ConfigError(f"{what} size must be two positive integers, got {tuple(size)}")
