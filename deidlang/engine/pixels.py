"""Pixel operations: blackout regions, text found by OCR, overlays burned in.

Pixels are decoded only when a pixel rule's condition holds for the file; otherwise the engine copies
the pixel data element untouched. When they are decoded (by pydicom's handlers: pylibjpeg,
openjpeg or gdcm for compressed data, installed as the ``pixels`` extra) they are written back
uncompressed, explicit VR little endian, with Photometric Interpretation, Planar Configuration and
Lossy Image Compression updated (PS3.3 C.7.6.3, C.7.6.1.1.5). A file whose pixels cannot be decoded is
not written (fail-closed).

Regions are x, y, width, height in pixels from the top-left corner, clipped to the image, and applied
to every frame. They are filled with the value that displays black: 0 for unsigned MONOCHROME2 and
RGB, the most negative value for signed data, the largest for MONOCHROME1, and the palette index of
the darkest colour for PALETTE COLOR.
"""

from __future__ import annotations

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import apply_color_lut
from pydicom.uid import (
    HTJ2K, JPEG2000, JPEG2000MC, ExplicitVRLittleEndian, JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLSNearLossless, UID,
)

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import EngineError
from ..plan import PixelRule
from . import ocr

#: Transfer syntaxes whose pixels may have been compressed with loss.
LOSSY = frozenset({JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLSNearLossless, JPEG2000, JPEG2000MC, HTJ2K})
_OVERLAY_GROUPS = range(0x6000, 0x6020, 2)


def apply(out: Dataset, original: Dataset, rules: list[PixelRule], transfer_syntax: str, notes: list[str]) -> str:
    """Run the pixel rules on ``original``'s pixels, store the result in ``out``, and return the
    transfer syntax ``out`` must be written with."""
    if "PixelData" not in original or "PixelData" not in out:
        notes.append("a pixel rule applies but the file has no pixel data")
        return transfer_syntax
    try:
        arr = np.array(original.pixel_array, copy=True)
        arr = arr.astype(arr.dtype.newbyteorder("<"))  # big-endian input is written little endian
    except Exception as err:  # no decoder installed, or damaged data
        raise EngineError(f"a pixel rule applies but the pixels cannot be decoded ({type(err).__name__}): "
                          "they are damaged, or no decoder is installed (pip install 'deidlang[pixels]')") from None
    samples = int(original.get("SamplesPerPixel", 1))
    rows, cols = int(original.Rows), int(original.Columns)
    frames = arr.reshape((-1, rows, cols) + ((samples,) if samples > 1 else ()))
    photometric = "RGB" if samples == 3 else str(original.PhotometricInterpretation)
    bits_stored = int(original.get("BitsStored", arr.dtype.itemsize * 8))
    black, white = _extremes(original, arr.dtype, photometric, bits_stored)
    for rule in rules:
        operation = OPERATIONS.get(rule.kind)
        if operation is None:  # fail-closed: an unknown kind is never taken for another
            raise EngineError(f"unknown pixel rule kind `{rule.kind}`")
        regions = operation(rule, _Pixels(frames, original, photometric, white), notes)
        for x, y, w, h in regions:
            frames[:, max(y, 0):max(min(y + h, rows), 0), max(x, 0):max(min(x + w, cols), 0)] = black
    # INVARIANT: the input is never modified. `out` shares kept elements with it, and what follows
    # edits the Image Pixel module in place, so those elements are detached first.
    for tag in [t for t in out.keys() if t.group == 0x0028 or t == 0x7FE00010]:
        out[tag] = DataElement(tag, out[tag].VR, out[tag].value)
    out.file_meta = FileMetaDataset()
    out.file_meta.TransferSyntaxUID = _native(transfer_syntax)
    if arr.dtype.itemsize <= 2:
        out.set_pixel_data(arr, photometric, bits_stored, generate_instance_uid=False)
    elif arr.dtype.kind in "iu" and arr.dtype.itemsize == 4:  # beyond set_pixel_data: 32-bit integers
        out.PixelData = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        out["PixelData"].VR = "OW"
        out.PhotometricInterpretation = photometric
        if samples > 1:
            out.PlanarConfiguration = 0
    else:
        raise EngineError(f"pixels of type {arr.dtype} cannot be re-encoded after a pixel rule")
    if transfer_syntax in LOSSY:
        out.LossyImageCompression = "01"
    if any(r.complete for r in rules if r.kind == "blackout"):
        out.BurnedInAnnotation = "NO"
    if any(r.kind == "burn-overlays" for r in rules):
        for tag in [t for t in out.keys() if t.group in _OVERLAY_GROUPS]:
            del out[tag]
    return out.file_meta.TransferSyntaxUID


@dataclass(frozen=True)
class _Pixels:
    """What a pixel operation works on: every frame (changed in place) and what it needs to know."""

    frames: np.ndarray
    original: Dataset
    photometric: str
    white: int


Region = tuple[int, int, int, int]


def _blackout(rule: PixelRule, pixels: _Pixels, notes: list[str]) -> tuple[Region, ...]:
    return rule.regions


def _detected_text(rule: PixelRule, pixels: _Pixels, notes: list[str]) -> tuple[Region, ...]:
    regions = tuple(ocr.find_text(pixels.frames[0], pixels.photometric))
    notes.append(f"detected text: {len(regions)} region(s) blacked out")
    return regions


def _burn(rule: PixelRule, pixels: _Pixels, notes: list[str]) -> tuple[Region, ...]:
    _burn_overlays(pixels.frames, pixels.original, pixels.white)
    return ()


#: The operation of each pixel rule kind declared in `deidlang.actions.PIXEL_KINDS`: it changes the
#: frames in place and returns the regions to fill with black.
OPERATIONS: dict[str, Callable[[PixelRule, _Pixels, list[str]], tuple[Region, ...]]] = {
    "blackout": _blackout,
    "detected-text": _detected_text,
    "burn-overlays": _burn,
}


def _native(transfer_syntax: str) -> str:
    """Little-endian native syntaxes stay; compressed and big-endian data become explicit VR LE."""
    uid = UID(transfer_syntax)
    return transfer_syntax if not uid.is_compressed and uid.is_little_endian else ExplicitVRLittleEndian


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
