"""Procedural images: the built-in domains that need no download.

Every function is deterministic in its `seed` (numpy's `default_rng`), pure numpy/PIL except
`canny_edges` (scikit-image), and cheap enough to build a small training set on the fly:
suprematist compositions for the morph, edge maps for edges2photo, painterly photos for
photo2painting and a swirling brush-stroke painting as the default style image.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from pix2mobile.data.images import center_crop, resize_shorter, to_rgb

RGB = tuple[int, int, int]

_SUPREMATIST_INKS: tuple[tuple[RGB, float], ...] = (
    ((22, 22, 24), 0.35),     # black
    ((196, 36, 30), 0.30),    # red
    ((32, 58, 150), 0.20),    # blue
    ((236, 190, 42), 0.15),   # yellow
)
_SWIRL_PALETTE: tuple[RGB, ...] = (
    (20, 32, 92), (34, 74, 160), (74, 132, 196), (128, 178, 214), (236, 206, 84),
    (242, 150, 40), (246, 240, 214), (32, 104, 98), (14, 18, 40),
)


def suprematist(seed: int, size: int = 128) -> Image.Image:
    """A Malevich-like composition: rotated rectangles, bars, circles and a cross on off-white.

    Shapes share one dominant diagonal (as in Suprematist Composition, 1915) and are drawn
    large-first, at 2x with downsampling for clean edges.
    """
    rng = np.random.default_rng(seed)
    s = 2 * size
    tint = rng.integers(-6, 7, size=3)
    background = tuple(int(c) for c in np.clip(np.array([241, 236, 222]) + tint, 0, 255))
    canvas = Image.new("RGB", (s, s), background)
    draw = ImageDraw.Draw(canvas)
    axis = float(rng.uniform(-50.0, 50.0))
    inks = [ink for ink, _ in _SUPREMATIST_INKS]
    weights = np.array([w for _, w in _SUPREMATIST_INKS])
    shapes = []
    for _ in range(int(rng.integers(4, 9))):
        kind = rng.choice(["rect", "bar", "circle", "cross", "line"], p=[0.34, 0.28, 0.16, 0.1, 0.12])
        ink = inks[int(rng.choice(len(inks), p=weights))]
        angle = axis + float(rng.choice([0.0, 90.0], p=[0.75, 0.25])) + float(rng.normal(0.0, 4.0))
        centre = (float(rng.uniform(0.15, 0.85)) * s, float(rng.uniform(0.15, 0.85)) * s)
        if kind == "rect":
            dims = (rng.uniform(0.12, 0.45) * s, rng.uniform(0.07, 0.28) * s)
        elif kind == "bar":
            dims = (rng.uniform(0.35, 0.85) * s, rng.uniform(0.02, 0.055) * s)
        elif kind == "line":
            dims = (rng.uniform(0.3, 0.9) * s, rng.uniform(0.004, 0.01) * s)
        elif kind == "circle":
            dims = (rng.uniform(0.05, 0.18) * s,) * 2
        else:
            dims = (rng.uniform(0.25, 0.5) * s, rng.uniform(0.05, 0.09) * s)
        shapes.append((dims[0] * dims[1], str(kind), ink, angle, centre, dims))
    for _, kind, ink, angle, centre, (w, h) in sorted(shapes, key=lambda t: -t[0]):
        if kind == "circle":
            cx, cy = centre
            draw.ellipse((cx - w, cy - w, cx + w, cy + w), fill=ink)
        elif kind == "cross":
            draw.polygon(_rotated_rect(centre, w, h, angle), fill=ink)
            draw.polygon(_rotated_rect(centre, w, h, angle + 90.0), fill=ink)
        else:
            draw.polygon(_rotated_rect(centre, w, h, angle), fill=ink)
    return canvas.resize((size, size), Image.Resampling.LANCZOS)


def _rotated_rect(centre: tuple[float, float], w: float, h: float, degrees: float) -> list[tuple[float, float]]:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    cx, cy = centre
    return [(cx + x * c - y * s, cy + x * s + y * c)
            for x, y in ((-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2))]


def canny_edges(img: Image.Image, *, sigma: float = 2.0, per_channel: bool = False) -> Image.Image:
    """Black Canny edges on white, as the A side of edges2photos (RGB, same size as `img`)."""
    from skimage.feature import canny

    rgb = np.asarray(to_rgb(img), dtype=np.float64) / 255.0
    if per_channel:
        edges = np.logical_or.reduce([canny(rgb[..., c], sigma=sigma) for c in range(3)])
    else:
        grey = rgb @ np.array([0.2125, 0.7154, 0.0721])
        edges = canny(grey, sigma=sigma)
    out = np.where(edges, 0, 255).astype(np.uint8)
    return Image.fromarray(out, "L").convert("RGB")


def edges_photo_pair(img: Image.Image, size: int) -> Image.Image:
    """A pix2pix training pair: edges (A, left) | photo (B, right), each size x size."""
    photo = center_crop(resize_shorter(to_rgb(img), size), size)
    pair = Image.new("RGB", (2 * size, size))
    pair.paste(canny_edges(photo), (0, 0))
    pair.paste(photo, (size, 0))
    return pair


def painterly(img: Image.Image, seed: int) -> Image.Image:
    """A photo repainted: flat quantised colours, strokes smeared along the edges, canvas weave.

    The smear direction follows the image structure (perpendicular to the smoothed gradient),
    so strokes wrap around objects; `seed` varies palette size, stroke length and texture.
    """
    rng = np.random.default_rng(seed)
    rgb = to_rgb(img)
    w, h = rgb.size
    scale = max(1.0, min(w, h) / 128.0)
    flat = rgb.filter(ImageFilter.MedianFilter(3)).quantize(
        colors=int(rng.integers(8, 17)), method=Image.Quantize.MEDIANCUT,
        dither=Image.Dither.NONE).convert("RGB")
    a = np.asarray(flat, dtype=np.float32)
    angles = _stroke_angles(rgb, float(rng.uniform(0.0, math.pi)))
    reach = max(2, int(round(float(rng.uniform(2.0, 3.5)) * scale)))
    smeared = _directional_smear(a, angles, reach, bins=8)
    out = Image.fromarray(np.clip(smeared, 0, 255).astype(np.uint8), "RGB")
    out = ImageEnhance.Color(out).enhance(float(rng.uniform(1.25, 1.6)))
    out = ImageEnhance.Contrast(out).enhance(1.1)
    return _canvas_texture(out, rng, strength=float(rng.uniform(0.05, 0.09)))


def _stroke_angles(img: Image.Image, bias: float) -> np.ndarray:
    """Per-pixel stroke angle in [0, pi): along edges where there are some, `bias` elsewhere."""
    w, h = img.size
    small = img.convert("L").resize((max(8, w // 4), max(8, h // 4)), Image.Resampling.BILINEAR)
    g = np.asarray(small.filter(ImageFilter.GaussianBlur(1.5)), dtype=np.float32)
    gy, gx = np.gradient(g)
    # Structure tensor, smoothed, gives a stable orientation per region (no sign flips).
    jxx, jyy, jxy = (_gaussian_blur(t, 2.0) for t in (gx * gx, gy * gy, gx * gy))
    gradient_angle = 0.5 * np.arctan2(2.0 * jxy, jxx - jyy)
    strength = np.sqrt((jxx - jyy) ** 2 + 4.0 * jxy ** 2)
    weight = strength / (strength + np.percentile(strength, 60) + 1e-6)
    along = gradient_angle + math.pi / 2
    vec = weight * np.exp(2j * along) + (1.0 - weight) * np.exp(2j * bias)
    angle = (np.angle(vec) / 2.0) % math.pi
    big = Image.fromarray(angle.astype(np.float32), "F").resize((w, h), Image.Resampling.NEAREST)
    return np.asarray(big, dtype=np.float32)


def _gaussian_blur(a: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of a 2-D float array (edges replicated); PIL cannot blur mode F."""
    r = max(1, int(math.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    h, w = a.shape
    p = np.pad(a, r, mode="edge")
    rows = sum(k[i] * p[:, i:i + w] for i in range(2 * r + 1))
    return sum(k[i] * rows[i:i + h, :] for i in range(2 * r + 1))


def _directional_smear(a: np.ndarray, angles: np.ndarray, reach: int, bins: int) -> np.ndarray:
    """Average each pixel with its neighbours along its stroke angle (a line-kernel blur per bin)."""
    h, w, _ = a.shape
    padded = np.pad(a, ((reach, reach), (reach, reach), (0, 0)), mode="edge")
    which = np.floor(angles / math.pi * bins).astype(np.int64) % bins
    out = np.empty_like(a)
    for b in np.unique(which):
        phi = (b + 0.5) * math.pi / bins
        acc = np.zeros_like(a)
        for t in range(-reach, reach + 1):
            dx, dy = int(round(t * math.cos(phi))), int(round(t * math.sin(phi)))
            acc += padded[reach + dy:reach + dy + h, reach + dx:reach + dx + w]
        mask = which == b
        out[mask] = acc[mask] / (2 * reach + 1)
    return out


def _canvas_texture(img: Image.Image, rng: np.random.Generator, strength: float) -> Image.Image:
    """Multiply in a linen weave plus grain, so the result reads as paint on canvas."""
    w, h = img.size
    period = float(rng.uniform(3.0, 5.0))
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    weave = np.sin(2 * math.pi * x / period) * np.sin(2 * math.pi * y / period)
    grain = rng.standard_normal((h, w)).astype(np.float32)
    texture = 0.6 * weave + 0.4 * grain
    a = np.asarray(img, dtype=np.float32) * (1.0 + strength * texture)[..., None]
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGB")


def swirl_painting(seed: int = 0, size: int = 512) -> Image.Image:
    """A swirling brush-stroke painting in blues and golds, for the built-in style image.

    Thousands of thick strokes follow a vortex flow field over a dark-to-light sky, so Gram
    statistics carry strong colour and orientation: style transfer visibly picks it up.
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    sky = (np.array([18, 30, 90], np.float32) * (1 - y[..., None])
           + np.array([60, 120, 170], np.float32) * y[..., None])
    canvas = Image.fromarray(sky.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(canvas)
    vortices = [(rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.choice([-1.0, 1.0]) * rng.uniform(0.6, 1.4))
                for _ in range(int(rng.integers(3, 6)))]
    freq = rng.uniform(2.0, 5.0, size=2)

    def flow(px: float, py: float) -> float:
        vx, vy = math.cos(freq[0] * py * 2 * math.pi), 0.6 * math.sin(freq[1] * px * 2 * math.pi)
        for cx, cy, spin in vortices:
            dx, dy = px - cx, py - cy
            r2 = dx * dx + dy * dy + 0.004
            vx += -spin * dy / r2 * 0.08
            vy += spin * dx / r2 * 0.08
        return math.atan2(vy, vx)

    palette = np.array(_SWIRL_PALETTE, dtype=np.float32)
    width_lo, width_hi = max(2, size // 110), max(3, size // 55)
    step = size / 90.0
    for _ in range(int(size * size / 80)):
        px, py = float(rng.uniform(0, 1)), float(rng.uniform(0, 1))
        band = min(len(palette) - 1, int((py * 0.7 + rng.uniform(0, 0.5)) * (len(palette) - 1)))
        if rng.uniform() < 0.12:  # stars and highlights
            band = int(rng.choice([4, 5, 6]))
        colour = tuple(int(c) for c in np.clip(palette[band] + rng.normal(0, 14, 3), 0, 255))
        points = [(px * size, py * size)]
        for _ in range(int(rng.integers(4, 10))):
            theta = flow(px, py)
            px += math.cos(theta) * step / size
            py += math.sin(theta) * step / size
            points.append((px * size, py * size))
        stroke_width = int(rng.integers(width_lo, width_hi + 1))
        dark = tuple(max(0, c - 60) for c in colour)
        draw.line(points, fill=dark, width=stroke_width + 2, joint="curve")
        draw.line(points, fill=colour, width=stroke_width, joint="curve")
    canvas = canvas.filter(ImageFilter.UnsharpMask(radius=2, percent=80, threshold=2))
    return _canvas_texture(canvas, rng, strength=0.06)
