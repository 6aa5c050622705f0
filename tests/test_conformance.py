"""IOD-aware actions (engine/conformance.py, deidlang/iod.py): the standard's substitute where a rule
would break what the IOD requires, in both engines; and dciodvfy over pydicom's test files."""

from __future__ import annotations

import pytest
from hypothesis import given
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from deidlang import iod
from deidlang.compiler import compile_text
from deidlang.engine.conformance import adjust, requirements
from deidlang.phantom import phantom
from deidlang.runner import preview

from . import iodcheck
from .strategies import iod_datasets, programs
from .test_stream import assert_engines_agree, assert_same, both

SEG = "1.2.840.10008.5.1.4.1.1.66.4"
CT = "1.2.840.10008.5.1.4.1.1.2"
BASIC = 'include "basic-profile"\n'


def test_requirements_come_from_the_iod_and_the_modules_in_use():
    seg = iod.requirements(SEG, frozenset({0x00620002}))
    assert seg[(0x00620002, 0x00620005)].type == "1"  # SegmentLabel, in the Segment Description Macro
    assert seg[(0x00200010,)].type == "2"  # StudyID, General Study
    assert (0x00081030,) not in seg  # StudyDescription is Type 3
    assert (0x00180010,) not in iod.requirements(CT, frozenset())  # ContrastBolusAgent: module not in use
    assert iod.requirements(CT, frozenset({0x00180010}))[(0x00180010,)].type == "2"
    assert iod.requirements("1.2.3.4", frozenset()) == {}


@pytest.mark.parametrize("action, tag, vr, position, expected", [
    ("remove", 0x00620005, "LO", ((0x00620002, 0),), "dummy"),  # Type 1: a dummy
    ("empty", 0x00620005, "LO", ((0x00620002, 0),), "dummy"),
    ("remove", 0x00200010, "SH", (), "empty"),  # Type 2: empty
    ("remove", 0x00081030, "LO", (), "remove"),  # Type 3: as the rule says
    ("dummy", 0x00081111, "SQ", (), "remove"),  # a Type 3 sequence is removed, not left with no items
    ("empty", 0x00081110, "SQ", (), "remove"),
    ("remove", 0x00620005, "LO", (), "remove"),  # not at that place
    ("keep", 0x00620005, "LO", ((0x00620002, 0),), "keep"),
    ("remove", 0x00080018, "UI", (), "remove"),  # no neutral dummy for a UID
])
def test_adjust(action, tag, vr, position, expected):
    _, required = requirements(SEG, [0x00620002])
    assert adjust(action, tag, vr, position, required)[0] == expected


def _segmentation() -> Dataset:
    ds, _ = phantom()
    ds.SOPClassUID = SEG
    segment = Dataset()
    segment.SegmentNumber = 1
    segment.SegmentLabel = "Liver of DOE^JANE"
    segment.SegmentAlgorithmType = "MANUAL"
    ds.SegmentSequence = Sequence([segment])
    ds.ContentLabel = "SEG"
    ds.ContentDescription = "drawn by Dr Feinstein"
    ds.ReferencedPerformedProcedureStepSequence = Sequence([Dataset()])
    return ds


def test_both_engines_write_the_iod_substitute(tmp_path):
    ds = _segmentation()
    ds.save_as(tmp_path / "in.dcm", enforce_file_format=True)
    fast, reference = both(tmp_path / "in.dcm", compile_text(BASIC), tmp_path)
    assert fast.status == reference.status == "written"
    assert_same(tmp_path)
    out = dcmread(tmp_path / "fast.dcm")
    assert out.SegmentSequence[0].SegmentLabel == "ANONYMOUS"  # the safety net's `remove vr LO`, Type 1
    assert out.ContentDescription == ""  # Type 2 in the Content Identification Macro: present, empty
    assert "ReferencedPerformedProcedureStepSequence" not in out  # X/Z/D, Type 3 here: removed
    assert out.StudyID == ""  # Z and Type 2: empty, as before


def test_dry_run_says_when_a_substitute_is_written(tmp_path, key):
    ds = _segmentation()
    ds.save_as(tmp_path / "in.dcm", enforce_file_format=True)
    p = preview(tmp_path / "in.dcm", compile_text(BASIC), key)
    label = [d for d in p.decisions if d.tag == 0x00620005]
    assert label and label[0].action == "dummy"
    assert any("(0062,0005): the IOD needs a value (Type 1 in PS3.3 table" in n for n in p.notes)
    assert not any("DOE" in n or "Liver" in n for n in p.notes)


@pytest.mark.integration
@pytest.mark.skipif(not iodcheck.available(), reason="dciodvfy (dicom3tools) is not installed")
def test_dciodvfy_finds_no_new_errors_in_the_default_rules_outputs(tmp_path):
    """Every readable file of the corpus (pydicom's test files; pydicom-data, deid-data, nibabel and
    pynetdicom where installed: the `corpus` extra) through `deidlang run` with the default rules
    (basic-profile), the pixel obligation waived so that the images it rejects are checked too (the
    header's rules are the same): errors dciodvfy finds in an output and not in its input, after
    normalising values."""
    corpus = iodcheck.corpus(tmp_path / "unpacked")
    files = [f for found in corpus.values() for f in found]
    rules = tmp_path / "default.deid"
    rules.write_text('include "basic-profile"\nwaive pixels because "the header is checked, not the pixels"\n')
    written, new = iodcheck.run_and_check(files, tmp_path / "run", str(rules))
    print(f"\n{ {source: len(found) for source, found in corpus.items()} }: {len(files)} inputs, {written} written; "
          f"new errors: {new}")
    assert written >= 60  # pydicom's test files alone: 85, some unreadable, not instances or failed closed
    assert new == {}


def _report() -> Dataset:
    ds, _ = phantom()
    ds.SOPClassUID, ds.Modality = "1.2.840.10008.5.1.4.1.1.88.33", "SR"  # Comprehensive SR
    for keyword in ("PixelData", "Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
                    "SamplesPerPixel", "PhotometricInterpretation"):
        if keyword in ds:
            delattr(ds, keyword)
    ds.ValueType, ds.CompletionFlag, ds.VerificationFlag = "CONTAINER", "COMPLETE", "VERIFIED"
    observer = Dataset()
    observer.VerifyingObserverName, observer.VerifyingOrganization = "DOE^JOHN", "GENERAL HOSPITAL"
    observer.VerificationDateTime = "20210317120000"
    ds.VerifyingObserverSequence = Sequence([observer])
    return ds


@pytest.mark.parametrize("rules, flag, observers", [
    (BASIC, "UNVERIFIED", 0), ('include "research"\n', "UNVERIFIED", 0),
    (BASIC + "keep VerifyingObserverSequence\n", "VERIFIED", 1)])
def test_verification_flag_stays_true_of_the_object(tmp_path, rules, flag, observers):
    _report().save_as(tmp_path / "in.dcm", enforce_file_format=True)
    fast, reference = both(tmp_path / "in.dcm", compile_text(rules), tmp_path)
    assert fast.status == reference.status == "written"
    assert_same(tmp_path)
    out = dcmread(tmp_path / "fast.dcm")
    assert out.VerificationFlag == flag and len(out.get("VerifyingObserverSequence", [])) == observers
    if observers:
        assert out.VerifyingObserverSequence[0].VerifyingObserverName != "DOE^JOHN"


def test_clean_structured_content_keeps_the_report_tree(tmp_path):
    """Codes, numbers and containers stay; text is cleaned, names and dates replaced (both engines)."""
    from pydicom.dataset import Dataset as Item

    ds = _report()
    code = Item()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "121071", "DCM", "Finding"
    text, num = Item(), Item()
    text.RelationshipType, text.ValueType, text.ConceptNameCodeSequence = "CONTAINS", "TEXT", [code]
    text.TextValue = "Mass in left lung, discussed with Dr Feinstein on 03/17/2021"
    measure = Item()
    measure.NumericValue, measure.MeasurementUnitsCodeSequence = "23", [code]
    num.RelationshipType, num.ValueType, num.ConceptNameCodeSequence = "CONTAINS", "NUM", [code]
    num.MeasuredValueSequence = [measure]
    person = Item()
    person.RelationshipType, person.ValueType, person.PersonName = "CONTAINS", "PNAME", "DOE^JOHN"
    person.ConceptNameCodeSequence = [code]
    ds.ContentSequence = Sequence([text, num, person])
    ds.save_as(tmp_path / "in.dcm", enforce_file_format=True)
    rules = compile_text(BASIC + 'include "clean-structured-content"\n')
    fast, reference = both(tmp_path / "in.dcm", rules, tmp_path)
    assert fast.status == reference.status == "written"
    assert_same(tmp_path)
    tree = dcmread(tmp_path / "fast.dcm").ContentSequence
    assert tree[0].TextValue == "Mass in left lung, discussed with Dr ********* on **********"
    assert tree[1].MeasuredValueSequence[0].NumericValue == 23 and tree[1].ConceptNameCodeSequence[0].CodeMeaning == "Finding"
    assert tree[2].PersonName == "ANONYMOUS"


ENHANCED_CT, ENHANCED_MR = "1.2.840.10008.5.1.4.1.1.2.1", "1.2.840.10008.5.1.4.1.1.4.1"


def _frames(sop_class: str, *contents: dict[str, object], **group: Dataset) -> Dataset:
    """A multi-frame image whose per-frame functional groups hold these Frame Content items (and the
    other macros in ``group``, by sequence keyword, in every frame)."""
    ds, _ = phantom()
    ds.SOPClassUID = sop_class
    frames = []
    for values in contents:
        content = Dataset()
        for keyword, value in values.items():
            setattr(content, keyword, value)
        frame = Dataset()
        frame.FrameContentSequence = Sequence([content])
        for keyword, item in group.items():
            setattr(frame, keyword, Sequence([item]))
        frames.append(frame)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.SharedFunctionalGroupsSequence = Sequence([Dataset()])
    return ds


def _through_both(ds: Dataset, tmp_path, rules: str = BASIC) -> Dataset:
    ds.save_as(tmp_path / "in.dcm", enforce_file_format=True)
    fast, reference = both(tmp_path / "in.dcm", compile_text(rules), tmp_path)
    assert fast.status == reference.status == "written"
    assert_same(tmp_path)
    return dcmread(tmp_path / "fast.dcm")


def test_the_functional_group_macros_of_the_current_standard_are_required_where_they_are_used():
    """tools/iod_functional_groups.tsv places the macros of the 2008 Part3.xml under the functional groups."""
    _, required = requirements(ENHANCED_MR, [0x52009230])
    assert required[(0x52009230, 0x00189152, 0x00189080)].type == "1C"  # MetaboliteMapDescription
    assert required[(0x52009229, 0x00409096, 0x00409210)].type == "1"  # LUTLabel, Real World Value Mapping
    assert required[(0x52009230, 0x00189152, 0x00189080)].module == "C.7.6.16-1/C.8-99"
    assert (0x52009230, 0x00189152, 0x00189080) not in requirements(ENHANCED_CT, [0x52009230])[1]  # MR only


def test_a_description_the_functional_group_needs_gets_a_dummy_in_both_engines(tmp_path):
    metabolite = Dataset()
    metabolite.MetaboliteMapDescription = "NAA of DOE^JANE"
    out = _through_both(_frames(ENHANCED_MR, {"InStackPositionNumber": 1}, MRMetaboliteMapSequence=metabolite),
                        tmp_path)
    assert out.PerFrameFunctionalGroupsSequence[0].MRMetaboliteMapSequence[0].MetaboliteMapDescription == "ANONYMOUS"


def test_a_stack_id_that_in_stack_positions_count_in_is_kept_as_a_keyed_hash(tmp_path):
    """In-Stack Position Number is 1C, required (and only allowed) if Stack ID is present: the safety net's
    `remove vr SH` would leave it without its condition; Stack ID is hashed, distinct stacks stay distinct."""
    out = _through_both(_frames(ENHANCED_CT, {"StackID": "1", "InStackPositionNumber": 1},
                                {"StackID": "1", "InStackPositionNumber": 2},
                                {"StackID": "2", "InStackPositionNumber": 1}), tmp_path)
    contents = [frame.FrameContentSequence[0] for frame in out.PerFrameFunctionalGroupsSequence]
    stacks = [c.StackID for c in contents]
    assert stacks[0] == stacks[1] != stacks[2] and len(stacks[0]) == 16 and "1" != stacks[0]
    assert [c.InStackPositionNumber for c in contents] == [1, 2, 1]


def test_an_in_stack_position_without_its_stack_is_removed(tmp_path):
    out = _through_both(_frames(ENHANCED_CT, {"InStackPositionNumber": 1, "FrameAcquisitionNumber": 3}), tmp_path)
    content = out.PerFrameFunctionalGroupsSequence[0].FrameContentSequence[0]
    assert "InStackPositionNumber" not in content and content.FrameAcquisitionNumber == 3


@pytest.mark.parametrize("algorithm, rules, expected", [
    ("AUTOMATIC", BASIC, "ANONYMOUS"),  # required: the safety net's removal becomes a dummy
    ("MANUAL", BASIC + "keep SegmentAlgorithmName\n", None),  # not allowed for a manual segment: removed
    ("SEMIAUTOMATIC", BASIC + "keep SegmentAlgorithmName\n", "Otsu"),
])
def test_a_value_condition_decides_whether_the_segment_algorithm_name_stays(tmp_path, algorithm, rules, expected):
    ds = _segmentation()
    ds.SegmentSequence[0].SegmentAlgorithmType = algorithm
    ds.SegmentSequence[0].SegmentAlgorithmName = "Otsu"
    out = _through_both(ds, tmp_path, rules)
    assert out.SegmentSequence[0].get("SegmentAlgorithmName") == expected


def test_dry_run_says_why_a_conditional_attribute_changed(tmp_path, key):
    _frames(ENHANCED_CT, {"StackID": "DOE", "InStackPositionNumber": 1}).save_as(tmp_path / "in.dcm",
                                                                                 enforce_file_format=True)
    p = preview(tmp_path / "in.dcm", compile_text(BASIC), key)
    assert any("(0020,9056): (0020,9057) is required only if it is present" in n for n in p.notes)
    assert not any("DOE" in n for n in p.notes)


@pytest.mark.integration
@given(planted=iod_datasets(), text=programs())
def test_generated_iod_content_fast_equals_reference(planted, text):
    """Random rules over segmentations, enhanced CT/MR functional groups and reports: both engines write
    the same IOD substitutes (same bytes where the fast path wrote the file)."""
    assert_engines_agree(planted.dataset, compile_text(text))
