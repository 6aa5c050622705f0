"""IOD-aware actions (engine/conformance.py, deidlang/iod.py): the standard's substitute where a rule
would break what the IOD requires, in both engines; and dciodvfy over pydicom's test files."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from deidlang import iod
from deidlang.compiler import compile_text
from deidlang.engine.conformance import adjust, requirements
from deidlang.phantom import phantom
from deidlang.runner import preview

from . import iodcheck
from .test_stream import assert_same, both

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
    """Every readable test file of pydicom through `deidlang run` (basic-profile): errors dciodvfy
    finds in an output and not in its input, after normalising values."""
    import os
    import warnings

    from pydicom.data import get_testdata_files

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        files = [Path(f) for f in get_testdata_files("*") if os.path.isfile(f)]
    written, new = iodcheck.run_and_check(files, tmp_path)
    print(f"\n{len(files)} inputs, {written} written; new errors: {new}")
    assert written >= 25  # secondary captures and ultrasound without a pixel rule are rejected (issue 13)
    assert {name: errors for name, errors in new.items() if name not in KNOWN_GAPS} == {}
    for name, known in KNOWN_GAPS.items():  # a known gap, exactly as it stands: nothing else new in that file
        assert set(new.get(name, {})) <= known, name


# The enhanced CT's functional groups are not in the IOD table yet (the research helper is adding them):
# a removed LUTLabel inside them gets no Type 1 substitute. Sequences written as UN (the RT Dose files'
# ReferencedRTPlanSequence) are no longer a gap: they are decided as the sequences they are.
KNOWN_GAPS = {"113-eCT_Supplemental.dcm": {
    "Error - # - Missing attribute for Type # Required - Module=# [/SharedFunctionalGroupsSequence(5200,9229)[1]/"
    "RealWorldValueMappingSequence(0040,9096)[1]/LUTLabel(0040,9210)]",
    *(f"Error - # - Attribute present when condition unsatisfied (which may not be present otherwise) for Type 1C "
      f"Conditional - Module=# [/PerFrameFunctionalGroupsSequence(5200,9230)[{n}]/FrameContentSequence(0020,9111)[1]/"
      "InStackPositionNumber(0020,9057)]" for n in (1, 2))}}


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
