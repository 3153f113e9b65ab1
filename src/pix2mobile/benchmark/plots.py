"""PNG plots of a report, drawn with matplotlib's Agg canvas (no global backend switch, no display).

- `latency_vs_size.png`: median host latency against file size, one colour per format; the eager
  baseline is a dashed line (it has no artifact file).
- `psnr_per_precision.png`: PSNR against eager fp32 of each artifact, grouped by precision.
- `nst_vs_fast_style.png`: content, style, Gatys NST and every fast-style output side by side,
  titled with their content/style losses and times.
- `morph_strip.png`: the desktop morph and every artifact at the same alphas, PSNR per frame.
- `diversity_strip.png`: BicycleGAN outputs for the same input over several z, per runtime.

Every file is written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from pix2mobile import files
from pix2mobile.benchmark.report import HOST, Row
from pix2mobile.convert.formats import FORMATS
from pix2mobile.runtimes.timing import EAGER


def colour(fmt: str) -> str:
    """A format's plot colour (its row's `colour`); eager PyTorch is black, anything else grey."""
    if fmt == EAGER:
        return "black"
    row = FORMATS.get(fmt)
    return row.colour if row is not None else "grey"


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: Path) -> Path:
    with files.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    return path


def _empty(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="grey")


def latency_vs_size(rows: Sequence[Row], path: Path, title: str) -> Path:
    fig = _figure(6.4, 4.2)
    ax = fig.add_subplot()
    host = [r for r in rows if r.device == HOST]
    points = [r for r in host if r.size_mb is not None and r.latency_ms_median is not None]
    for r in points:
        ax.scatter(r.size_mb, r.latency_ms_median, color=colour(r.format), s=40, zorder=3)
        ax.annotate(f"{r.format} {r.precision}", (r.size_mb, r.latency_ms_median), fontsize=8,
                    xytext=(4, 4), textcoords="offset points")
    eager = next((r for r in host if r.format == "pytorch" and r.latency_ms_median is not None), None)
    if eager is not None:
        ax.axhline(eager.latency_ms_median, color="black", linestyle="--", linewidth=1,
                   label=f"eager PyTorch fp32 ({eager.latency_ms_median:.3g} ms)")
        ax.legend(loc="best", fontsize=8)
    if not points and eager is None:
        _empty(ax, "no latency measured")
    ax.set_xlabel("artifact size (MB)")
    ax.set_ylabel("median latency on this host (ms)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def psnr_per_precision(rows: Sequence[Row], path: Path, title: str) -> Path:
    fig = _figure(6.4, 4.2)
    ax = fig.add_subplot()
    measured = [r for r in rows if r.psnr_db is not None and r.device == HOST]
    precisions = sorted({r.precision for r in measured})
    for i, precision in enumerate(precisions):
        group = [r for r in measured if r.precision == precision]
        for j, r in enumerate(group):
            x = i + (j - (len(group) - 1) / 2) * 0.12
            ax.scatter(x, r.psnr_db, color=colour(r.format), s=40, zorder=3)
            ax.annotate(r.format + (" (export)" if r.parity_source == "export" else ""), (x, r.psnr_db),
                        fontsize=8, xytext=(4, 2), textcoords="offset points")
    thresholds = {r.threshold_db for r in measured if r.threshold_db is not None}
    for t in sorted(thresholds):
        ax.axhline(t, color="grey", linestyle=":", linewidth=1)
    if not measured:
        _empty(ax, "no PSNR measured")
    ax.set_xticks(range(len(precisions)), precisions)
    ax.set_xlim(-0.6, max(len(precisions), 1) - 0.4)
    ax.set_ylabel("PSNR vs eager PyTorch fp32 (dB, capped at 100)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    return _save(fig, path)


def _show(ax: Any, image: np.ndarray, title: str) -> None:
    img = np.clip(np.asarray(image, dtype=np.float32), 0, 1)
    img = img.transpose(1, 2, 0) if img.ndim == 3 else img
    ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray" if img.shape[-1] == 1 else None,
              interpolation="nearest")
    ax.set_title(title, fontsize=7)
    ax.axis("off")


def nst_side_by_side(result: Mapping[str, Any], images: Mapping[str, np.ndarray], path: Path) -> Path:
    by_key = {r["key"]: r for r in result["artifacts"]}
    nst = result["nst"]
    titles = {"content": f"content\nstyle loss {result['content_image']['style_loss']:.3g}",
              "style": "style", "Gatys NST": (f"Gatys NST, {nst['steps']} steps, {nst['seconds']:.2f} s\n"
                                              f"content {nst['content_loss']:.3g}, style {nst['style_loss']:.3g}")}
    for key, r in by_key.items():
        ms = "not timed" if r["latency_ms"] is None else f"{r['latency_ms']:.3g} ms"
        titles[key] = f"{key}, {ms}\ncontent {r['content_loss']:.3g}, style {r['style_loss']:.3g}"
    keys = list(images)
    fig = _figure(2.2 * len(keys), 2.7)
    for i, key in enumerate(keys):
        _show(fig.add_subplot(1, len(keys), i + 1), images[key], titles.get(key, key))
    return _save(fig, path)


def frame_strip(images: Mapping[str, np.ndarray], row_titles: Mapping[str, str], col_titles: Sequence[str],
                path: Path, cell_titles: Mapping[str, Sequence[str]] | None = None) -> Path:
    """One row per runtime, one column per frame (alpha or z)."""
    keys = list(images)
    cols = max(len(v) for v in images.values())
    fig = _figure(1.6 * cols + 1.2, 1.75 * len(keys))
    for i, key in enumerate(keys):
        for j, frame in enumerate(images[key]):
            ax = fig.add_subplot(len(keys), cols, i * cols + j + 1)
            title = cell_titles[key][j] if cell_titles and key in cell_titles else (col_titles[j] if i == 0 else "")
            _show(ax, frame, title)
            if j == 0:
                ax.text(-0.08, 0.5, row_titles.get(key, key), transform=ax.transAxes, rotation=90,
                        ha="right", va="center", fontsize=7)
    return _save(fig, path)
