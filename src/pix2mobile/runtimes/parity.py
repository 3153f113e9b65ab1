"""The parity gate: does an artifact compute what the eager PyTorch fp32 model computes?

Every output is mapped onto the [0, 1] scale with its `TensorSpec.to_unit` and clipped to
[0, 1] (what an app displays; Core ML image outputs clip there anyway). On that scale we
measure PSNR, SSIM (Gaussian window, sigma 1.5, 11 taps, as Wang et al. 2004) and the max
absolute error.

Small-range rule: untrained or barely trained generators output a sliver of their declared
range (a random-init johnson spans about 0.016 of [0, 255]), and then even an all-zero image
scores ~57 dB against the full range. When the reference spans less than `small_range`
(default 25%) of the unit range, PSNR and SSIM use the reference's own peak-to-peak as the
data range instead, and the result says `scale="peak_to_peak"`. `max_abs_err` always stays on
the [0, 1] scale.

PSNR is capped at `PSNR_CAP_DB` (bit-identical outputs would otherwise be +inf, which JSON
cannot hold).

The gate judges the worst image, not the pool. PSNR over all samples stacked is a mean of
squared errors, and one bad image hides in it: `pipelines.auto` once recorded a 22 dB image in a
pool that scored 41 dB. `compare` therefore scores every image on its own (with the data range
of its output over all images, so the small-range rule does not flip from image to image),
gates on the lowest, and reports the mean and each image's PSNR beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from pix2mobile.models.spec import TensorSpec

PSNR_CAP_DB = 100.0
DEFAULT_THRESHOLDS_DB: dict[str, float] = {"fp32": 45.0, "fp16": 35.0, "w8": 30.0, "int8-dynamic": 30.0,
                                           "int8": 30.0, "palette6": 30.0, "palette4": 25.0}
"""The gate per precision: what an artifact must reach against eager fp32 on real images."""
SMALL_RANGE = 0.25


@dataclass(frozen=True)
class ParityResult:
    """One artifact against eager: `psnr_db` is the worst image's PSNR (what the gate holds)."""

    psnr_db: float
    ssim: float | None          # the worst image's SSIM; None for outputs that are not images
    max_abs_err: float          # over every image
    scale: str                  # "range" | "peak_to_peak"
    threshold_db: float
    samples: int
    mean_psnr_db: float | None = None         # mean of the per-image PSNRs
    image_psnr_db: tuple[float, ...] = ()     # per image, in sample order (worst output of each)

    @property
    def passed(self) -> bool:
        return self.psnr_db >= self.threshold_db

    @property
    def worst_image(self) -> int | None:
        """Index of the image that set `psnr_db` (None when there is no per-image figure)."""
        if not self.image_psnr_db:
            return None
        return min(range(len(self.image_psnr_db)), key=lambda i: self.image_psnr_db[i])

    def describe(self) -> str:
        ssim = "n/a" if self.ssim is None else f"{self.ssim:.4f}"
        worst = (f"worst image PSNR {self.psnr_db:.2f} dB (image {self.worst_image} of {self.samples}, "
                 f"mean {self.mean_psnr_db:.2f} dB)" if self.mean_psnr_db is not None and self.samples > 1
                 else f"PSNR {self.psnr_db:.2f} dB")
        return (f"{worst} ({self.scale} scale) vs threshold {self.threshold_db:g} dB, "
                f"SSIM {ssim}, max abs err {self.max_abs_err:.3g} on [0, 1]")


def psnr(reference: np.ndarray, candidate: np.ndarray, data_range: float = 1.0) -> float:
    """PSNR in dB, capped at PSNR_CAP_DB."""
    mse = float(np.mean((np.asarray(reference, np.float64) - np.asarray(candidate, np.float64)) ** 2))
    if not math.isfinite(mse):
        return float("-inf") if math.isnan(mse) else 0.0
    if mse <= data_range ** 2 * 10 ** (-PSNR_CAP_DB / 10):
        return PSNR_CAP_DB
    return 10.0 * math.log10(data_range ** 2 / mse)


def gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(x ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def _filter_valid(img: np.ndarray, win: np.ndarray) -> np.ndarray:
    """Separable 'valid' correlation over the last two axes."""
    k = len(win)
    h, w = img.shape[-2:]
    rows = sum(win[i] * img[..., i:h - k + 1 + i, :] for i in range(k))
    return sum(win[i] * rows[..., :, i:w - k + 1 + i] for i in range(k))


def ssim(reference: np.ndarray, candidate: np.ndarray, data_range: float = 1.0,
         win_size: int = 11, sigma: float = 1.5) -> float:
    """Mean SSIM over (..., H, W) images: per channel, Gaussian-weighted, valid region only.

    Matches `skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, channel_axis=...)` up to float error. Images smaller than the
    window use a window as large as the image allows (odd, >= 3).
    """
    x = np.asarray(reference, np.float64)
    y = np.asarray(candidate, np.float64)
    if x.shape != y.shape:
        raise ValueError(f"ssim: shapes differ {x.shape} vs {y.shape}")
    size = min(win_size, x.shape[-1], x.shape[-2])
    size = size if size % 2 else size - 1
    if size < 3:
        raise ValueError(f"ssim needs images of at least 3x3, got {x.shape[-2:]}")
    win = gaussian_window(size, sigma)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = _filter_valid(x, win), _filter_valid(y, win)
    vx = _filter_valid(x * x, win) - mx * mx
    vy = _filter_valid(y * y, win) - my * my
    cxy = _filter_valid(x * y, win) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s.mean())


def unit_scale(x: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """Map an output in its declared range onto [0, 1] and clip (what an app displays)."""
    lo, hi = spec.range
    return np.clip((np.asarray(x, np.float64) - lo) / (hi - lo), 0.0, 1.0)


def compare(reference: Sequence[np.ndarray], candidate: Sequence[np.ndarray], specs: Sequence[TensorSpec],
            threshold_db: float, small_range: float = SMALL_RANGE) -> ParityResult:
    """Compare artifact outputs with eager outputs image by image; the worst image decides.

    `reference[i]` and `candidate[i]` hold output `specs[i]` for all samples stacked on axis 0,
    in the spec's layout (NCHW for images) and range. An image's PSNR is its worst output's;
    the result's `psnr_db` is the lowest over images, `mean_psnr_db` their mean.
    """
    if not (len(reference) == len(candidate) == len(specs)):
        raise ValueError(f"compare: {len(reference)} reference, {len(candidate)} candidate outputs, "
                         f"{len(specs)} specs")
    if not specs:
        raise ValueError("compare: the model has no outputs")
    n = int(np.asarray(reference[0]).shape[0])
    per_image: list[float] = [PSNR_CAP_DB] * n
    ssim_of: list[float | None] = [None] * n
    max_abs, scales = 0.0, []
    for ref, cand, spec in zip(reference, candidate, specs):
        ref, cand = np.asarray(ref), np.asarray(cand)
        if ref.shape != cand.shape:
            raise ValueError(f"output '{spec.name}': artifact gave shape {cand.shape}, PyTorch {ref.shape}")
        if ref.shape[0] != n:
            raise ValueError(f"output '{spec.name}': {ref.shape[0]} samples, the first output has {n}")
        r, c = unit_scale(ref, spec), unit_scale(cand, spec)
        finite = bool(np.all(np.isfinite(cand)))
        max_abs = max(max_abs, float(np.max(np.abs(r - c))) if finite else float("inf"))
        ptp = float(r.max() - r.min())
        scale, data_range = ("range", 1.0) if ptp >= small_range else ("peak_to_peak", max(ptp, 1e-6))
        scales.append(scale)
        for k in range(n):
            ok = bool(np.all(np.isfinite(cand[k])))
            p = psnr(r[k:k + 1], c[k:k + 1], data_range) if ok else float("-inf")
            if p < per_image[k] or (p == per_image[k] and ssim_of[k] is None):
                per_image[k] = p
                ssim_of[k] = ssim(r[k:k + 1], c[k:k + 1], data_range) if spec.kind == "image" and ok else None
    worst = min(range(n), key=lambda k: per_image[k])
    finite_psnrs = [p for p in per_image if math.isfinite(p)]
    mean = float(np.mean(per_image)) if len(finite_psnrs) == n else float("-inf")
    return ParityResult(psnr_db=float(per_image[worst]), ssim=ssim_of[worst], max_abs_err=max_abs,
                        scale="peak_to_peak" if "peak_to_peak" in scales else "range",
                        threshold_db=float(threshold_db), samples=n, mean_psnr_db=mean,
                        image_psnr_db=tuple(float(p) for p in per_image))
