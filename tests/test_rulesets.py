"""The shipped rulesets: generated from the tables, valid, and de-identifying the study's dummy file."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydicom import dcmread

import deidlang
from deidlang.compiler import shipped_rulesets
from deidlang.dictionary import aryanto50
from deidlang.phantom import SHORT_VALUED, phantom
from deidlang.runner import deidentify_file
from deidlang.validate import validate

from .conftest import ROOT

OVERLAYS = [n for n in shipped_rulesets() if n not in ("basic-profile", "aryanto50")]


def plan_for(name: str):
    if name in ("basic-profile", "aryanto50"):
        return deidlang.compile(name)
    return deidlang.compile(f'ruleset "with-{name}" version "1.0.0"\ninclude "basic-profile"\ninclude "{name}"')


@pytest.mark.integration
def test_generated_rulesets_are_up_to_date():
    result = subprocess.run([sys.executable, "tools/generate_rulesets.py", "--check"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_option_of_the_issue_is_shipped():
    for name in ["retain-uids", "retain-device-identity", "retain-institution-identity",
                 "retain-patient-characteristics", "retain-long-full-dates", "retain-long-modified-dates",
                 "clean-descriptors", "retain-safe-private"]:
        assert name in OVERLAYS


@pytest.mark.parametrize("name", shipped_rulesets())
def test_shipped_ruleset_compiles_and_validates(name):
    plan = plan_for(name)
    profile = None if name == "aryanto50" else "basic-profile"
    assert [f.render() for f in validate(plan, profile) if f.is_error] == []
    assert [f.render() for f in validate(plan) if not f.is_error and "waiver" not in f.message] == []


def test_basic_profile_covers_every_table_row():
    text = (ROOT / "rulesets" / "basic-profile.deid").read_text()
    for row in deidlang.dictionary.e1_1():
        assert f"# ({row['tag']}) {row['name']}: {row['basic_profile']}" in text


@pytest.mark.parametrize("name", shipped_rulesets())
def test_shipped_ruleset_removes_the_planted_fifty(name, tmp_path, key):
    """The study's dummy file: all 50 planted, nested too; none found in the written bytes."""
    ds, canaries = phantom()
    src, dst = tmp_path / "in.dcm", tmp_path / "out.dcm"
    ds.save_as(src, enforce_file_format=True)
    plan = plan_for(name)
    result = deidentify_file(src, dst, plan, key)
    assert result.status == "written", result.reason
    data = dst.read_bytes()
    waived = {w.tag for w in plan.waivers}
    for tag, value in canaries.searchable().items():
        if tag in waived:
            continue
        assert value.encode() not in data, f"{name}: planted value of {tag:08X} found in output"
    out = dcmread(dst)
    for e in aryanto50():
        if e.tag in SHORT_VALUED and e.tag not in waived and e.tag in out:
            assert out[e.tag].value != ds[e.tag].value
    # the private block that repeats the name is gone whatever the option
    assert b"ACME CANARY" not in data
    if name != "aryanto50":  # beyond the minimum: descriptions, codes, overlay text, curves
        assert [p for p, v in canaries.extras.items() if v.encode() in data] == (
            ["description"] if name in ("clean-descriptors", "research") else [])  # cleaned, not removed
