"""`explain`'s IOD substitutes (deidlang/substitution.py): where a rule meets what an IOD requires, per SOP
Class, as the engines' shared `conformance.adjust` decides it."""

from __future__ import annotations

import json

from deidlang.cli import main
from deidlang.compiler import compile_file, compile_text
from deidlang.substitution import substitutions


def _rows(text: str):
    return {(r.attribute, r.type, r.substitute): r for r in substitutions(compile_text(text))}


def test_a_removed_type_1_attribute_is_listed_with_its_dummy_and_the_classes_that_need_it():
    rows = _rows("remove SegmentLabel, StudyID\nempty ReferencedStudySequence\nkeep PatientName")
    label = rows[("SegmentSequence/SegmentLabel", "1", "dummy")]
    assert label.sop_classes == ("Segmentation Storage",) and label.origin == "<string>:1"
    study = rows[("StudyID", "2", "empty")]  # Type 2 in General Study: every image IOD
    assert "CT Image Storage" in study.sop_classes and len(study.sop_classes) > 40
    assert not any(a.startswith("PatientName") for a, _, _ in rows)  # kept: nothing to substitute


def test_conditions_and_the_attributes_they_need_are_listed():
    rows = _rows("remove StackID, SegmentAlgorithmName")
    stack = rows[("PerFrameFunctionalGroupsSequence/FrameContentSequence/StackID",
                  "needed by InStackPositionNumber (1C)", "hash")]
    assert "Enhanced CT Image Storage" in stack.sop_classes
    assert ("SegmentSequence/SegmentAlgorithmName", "1C if (0062,0008) is not MANUAL", "dummy") in rows


def test_an_iod_the_tables_do_not_know_and_a_keep_all_ruleset_list_nothing():
    assert substitutions(compile_text("default keep\nrequire minimum none because \"test\"\n")) == []


def test_explain_prints_the_substitutes_in_text_and_json(capsys):
    assert main(["explain", "basic-profile"]) == 0
    text = capsys.readouterr().out
    assert "IOD substitutes" in text and "SegmentSequence/SegmentLabel" in text
    assert main(["explain", "basic-profile", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["substitutions"]) == len(substitutions(compile_file("basic-profile")))
    assert {"origin", "rule", "attribute", "type", "substitute", "sop_classes"} <= set(data["substitutions"][0])
