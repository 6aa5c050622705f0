"""`deidlang scan`: find burned-in text in files, and turn what is found into blackout rules.

Each file's first frame is read by OCR (`deidlang.engine.ocr`). Files are grouped by what a rule's
condition can name (Manufacturer, ManufacturerModelName, Rows, Columns); within a group, boxes that
touch or lie close are merged into regions, and each region becomes a suggested `blackout` rule for a
reviewer to check.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom import dcmread

from .engine.ocr import TextBox, find_boxes
from .errors import EngineError

MERGE_GAP = 8  # pixels between boxes that still belong to one region


@dataclass
class FileScan:
    path: str
    group: tuple[str, str, int, int]  # Manufacturer, ManufacturerModelName, Rows, Columns
    boxes: list[TextBox] = field(default_factory=list)
    error: str = ""


def scan_files(paths: Iterable[Path]) -> Iterator[FileScan]:
    """OCR every file that has pixel data; unreadable ones are reported, not raised."""
    for path in paths:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ds = dcmread(path)
            except Exception as err:
                yield FileScan(str(path), ("", "", 0, 0), error=f"cannot read ({type(err).__name__})")
                continue
            if "PixelData" not in ds:
                continue
            group = (str(ds.get("Manufacturer", "")), str(ds.get("ManufacturerModelName", "")),
                     int(ds.get("Rows", 0)), int(ds.get("Columns", 0)))
            try:
                arr = np.asarray(ds.pixel_array)
                samples = int(ds.get("SamplesPerPixel", 1))
                first = arr[0] if int(ds.get("NumberOfFrames", 1) or 1) > 1 else arr
                photometric = "RGB" if samples == 3 else str(ds.get("PhotometricInterpretation", ""))
                yield FileScan(str(path), group, find_boxes(first, photometric))
            except EngineError:  # OCR itself is missing: say so rather than report every file
                raise
            except Exception as err:
                yield FileScan(str(path), group, error=f"pixels cannot be decoded ({type(err).__name__})")


def merge(regions: Iterable[tuple[int, int, int, int]], gap: int = MERGE_GAP) -> list[tuple[int, int, int, int]]:
    """Merge rectangles (x, y, w, h) that overlap or lie within ``gap`` pixels, until none do.

    >>> merge([(0, 0, 10, 10), (12, 0, 10, 10), (100, 100, 5, 5)])
    [(0, 0, 22, 10), (100, 100, 5, 5)]
    """
    boxes = [list(r) for r in regions]
    changed = True
    while changed:
        changed = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                if (a[0] - gap <= b[0] + b[2] and b[0] - gap <= a[0] + a[2]
                        and a[1] - gap <= b[1] + b[3] and b[1] - gap <= a[1] + a[3]):
                    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
                    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
                    boxes[i] = [x0, y0, x1 - x0, y1 - y0]
                    del boxes[j]
                    changed = True
                    break
            if changed:
                break
    return sorted(tuple(b) for b in boxes)


def suggest(scans: Iterable[FileScan]) -> list[str]:
    """One commented group of `blackout` rules per device and image size that showed text."""
    grouped: dict[tuple, list[TextBox]] = {}
    counts: dict[tuple, int] = {}
    for s in scans:
        if s.error:
            continue
        counts[s.group] = counts.get(s.group, 0) + 1
        grouped.setdefault(s.group, []).extend(s.boxes)
    lines = []
    for group, boxes in sorted(grouped.items()):
        if not boxes:
            continue
        manufacturer, model, rows, cols = group
        regions = merge(b.region() for b in boxes)
        condition = " and ".join([f'Manufacturer == "{_quote(manufacturer)}"',
                                  f'ManufacturerModelName == "{_quote(model)}"', f"Rows == {rows}", f"Columns == {cols}"])
        lines.append(f"# {manufacturer or '?'} {model or '?'} {cols}x{rows}: text in {counts[group]} file(s); review")
        lines.append("blackout " + ", ".join(",".join(map(str, r)) for r in regions) + f" if {condition}")
    return lines


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
