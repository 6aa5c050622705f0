"""Burned-in text: rendering for OCR, header-aware judging, every frame, triage, suggestions, verification.

Tests that run an OCR engine are marked `integration` (each reads a few small images)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread

import deidlang
from deidlang.compiler import compile_text
from deidlang.engine import identifying, ocr, pixels
from deidlang.phantom import phantom, ultrasound_frame
from deidlang.runner import deidentify_file

EXAMPLE = Path(__file__).parent.parent / "examples" / "ultrasound" / "us-banner.dcm"
NONE = 'require minimum none because "pixel test"\n'
needs_ocr = pytest.mark.skipif(not ocr.available(), reason="the ocr extra (rapidocr-onnxruntime) is not installed")


def texts(ds) -> list[str]:
    return [f.box.text for f in pixels.examine(ds, pixels.decode(ds), identifying.Terms())]


def draw(text: str, size=(120, 320), at=(10, 10), px=20, fill=255, base=None) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.fromarray(base if base is not None else np.zeros(size, np.uint8))
    ImageDraw.Draw(image).text(at, text, fill=fill, font=ImageFont.load_default(size=px))
    return np.asarray(image).copy()


def us(frame_or_frames: np.ndarray, **header):
    ds, _ = phantom(size=16)
    ds.Modality = "US"
    for keyword, value in header.items():
        setattr(ds, keyword, value)
    ds.set_pixel_data(frame_or_frames, "MONOCHROME2", 8, generate_instance_uid=False)
    return ds


# ------------------------------------------------------------------ no OCR needed

def test_sixteen_bit_frames_are_windowed_past_stray_pixels():
    frame = np.full((200, 200), 1000, np.uint16)
    frame[50:60, 20:120] = 1400  # text drawn 400 above the background
    frame[0, :3] = 65535  # three hot pixels would squash a min-max stretch to 2 grey levels
    grey = ocr.render(frame, "MONOCHROME2", 16)
    assert grey.dtype == np.uint8 and int(grey[55, 50]) - int(grey[100, 100]) > 200
    assert int(ocr.render(frame, "MONOCHROME1", 16)[55, 50]) < 40  # inverted


def test_eight_bit_frames_are_shown_as_they_are():
    frame = (np.arange(256, dtype=np.uint8) * np.ones((4, 1), np.uint8))
    assert (ocr.render(frame, "MONOCHROME2", 8) == frame).all()


def test_header_values_the_plan_takes_away_become_terms():
    ds, _ = phantom(size=16)
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.AccessionNumber = "DOE^JANE", "MRN4711", "19510829", "A99812"
    ds.Modality = "US"
    out = deidlang.apply(compile_text(NONE + 'waive pixels because "only the terms are tested"\n'
                                      "remove PatientName, PatientBirthDate, AccessionNumber\n"
                                      'replace PatientID with "X1"'), ds, key=b"k" * 20).dataset
    terms = identifying.removed_or_changed(ds, out)
    for text, keyword in [("JANE DOE", "PatientName"), ("ID: MRN4711", "PatientID"), ("DOB 08/29/1951", "PatientBirthDate"),
                          ("29.08.1951", "PatientBirthDate"), ("1951-08-29", "PatientBirthDate"),
                          ("29-AUG-1951", "PatientBirthDate"), ("Acc A99812", "AccessionNumber"), ("MRN47l1", "PatientID")]:
        assert terms.match(text) == keyword, text
    assert terms.match("US") == terms.match("LIVER 12 cm") == terms.match("08/30/1951") == ""
    assert "US" not in terms.words  # kept values are not terms


def test_merge_joins_boxes_read_at_one_place_on_several_frames():
    assert ocr.merge([(10, 10, 50, 12), (12, 9, 52, 12), (200, 10, 20, 12)]) == [(10, 9, 54, 13), (200, 10, 20, 12)]


def test_triage_reads_what_pixelrisk_declares():
    from deidlang import pixelrisk
    from deidlang.scan import may_carry_text

    def file(**header):
        ds, _ = phantom(size=16)
        for keyword, value in header.items():
            setattr(ds, keyword, value)
        return ds

    assert may_carry_text(file(Modality="CT")) == ""  # a CT series costs its headers only
    assert may_carry_text(file(Modality="US")) == "ultrasound"
    assert may_carry_text(file(Modality="CT", BurnedInAnnotation="YES")) == pixelrisk.DECLARED
    assert may_carry_text(file(Modality="US", BurnedInAnnotation="NO")) == "ultrasound"  # the file does not vote
    assert may_carry_text(file(Modality="CT", SOPClassUID="1.2.840.10008.5.1.4.1.1.7")) == "secondary capture"
    assert may_carry_text(file(Modality="CR")) == "projection radiography"  # pixelrisk.OFTEN_LABELLED
    for c in pixelrisk.CLASSES + pixelrisk.OFTEN_LABELLED:  # every declared kind, and nothing else
        for modality in c.modalities:
            assert may_carry_text(file(Modality=modality)) == c.name
        for uid in c.sop_classes:
            assert may_carry_text(file(Modality="CT", SOPClassUID=uid + ("1" if uid.endswith(".") else ""))) == c.name
    rules = compile_text(NONE + 'waive pixels because "triage test"\nblackout 0,0,4,4 if Manufacturer == "ACME"')
    assert may_carry_text(file(Modality="CT", Manufacturer="ACME"), rules) == "a pixel rule applies"
    assert may_carry_text(file(Modality="CT", Manufacturer="OTHER"), rules) == ""


def test_flat_parts_of_an_image_are_not_read_but_anything_standing_out_is():
    rng = np.random.default_rng(7)
    screen = (np.full((256, 384), 40) + rng.normal(0, 3, (256, 384))).clip(0, 255).astype(np.uint8)
    assert ocr.regions_to_read(screen) == []  # noise alone: nothing legible
    faint = screen.copy()
    faint[200:206, 300:340] += 20  # 20 grey levels over noise of 3: legible, so read
    (x0, y0, x1, y1), = ocr.regions_to_read(faint)
    assert x0 <= 300 and y0 <= 200 and x1 >= 340 and y1 >= 206 and (x1 - x0) * (y1 - y0) < 0.15 * faint.size
    speckle = rng.gamma(2.0, 30.0, (256, 384)).clip(0, 200).astype(np.uint8)
    assert ocr.regions_to_read(speckle) == [(0, 0, 384, 256)]  # texture everywhere: the whole image


def test_a_line_several_detector_passes_found_is_read_once():
    # the same line from the enlarged pass and the turned pass, a line below it, a box across both
    assert ocr.same_lines([(10, 10, 90, 20), (9, 9, 91, 21), (10, 24, 90, 34), (40, 15, 50, 30)]) == [[0, 1], [2], [3]]


MONO = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")


@needs_ocr
@pytest.mark.skipif(not MONO.exists(), reason="Debian's fonts-dejavu-core is not installed")
def test_small_text_turned_a_quarter_is_covered_whole():  # quick: one 90x64 frame
    # the benchmark's line the enlarged pass alone left a tenth of: 8 px, written downwards, on 16-bit MR air
    from PIL import Image, ImageDraw, ImageFont

    canvas = Image.new("L", (90, 20), 0)
    ImageDraw.Draw(canvas).text((2, 2), "ID 14975527", fill=255, font=ImageFont.truetype(str(MONO), 8))
    alpha = np.rot90(np.asarray(canvas, np.float32) / 255)
    frame = np.full((90, 64), 20.0)
    frame[:, 20:40] += alpha * 1580
    covered = np.zeros(frame.shape, bool)
    for x, y, w, h in ocr.merge(b.region() for b in ocr.read([frame.round().astype(np.uint16)], "MONOCHROME2", 16)):
        covered[y:y + h, x:x + w] = True
    ink = np.zeros(frame.shape, bool)
    ink[:, 20:40] = alpha > 96 / 255
    assert ink.sum() > 50 and covered[ink].all()


def test_missing_engine_says_what_to_install(monkeypatch):
    monkeypatch.setenv("DEIDLANG_OCR", "nonesuch")
    with pytest.raises(deidlang.errors.EngineError, match="unknown OCR engine"):
        ocr.engine_name()


# ------------------------------------------------------------------ with OCR

@needs_ocr
def test_the_shipped_example_name_is_read():  # the quick lane's pin: one small frame
    assert any("DOE^JANE" in t for t in texts(dcmread(EXAMPLE)))


@pytest.mark.integration
@needs_ocr
def test_the_shipped_example_name_is_blacked_out(key):
    ds = dcmread(EXAMPLE)
    out = deidlang.apply(compile_text(NONE + 'blackout detected-text if Modality == "US"'), ds, key=key).dataset
    assert not any("DOE" in t or "JANE" in t for t in texts(out))


@pytest.mark.integration
@needs_ocr
def test_detected_text_on_ultrasound_like_frames(key):
    ds = us(ultrasound_frame("DOE^JANE 1947 ST MARY"))
    assert any("DOE" in t and "JANE" in t and "1947" in t for t in texts(ds))
    out = deidlang.apply(compile_text(NONE + 'blackout detected-text if Modality == "US"'), ds, key=key)
    assert texts(out.dataset) == []
    assert any(n.startswith("detected text: 1 region(s) blacked out on every frame") for n in out.notes)
    assert out.dataset.pixel_array[:24].max() < 255  # no text pixel (drawn at 255) is left in the banner


@pytest.mark.integration
@needs_ocr
@pytest.mark.parametrize("seed", [0, 1])
def test_frames_without_text_are_left_alone(seed, key):
    ds = us(ultrasound_frame(None, seed=seed))
    assert texts(ds) == []
    out = deidlang.apply(compile_text(NONE + "blackout detected-text"), ds, key=key).dataset
    assert (out.pixel_array == ds.pixel_array).all()


@pytest.mark.integration
@needs_ocr
def test_text_on_a_later_frame_is_blacked_out_on_every_frame(key):
    blank = ultrasound_frame(None, seed=3)
    frames = np.stack([blank, blank, draw("SMITH JOHN", base=blank.copy(), at=(120, 100), px=20), blank])
    ds = us(frames, PatientName="SMITH^JOHN")
    findings = pixels.examine(ds, pixels.decode(ds), identifying.removed_or_changed(ds, None))
    assert [(f.box.frame, f.matches) for f in findings] == [(2, "PatientName")]
    out = deidlang.apply(compile_text(NONE + "remove PatientName\nblackout detected-text"), ds, key=key)
    after = out.dataset.pixel_array
    x, y, w, h = findings[0].box.region()
    assert (after[:, y:y + h, x:x + w] == 0).all() and any("repeating PatientName" in n for n in out.notes)
    assert (after[:, y + h + 2:] == frames[:, y + h + 2:]).all()


@pytest.mark.integration
@needs_ocr
def test_sixteen_bit_ct_text_is_found():
    ds, _ = phantom(size=16)
    base = np.random.default_rng(0).normal(1000, 30, (128, 256)).clip(0, 4095).astype(np.uint16)
    label = draw("ID 4711 DOE", size=(128, 256), at=(8, 8), px=18) > 0
    base[label] = 3000
    ds.set_pixel_data(base, "MONOCHROME2", 12, generate_instance_uid=False)
    assert any("4711" in t for t in texts(ds))


@pytest.mark.integration
@needs_ocr
def test_verify_pixels_fails_a_file_whose_identifying_text_is_still_read(tmp_path, key):
    ds = us(draw("DOE JANE", px=24), PatientName="DOE^JANE")
    ds.save_as(tmp_path / "in.dcm", enforce_file_format=True)
    weak = compile_text(NONE + "remove PatientName\nblackout 0,100,10,10")  # misses the name
    result = deidentify_file(tmp_path / "in.dcm", tmp_path / "out.dcm", weak, key, verify_pixels=True)
    assert result.status == "failed" and "PatientName" in result.reason and "DOE" not in result.reason
    assert not (tmp_path / "out.dcm").exists()
    good = compile_text(NONE + "remove PatientName\nblackout detected-text")
    result = deidentify_file(tmp_path / "in.dcm", tmp_path / "out.dcm", good, key, verify_pixels=True)
    assert result.status == "written", result.reason


@pytest.mark.integration
@needs_ocr
def test_scan_triage_report_and_suggestions(tmp_path, capsys):
    from deidlang.cli import main

    for n in (1, 2):
        ds = us(draw(f"SMITH JOHN {n}947", px=24), PatientName="SMITH^JOHN", Manufacturer="ACME")
        ds.SOPInstanceUID = f"2.25.{n}"
        ds.save_as(tmp_path / f"us{n}.dcm", enforce_file_format=True)
    ct, _ = phantom(size=16)
    ct.Modality = "CT"
    ct.save_as(tmp_path / "ct.dcm", enforce_file_format=True)
    assert main(["scan", str(tmp_path), "--suggest"]) == 0
    out = capsys.readouterr().out
    assert "SMITH" not in out and "identifying: repeats PatientName" in out
    assert "read 2 of 3 file(s) with pixel data (2 ultrasound); 1 not read" in out
    assert "text found in 2 file(s), identifying text in 2" in out
    rule = [line for line in out.splitlines() if line.startswith("blackout ")][0]
    assert rule.endswith('if Manufacturer == "ACME" and not ManufacturerModelName exists and Rows == 120 '
                         "and Columns == 320")
    comment = [line for line in out.splitlines() if line.startswith("# ACME")][0]
    assert "text in 2 of 2 file(s)" in comment
    area = float(comment.split("cover ")[1].split("%")[0]) / 100
    ys, xs = np.nonzero(dcmread(tmp_path / "us1.dcm").pixel_array)
    text_box = (np.ptp(ys) + 1) * (np.ptp(xs) + 1) / (120 * 320)
    assert text_box <= area <= 2 * text_box  # the text, and little else
    cleaned = deidlang.apply(compile_text(NONE + rule), dcmread(tmp_path / "us1.dcm"), key=b"k" * 20).dataset
    assert texts(cleaned) == []
    assert main(["scan", str(tmp_path), "--json", "--show-text", "--all"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {line["read_because"] for line in lines} == {"asked for (--all)"}
    assert any(f["text"].startswith("SMITH") for line in lines for f in line["findings"])


@pytest.mark.integration
@pytest.mark.skipif(not ocr.available("tesseract"), reason="tesseract-ocr is not installed")
def test_tesseract_stays_an_option(monkeypatch):
    monkeypatch.setenv("DEIDLANG_OCR", "tesseract")
    ds = us(draw("SMITH JOHN 1947", px=24))
    assert "SMITH" in texts(ds)
