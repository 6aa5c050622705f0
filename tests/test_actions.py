"""The vocabulary (`deidlang.actions`): declared once, and every layer agrees with the declarations."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from pydicom import dcmread

import deidlang
from deidlang.actions import (
    ACTIONS, PIXEL_KINDS, Argument, DateUnit, Pseudonym, Shift, Text, TimeUnit, Years, always_changes,
    exposure_order, rule_alias,
)
from deidlang.compiler import compile_text
from deidlang.engine import pixels
from deidlang.errors import CompileError, EngineError
from deidlang.explain import decision_table
from deidlang.phantom import phantom
from deidlang.plan import Plan, PlanRule, Selector
from deidlang.review.diff import diff_plans
from deidlang.runner import deidentify_file
from deidlang.syntax import _parser

from . import strategies
from .conftest import FIXTURES, ROOT

GRAMMAR = (ROOT / "grammar" / "deid.lark").read_text(encoding="utf-8")
ARGUMENT_CLASSES = {a.argument for a in ACTIONS.values() if a.argument is not None}


def test_grammar_and_declarations_name_the_same_actions():
    plain = set(re.findall(r'"([a-z-]+)"', re.search(r"^ACTION: (.*)$", GRAMMAR, re.M).group(1)))
    assert plain == {a.name for a in ACTIONS.values() if a.argument is None}
    aliases = {rule.alias for rule in _parser(keep_comments=True).rules if rule.alias}
    with_argument = {rule_alias(a.name) for a in ACTIONS.values() if a.argument is not None}
    assert with_argument <= aliases
    rule_lines = {a for a in aliases if a.endswith("_rule")} - {"plain_rule"}
    pixel_lines = {rule_alias(kind) for kind in PIXEL_KINDS}
    assert rule_lines - pixel_lines == with_argument  # no rule line without its declaration


@pytest.mark.parametrize("argument", [Text('a "b" \\ c'), Shift(days=-30), Shift(within=365), Pseudonym(),
                                      Pseudonym("P-", 12), Years(5), DateUnit("month"), TimeUnit("hour")])
def test_argument_round_trips_through_plan_json_and_text(argument):
    assert type(argument).from_json(json.loads(json.dumps(argument.to_json()))) == argument
    declared = next(a for a in ACTIONS.values() if a.argument is type(argument))
    plan = compile_text('require minimum none because "t"\n'
                        f"{declared.name} {_selector_for(declared.name)}{argument.text()}")
    assert plan.rules[0].argument == argument


def _selector_for(action: str) -> str:
    return {"replace": "InstitutionName", "shift-date": "StudyDate", "pseudonym": "PatientID",
            "round-age": "PatientAge", "truncate-date": "PatientBirthDate", "truncate-time": "SeriesTime"}[action]


@pytest.mark.parametrize("action, data", [("round-age", 0), ("round-age", "5"), ("shift-date", 0),
                                          ("shift-date", ["patient", 0]), ("pseudonym", ["P", 3]),
                                          ("truncate-date", "day"), ("replace", 1), ("keep", "x"),
                                          ("erase", None)])
def test_a_plan_with_an_argument_or_action_that_is_not_declared_does_not_load(action, data):
    plan = compile_text('require minimum none because "t"\nkeep PatientAge')
    raw = json.loads(json.dumps(plan.to_dict()))
    raw["rules"][0].update(action=action, argument=data)
    with pytest.raises(ValueError):
        Plan.from_dict(raw)


def test_a_plan_with_an_unknown_pixel_rule_kind_does_not_load():
    raw = compile_text('require minimum none because "t"\nburn overlays').to_dict()
    raw["pixel_rules"][0]["kind"] = "smudge"
    with pytest.raises(ValueError, match="unknown pixel rule kind"):
        Plan.from_dict(raw)


def test_every_pixel_kind_has_an_operation_and_an_unknown_one_is_an_error(key):
    assert set(pixels.OPERATIONS) == set(PIXEL_KINDS)
    ds, _ = phantom(size=16)
    plan = compile_text('require minimum none because "t"\nburn overlays')
    smudge = dataclasses.replace(plan, pixel_rules=(dataclasses.replace(plan.pixel_rules[0], kind="smudge"),))
    with pytest.raises(EngineError, match="unknown pixel rule kind"):
        deidlang.apply(smudge, ds, key=key)


def test_argument_checks_come_from_the_declaration():
    for text, message in [("shift-date StudyDate by 0 days", "0 days changes nothing"),
                          ("shift-date StudyDate by patient within 0 days", "1 to 36500 days"),
                          ("pseudonym PatientID length 3", "4 to 64 characters"),
                          ("round-age PatientAge to 0 years", "1 to 100 years"),
                          (f'pseudonym PatientID prefix "{"P" * 60}"', "not a valid LO value")]:
        with pytest.raises(CompileError, match=message):
            compile_text(text)


def test_strength_orders_exposure_and_arguments_order_within_an_action():
    assert exposure_order("keep", None, "remove", None) == -1
    assert exposure_order("round-age", Years(10), "round-age", Years(5)) == 1
    assert exposure_order("truncate-date", DateUnit("month"), "truncate-date", DateUnit("year")) == -1
    assert exposure_order("shift-date", Shift(within=90), "shift-date", Shift(days=30)) == 1
    assert exposure_order("shift-date", Shift(within=30), "shift-date", Shift(within=90)) == -1
    assert exposure_order("shift-date", Shift(days=-3), "shift-date", Shift(days=7)) == 0
    assert exposure_order("hash", None, "uid", None) == 0
    assert exposure_order("truncate-time", TimeUnit("hour"), "truncate-time", TimeUnit("minute")) == 1
    assert [a.name for a in ACTIONS.values() if not always_changes(a.name)] == [
        "keep", "clean", "round-age", "truncate-date", "truncate-time"]


def test_review_tools_print_every_argument():
    plan = deidlang.compiler.compile_file(FIXTURES / "plans" / "every-action.deid")
    actions = {row.action for row in decision_table(plan)}
    assert {"round-age to 5 years", "truncate-date to year", "truncate-date to month", "pseudonym",
            'pseudonym prefix "P-" length 12', "shift-date by patient within 365 days",
            "shift-date by -30 days", 'replace with "ANON \\"HOSPITAL\\""'} <= actions
    wider = compile_text((FIXTURES / "plans" / "every-action.deid").read_text().replace("to 5 years", "to 10 years"))
    changes = diff_plans(plan, wider).changes
    assert [c.after for c in changes if c.subject.startswith("PatientAge")] == ["round-age to 10 years"]


def test_every_declared_argument_has_a_fuzzing_strategy():
    assert set(strategies.ARGUMENTS) == ARGUMENT_CLASSES
    assert all(issubclass(cls, Argument) for cls in ARGUMENT_CLASSES)


def test_a_plan_rule_holds_its_declarations_argument():
    rule = PlanRule("round-age", Selector("tag", tag=0x00101010), argument=Years(5))
    assert ACTIONS[rule.action].argument is type(rule.argument)


def test_truncate_time_cuts_times_to_the_hour_or_minute_in_both_engines(tmp_path, key):
    plan = compile_text('require minimum none because "t"\ntruncate-time SeriesTime, AcquisitionDateTime to hour\n'
                        "truncate-time ContentTime, (0008,0032) to minute\nremove StudyTime, vr DT except "
                        "AcquisitionDateTime")
    ds, _ = phantom()
    ds.SeriesTime, ds.ContentTime, ds.AcquisitionTime = "131742.25", "131742", "13"
    ds.AcquisitionDateTime = "20200101131742.5+0100"
    src = tmp_path / "in.dcm"
    ds.save_as(src, enforce_file_format=True)
    fast = deidentify_file(src, tmp_path / "fast.dcm", plan, key)
    reference = deidentify_file(src, tmp_path / "ref.dcm", plan, key, engine="reference")
    assert (fast.engine, fast.status, reference.status) == ("fast", "written", "written")
    for out in (dcmread(tmp_path / "fast.dcm"), dcmread(tmp_path / "ref.dcm")):
        assert (out.SeriesTime, out.ContentTime, out.AcquisitionTime) == ("130000", "131700", "13")
        assert out.AcquisitionDateTime == "20200101130000+0100"
        assert out.LongitudinalTemporalInformationModified == "MODIFIED"
    with pytest.raises(CompileError, match="cannot apply to `StudyDate`"):
        compile_text("truncate-time StudyDate to hour")
    assert "truncate-time to minute" in {row.action for row in decision_table(plan)}


def test_every_action_and_argument_gives_the_same_bytes_in_both_engines(tmp_path, key):
    """The every-action fixture (less `clean` and the pixel rules, which the fast path leaves to the
    reference engine) over a phantom with a value for each rule: the fast path's output is the
    reference engine's, byte for byte."""
    lines = (FIXTURES / "plans" / "every-action.deid").read_text().splitlines()
    kept = [line for line in lines if not line.startswith(("clean", "blackout", "burn"))]
    plan = compile_text("\n".join([*kept, "keep SOPClassUID", "uid SOPInstanceUID"]))  # its default removes them
    ds, _ = phantom()
    ds.StudyDate, ds.AcquisitionDate, ds.ContentDate, ds.PatientBirthDate = "20200317", "20200318", "20200319", "19470317"
    ds.SeriesTime, ds.ContentTime, ds.AcquisitionDateTime = "131742.25", "093000", "20200317131742+0100"
    ds.PatientAge, ds.InstitutionName, ds.OtherPatientIDs = "047Y", "General Hospital", ["ID-1", "ID-2"]
    ds.PatientMotherBirthName, ds.IssuerOfPatientID, ds.AccessionNumber = "Mother^Name", "Issuer", "ACC-1"
    src = tmp_path / "in.dcm"
    ds.save_as(src, enforce_file_format=True)
    fast = deidentify_file(src, tmp_path / "fast.dcm", plan, key)
    reference = deidentify_file(src, tmp_path / "ref.dcm", plan, key, engine="reference")
    assert (fast.engine, fast.status, reference.status) == ("fast", "written", "written"), fast.reason
    assert (tmp_path / "fast.dcm").read_bytes() == (tmp_path / "ref.dcm").read_bytes()
    out = dcmread(tmp_path / "ref.dcm")
    assert (out.PatientAge, out.PatientBirthDate, out.ContentDate, out.SeriesTime) == ("045Y", "19470101",
                                                                                       "20200301", "130000")
    assert out.IssuerOfPatientID.startswith("P-") and len(out.IssuerOfPatientID) == 14
