"""A seeded generator of synthetic images with burned-in text and its ground truth, for ocr_bench.py.

Kinds: ultrasound RGB, 16-bit CT and MR, 8-bit XA and RF, multi-frame cine (text appearing mid-
sequence), secondary capture. Text: names, IDs, dates, accession numbers and measurements, in the
fonts Debian provides (DejaVu, Liberation, Noto; Pillow's own where none is installed), 8-48 px,
several colours, some of low contrast, at the top, bottom and middle of the image, a few turned 90
degrees. Each line's ground truth is its ink mask (where the glyphs were drawn).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

KINDS = ("US", "CT", "MR", "XA", "RF", "cine", "SC")
#: images per kind: 200 in all
COUNTS = {"US": 40, "CT": 30, "MR": 20, "XA": 30, "RF": 20, "cine": 20, "SC": 40}
_FONTS = [Path("/usr/share/fonts/truetype", p) for p in (
    "dejavu/DejaVuSans.ttf", "dejavu/DejaVuSansMono.ttf", "dejavu/DejaVuSans-Bold.ttf",
    "liberation/LiberationSans-Regular.ttf", "liberation/LiberationMono-Regular.ttf",
    "liberation/LiberationSerif-Regular.ttf", "liberation/LiberationSans-Bold.ttf", "noto/NotoSansMono-Regular.ttf")]
_SURNAMES = ("DOE", "SMITH", "MUELLER", "GARCIA", "NGUYEN", "OKAFOR", "KOWALSKI", "TANAKA", "ROSSI", "BERG")
_GIVEN = ("JANE", "JOHN", "MARIA", "AHMED", "LI", "ANNA", "PIOTR", "YUKI", "LUCA", "INGRID")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


@dataclass
class Line:
    text: str
    mask: np.ndarray  # bool, the image's rows x columns: the line's ink
    frames: tuple[int, ...]  # the frames it is drawn on


@dataclass
class Image:
    kind: str
    frames: np.ndarray  # (frames, rows, columns[, 3])
    photometric: str
    bits_stored: int
    lines: list[Line] = field(default_factory=list)


def fonts() -> list[Path]:
    return [f for f in _FONTS if f.exists()]


def images(seed: int = 2026) -> list[Image]:
    """The whole set, the same for the same seed."""
    rng = np.random.default_rng(seed)
    out = []
    for kind in KINDS:
        for _ in range(COUNTS[kind]):
            out.append(_make(kind, rng))
    return out


def _text(rng) -> str:
    i = rng.integers(7)
    name = f"{_SURNAMES[rng.integers(10)]}^{_GIVEN[rng.integers(10)]}"
    y, m, d = int(rng.integers(1930, 2024)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
    return [name, name.replace("^", ", "), f"ID {rng.integers(10**5, 10**8)}",
            [f"{y}-{m:02}-{d:02}", f"{m:02}/{d:02}/{y}", f"{d:02}.{m:02}.{y}", f"{d:02}-{_MONTHS[m - 1]}-{y}"][rng.integers(4)],
            f"ACC {rng.integers(10**6, 10**9)}", f"DOB {d:02}.{m:02}.{y}", f"{rng.integers(1, 30)}.{rng.integers(10)} cm"][i]


def _background(kind: str, rng, rows: int, cols: int) -> np.ndarray:
    y, x = np.mgrid[0:rows, 0:cols]
    if kind in ("US", "cine"):
        radius = np.hypot(x - cols / 2, y - rows * 0.1)
        angle = np.degrees(np.arctan2(x - cols / 2, y - rows * 0.1))
        sector = (np.abs(angle) < 38) & (radius > rows * 0.12) & (radius < rows * 0.95)
        return np.where(sector, rng.gamma(2.0, 30.0, (rows, cols)).clip(0, 200), 0)
    if kind in ("CT", "MR"):
        body = ((x - cols / 2) / (cols * 0.42)) ** 2 + ((y - rows / 2) / (rows * 0.36)) ** 2 < 1
        level = 1000 if kind == "CT" else 400
        image = np.where(body, level + rng.normal(0, 40 if kind == "CT" else 60, (rows, cols)), 0 if kind == "CT" else 20)
        bone = ((x - cols / 2) / (cols * 0.08)) ** 2 + ((y - rows * 0.62) / (rows * 0.06)) ** 2 < 1
        return np.where(bone, level * 2.2, image)
    if kind in ("XA", "RF"):
        image = 170 + 40 * np.sin(x / 37.0) * np.cos(y / 53.0) + rng.normal(0, 8, (rows, cols))
        vessels = np.abs(np.sin((x + 2 * y) / 23.0)) < 0.05
        return np.where(vessels, image - 90, image).clip(0, 255)
    flat = float(rng.choice([0, 30, 200, 240]))  # SC: a screen capture, dark or light
    return np.full((rows, cols), flat) + rng.normal(0, 3, (rows, cols))


def _make(kind: str, rng) -> Image:
    from PIL import Image as PILImage, ImageDraw, ImageFont

    rows, cols = {"US": (480, 640), "cine": (360, 480), "CT": (512, 512), "MR": (256, 256), "XA": (512, 512),
                  "RF": (480, 480), "SC": (400, 600)}[kind]
    deep = kind in ("CT", "MR")
    top = 4095 if kind == "CT" else 2000 if kind == "MR" else 255
    n_frames = 6 if kind == "cine" else 1
    base = _background(kind, rng, rows, cols)
    frames = np.stack([base + (rng.normal(0, 6, base.shape) if n_frames > 1 else 0) for _ in range(n_frames)])
    colour = kind in ("US", "cine") or (kind == "SC" and rng.random() < 0.5)
    if colour:
        frames = np.repeat(frames[..., None], 3, axis=-1)
    lines: list[Line] = []
    occupied = np.zeros((rows, cols), bool)
    available_fonts = fonts()
    for i in range(int(rng.integers(2, 5))):
        text = _text(rng)
        size = int(rng.choice([8, 10, 12, 14, 16, 20, 24, 32, 40, 48], p=[.08, .12, .14, .14, .14, .12, .1, .06, .05, .05]))
        size = min(size, rows // 6)
        font = (ImageFont.truetype(str(available_fonts[rng.integers(len(available_fonts))]), size) if available_fonts
                else ImageFont.load_default(size=size))
        turned = rng.random() < 0.05
        canvas = PILImage.new("L", (cols * 2, size * 2), 0)
        ImageDraw.Draw(canvas).text((2, 2), text, fill=255, font=font)
        ink = np.asarray(canvas) > 96
        ys, xs = np.nonzero(ink)
        if not len(ys):
            continue
        glyphs = ink[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        alpha = (np.asarray(canvas)[ys.min():ys.max() + 1, xs.min():xs.max() + 1] / 255.0)
        if turned:
            glyphs, alpha = np.rot90(glyphs), np.rot90(alpha)
        h, w = glyphs.shape
        if h >= rows - 8 or w >= cols - 8:
            continue
        for _ in range(20):  # a place that overlaps no other line
            where = rng.random()
            y0 = (int(rng.integers(2, max(rows // 8, 3))) if where < 0.4 else
                  int(rng.integers(rows - rows // 8 - h, rows - h - 1)) if where < 0.7 else
                  int(rng.integers(rows // 4, max(rows * 3 // 4 - h, rows // 4 + 1))))
            x0 = int(rng.integers(2, cols - w - 2))
            y0 = min(max(y0, 0), rows - h - 1)
            if not occupied[max(y0 - 6, 0):y0 + h + 6, max(x0 - 6, 0):x0 + w + 6].any():
                break
        else:
            continue
        occupied[y0:y0 + h, x0:x0 + w] = True
        low_contrast = rng.random() < 0.15
        first = int(rng.integers(1, n_frames)) if n_frames > 1 and i == 0 else 0  # cine: appears mid-sequence
        region = frames[first:, y0:y0 + h, x0:x0 + w]
        if colour:
            value = np.array([[255, 255, 255], [255, 255, 0], [0, 255, 0], [0, 255, 255], [255, 120, 0]][rng.integers(5)],
                             float)
            if low_contrast:
                value = np.full(3, min(float(np.percentile(region, 95)) + 50, 255.0))
            blend = alpha[None, ..., None]
        else:  # light text, or dark on a bright field, against all that lies under the line
            lo, hi = (float(v) for v in np.percentile(region, [5, 95]))
            step = (0.2 if low_contrast else 0.3) * top
            light = hi + step <= top and (lo - step < 0 or rng.random() < 0.6)
            if low_contrast:
                value = hi + step if light else max(lo - step, 0.0)
            else:
                value = max(top * float(rng.choice([1.0, 0.9, 0.8])), hi + step) if light else \
                    min(top * float(rng.choice([0.0, 0.1])), max(lo - step, 0.0))
            blend = alpha[None]
        frames[first:, y0:y0 + h, x0:x0 + w] = region * (1 - blend) + value * blend
        mask = np.zeros((rows, cols), bool)
        mask[y0:y0 + h, x0:x0 + w] = glyphs
        lines.append(Line(text, mask, tuple(range(first, n_frames))))
    dtype = np.uint16 if deep else np.uint8
    frames = frames.clip(0, top).round().astype(dtype)
    return Image(kind, frames, "RGB" if colour else "MONOCHROME2", 12 if kind == "CT" else 16 if deep else 8, lines)
