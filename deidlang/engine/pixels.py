"""Pixel operations: blackout regions, text found by OCR, overlays burned in.

Pixels are decoded only when a pixel rule's condition holds for the file; otherwise the engine copies
the pixel data element untouched. When they are decoded (by pydicom's handlers: pylibjpeg,
openjpeg or gdcm for compressed data, installed as the ``pixels`` extra) they are written back by
`encode.store`: in the input's transfer syntax where it can be re-encoded without (further) loss,
else uncompressed explicit VR little endian, with Photometric Interpretation, Planar Configuration and
Lossy Image Compression updated (PS3.3 C.7.6.3, C.7.6.1.1.5). A file whose pixels cannot be decoded is
not written (fail-closed).

Regions are x, y, width, height in pixels from the top-left corner, clipped to the image, and applied
to every frame. They are filled with the value that displays black: 0 for unsigned MONOCHROME2 and
RGB, the most negative value for signed data, the largest for MONOCHROME1, and the palette index of
the darkest colour for PALETTE COLOR.

`detected-text` reads every distinct frame (`ocr.read`), and blacks out, on every frame, each place
where text was read with confidence or where it repeats a value the plan removes or changes
(`identifying`); `verify` reads the written pixels again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut
from pydicom.uid import UID

from .. import limits
from ..errors import EngineError
from ..plan import PixelRule
from . import encode, identifying, ocr
from .encode import LOSSY

__all__ = ["LOSSY", "Finding", "apply", "decode", "examine", "verify"]

_OVERLAY_GROUPS = range(0x6000, 0x6020, 2)


@dataclass(frozen=True)
class Finding:
    """A text reading, and why it is (or is not) blacked out."""

    box: ocr.TextBox
    matches: str  # the keyword of the removed or changed element the text repeats, or ""
    redact: bool  # identifying, or read with confidence


@dataclass
class Pixels:
    """The decoded frames of a dataset and what is needed to show and write them."""

    arr: np.ndarray  # as pydicom decodes it, little endian
    frames: np.ndarray  # (frames, rows, columns[, samples]), a view of ``arr``
    photometric: str  # "RGB" for every colour image (pydicom converts YBR when decoding)
    bits_stored: int
    bits_allocated: int

    def viewable(self, ds: Dataset) -> np.ndarray:
        """The frames as a viewer shows them: palette colour through its LUT."""
        if self.photometric == "PALETTE COLOR":
            rgb = apply_color_lut(self.frames, ds)
            return (rgb >> 8).astype(np.uint8) if rgb.dtype.itemsize > 1 else rgb
        return self.frames


def decode(ds: Dataset) -> Pixels:
    """``ds``'s pixels as frames, or `EngineError` (fail-closed) when they cannot be decoded."""
    _check_size(ds)
    try:
        arr = np.array(ds.pixel_array, copy=True)
        arr = arr.astype(arr.dtype.newbyteorder("<"))  # big-endian input is written little endian
    except Exception as err:  # no decoder installed, or damaged data
        raise EngineError(f"a pixel rule applies but the pixels cannot be decoded ({type(err).__name__}): "
                          "they are damaged, or no decoder is installed (pip install 'deidlang[pixels]')") from None
    samples = int(ds.get("SamplesPerPixel", 1))
    frames = arr.reshape((-1, int(ds.Rows), int(ds.Columns)) + ((samples,) if samples > 1 else ()))
    photometric = "RGB" if samples == 3 else str(ds.PhotometricInterpretation)
    bits_allocated = int(ds.get("BitsAllocated", arr.dtype.itemsize * 8))
    return Pixels(arr, frames, photometric, int(ds.get("BitsStored", arr.dtype.itemsize * 8)), bits_allocated)


def _check_size(ds: Dataset) -> None:
    """Refuse, before decoding, pixels whose decoded buffer would pass the limit (`limits.pixels`):
    a small compressed file can declare a huge image."""
    try:
        size = (int(ds.Rows) * int(ds.Columns) * int(ds.get("NumberOfFrames") or 1) * int(ds.get("SamplesPerPixel", 1))
                * max(1, (int(ds.get("BitsAllocated", 8)) + 7) // 8))
    except Exception:  # missing, not numbers, or not decodable as their VR (a 3-byte US)
        raise EngineError("a pixel rule applies but the pixels cannot be decoded: Rows, Columns, frames or bits "
                          "are missing or not numbers") from None
    if size > limits.pixels():
        raise EngineError(f"the decoded pixels would take {size >> 20} MiB, more than the limit of "
                          f"{limits.pixels() >> 20} MiB (--max-pixels)")


def examine(ds: Dataset, pixels: Pixels, terms: identifying.Terms, engine: str | None = None) -> list[Finding]:
    """Every text reading on every distinct frame, each judged against ``terms``."""
    engine = engine or ocr.engine_name()
    threshold = ocr.MIN_CONFIDENCE[engine]
    findings = []
    for box in ocr.read(pixels.viewable(ds), "RGB" if pixels.photometric == "PALETTE COLOR" else pixels.photometric,
                        pixels.bits_stored, engine):
        matches = terms.match(box.text)
        findings.append(Finding(box, matches, bool(matches) or box.confidence >= threshold))
    return findings


def apply(out: Dataset, original: Dataset, rules: list[PixelRule], transfer_syntax: str, notes: list[str]) -> str:
    """Run the pixel rules on ``original``'s pixels, store the result in ``out``, and return the
    transfer syntax ``out`` must be written with."""
    if "PixelData" not in original or "PixelData" not in out:
        notes.append("a pixel rule applies but the file has no pixel data")
        return transfer_syntax
    pixels = decode(original)
    frames, rows, cols = pixels.frames, pixels.frames.shape[1], pixels.frames.shape[2]
    palette = original if UID(transfer_syntax).is_little_endian else encode.little_endian_pixel_module(original)
    black, white = _extremes(palette, pixels.arr.dtype, pixels.photometric, pixels.bits_stored)
    for rule in rules:
        operation = OPERATIONS.get(rule.kind)
        if operation is None:  # fail-closed: an unknown kind is never taken for another
            raise EngineError(f"unknown pixel rule kind `{rule.kind}`")
        regions = operation(rule, _Work(pixels, original, out, white), notes)
        for x, y, w, h in regions:
            frames[:, max(y, 0):max(min(y + h, rows), 0), max(x, 0):max(min(x + w, cols), 0)] = black
    # INVARIANT: the input is never modified. `out` shares kept elements with it, and what follows
    # edits the Image Pixel module in place, so those elements are detached first.
    for tag in [t for t in out.keys() if t.group == 0x0028 or t == 0x7FE00010]:
        out[tag] = DataElement(tag, out[tag].VR, out[tag].value)
    if transfer_syntax in LOSSY:
        out.LossyImageCompression = "01"
    size = len(original.PixelData) if isinstance(original.PixelData, bytes) else 0
    syntax = encode.store(out, pixels.arr, pixels.photometric, pixels.bits_stored, pixels.bits_allocated,
                          transfer_syntax, size, notes)
    if any(r.complete for r in rules if r.kind == "blackout"):
        out.BurnedInAnnotation = "NO"
    if any(r.kind == "burn-overlays" for r in rules):
        for tag in [t for t in out.keys() if t.group in _OVERLAY_GROUPS]:
            del out[tag]
    return syntax


def verify(written: Dataset, terms: identifying.Terms, engine: str | None = None) -> list[str]:
    """The elements whose values OCR still reads in ``written``'s pixels (empty: none)."""
    pixels = decode(written)
    return sorted({f.matches for f in examine(written, pixels, terms, engine) if f.matches})


@dataclass(frozen=True)
class _Work:
    """What a pixel operation works on: the decoded frames (changed in place) and the datasets."""

    pixels: Pixels
    original: Dataset
    out: Dataset  # the de-identified dataset so far: what the plan removed or changed shows in it
    white: int


Region = tuple[int, int, int, int]


def _blackout(rule: PixelRule, work: _Work, notes: list[str]) -> tuple[Region, ...]:
    return rule.regions


def _detected_text(rule: PixelRule, work: _Work, notes: list[str]) -> tuple[Region, ...]:
    terms = identifying.removed_or_changed(work.original, work.out)
    findings = [f for f in examine(work.original, work.pixels, terms) if f.redact]
    regions = tuple(ocr.merge(f.box.region() for f in findings))
    matched = sorted({f.matches for f in findings if f.matches})
    notes.append(f"detected text: {len(regions)} region(s) blacked out on every frame"
                 + (f", repeating {', '.join(matched)}" if matched else ""))
    return regions


def _burn(rule: PixelRule, work: _Work, notes: list[str]) -> tuple[Region, ...]:
    _burn_overlays(work.pixels.frames, work.original, work.white)
    return ()


#: The operation of each pixel rule kind declared in `deidlang.actions.PIXEL_KINDS`: it changes the
#: frames in place and returns the regions to fill with black.
OPERATIONS: dict[str, Callable[[PixelRule, _Work, list[str]], tuple[Region, ...]]] = {
    "blackout": _blackout,
    "detected-text": _detected_text,
    "burn-overlays": _burn,
}


def _extremes(ds: Dataset, dtype: np.dtype, photometric: str, bits_stored: int) -> tuple[int, int]:
    """(the value that displays black, the one that displays white)."""
    if photometric == "PALETTE COLOR":
        indices = np.arange(2 ** min(bits_stored, 16))
        brightness = apply_color_lut(indices, ds).astype(np.int64).sum(axis=-1)
        return int(indices[brightness.argmin()]), int(indices[brightness.argmax()])
    if photometric == "RGB" or photometric.startswith("YBR"):
        return 0, 2 ** bits_stored - 1
    signed = np.issubdtype(dtype, np.signedinteger)
    low, high = (-(2 ** (bits_stored - 1)), 2 ** (bits_stored - 1) - 1) if signed else (0, 2 ** bits_stored - 1)
    return (high, low) if photometric == "MONOCHROME1" else (low, high)


def _burn_overlays(frames: np.ndarray, ds: Dataset, white: int) -> None:
    """Draw every overlay plane (60xx,3000) into every frame, at its origin, in white."""
    rows, cols = frames.shape[1:3]
    for group in _OVERLAY_GROUPS:
        if (group << 16 | 0x3000) not in ds:
            continue
        plane = np.asarray(ds.overlay_array(group))
        plane = plane[0] if plane.ndim == 3 else plane
        origin = ds.get((group << 16) | 0x0050)
        top, left = (int(origin.value[0]) - 1, int(origin.value[1]) - 1) if origin else (0, 0)
        r0, r1 = max(top, 0), min(top + plane.shape[0], rows)
        c0, c1 = max(left, 0), min(left + plane.shape[1], cols)
        if r0 < r1 and c0 < c1:
            frames[:, r0:r1, c0:c1][:, plane[r0 - top:r1 - top, c0 - left:c1 - left].astype(bool)] = white
