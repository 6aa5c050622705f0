"""Pixel rules: blackout on every kind of pixel data, overlays, OCR, and nothing decoded otherwise."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

import deidlang
from deidlang.compiler import compile_text
from deidlang.engine import ocr
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


@pytest.mark.parametrize("name", _pixel_files())
def test_blackout_on_every_corpus_encoding(name, tmp_path, key):
    """Native, big endian, RLE, JPEG, JPEG-LS, JPEG 2000, palette, multi-frame, 1- to 32-bit: each is
    blacked out and written uncompressed, or refused with a reason; never written with the text."""
    src = CORPUS / name
    result = deidentify_file(src, tmp_path / "out.dcm", compile_text(NONE + "blackout 0,0,4,3"), key)
    if result.status != "written":
        assert "pixel" in result.reason or "ImageType (0008,0008) has no valid VR" in result.reason, result.reason
        return
    original, out = dcmread(src), dcmread(tmp_path / "out.dcm")
    before, after = original.pixel_array, out.pixel_array
    assert out.file_meta.TransferSyntaxUID.is_little_endian and not out.file_meta.TransferSyntaxUID.is_compressed
    frames_before, frames_after = as_frames(before, original), as_frames(after, original)
    region = frames_after[:, :3, :4]
    assert (region == region.flat[0]).all()
    assert (frames_after[:, 3:, :] == frames_before[:, 3:, :]).all()
    if original.file_meta.TransferSyntaxUID in deidlang.engine.pixels.LOSSY:
        assert out.LossyImageCompression == "01"
    if int(original.get("SamplesPerPixel", 1)) == 3:
        assert out.PhotometricInterpretation == "RGB" and out.PlanarConfiguration == 0


def us_dataset(banner, seed=0):
    from deidlang.phantom import ultrasound_frame

    ds, _ = phantom(size=16)
    ds.Modality = "US"
    ds.set_pixel_data(ultrasound_frame(banner, seed=seed), "MONOCHROME2", 8, generate_instance_uid=False)
    return ds


@pytest.mark.skipif(not ocr.available(), reason="tesseract-ocr is not installed")
def test_detected_text_is_found_and_blacked_out_on_ultrasound_like_frames(key):
    ds = us_dataset("DOE JANE 1947 ST MARY")
    boxes = ocr.find_boxes(ds.pixel_array, "MONOCHROME2")
    assert {"DOE", "JANE", "1947"} <= {b.text for b in boxes}
    out = blackout('blackout detected-text if Modality == "US"', ds, key)
    assert ocr.find_boxes(out.dataset.pixel_array, "MONOCHROME2") == []
    assert out.notes == [f"detected text: {len(boxes)} region(s) blacked out"]
    banner_rows = out.dataset.pixel_array[:24]
    assert banner_rows.max() < 255  # no text pixel (drawn at 255) is left in the banner


@pytest.mark.skipif(not ocr.available(), reason="tesseract-ocr is not installed")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_frames_without_text_get_no_boxes(seed, key):
    ds = us_dataset(None, seed=seed)
    assert ocr.find_boxes(ds.pixel_array, "MONOCHROME2") == []
    out = blackout("blackout detected-text", ds, key).dataset
    assert (out.pixel_array == ds.pixel_array).all()


@pytest.mark.skipif(not ocr.available(), reason="tesseract-ocr is not installed")
def test_scan_reports_masked_text_and_suggests_rules(tmp_path, capsys):
    from PIL import Image, ImageDraw, ImageFont

    from deidlang.cli import main

    for n in (1, 2):
        image = Image.new("L", (320, 120), 0)
        ImageDraw.Draw(image).text((20, 10), f"SMITH JOHN {n}947", fill=255, font=ImageFont.load_default(size=24))
        ds, _ = phantom(instance=n, size=16)
        ds.Manufacturer, ds.ManufacturerModelName = "ACME", "Sono 1"
        ds.set_pixel_data(np.asarray(image), "MONOCHROME2", 8, generate_instance_uid=False)
        ds.save_as(tmp_path / f"us{n}.dcm", enforce_file_format=True)
    assert main(["scan", str(tmp_path), "--suggest"]) == 0
    out = capsys.readouterr().out
    assert "SMITH" not in out.split("summary")[0] and "[5 chars]" in out
    assert "ACME / Sono 1 / 320x120: 2, 2" in out
    rule = [line for line in out.splitlines() if line.startswith("blackout ")][0]
    assert rule.endswith('if Manufacturer == "ACME" and ManufacturerModelName == "Sono 1" and Rows == 120 '
                         "and Columns == 320")
    # the suggestion is a valid rule, and after it OCR finds no text left
    cleaned = deidlang.apply(compile_text(NONE + rule), dcmread(tmp_path / "us1.dcm"), key=b"k" * 20).dataset
    assert ocr.find_boxes(cleaned.pixel_array, "MONOCHROME2") == []
    assert main(["scan", str(tmp_path), "--show-text"]) == 0
    assert "SMITH" in capsys.readouterr().out
