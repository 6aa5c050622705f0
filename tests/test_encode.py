"""Pixels written back after a blackout, over every public file with pixel data the corpus holds: the
input's transfer syntax kept where it can be re-encoded without (further) loss, attributes that describe
the encoded data exactly (dciodvfy finds no error the input did not have), the pixels outside the region
unchanged, and both engines writing the same bytes."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom import dcmread, uid

import deidlang
from deidlang.runner import deidentify_file

from . import iodcheck
from .conftest import KEY

X, Y, W, H = 0, 0, 8, 6
RULES = f'include "basic-profile"\nblackout {X},{Y},{W},{H}\n'  # header rules whose outputs dciodvfy passes

#: input transfer syntax -> the one written after a blackout (docs/pixels.md, "The encoding written back")
WRITTEN = {
    uid.ImplicitVRLittleEndian: uid.ImplicitVRLittleEndian,
    uid.ExplicitVRLittleEndian: uid.ExplicitVRLittleEndian,
    uid.DeflatedExplicitVRLittleEndian: uid.DeflatedExplicitVRLittleEndian,
    uid.RLELossless: uid.RLELossless,
    uid.JPEGLSLossless: uid.JPEGLSLossless,
    uid.JPEGLSNearLossless: uid.JPEGLSNearLossless,
    uid.JPEG2000Lossless: uid.JPEG2000Lossless,
    uid.JPEG2000: uid.JPEG2000,
    uid.JPEGLossless: uid.JPEGLossless,
    uid.JPEGLosslessSV1: uid.JPEGLosslessSV1,
    uid.HTJ2KLossless: uid.HTJ2KLossless,
    uid.HTJ2K: uid.HTJ2K,
    uid.JPEGBaseline8Bit: uid.JPEGBaseline8Bit,
    uid.JPEGExtended12Bit: uid.JPEGExtended12Bit,
}
#: of these, encoded once more with loss
LOSSY_AGAIN = {uid.JPEGBaseline8Bit, uid.JPEGExtended12Bit}


def _frames(ds) -> np.ndarray:
    samples = int(ds.get("SamplesPerPixel", 1))
    return ds.pixel_array.reshape((-1, int(ds.Rows), int(ds.Columns)) + ((samples,) if samples > 1 else ()))


def _black(ds) -> int | None:
    """The stored value that displays black where it follows from the Image Pixel module alone."""
    photometric, bits = str(ds.PhotometricInterpretation), int(ds.BitsStored)
    if photometric not in ("MONOCHROME2", "RGB", "YBR_FULL_422", "YBR_RCT", "YBR_ICT"):
        return None  # MONOCHROME1 and palette colour: test_pixels.test_fill_is_the_value_that_displays_black
    return -(2 ** (bits - 1)) if int(ds.PixelRepresentation) == 1 else 0


def _check_pixels(source, written, notes: list[str]) -> None:
    original, out = dcmread(source), dcmread(written)
    syntax, target = original.file_meta.TransferSyntaxUID, out.file_meta.TransferSyntaxUID
    expected = WRITTEN.get(syntax, uid.ExplicitVRLittleEndian)
    if target != expected:  # only where the encoder is missing or refuses this image, and said so
        assert target == uid.ExplicitVRLittleEndian and any("pixels written uncompressed" in n for n in notes), notes
    before, after = _frames(original), _frames(out)
    region, rest = after[:, Y:Y + H, X:X + W], (after[:, Y + H:], before[:, Y + H:])
    if target in LOSSY_AGAIN:  # once more with loss: close, and the step recorded
        assert rest[0].size == 0 or np.abs(rest[0].astype(np.int64) - rest[1]).mean() < 3
        assert region.max() <= 2 ** int(out.BitsStored) // 4 and region.mean() < 2 ** int(out.BitsStored) / 32
        steps = original["LossyImageCompressionMethod"].VM if "LossyImageCompressionMethod" in original else 1
        assert out.LossyImageCompression == "01" and out["LossyImageCompressionMethod"].value[-1] == "ISO_10918_1"
        assert out["LossyImageCompressionRatio"].VM == out["LossyImageCompressionMethod"].VM == steps + 1
    else:  # lossless: the same samples outside, one value inside
        assert (rest[0] == rest[1]).all()
        assert (region == region.flat[0]).all()
        if _black(out) is not None:
            assert region.flat[0] == _black(out)
    if syntax in deidlang.engine.pixels.LOSSY:
        assert out.LossyImageCompression == "01"
    assert int(out.BitsAllocated) == int(original.BitsAllocated)
    assert int(out.BitsStored) == int(original.BitsStored) or int(original.BitsAllocated) == 1


@pytest.mark.integration
@pytest.mark.skipif(not iodcheck.available(), reason="dciodvfy (dicom3tools) is not installed")
def test_every_re_encoded_output_is_valid_unchanged_outside_the_region_and_engine_independent(tmp_path):
    plan = deidlang.compile(RULES)
    pairs, kinds = [], set()
    for found in iodcheck.corpus(tmp_path / "unpacked").values():
        for n, source in enumerate(found):
            try:
                ds = dcmread(source, stop_before_pixels=False)
            except Exception:
                continue
            if "PixelData" not in ds or "SOPInstanceUID" not in ds:
                continue
            fast = deidentify_file(source, tmp_path / "fast" / f"{n}-{source.name}", plan, KEY)
            reference = deidentify_file(source, tmp_path / "reference" / f"{n}-{source.name}", plan, KEY,
                                        engine="reference")
            assert fast.status == reference.status, (source.name, fast.reason, reference.reason)
            if fast.status != "written":
                assert "deidlang has a bug" not in fast.reason, source.name  # failed with a reason (damaged)
                continue
            written = tmp_path / "fast" / f"{n}-{source.name}"
            assert written.read_bytes() == (tmp_path / "reference" / f"{n}-{source.name}").read_bytes(), source.name
            _check_pixels(source, written, fast.notes)
            pairs.append((source, written))
            kinds.add((ds.file_meta.TransferSyntaxUID, int(ds.get("SamplesPerPixel", 1))))
    # RLE, JPEG-LS, JPEG 2000 and JPEG Baseline colour among them
    assert {(uid.RLELossless, 3), (uid.JPEG2000Lossless, 3), (uid.JPEGBaseline8Bit, 3), (uid.JPEG2000, 3)} <= kinds
    assert {(uid.JPEGLSLossless, 1), (uid.JPEGLSNearLossless, 3), (uid.JPEGLosslessSV1, 1), (uid.JPEGLosslessSV1, 3),
            (uid.JPEGExtended12Bit, 1), (uid.RLELossless, 1)} <= kinds
    new = iodcheck.new_errors(pairs)
    print(f"\n{len(pairs)} outputs re-encoded after a blackout; new dciodvfy errors: {new}")
    assert new == {}
