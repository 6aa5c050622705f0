"""Pixel rules: blackout on every kind of pixel data, overlays, OCR, and nothing decoded otherwise."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom import dcmread, uid
from pydicom.dataset import Dataset

import deidlang
from deidlang.compiler import compile_text
from deidlang.phantom import phantom
from deidlang.runner import deidentify_file

CORPUS = Path(pydicom.__file__).parent / "data" / "test_files"
NONE = 'require minimum none because "pixel test"\n'


def blackout(rules: str, ds, key):
    return deidlang.apply(compile_text(NONE + rules), ds, key=key)


def test_region_is_black_and_everything_else_bit_identical(key):
    ds, _ = phantom(size=32)
    ds.BurnedInAnnotation = "YES"
    pristine = copy.deepcopy(ds)
    out = blackout("blackout 4,2,10,5 complete", ds, key).dataset
    assert ds == pristine and ds.PixelData == pristine.PixelData  # regression: the input was edited
    before, after = ds.pixel_array, out.pixel_array
    assert (after[2:7, 4:14] == 0).all()
    mask = np.ones_like(before, bool)
    mask[2:7, 4:14] = False
    assert (after[mask] == before[mask]).all()
    assert out.file_meta.TransferSyntaxUID == ds.file_meta.TransferSyntaxUID
    assert out.BurnedInAnnotation == "NO"


def test_without_complete_burned_in_annotation_is_left_to_the_rules(key):
    ds, _ = phantom(size=32)
    ds.BurnedInAnnotation = "YES"
    assert blackout("blackout 0,0,4,4", ds, key).dataset.BurnedInAnnotation == "YES"


def test_regions_are_clipped_and_every_frame_is_covered(key):
    ds, _ = phantom(size=16)
    frames = np.stack([np.full((16, 16), v, np.uint16) for v in (100, 200, 300)])
    ds.set_pixel_data(frames, "MONOCHROME2", 12, generate_instance_uid=False)
    out = blackout("blackout 10,10,100,100", ds, key).dataset.pixel_array
    assert out.shape == (3, 16, 16) and (out[:, 10:, 10:] == 0).all() and (out[:, :10, :] > 0).all()


@pytest.mark.parametrize("photometric, signed, expected", [
    ("MONOCHROME2", False, 0), ("MONOCHROME2", True, -2048), ("MONOCHROME1", False, 4095), ("MONOCHROME1", True, 2047),
])
def test_fill_is_the_value_that_displays_black(photometric, signed, expected, key):
    ds, _ = phantom(size=16)
    arr = np.full((16, 16), 7, np.int16 if signed else np.uint16)
    ds.set_pixel_data(arr, photometric, 12, generate_instance_uid=False)
    assert blackout("blackout 0,0,2,2", ds, key).dataset.pixel_array[0, 0] == expected


def _undecodable(monkeypatch) -> None:
    """Any attempt to decode pixels fails (pixel data too short is refused before, as malformed)."""
    def fail(self):
        raise ValueError("undecodable")

    monkeypatch.setattr(Dataset, "pixel_array", property(fail))


def test_no_pixel_rule_no_decoding(key, monkeypatch):
    ds, _ = phantom(size=16)
    _undecodable(monkeypatch)
    out = blackout('blackout 0,0,2,2 if Modality == "US"', ds, key).dataset
    assert out.PixelData == ds.PixelData


def test_undecodable_pixels_with_a_pixel_rule_are_not_written(tmp_path, key, monkeypatch):
    ds, _ = phantom(size=16)
    _undecodable(monkeypatch)
    ds.save_as(tmp_path / "in.dcm", enforce_file_format=True)
    result = deidentify_file(tmp_path / "in.dcm", tmp_path / "out.dcm", compile_text(NONE + "blackout 0,0,2,2"), key)
    assert result.status == "failed" and "cannot be decoded" in result.reason
    assert not (tmp_path / "out.dcm").exists()


def test_burn_overlays_draws_the_plane_and_drops_the_groups(key):
    ds, _ = phantom(size=16)
    plane = np.zeros((16, 16), np.uint8)
    plane[3, 5] = plane[4, 6] = 1
    ds.add_new(0x60000050, "SS", [1, 1])
    ds.add_new(0x60000100, "US", 1)
    ds.add_new(0x60000102, "US", 0)
    ds.add_new(0x60000040, "CS", "G")
    ds[0x60003000].value = np.packbits(plane.ravel(), bitorder="little").tobytes()
    out = blackout("burn overlays", ds, key).dataset
    px = out.pixel_array
    assert px[3, 5] == px[4, 6] == 4095 and px[0, 0] == ds.pixel_array[0, 0]
    assert not any(e.tag.group == 0x6000 for e in out)


def test_overlays_and_curves_selectors():
    plan = compile_text(NONE + "remove overlays, curves")
    assert {(r.selector.tag, r.selector.mask) for r in plan.rules} == {(0x60000000, 0xFF000000), (0x50000000, 0xFF000000)}


def test_region_outside_every_admitted_image_warns():
    plan = compile_text(NONE + 'blackout 0,500,10,10 if Modality == "US" and Rows == 480')
    assert [m for m, _ in plan.warnings] == ["the region 0,500,10,10 lies outside every image this rule's condition admits"]


def as_frames(arr: np.ndarray, ds) -> np.ndarray:
    samples = int(ds.get("SamplesPerPixel", 1))
    return arr.reshape((-1, int(ds.Rows), int(ds.Columns)) + ((samples,) if samples > 1 else ()))


def _pixel_files():
    out = []
    for path in sorted(CORPUS.glob("*.dcm")):
        try:
            ds = dcmread(path)
        except Exception:
            continue
        if "PixelData" in ds and "SOPInstanceUID" in ds:
            out.append(path.name)
    return out


#: input transfer syntax -> the one written after a blackout (docs/pixels.md); any other: explicit VR LE
KEPT = {uid.ImplicitVRLittleEndian, uid.ExplicitVRLittleEndian, uid.DeflatedExplicitVRLittleEndian, uid.RLELossless,
        uid.JPEGLSLossless, uid.JPEGLSNearLossless, uid.JPEG2000Lossless, uid.JPEG2000, uid.JPEGLossless,
        uid.JPEGLosslessSV1, uid.HTJ2KLossless, uid.HTJ2K, uid.JPEGBaseline8Bit, uid.JPEGExtended12Bit}
#: kept, and encoded once more with loss
LOSSY_AGAIN = {uid.JPEGBaseline8Bit, uid.JPEGExtended12Bit}

#: the Photometric Interpretation of colour data written in these syntaxes (any other: RGB)
COLOUR = {uid.JPEG2000Lossless: "YBR_RCT", uid.JPEG2000: "YBR_RCT", uid.HTJ2KLossless: "YBR_RCT", uid.HTJ2K: "YBR_RCT",
          uid.JPEGBaseline8Bit: "YBR_FULL_422", uid.JPEGExtended12Bit: "YBR_FULL_422"}


@pytest.mark.parametrize("name", _pixel_files())
def test_blackout_on_every_corpus_encoding(name, tmp_path, key):
    """Native, big endian, RLE, JPEG, JPEG-LS, JPEG 2000, palette, multi-frame, 1- to 32-bit: each is
    blacked out and written in its own transfer syntax where it can be re-encoded without further
    loss (JPEG Baseline: once more), else uncompressed; or refused with a reason; never with the text."""
    src = CORPUS / name
    result = deidentify_file(src, tmp_path / "out.dcm", compile_text(NONE + "blackout 0,0,4,3"), key)
    if result.status != "written":
        assert "pixel" in result.reason.lower() or "not encoded in the transfer syntax" in result.reason, result.reason
        return
    original, out = dcmread(src), dcmread(tmp_path / "out.dcm")
    before, after = original.pixel_array, out.pixel_array
    syntax = original.file_meta.TransferSyntaxUID
    written = out.file_meta.TransferSyntaxUID
    if syntax in KEPT and int(original.BitsAllocated) > 1 and written != syntax:
        assert any("pixels written uncompressed" in n for n in result.notes)  # e.g. no 32-bit RLE encoder
    if syntax in KEPT and written != syntax:
        assert written == uid.ExplicitVRLittleEndian
    elif syntax not in KEPT:
        assert written == uid.ExplicitVRLittleEndian or (written == syntax and not syntax.is_compressed)
    assert int(out.BitsAllocated) == int(original.BitsAllocated)
    frames_before, frames_after = as_frames(before, original), as_frames(after, original)
    region, rest = frames_after[:, :3, :4], frames_after[:, 3:, :].astype(np.int64)
    if written in LOSSY_AGAIN:  # lossy once more: close, not equal
        # as dark as its first pixel: with 4:2:2 chroma a decoder's upsampling may tint the edge column with
        # the neighbour's hue, but not its brightness
        brightness = region @ np.array((0.299, 0.587, 0.114)) if region.ndim == 4 else region.astype(np.float64)
        assert np.abs(brightness - brightness.flat[0]).max() <= 24
        assert rest.size == 0 or np.abs(rest - frames_before[:, 3:, :]).mean() < 3
        assert out.LossyImageCompressionMethod[-1] == "ISO_10918_1"
        assert out["LossyImageCompressionRatio"].VM == out["LossyImageCompressionMethod"].VM >= 2
    else:
        assert (region == region.flat[0]).all()
        assert (rest == frames_before[:, 3:, :]).all()
    if syntax in deidlang.engine.pixels.LOSSY:
        assert out.LossyImageCompression == "01"
    if int(original.get("SamplesPerPixel", 1)) == 3:  # what the encoded samples are (PS3.5 8.2)
        assert out.PhotometricInterpretation == COLOUR.get(written, "RGB") and out.PlanarConfiguration == 0
    if original.get("PhotometricInterpretation") == "PALETTE COLOR":  # the LUTs mean the same colours
        colours = [pydicom.pixels.apply_color_lut(a, d).reshape(-1, d.Rows, d.Columns, 3)[:, 3:]
                   for a, d in ((after, out), (before, original))]
        assert (colours[0] == colours[1]).all()


def test_palette_luts_of_a_big_endian_input_keep_their_colours(tmp_path, key):
    """OW palette LUT data is raw bytes to pydicom: written little endian, it must be byte-swapped."""
    ds = dcmread(CORPUS / "examples_palette.dcm")
    colours = pydicom.pixels.apply_color_lut(ds.pixel_array, ds)
    darkest = pydicom.pixels.apply_color_lut(np.arange(256), ds).astype(int).sum(axis=-1).min()
    for tag in (0x00281201, 0x00281202, 0x00281203):
        ds[tag].value = np.frombuffer(ds[tag].value, "<u2").astype(">u2").tobytes()
    ds["PixelData"].VR = "OB"
    ds.SOPClassUID, ds.SOPInstanceUID = uid.SecondaryCaptureImageStorage, "2.25.1"
    ds.file_meta.TransferSyntaxUID = uid.ExplicitVRBigEndian
    pydicom.dcmwrite(tmp_path / "be.dcm", ds, little_endian=False, implicit_vr=False, force_encoding=True)
    result = deidentify_file(tmp_path / "be.dcm", tmp_path / "out.dcm", compile_text(NONE + "blackout 0,0,4,3"), key)
    out = dcmread(tmp_path / "out.dcm")
    assert result.status == "written" and out.file_meta.TransferSyntaxUID == uid.ExplicitVRLittleEndian
    after = pydicom.pixels.apply_color_lut(out.pixel_array, out)
    assert (after[3:] == colours[3:]).all()
    assert after[:3, :4].astype(int).sum(axis=-1).max() == darkest


def test_segmented_palette_luts_of_a_big_endian_input_keep_their_colours(tmp_path, key):
    """Segmented LUT data (OW) is read in the byte order of the dataset that holds it (pydicom-data's
    ALOKA ultrasound, big endian, beside its little-endian twin)."""
    from pydicom.data import get_testdata_file

    big, little = (get_testdata_file(f"gdcm-US-ALOKA-16{suffix}.dcm") for suffix in ("_big", ""))
    if big is None or little is None:
        pytest.skip("pydicom-data is not installed")
    result = deidentify_file(big, tmp_path / "out.dcm", compile_text(NONE + "blackout 0,0,4,3"), key)
    assert result.status == "written", result.reason
    out, twin = dcmread(tmp_path / "out.dcm"), dcmread(little)
    after = pydicom.pixels.apply_color_lut(out.pixel_array, out)
    assert (after[3:] == pydicom.pixels.apply_color_lut(twin.pixel_array, twin)[3:]).all()
    assert after[:3, :4].max() == pydicom.pixels.apply_color_lut(np.arange(2 ** 16), twin).sum(axis=-1).min() == 0

def test_one_bit_data_stays_one_bit(tmp_path, key):
    src = CORPUS / "liver_1frame.dcm"
    result = deidentify_file(src, tmp_path / "out.dcm", compile_text(NONE + "blackout 0,0,4,3"), key)
    original, out = dcmread(src), dcmread(tmp_path / "out.dcm")
    assert result.status == "written" and out.BitsAllocated == out.BitsStored == 1 and out.HighBit == 0
    assert len(out.PixelData) == len(original.PixelData)
    before, after = original.pixel_array, out.pixel_array
    assert (after[:3, :4] == 0).all() and (after[3:] == before[3:]).all()


@pytest.mark.parametrize("syntax", [uid.HTJ2KLossless, uid.HTJ2KLosslessRPCL, uid.HTJ2K])
@pytest.mark.parametrize("colour", [False, True])
def test_htj2k_is_kept_losslessly(syntax, colour, tmp_path, key):
    """No public file holds HTJ2K: one is made with OpenJPH (imagecodecs), blacked out, and written back
    in its own syntax, colour with the reversible colour transform (YBR_RCT), in RPCL order with a TLM
    marker where the syntax asks for them."""
    imagecodecs = pytest.importorskip("imagecodecs")
    ds, _ = phantom(size=32)
    rng = np.random.default_rng(1)
    arr = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) if colour else rng.integers(0, 4096, (32, 32), np.uint16)
    ds.set_pixel_data(arr, "RGB" if colour else "MONOCHROME2", 8 if colour else 12, generate_instance_uid=False)
    ds.PhotometricInterpretation = "YBR_RCT" if colour else "MONOCHROME2"
    ds.PixelData = pydicom.encaps.encapsulate([imagecodecs.htj2k_encode(arr, reversible=True, rgb=colour)])
    ds["PixelData"].VR, ds["PixelData"].is_undefined_length = "OB", True
    ds.file_meta.TransferSyntaxUID = syntax
    ds.save_as(tmp_path / "in.dcm", enforce_file_format=True)
    result = deidentify_file(tmp_path / "in.dcm", tmp_path / "out.dcm", compile_text(NONE + "blackout 0,0,4,3"), key)
    out = dcmread(tmp_path / "out.dcm")
    assert result.status == "written" and out.file_meta.TransferSyntaxUID == syntax, result.notes
    assert out.PhotometricInterpretation == ("YBR_RCT" if colour else "MONOCHROME2")
    after = out.pixel_array
    assert (after[:3, :4] == 0).all() and (after[3:] == arr[3:]).all() and (after[:, 4:] == arr[:, 4:]).all()
    codestream = next(pydicom.encaps.generate_frames(out.PixelData, number_of_frames=1))
    cod = codestream.find(b"\xff\x52")
    assert codestream[cod + 5] == 2 and b"\xff\x55" in codestream  # RPCL, TLM



def test_palette_indices_are_never_compressed_with_loss():
    """Palette colour in a lossy JPEG syntax (the standard allows none, but such files exist) is written
    uncompressed after a pixel rule: indices encoded with loss would be other colours."""
    ds = dcmread(CORPUS / "examples_palette.dcm")
    out = Dataset()
    for elem in ds.group_dataset(0x0028):
        out.add(pydicom.DataElement(elem.tag, elem.VR, elem.value))
    notes: list[str] = []
    syntax = deidlang.engine.encode.store(out, ds.pixel_array.copy(), "PALETTE COLOR", 8, 8, uid.JPEGBaseline8Bit,
                                          len(ds.PixelData), notes)
    assert syntax == uid.ExplicitVRLittleEndian and out.PixelData == ds.PixelData
    assert notes == ["pixels written uncompressed: no encoder for JPEG Baseline (Process 1) of PALETTE COLOR"]



@pytest.mark.parametrize("syntax", [uid.JPEGBaseline8Bit, uid.JPEGExtended12Bit])
def test_lossy_jpeg_colour_is_what_ybr_full_422_says(syntax):
    """Colour re-encoded with loss is YCbCr with 4:2:2 chroma (horizontal sampling 2, vertical 1), as its
    Photometric Interpretation says, and decodes close to the pixels meant."""
    arr = np.zeros((16, 32, 3), np.uint8)
    arr[:, 16:] = (200, 40, 90)
    out = Dataset()
    notes: list[str] = []
    assert deidlang.engine.encode.store(out, arr, "RGB", 8, 8, syntax, 512, notes) == syntax and not notes
    assert out.PhotometricInterpretation == "YBR_FULL_422" and out.PlanarConfiguration == 0
    codestream = next(pydicom.encaps.generate_frames(out.PixelData, number_of_frames=1))
    frame = codestream.find(b"\xff\xc0") if b"\xff\xc0" in codestream else codestream.find(b"\xff\xc1")
    assert [codestream[frame + 11 + 3 * i] for i in range(3)] == [0x21, 0x11, 0x11]
    out.file_meta.TransferSyntaxUID = syntax
    assert np.abs(out.pixel_array.astype(int) - arr).mean() < 3
