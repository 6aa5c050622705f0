"""The streaming fast path against the reference engine: outputs byte for byte identical where the input
is encoded as pydicom encodes it (generated files), and identical after parsing everywhere (in pydicom's
corpus some kept values are padded otherwise: the fast path copies their bytes, the reference engine
encodes them again)."""

from __future__ import annotations

import io
import struct
import tempfile
from pathlib import Path

import pydicom
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydicom import dcmread

import deidlang
from deidlang import valuecheck
from deidlang.compiler import compile_text
from deidlang.engine import levels, stream, structure
from deidlang.runner import deidentify_file

from .conftest import KEY
from .strategies import planted_datasets, programs

CORPUS = Path(pydicom.__file__).parent / "data" / "test_files"


def both(source: Path, plan, tmp: Path):
    fast = deidentify_file(source, tmp / "fast.dcm", plan, KEY)
    reference = deidentify_file(source, tmp / "reference.dcm", plan, KEY, engine="reference")
    return fast, reference


def assert_same(tmp: Path, *, same_bytes: bool = False) -> None:
    a, b = dcmread(tmp / "fast.dcm"), dcmread(tmp / "reference.dcm")
    assert a.file_meta == b.file_meta
    assert a == b  # every element, value and sequence item, recursively
    if same_bytes:
        assert (tmp / "fast.dcm").read_bytes() == (tmp / "reference.dcm").read_bytes()


def assert_engines_agree(dataset, plan) -> None:
    """Both engines on one generated dataset: the same status, and the same bytes where the fast path
    wrote the file (the same dataset where it fell back)."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        dataset.save_as(tmp / "in.dcm", enforce_file_format=True)
        fast, reference = both(tmp / "in.dcm", plan, tmp)
        assert fast.status == reference.status, (fast.reason, reference.reason)
        if fast.status == "written":
            assert_same(tmp, same_bytes=fast.engine == "fast")


_WAIVE = '\nwaive pixels because "pydicom test data"'  # secondary captures and ultrasound written too


@pytest.mark.parametrize(("rules", "least"), [
    ("basic-profile", 50), ('include "basic-profile"' + _WAIVE, 85), ('include "aryanto50"' + _WAIVE, 85),
    ('include "basic-profile"\ninclude "retain-uids"' + _WAIVE, 85),
    ('include "basic-profile"\ninclude "retain-long-modified-dates"' + _WAIVE, 85)])  # fewer since the 50
# header-only CT images of the DICOMDIR test tree fail (no pixel data: cut short, issue 13)
@pytest.mark.integration
def test_corpus_fast_equals_reference(rules, least, tmp_path):
    plan = deidlang.compile(rules)
    taken = 0
    for source in sorted(CORPUS.rglob("*")):
        if not source.is_file():
            continue
        fast, reference = both(source, plan, tmp_path)
        assert fast.status == reference.status, (source.name, fast.reason, reference.reason)
        if fast.engine == "fast" and fast.status == "written":
            taken += 1
            assert_same(tmp_path)
        for f in tmp_path.glob("*.dcm"):
            f.unlink()
    assert taken >= least


@pytest.mark.integration
@given(planted=planted_datasets(), text=programs())
def test_generated_datasets_and_plans_fast_equals_reference(planted, text):
    assert_engines_agree(planted.dataset, compile_text(text))


def test_unsupported_input_falls_back_visibly(tmp_path):
    plan = deidlang.compile("basic-profile")
    result = deidentify_file(CORPUS / "MR_small_bigendian.dcm", tmp_path / "o.dcm", plan, KEY)
    assert (result.status, result.engine, result.fallback) == ("written", "reference",
                                                               "transfer syntax Explicit VR Big Endian")
    with pytest.raises(structure.Malformed):  # not passed on to the reference engine: failed
        stream.rewrite(b"not dicom", plan, KEY)
    clean = compile_text('include "basic-profile"\nclean StudyDescription')
    with pytest.raises(stream.Unsupported, match="`clean` reads the whole dataset"):
        stream.rewrite((CORPUS / "CT_small.dcm").read_bytes(), clean, KEY)


WAIVED = 'include "basic-profile"\nwaive pixels because "test data without burned-in text"'


def test_kept_pixel_data_is_copied_byte_for_byte(tmp_path):
    plan = deidlang.compile(WAIVED)
    source = CORPUS / "SC_rgb_jpeg_dcmtk.dcm"  # encapsulated JPEG
    out, _ = stream.rewrite(source.read_bytes(), plan, KEY)
    assert dcmread(io.BytesIO(out)).PixelData == dcmread(source).PixelData


def test_tables_are_only_caches(monkeypatch):
    """The per-process decision and result tables, cleared at every use, change nothing."""
    plan = deidlang.compile(WAIVED)
    files = [CORPUS / name for name in ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "SC_rgb_jpeg_dcmtk.dcm")]
    before = [stream.rewrite(f.read_bytes(), plan, KEY) for f in files]
    monkeypatch.setattr(levels, "_TABLE_LIMIT", 0)
    after = [stream.rewrite(f.read_bytes(), plan, KEY) for f in files]
    assert [data for data, _ in after] == [data for data, _ in before]
    assert [outcome.pairs for _, outcome in after] == [outcome.pairs for _, outcome in before]


def planted(keyword: str, raw: bytes, implicit: bool) -> bytes:
    """CT_small as a Part 10 file whose top-level UI element ``keyword`` holds exactly ``raw``
    (planted as a valid value of that length, then swapped for the raw bytes)."""
    ds = dcmread(CORPUS / "CT_small.dcm")
    placeholder = b"9" * len(raw)
    setattr(ds, keyword, placeholder.decode())
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian if implicit else pydicom.uid.ExplicitVRLittleEndian
    fp = io.BytesIO()
    ds.save_as(fp, enforce_file_format=True)
    tag = pydicom.datadict.tag_for_keyword(keyword)
    head = struct.pack("<HH", tag >> 16, tag & 0xFFFF) + (struct.pack("<L", len(raw)) if implicit
                                                          else b"UI" + struct.pack("<H", len(raw)))
    assert fp.getvalue().count(head + placeholder) == 1
    return fp.getvalue().replace(head + placeholder, head + raw)


@pytest.mark.parametrize("raw", [b"1.2.3.4\0", b"1.2.3.45", b" 1.2.3  ", b"1.23\0 ", b"", b"\0\0", b"  ",
                                 b"1.2\xe9.34\0", b"1.2.3\\4.5.6\0", b"\\\0", b"1.2\x85\xa0 "])
@pytest.mark.parametrize("implicit", [False, True])
def test_uid_shortcut_equals_the_general_way(raw, implicit, monkeypatch):
    """The `uid` action's own UI decoding and encoding gives the bytes and pairs pydicom's does."""
    plan = deidlang.compile("basic-profile")
    data = planted("ReferencedSOPInstanceUID", raw, implicit)
    shortcut = stream.rewrite(data, plan, KEY)
    monkeypatch.setattr(stream._Rewriter, "_new_uid", lambda self, element: None)
    stream._TABLES.clear()
    general = stream.rewrite(data, plan, KEY)
    assert shortcut[0] == general[0]
    assert shortcut[1].pairs == general[1].pairs and shortcut[1].notes == general[1].notes


@pytest.mark.parametrize("raw", [b"1.2.3.4\0", b"", b"\0\0", b"  ", b" \0", b"\\\0", b"1\x85"])
def test_sop_instance_check_agrees_with_the_reference_engine(raw, tmp_path):
    """Files of one series share their verdict; each file's own SOP Instance UID is still checked."""
    plan = deidlang.compile('include "basic-profile"\nreject if Modality == "MR" because "no MR"')
    for value in (b"1.2.3.4.5\0", raw):  # the first fills the shared verdict
        (tmp_path / "in.dcm").write_bytes(planted("SOPInstanceUID", value, implicit=False))
        fast, reference = both(tmp_path / "in.dcm", plan, tmp_path)
        assert (fast.status, fast.engine, fast.reason) == (reference.status, "fast", reference.reason)


def test_a_constant_its_vr_cannot_hold_is_removed_by_both_engines(tmp_path):
    """`replace group 0008 with "ANON1"` meets an IS element: pydicom refuses the value, so both engines
    remove the element with a note (found by test_properties) instead of ending in an internal error."""
    source = tmp_path / "in.dcm"
    ds = dcmread(CORPUS / "CT_small.dcm")
    ds.add_new(0x00081160, "IS", "1")  # ReferencedFrameNumber
    ds.save_as(source)
    fast, reference = both(source, compile_text('include "basic-profile"\nreplace group 0008 with "ANON1"\n'), tmp_path)
    assert fast.status == reference.status == "written", (fast.reason, reference.reason)
    assert 0x00081160 not in dcmread(tmp_path / "fast.dcm")
    assert_same(tmp_path)


def test_a_run_found_valid_is_checked_again_when_its_bytes_differ(tmp_path):
    """Kept elements next to each other are written as one part, their bytes remembered once valid
    (`levels.LevelWriter._run`): a later file of the same layout with one invalid value in the middle of
    such a run has it replaced, and its neighbours kept, as the reference engine does."""
    plan = compile_text('include "basic-profile"\nkeep Modality, Manufacturer, BodyPartExamined, SliceThickness\n'
                        'waive pixels because "test"\n')
    ds = dcmread(CORPUS / "CT_small.dcm")
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.SliceThickness = "7.25"  # a placeholder of the length of each value planted
    fp = io.BytesIO()
    ds.save_as(fp, enforce_file_format=True)
    head = struct.pack("<HH", 0x0018, 0x0050) + b"DS" + struct.pack("<H", 4)
    assert fp.getvalue().count(head + b"7.25") == 1
    for planted_value in (b"1.00", b"x!y ", b"2.50"):  # DS: the second is no decimal string
        (tmp_path / "in.dcm").write_bytes(fp.getvalue().replace(head + b"7.25", head + planted_value))
        fast, reference = both(tmp_path / "in.dcm", plan, tmp_path)
        assert fast.engine == "fast" and fast.status == reference.status == "written"
        assert_same(tmp_path, same_bytes=True)
        kept = head + planted_value in (tmp_path / "fast.dcm").read_bytes()  # else written empty (Type 2)
        assert kept == (planted_value != b"x!y ")


@given(st.lists(st.sampled_from(list(b"0123456789+-.eE \\\0x")), max_size=20).map(bytes), st.sampled_from(["DS", "IS"]),
       st.sampled_from([0x00200013, 0x00200032, 0x00201041, 0x00280030, 0x00181150]))
def test_a_value_gets_the_answer_remembered_for_its_check_key(raw, vr, tag):
    """The fast path remembers `kept_problem`'s answer by `valuecheck.check_key` (a DS or IS value's digits
    read as 0): the answer for the key must be the value's own, so no value is kept that its check refuses."""
    key = valuecheck.check_key(tag, vr, raw)
    assert (valuecheck.kept_problem(tag, vr, None, len(raw), lambda: key) ==
            valuecheck.kept_problem(tag, vr, None, len(raw), lambda: raw))
