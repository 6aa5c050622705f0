"""Fail-closed at every edge (issue 13): a file's own structure, VRs, values and pixels never carry
identity out. Each test runs both engines through `deidentify_file` (the fast path, which falls back to
the reference engine for what it does not take, and the reference engine alone)."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydicom import dcmread
from pydicom.dataset import Dataset

import deidlang
from deidlang.cli import main
from deidlang.compiler import compile_text
from deidlang.engine import structure
from deidlang.engine.conformance import adjust, requirements
from deidlang.pixelrisk import DECLARED, burned_in, classify
from deidlang.runner import deidentify_file

from .conftest import KEY, ROOT
from .strategies import planted_datasets

CORPUS = Path(pydicom.__file__).parent / "data" / "test_files"
ENGINES = ("auto", "reference")
US_EXAMPLE = ROOT / "examples" / "ultrasound" / "us-banner.dcm"


def both(source: Path, plan, tmp: Path):
    """The result of each engine, and the output it wrote (None when it wrote nothing)."""
    out = []
    for engine in ENGINES:
        dest = tmp / f"{engine}.dcm"
        result = deidentify_file(source, dest, plan, KEY, engine=engine)
        out.append((result, dest.read_bytes() if dest.exists() else None))
    return out


def saved(ds: Dataset, tmp: Path, name: str = "in.dcm") -> Path:
    path = tmp / name
    ds.save_as(path, enforce_file_format=True)
    return path


def ct(**values) -> Dataset:
    ds = dcmread(CORPUS / "CT_small.dcm")
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


# ---------------------------------------------------------------- 6. burned-in text


@pytest.mark.parametrize(("sop", "modality", "said", "risk"), [
    ("1.2.840.10008.5.1.4.1.1.2", "CT", None, None),
    ("1.2.840.10008.5.1.4.1.1.2", "CT", "YES", DECLARED),
    ("1.2.840.10008.5.1.4.1.1.2", "CT", "yes", DECLARED),
    ("1.2.840.10008.5.1.4.1.1.2", "CT", "YES\\YES", DECLARED),
    ("1.2.840.10008.5.1.4.1.1.2", "CT", " Y", DECLARED),
    ("1.2.840.10008.5.1.4.1.1.2", "US", None, "ultrasound"),
    ("1.2.840.10008.5.1.4.1.1.6.1", "OT", "NO ", None),
    ("1.2.840.10008.5.1.4.1.1.7", "OT", None, "secondary capture"),
    ("1.2.840.10008.5.1.4.1.1.7.4", "OT", None, "secondary capture"),
    ("1.2.840.10008.5.1.4.1.1.12.1", "XA", None, "X-ray angiography and fluoroscopy"),
    ("1.2.840.10008.5.1.4.1.1.77.1.4", "XC", None, "endoscopy and visible-light photography"),
    ("1.2.840.10008.5.1.4.1.1.104.1", "DOC", None, "encapsulated document"),
])
def test_pixel_risk_classes(sop, modality, said, risk):
    assert classify(sop, modality, said) == risk
    assert burned_in(None) == "absent" and burned_in("NO") == "no" and burned_in("no") == "yes"


def test_burned_in_text_is_rejected_by_default_in_both_engines(tmp_path):
    """The deid-data case: a US image and an SC, default rules, used to be written with
    PatientIdentityRemoved YES and exit 0."""
    plan = deidlang.compile("basic-profile")
    for source in (US_EXAMPLE, CORPUS / "SC_rgb_rle.dcm", saved(ct(BurnedInAnnotation="yes"), tmp_path)):
        for result, written in both(source, plan, tmp_path):
            assert (result.status, written) == ("rejected", None), (source.name, result.reason)
            assert "burned-in text" in result.reason and "waive pixels" in result.reason


def test_a_pixel_rule_or_a_waiver_lets_them_out_saying_so(tmp_path):
    banners = deidlang.compile('include "basic-profile"\ninclude "ultrasound-banners"')
    for result, written in both(US_EXAMPLE, banners, tmp_path):
        assert result.status == "written", result.reason
    out = dcmread(tmp_path / "reference.dcm")
    assert out.PatientIdentityRemoved == "NO"  # the banner rules are not marked complete
    complete = deidlang.compile('include "basic-profile"\nblackout 0,0,320,40 complete if Modality == "US"')
    assert both(US_EXAMPLE, complete, tmp_path)[1][0].status == "written"
    assert dcmread(tmp_path / "reference.dcm").PatientIdentityRemoved == "YES"
    waived = deidlang.compile('include "basic-profile"\nwaive pixels because "reviewed: no text"')
    results = both(CORPUS / "SC_rgb_rle.dcm", waived, tmp_path)
    assert [r.status for r, _ in results] == ["written", "written"]
    assert results[0][1] == results[1][1]
    out = dcmread(tmp_path / "auto.dcm")
    assert out.PatientIdentityRemoved == "NO" and "pixels not covered: burned-in text may remain" in \
        out.DeidentificationMethod
    assert dcmread(saved(ct(), tmp_path, "ct.dcm")) and \
        both(tmp_path / "ct.dcm", waived, tmp_path)[0][0].status == "written"
    assert dcmread(tmp_path / "auto.dcm").PatientIdentityRemoved == "YES"  # a CT's pixels need no rule


def test_check_prints_the_pixel_obligation(tmp_path, capsys):
    assert main(["check", "basic-profile"]) == 0
    assert "pixels: ultrasound: rejected: no pixel rule decides them" in capsys.readouterr().out
    rules = tmp_path / "site.deid"
    rules.write_text('include "basic-profile"\ninclude "ultrasound-banners"\nwaive pixels because "reviewed"\n')
    assert main(["check", str(rules)]) == 0
    out = capsys.readouterr().out
    assert 'waiver: pixels because "reviewed"' in out
    assert "pixels: secondary capture: WRITTEN WITHOUT A PIXEL RULE" in out
    assert "pixels: ultrasound: WRITTEN WITHOUT A PIXEL RULE unless one applies (" in out and "ultrasound-banners.deid:9" in out
    assert compile_text('waive pixels because "x"').pixel_waiver.reason == "x"


# ---------------------------------------------------------------- 1, 3, 5. structure


def _explicit(tag: int, vr: str, value: bytes) -> bytes:
    import struct
    head = struct.pack("<HH", tag >> 16, tag & 0xFFFF) + vr.encode()
    if vr in ("OB", "OW", "SQ", "UN", "UT", "UC", "UR"):
        return head + b"\0\0" + struct.pack("<L", len(value)) + value
    return head + struct.pack("<H", len(value)) + value


def _file(body: bytes, syntax: str = "1.2.840.10008.1.2.1") -> bytes:
    """A Part 10 file around ``body`` (explicit VR little endian elements)."""
    uid = syntax.encode() + b"\0" * (len(syntax) % 2)
    meta = _explicit(0x00020001, "OB", b"\0\1") + _explicit(0x00020002, "UI", b"1.2.840.10008.5.1.4.1.1.2\0") + \
        _explicit(0x00020003, "UI", b"1.2.3.4\0") + _explicit(0x00020010, "UI", uid)
    return bytes(128) + b"DICM" + _explicit(0x00020000, "UL", len(meta).to_bytes(4, "little")) + meta + body


NAME, ID = b"QZXSMUGGLED^NAME", b"QZXSMUGGLEDID1"
RAW_DATA = b"1.2.840.10008.5.1.4.1.1.66"  # a SOP class whose IOD needs no pixels (a CT without them is cut short)
_HEAD = (_explicit(0x00080016, "UI", RAW_DATA) + _explicit(0x00080018, "UI", b"1.2.3.4\0"))


def _smuggled() -> bytes:
    """Modality (kept by basic-profile) whose length covers PatientName and PatientID."""
    hidden = _explicit(0x00100010, "PN", NAME) + _explicit(0x00100020, "LO", ID)
    modality = bytearray(_explicit(0x00080060, "CS", b"CT"))
    modality[6:8] = (2 + len(hidden)).to_bytes(2, "little")
    return _file(_HEAD + bytes(modality) + hidden)


def _item(body: bytes) -> bytes:
    return (0xFFFE).to_bytes(2, "little") + (0xE000).to_bytes(2, "little") + len(body).to_bytes(4, "little") + body


_STRAY = _explicit(0x00100010, "PN", NAME)
MALFORMED = {
    "a length past the end of the file": _file(_HEAD + _explicit(0x00080060, "CS", b"CT")[:-1]),
    "an item at the top level": _file(_HEAD + _item(_STRAY)),
    "an item directly inside an item": _file(_HEAD + _explicit(0x00081140, "SQ", _item(_item(_STRAY)))),
    "a group 0002 element in the body": _file(_HEAD + _explicit(0x00020016, "AE", b"QZXSMUGGLED1")),
    "elements out of order": _file(_HEAD + _explicit(0x00100020, "LO", ID) + _explicit(0x00080060, "CS", b"CT")),
    "an undefined length without its delimiter": _file(
        _HEAD + (0x0008).to_bytes(2, "little") + (0x1140).to_bytes(2, "little") + b"SQ\0\0" + b"\xff" * 4
        + _item(_STRAY)),
    "truncated native pixel data": _file(
        _HEAD + _explicit(0x00280010, "US", (4).to_bytes(2, "little")) + _explicit(0x00280011, "US", (4).to_bytes(
            2, "little")) + _explicit(0x00280100, "US", (8).to_bytes(2, "little")) + _explicit(0x7FE00010, "OB",
                                                                                                  bytes(10))),
}


@pytest.mark.parametrize("defect", sorted(MALFORMED))
def test_malformed_files_fail_in_both_engines_with_a_reason(defect, tmp_path):
    source = tmp_path / "in.dcm"
    source.write_bytes(MALFORMED[defect])
    plan = deidlang.compile('include "basic-profile"\nkeep Modality, Rows, Columns, BitsAllocated')
    for result, written in both(source, plan, tmp_path):
        assert (result.status, written) == ("failed", None), (defect, result.engine, result.reason)
        assert not any(v.decode() in result.reason for v in (NAME, ID, b"QZXSMUGGLED1")), result.reason
    assert both(source, plan, tmp_path)[0][0].engine == "fast"  # failed, not passed on to the reference engine


def test_truncations_of_a_real_file_are_failed_not_written(tmp_path):
    """Every cut of CT_small fails in both engines: inside an element or its pixel data, and also exactly
    between two elements (what is left is well formed, but a CT image without pixel data, or without its
    SOP Instance UID, is not a whole instance)."""
    data = (CORPUS / "CT_small.dcm").read_bytes()
    ds = dcmread(CORPUS / "CT_small.dcm")
    ends = sorted({e.value_tell + e.length for e in (ds.get_item(t) for t in ds.keys())
                   if hasattr(e, "value_tell") and e.tag < 0x7FE00010})  # the trailing padding may be cut off
    plan = deidlang.compile("basic-profile")
    for cut in [*range(200, len(data), 613), len(data) - 1, len(data) - 2, *ends[::3]]:
        if cut >= len(data):
            continue
        source = tmp_path / "cut.dcm"
        source.write_bytes(data[:cut])
        results = both(source, plan, tmp_path)
        assert [r.status for r, _ in results] == ["failed"] * 2, cut
        assert results[0][0].engine == "fast" or cut in ends  # refused, not passed on, where the structure says so


def test_an_image_sop_class_without_pixel_data_is_failed(tmp_path):
    """A file cut cleanly before its image attributes: the IOD of its SOP class requires pixel data."""
    ds = ct()
    for keyword in ("PixelData", "Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
                    "SamplesPerPixel", "PhotometricInterpretation"):
        delattr(ds, keyword)
    source = saved(ds, tmp_path)
    for result, written in both(source, deidlang.compile("basic-profile"), tmp_path):
        assert (result.status, written) == ("failed", None)
        assert "no pixel data (its SOP class's IOD requires them)" in result.reason
    ds.SOPClassUID = RAW_DATA.decode()  # no pixels needed: written
    assert [r.status for r, _ in both(saved(ds, tmp_path), deidlang.compile("basic-profile"), tmp_path)] == \
        ["written"] * 2


def _image(rows: int, columns: int, bits: int, pixels: bytes, frames: bytes = b"") -> bytes:
    us = lambda n: n.to_bytes(2, "little")  # noqa: E731
    return _file(_HEAD + (_explicit(0x00280008, "IS", frames) if frames else b"")
                 + _explicit(0x00280010, "US", us(rows)) + _explicit(0x00280011, "US", us(columns))
                 + _explicit(0x00280100, "US", us(bits)) + _explicit(0x7FE00010, "OB", pixels))


@pytest.mark.parametrize(("rows", "columns", "bits", "length", "written"), [
    (4, 4, 8, 16, True), (4, 4, 8, 18, False), (4, 4, 16, 34, False),
    (3, 3, 8, 10, True),  # 9 bytes and the one pad byte to an even length
    (3, 3, 8, 12, False), (3, 3, 1, 2, True),  # BitsAllocated 1: 9 bits packed into 2 bytes
    (3, 3, 1, 4, False), (8, 8, 1, 8, True), (8, 8, 1, 10, False)])
def test_native_pixel_data_longer_than_its_image_is_refused(rows, columns, bits, length, written, tmp_path):
    """Bytes past the image would be copied with the pixels, unseen by any rule: room for a payload."""
    source = tmp_path / "in.dcm"
    payload = b"QZXPAYLOAD"
    source.write_bytes(_image(rows, columns, bits, bytes(length) if written else (bytes(length) + payload)[-length:]))
    plan = deidlang.compile('include "basic-profile"\nkeep Rows, Columns, BitsAllocated')
    for result, out in both(source, plan, tmp_path):
        assert result.status == ("written" if written else "failed"), (result.engine, result.reason)
        if not written:
            assert out is None and "longer than its image size" in result.reason and "QZX" not in result.reason


def test_an_invalid_number_of_frames_fails_the_file(tmp_path):
    source = tmp_path / "in.dcm"
    source.write_bytes(_image(4, 4, 8, bytes(32), frames=b"1A"))
    for result, written in both(source, deidlang.compile("basic-profile"), tmp_path):
        assert (result.status, written) == ("failed", None)
        assert "NumberOfFrames (0028,0008) is not a number" in result.reason


def test_a_dataset_not_encoded_in_its_transfer_syntax_fails_saying_so(tmp_path):
    """SC_rgb_jpeg.dcm (highdicom 0.1) declares JPEG Baseline, explicit VR, and is written in implicit VR:
    pydicom guesses from the bytes, but the file does not choose how it is read."""
    plan = deidlang.compile('include "basic-profile"\nwaive pixels because "test"')
    for result, written in both(CORPUS / "SC_rgb_jpeg.dcm", plan, tmp_path):
        assert (result.status, written) == ("failed", None)
        assert result.reason == ("the dataset is not encoded in the transfer syntax its file meta declares "
                                 "(explicit VR, but its first element has no VR)")


def test_the_in_memory_engine_checks_what_a_dataset_can_hold(key):
    ds = ct()
    ds.add_new(0x00020016, "AE", "QZXSMUGGLED1")
    with pytest.raises(deidlang.EngineError, match="group 0002"):
        deidlang.apply(deidlang.compile("basic-profile"), ds, key=key)
    ds = ct()
    ds.PixelData = ds.PixelData[:-2]
    with pytest.raises(deidlang.EngineError, match="shorter than its image size"):
        deidlang.apply(deidlang.compile("basic-profile"), ds, key=key)
    ds = ct()
    ds.PixelData = ds.PixelData + b"QZXPAYLOAD"
    with pytest.raises(deidlang.EngineError, match="longer than its image size"):
        deidlang.apply(deidlang.compile("basic-profile"), ds, key=key)


def test_a_length_that_covers_the_next_elements_leaks_nothing(tmp_path):
    """Issue item 1: Modality (kept) with a length covering PatientName and PatientID. The file is well
    formed, but the kept value is not a valid CS value: removed in both engines, nothing smuggled."""
    source = tmp_path / "in.dcm"
    source.write_bytes(_smuggled())
    plan = deidlang.compile('include "basic-profile"\nwaive pixels because "test"')
    for result, written in both(source, plan, tmp_path):
        assert result.status == "written", result.reason
        assert NAME not in written and ID not in written
        assert any(n.startswith("(0008,0060): ") and n.endswith("CS value: removed") for n in result.notes)


# ---------------------------------------------------------------- 2. VR lies


LIES = [("PatientName", "CS", "QZXLIE^NAME"), ("PatientID", "OB", b"QZXLIEID"), ("PatientBirthDate", "UI", "1.2.3"),
        ("EvaluatorName", "OB", b"QZXLIE^EVAL"), ("TextValue", "OB", b"QZXLIETEXT"),
        ("CommentsOnTheScheduledProcedureStep", "CS", "QZXLIECOMMENT")]


@pytest.mark.parametrize("rules", ["basic-profile", "remove vr PN, vr LO, vr DA, vr TM, vr DT, vr SH, vr ST, vr AS, vr SQ, "
                                   "vr UT, vr LT, vr UC"])
def test_an_element_is_decided_by_its_dictionary_vr_not_the_one_it_declares(rules, tmp_path):
    ds = ct()
    for keyword, vr, value in LIES:
        ds.add_new(keyword, vr, value)
    ds.add_new(0x00091010, "LO", "x")  # private without creator: removed anyway
    ds.add_new(0x00290000 | 0x1234, "SH", "QZXPRIV")
    ds.add_new(0x00431099, "LO", "y")
    ds.add_new(0x0011FF00 - 0x10000, "LO", "QZXUNKNOWNPUBLIC")  # (0010,FF00): a public tag nobody defined
    source = saved(ds, tmp_path)
    plan = deidlang.compile(rules if rules == "basic-profile" else
                            'require minimum none because "VR classes only"\n' + rules)
    results = both(source, plan, tmp_path)
    assert results[0][1] == results[1][1]
    for result, written in results:
        assert result.status == "written", result.reason
        assert b"QZXLIE" not in written and b"QZXUNKNOWNPUBLIC" not in written
        assert any("written as VR CS, the dictionary says PN: removed" in n for n in result.notes)
        assert any("the dictionary does not know" in n for n in result.notes)


def test_the_proof_reasons_on_dictionary_vrs():
    """A ruleset that removes by VR class is proved against the dictionary VRs of the minimum."""
    plan = compile_text("remove vr PN, vr LO, vr DA, vr TM, vr DT, vr SH, vr ST, vr AS, vr SQ, vr CS")
    assert not [f for f in deidlang.validate(plan) if f.is_error]


def test_an_undefined_length_un_of_an_unknown_tag_is_removed(tmp_path):
    """It used to be read as a sequence and kept."""
    hidden = _item(_explicit(0x00100010, "PN", NAME)[:4] + len(NAME).to_bytes(4, "little") + NAME)
    un = (0x0011).to_bytes(2, "little") + (0x0010).to_bytes(2, "little") + b"UN\0\0" + b"\xff" * 4
    un = (0x0010).to_bytes(2, "little") + (0xFF10).to_bytes(2, "little") + b"UN\0\0" + b"\xff" * 4
    seq_end = (0xFFFE).to_bytes(2, "little") + (0xE0DD).to_bytes(2, "little") + bytes(4)
    source = tmp_path / "in.dcm"
    source.write_bytes(_file(_HEAD + un + hidden + seq_end))
    for result, written in both(source, deidlang.compile("basic-profile"), tmp_path):
        assert result.status == "written", result.reason
        assert NAME not in written


# ---------------------------------------------------------------- 4. values nobody decides


@pytest.mark.parametrize(("tag", "vr", "value"), [
    (0x00080060, "CS", b"ct"), (0x00080060, "CS", b"JOHN DOE SMITH JR "), (0x00180050, "DS", b"1.5mm "),
    (0x00200013, "IS", b"12a "), (0x00181310, "US", b"\x01\x02\x03"), (0x00080008, "CS", b"A\\B\\C^D "),
    (0x00200020, "CS", b"L\\P\\F "),  # PatientOrientation: VM 2 in the dictionary
    (0x00080020, "DA", b"20201350"), (0x00080030, "TM", b"25:00:00"), (0x00101010, "AS", b"47 Y"),
    (0x0020000D, "UI", b"1.2.JOHN"),
])
def test_an_invalid_kept_value_is_removed_with_a_note_or_given_its_iod_substitute(tag, vr, value, tmp_path):
    source = tmp_path / "in.dcm"
    source.write_bytes(_file(b"".join(sorted([_HEAD, _explicit(tag, vr, value)]))))
    keyword = deidlang.dictionary.keyword_of(tag)
    plan = deidlang.compile(f'require minimum none because "test"\nkeep {keyword}')
    results = both(source, plan, tmp_path)
    assert results[0][1] == results[1][1]
    # removed, or written as the IOD's substitute where the IOD needs it (Type 1 dummy, Type 2 empty) and
    # the value can be decoded at all
    substitute, _ = adjust("remove", tag, vr, (), requirements(RAW_DATA.decode(), [tag])[1])
    try:
        original = dcmread(source)[tag].value
    except Exception:
        substitute = "remove"
    for result, written in results:
        assert result.status == "written", result.reason
        out = dcmread(tmp_path / "reference.dcm")
        assert (keyword not in out) if substitute == "remove" else (out[tag].value != original)
        assert any(n.startswith(deidlang.dictionary.format_tag(tag)) and n.endswith("removed") for n in result.notes)
    valid = tmp_path / "valid.dcm"  # the same element with a valid value is kept
    valid.write_bytes(_file(b"".join(sorted([_HEAD, _explicit(0x00080060, "CS", b"CT")]))))
    assert "Modality" in dcmread(both(valid, plan, tmp_path)[0][0].output)


def test_an_empty_value_among_several_is_a_valid_kept_value(tmp_path):
    """PS3.5 6.4: one of several values may be empty (ReferencedFrameNumber ``\\1``): it is kept, not
    taken for a number out of range."""
    source = tmp_path / "in.dcm"
    source.write_bytes(_file(b"".join(sorted([_HEAD, _explicit(0x00081160, "IS", b"\\12 ")]))))
    plan = deidlang.compile('require minimum none because "test"\nkeep ReferencedFrameNumber')
    results = both(source, plan, tmp_path)
    assert results[0][1] == results[1][1]
    for result, _ in results:
        assert result.status == "written", result.reason
        assert not any(n.startswith("(0008,1160)") for n in result.notes)
    assert dcmread(results[0][0].output)[0x00081160].VM == 2


@pytest.mark.parametrize("charset", ["JOHN DOE 19470317 1 MAIN STREET", "ISO_IR 100\\JOHN", "iso_ir 100"])
def test_a_specific_character_set_that_is_not_defined_terms_fails_the_file(charset, tmp_path):
    ds = ct()
    ds.add_new(0x00080005, "CS", charset)
    source = saved(ds, tmp_path)
    for result, written in both(source, deidlang.compile("basic-profile"), tmp_path):
        assert (result.status, written) == ("failed", None)
        assert "SpecificCharacterSet" in result.reason and "JOHN" not in result.reason


def test_a_safe_private_slot_is_kept_only_as_the_tables_vr(tmp_path):
    """GEMS_ACQU_01 0019,xx23 is DS in Table E.3.10-1."""
    plan = deidlang.compile('include "basic-profile"\ninclude "retain-safe-private"')
    for value, vr, kept in (("JOHN DOE", "LO", False), ("1.5", "DS", True), ("JOHN", "UN", False), ("2.5 ", "UN", True)):
        ds = ct()
        block = ds.private_block(0x0019, "GEMS_ACQU_01", create=True)
        block.add_new(0x23, vr, value.encode() if vr == "UN" else value)
        source = saved(ds, tmp_path)
        results = both(source, plan, tmp_path)
        assert vr == "UN" or results[0][1] == results[1][1]  # pydicom reads a known private UN as its VR
        for result, written in results:
            assert result.status == "written", result.reason
            assert (value.strip().encode() in written) == kept, (value, vr)


# ---------------------------------------------------------------- 8. conditions compare as DICOM does


@pytest.mark.parametrize(("value", "outcome"), [(b"YES ", "rejected"), (b"YES\\YES ", "failed"), (b"yes ", "failed"),
                                                (b" YES", "rejected"), (b"NO", "written"), (b"Y ", "rejected")])
def test_a_reject_rule_cannot_be_escaped_by_case_padding_or_values(value, outcome, tmp_path):
    """`reject if BurnedInAnnotation == "YES"` used to write `yes`, `YES\\YES` and ` Y`. An invalid CS
    value fails the file; ` Y` is valid CS but not NO, so the pixel rule obligation rejects it."""
    source = tmp_path / "in.dcm"
    source.write_bytes(_file(b"".join(sorted([_HEAD, _explicit(0x00280301, "CS", value)]))))
    plan = deidlang.compile('include "basic-profile"\nreject if BurnedInAnnotation == "YES" because "burned in"')
    for result, written in both(source, plan, tmp_path):
        assert result.status == outcome, (value, result.reason)
        assert (written is None) == (outcome != "written")


def test_conditions_compare_each_value_trimmed(key):
    ds = ct(ImageType=["ORIGINAL", "PRIMARY", "AXIAL"], Modality="CT")
    rules = 'require minimum none because "test"\nremove PatientName if ImageType == "PRIMARY"\n' \
            'remove PatientID if ImageType == "ORIGINAL\\\\PRIMARY\\\\AXIAL"\nremove StudyID if ImageType != "AXIAL"'
    out = deidlang.apply(deidlang.compile(rules), ds, key=key).dataset
    assert not out.get("PatientName") and not out.get("PatientID") and out.get("StudyID")  # removed (or Type 2: empty)


@pytest.mark.parametrize("condition", ['Rows == "480px"', 'BurnedInAnnotation == "yes"', 'Modality in ("CT", "us")'])
def test_a_condition_that_can_never_hold_for_its_vr_is_a_compile_error(condition):
    with pytest.raises(deidlang.CompileError) as err:
        compile_text(f"remove PatientName if {condition}")
    assert err.value.span.line == 1 and "^" in err.value.render()


# ---------------------------------------------------------------- 8. constant date offsets


def test_a_constant_date_offset_of_a_minimum_element_needs_a_waiver():
    with pytest.raises(deidlang.ObligationError, match="only shifted by a constant offset"):
        deidlang.compile('include "basic-profile"\nshift-date PatientBirthDate by 1 days')
    findings = deidlang.validate(compile_text('include "basic-profile"\nshift-date PatientBirthDate by 1 days'),
                                 "basic-profile")
    assert sum(f.is_error and "constant offset" in f.message for f in findings) == 2  # minimum and profile
    deidlang.compile('include "basic-profile"\nshift-date PatientBirthDate by patient within 30 days')
    deidlang.compile('include "basic-profile"\nshift-date PatientBirthDate by 1 days\n'
                     'waive PatientBirthDate because "the offset is a study secret"')


# ---------------------------------------------------------------- 9. rule files


def test_an_include_outside_the_including_files_folder_is_refused_unless_allowed(tmp_path, monkeypatch):
    shared, site = tmp_path / "shared", tmp_path / "site"
    shared.mkdir(), site.mkdir()
    (shared / "base.deid").write_text('include "basic-profile"\n')
    (site / "site.deid").write_text('include "../shared/base.deid"\n')
    monkeypatch.delenv("DEIDLANG_INCLUDE_PATH", raising=False)
    with pytest.raises(deidlang.CompileError, match="outside the folder of the file that includes it") as err:
        deidlang.compile(site / "site.deid")
    assert err.value.span.line == 1
    monkeypatch.setenv("DEIDLANG_INCLUDE_PATH", str(shared))
    assert deidlang.compile(site / "site.deid").rules


def test_no_error_shows_what_a_file_that_is_not_a_rule_file_holds(tmp_path, monkeypatch):
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$QZXSECRETHASH:19000:0:99999:7:::\n")
    (tmp_path / "site.deid").write_text(f'include "{secret}"\n')
    monkeypatch.setenv("DEIDLANG_INCLUDE_PATH", str(tmp_path))
    with pytest.raises(deidlang.CompileError) as err:
        deidlang.compile(tmp_path / "site.deid")
    assert "not a rule file" in err.value.message and "QZXSECRET" not in err.value.render()
    (tmp_path / "site.deid").write_text('include "/etc/shadow"\n')
    monkeypatch.delenv("DEIDLANG_INCLUDE_PATH")
    with pytest.raises(deidlang.CompileError, match="outside the folder") as err:
        deidlang.compile(tmp_path / "site.deid")
    assert "root:" not in err.value.render()


# ---------------------------------------------------------------- the property: one structural mutation


def top_level(data: bytes) -> tuple[bool, list[tuple[int, int, int, int]]]:
    """Whether the body is implicit VR, and (header start, value start, length, tag) of each top-level
    element after the file meta."""
    from deidlang.engine.structure import _Reader

    meta = _Reader(data, False, True)
    offset = 132
    while data[offset:offset + 2] == b"\x02\x00":
        _, _, value, length = meta.header(offset, len(data))
        offset = value + length
    implicit = data[offset + 4:offset + 6] not in structure._VRS
    reader, out = _Reader(data, implicit, True), []
    while offset < len(data):
        tag, _, value, length = reader.header(offset, len(data))
        out.append((offset, value, length, tag))
        offset = value + (length if length != 0xFFFFFFFF else 0)
        if length == 0xFFFFFFFF:
            break  # an undefined length: the rest is not walked here
    return implicit, out


#: Mutations that always make a CT image file refused: a cut exactly between two elements (a smaller,
#: well-formed dataset, but a CT image without its pixels), and native pixel data grown by a payload.
REFUSED = ("clean cut", "payload")


@st.composite
def mutants(draw, data: bytes, payload: bytes = b"QZXPAYLOAD") -> tuple[str, bytes]:
    """(kind, ``data`` with one structural mutation): a length, a VR, an item tag, a cut anywhere or
    between two elements, or ``payload`` appended to the pixel data (its length grown to cover it)."""
    implicit, elements = top_level(data)
    kind = draw(st.sampled_from(["length", "item", "truncate", *REFUSED] + ([] if implicit else ["vr"])))
    out = bytearray(data)
    if kind == "truncate":
        return kind, bytes(out[:draw(st.integers(133, len(data) - 1))])
    if kind == "clean cut":
        return kind, bytes(out[:draw(st.sampled_from([start for start, *_ in elements]))])
    if kind == "payload":
        start, value, length, _ = next(e for e in elements if e[3] == 0x7FE00010)
        payload += b"\0" * (len(payload) % 2)
        out[value - 4:value] = (length + len(payload)).to_bytes(4, "little")
        return kind, bytes(out[:value + length] + payload + out[value + length:])
    start, value, length, _ = draw(st.sampled_from(elements))
    if kind == "item":
        return kind, bytes(out[:start] + b"\xfe\xff\x00\xe0" + draw(st.integers(0, 300)).to_bytes(4, "little")
                           + out[start:])
    if kind == "vr":
        out[start + 4:start + 6] = draw(st.sampled_from(sorted(deidlang.dictionary.ALL_VRS))).encode()
        return kind, bytes(out)
    new = draw(st.one_of(st.integers(0, length + 300), st.just(0xFFFFFFFF)))
    if value - start == 8 and not implicit:
        out[start + 6:start + 8] = (new & 0xFFFF).to_bytes(2, "little")
    else:
        out[value - 4:value] = new.to_bytes(4, "little")
    return kind, bytes(out)


@given(planted=planted_datasets(), data=st.data())
def test_one_structural_mutation_never_leaks_and_only_well_formed_files_are_written(planted, data):
    """Generated valid datasets, one mutation each (length, VR, item tag, truncation, a cut between two
    elements, a payload after the pixels): no canary in any written byte, in either engine; a written
    file was well formed (the structure check passed); a clean cut or a payload is always refused."""
    import io
    import tempfile

    buffer = io.BytesIO()
    planted.dataset.save_as(buffer, enforce_file_format=True)
    canary = next(iter(planted.searchable()))  # the payload is one of the dataset's canaries
    kind, mutant = data.draw(mutants(buffer.getvalue(), canary))
    try:
        structure.check(mutant)
        well_formed = True
    except structure.Malformed:
        well_formed = False
    plan = deidlang.compile("basic-profile")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "in.dcm").write_bytes(mutant)
        results = both(tmp / "in.dcm", plan, tmp)
    assert results[0][0].status == results[1][0].status, (results[0][0].reason, results[1][0].reason)
    if kind in REFUSED:
        assert not well_formed or kind == "clean cut"
        assert results[0][0].status == "failed", (kind, results[0][0].reason)
    for result, written in results:
        assert result.status in ("written", "failed", "rejected")
        if written is not None:
            assert well_formed, result.reason
            leaked = [hex(tag) for canary, tag in planted.searchable().items() if canary in written]
            assert not leaked, leaked


def test_the_library_api_lets_no_pydicom_warning_out():
    """pydicom's warnings can quote values: `deidlang.apply`, like the command line, keeps them in."""
    import warnings

    written = Dataset()
    written.SOPClassUID, written.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.7", "1.2.3.4"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        written.InstitutionName = "SECRET-HOSPITAL-" * 8  # longer than LO allows: pydicom warns when it reads it
    buffer = io.BytesIO()
    written.save_as(buffer, implicit_vr=False, little_endian=True)
    ds = dcmread(io.BytesIO(buffer.getvalue()), force=True)  # read lazily: decoded inside `apply`
    plan = deidlang.compile('ruleset "t" version "1.0.0"\ndefault keep\nrequire minimum none because "a test"\n'
                            'waive pixels because "no pixels"\n')
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        outcome = deidlang.apply(plan, ds, key=deidlang.Key.random())
    assert not seen, [str(w.message) for w in seen]
    assert "InstitutionName" not in outcome.dataset  # and the value that cannot be kept is removed


def test_quiet_blocks_nest_and_only_the_outermost_gives_warnings_back():
    """A run is quiet once around all its files, and each file's own block inside it: the inner block's
    end must not let warnings out while the outer one lasts, and the outer one's end restores them."""
    import warnings

    from deidlang.quiet import quiet

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with quiet():
            with quiet():
                warnings.warn("inner")
            warnings.warn("between")  # the inner block is over, the outer one holds
        warnings.warn("after")
    assert [str(w.message) for w in seen] == ["after"]
