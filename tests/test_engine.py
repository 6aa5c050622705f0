"""Layer 5: the reference engine on in-memory datasets."""

from __future__ import annotations

import copy

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

import deidlang
from deidlang.compiler import compile_text
from deidlang.values import new_uid
from deidlang.errors import Rejected
from deidlang.phantom import phantom

NONE = 'require minimum none because "engine unit test"\n'


def run(rules: str, ds: Dataset, key: bytes) -> Dataset:
    return deidlang.apply(compile_text(NONE + rules), ds, key=key).dataset


def test_input_is_never_modified(key):
    ds, _ = phantom()
    before = copy.deepcopy(ds)
    deidlang.apply(deidlang.compile("basic-profile"), ds, key=key)
    assert ds == before and ds.file_meta == before.file_meta


def test_bare_selector_applies_at_every_depth(key):
    ds, canaries = phantom()
    out = run("remove PatientName", ds, key)
    assert out.PatientName == ""  # Type 2 in the CT IOD: written empty (test_conformance.py)
    inner = out.RequestAttributesSequence[0].ReferencedStudySequence[0]
    assert "PatientName" not in inner and inner.PatientID == ds.PatientID


def test_path_narrows_to_one_place(key):
    ds, _ = phantom()
    out = run("keep PatientID\nremove RequestAttributesSequence/*/ReferencedStudySequence/0/PatientID", ds, key)
    assert out.PatientID == ds.PatientID and out.OtherPatientIDsSequence[0].PatientID == ds.PatientID
    assert "PatientID" not in out.RequestAttributesSequence[0].ReferencedStudySequence[0]


def test_removing_a_sequence_removes_everything_in_it(key):
    ds, _ = phantom()
    out = run("remove RequestAttributesSequence\nkeep PatientName", ds, key)
    assert "RequestAttributesSequence" not in out


def test_actions_produce_vr_valid_values(key):
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.2", "1.2.3.4"
    ds.PatientName, ds.PatientID, ds.AccessionNumber = "Doe^Jane", "ID123", "ACC99"
    ds.StudyDate, ds.SeriesDate, ds.AcquisitionDateTime = "20200131", "20200229", "20200301101010.5+0100"
    ds.StudyTime, ds.PatientSex, ds.OtherPatientIDs = "101010", "F", ["A1", "B2"]
    rules = ("dummy PatientName; hash PatientID, OtherPatientIDs; empty AccessionNumber\n"
             "shift-date StudyDate, AcquisitionDateTime by -31 days; dummy-date SeriesDate, StudyTime\n"
             'replace PatientSex with "O"; uid SOPInstanceUID')
    out = run(rules, ds, key)
    assert out.PatientName == "ANONYMOUS" and out.AccessionNumber == ""
    assert len(out.PatientID) == 16 and out.PatientID != "ID123" and out.PatientID.isalnum()
    assert len(out.OtherPatientIDs) == 2
    assert out.StudyDate == "20191231" and out.AcquisitionDateTime == "20200130101010.5+0100"
    assert (out.SeriesDate, out.StudyTime, out.PatientSex) == ("19000101", "000000", "O")
    assert out.SOPInstanceUID == new_uid(key, "1.2.3.4") == out.file_meta.MediaStorageSOPInstanceUID
    assert out.LongitudinalTemporalInformationModified == "MODIFIED"


def test_keyed_operations_are_deterministic_per_key(key):
    ds, _ = phantom()
    a = run("uid vr UI except SOPClassUID, ReferencedSOPClassUID; hash PatientID", ds, key)
    b = run("uid vr UI except SOPClassUID, ReferencedSOPClassUID; hash PatientID", ds, key)
    c = run("uid vr UI except SOPClassUID, ReferencedSOPClassUID; hash PatientID", ds, b"another-key-0123456789")
    assert a.SOPInstanceUID == b.SOPInstanceUID != c.SOPInstanceUID
    assert a.PatientID == b.PatientID != c.PatientID
    # References in sequences map like the instances they point at.
    nxt, _ = phantom(instance=2)
    assert a.ReferencedImageSequence[0].ReferencedSOPInstanceUID == run("uid vr UI", nxt, key).SOPInstanceUID


def test_bad_values_are_removed_and_reported(key):
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.2", "1.2.3.4"
    ds.StudyDate = "2020"          # not a full date: a shift cannot handle it
    ds.add_new(0x00091001, "LO", "x")  # private element without a creator
    outcome = deidlang.apply(compile_text(NONE + "shift-date StudyDate by 3 days"), ds, key=key)
    assert outcome.dataset.StudyDate == "" and 0x00091001 not in outcome.dataset  # StudyDate: Type 2
    assert outcome.notes == ["(0008,0020): `shift-date` cannot handle this DA value: empty written instead"]
    ds.SOPClassUID = "1.2.3.4"  # a SOP Class with no known IOD: removed
    outcome = deidlang.apply(compile_text(NONE + "shift-date StudyDate by 3 days"), ds, key=key)
    assert "StudyDate" not in outcome.dataset
    assert outcome.notes == ["(0008,0020): `shift-date` cannot handle this DA value: removed"]


def test_action_that_does_not_fit_a_vr_removes(key):
    ds, _ = phantom()
    outcome = deidlang.apply(compile_text(NONE + "hash group 0028"), ds, key=key)
    assert "Rows" not in outcome.dataset
    assert any("`hash` does not apply to VR US" in n for n in outcome.notes)


def test_private_creators_follow_their_blocks(key):
    ds, _ = phantom()
    out = run('keep "GEMS_PARM_01" 0043,xx39', ds, key)
    block = out.private_block(0x0043, "GEMS_PARM_01")
    assert list(block[0x39].value) == [1, 2, 3, 4]
    assert 0x00290010 not in out and not any(e.tag.group == 0x0029 for e in out)


def test_conditions_use_the_original_top_level(key):
    ds, _ = phantom()
    rules = 'remove Modality\nremove PatientName if Modality == "CT"\nempty PatientID if Rows > 100\n'
    out = run(rules, ds, key)
    # PatientName (Type 2) and Modality (Type 1) are what the CT IOD requires: substitutes are written
    assert out.PatientName == "" and out.PatientID == ds.PatientID and out.Modality == "ANONYMOUS"


def test_reject_raises_with_rule_location(key):
    ds, _ = phantom()
    with pytest.raises(Rejected, match=r"<string>:3: burned in"):
        run('\nreject if Modality in ("CT", "MR") because "burned in"', ds, key)


def test_output_contract(key):
    ds, _ = phantom()
    plan = deidlang.compile("basic-profile")
    out = deidlang.apply(plan, ds, key=key).dataset
    assert out.PatientIdentityRemoved == "YES"
    assert list(out.DeidentificationMethod)[:2] == ["deidlang basic-profile 1.0.0", plan.plan_hash]
    assert [i.CodeValue for i in out.DeidentificationMethodCodeSequence] == ["113100"]
    assert out.LongitudinalTemporalInformationModified == "REMOVED"
    meta = out.file_meta
    assert meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID != ds.SOPInstanceUID
    assert meta.TransferSyntaxUID == ds.file_meta.TransferSyntaxUID
    assert meta.ImplementationClassUID.startswith("2.25.")
    assert out.PixelData == ds.PixelData
    assert out.SpecificCharacterSet == "ISO_IR 100"


def test_instance_without_uids_is_an_engine_error(key):
    with pytest.raises(deidlang.EngineError, match="no SOP Class"):
        deidlang.apply(compile_text(NONE), Dataset(), key=key)


def test_clean_scrubs_identifying_terms(key):
    ds, canaries = phantom()
    out = run("clean StudyDescription", ds, key)
    assert out.StudyDescription.startswith("CT ") and "Canaryname" not in out.StudyDescription
    assert "Zebedee" not in out.StudyDescription


def test_sequence_empty_and_dummy_leave_no_items(key):
    """Neither sequence is required by the CT IOD (Type 3): removed rather than left with no items."""
    ds, _ = phantom()
    out = run("empty OtherPatientIDsSequence; dummy RequestAttributesSequence", ds, key)
    assert "OtherPatientIDsSequence" not in out and "RequestAttributesSequence" not in out
    ds.SOPClassUID = "1.2.3.4"  # no known IOD: as the rules say
    out = run("empty OtherPatientIDsSequence; dummy RequestAttributesSequence", ds, key)
    assert out.OtherPatientIDsSequence == Sequence() and len(out.RequestAttributesSequence) == 0


def test_regression_clean_with_an_undecodable_element(key):
    """Found by fuzzing: `clean` collected its terms from every element and crashed on one that
    cannot be decoded; it must skip it (the walk removes and reports it)."""
    from pydicom.dataelem import RawDataElement
    from pydicom.tag import Tag

    ds, _ = phantom()
    ds._dict[Tag(0x00181030)] = RawDataElement(Tag(0x00181030), "US", 3, b"\x01\x02\x03", 0, False, True)
    outcome = deidlang.apply(compile_text(NONE + "clean AccessionNumber"), ds, key=key)
    assert 0x00181030 not in outcome.dataset
    assert "(0018,1030): value could not be decoded: removed" in outcome.notes
