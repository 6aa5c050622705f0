"""Layer 4: the minimum's static proof, waivers, and profile coverage."""

from __future__ import annotations

import pytest

import deidlang
from deidlang.compiler import compile_text
from deidlang.errors import ObligationError
from deidlang.validate import validate

SAFE = "remove vr DA, TM, DT, SQ, PN, LO, SH, ST, AS, CS\n"


def errors(text):
    return [f for f in validate(compile_text(text, "t.deid")) if f.is_error]


def test_safe_base_passes_and_default_keep_fails_for_all_fifty():
    assert errors(SAFE) == []
    assert len(errors("default keep")) == 50
    assert errors("default remove") == []


def test_failure_names_tag_rule_and_line():
    (finding,) = errors(SAFE + "# a comment\nkeep PatientBirthDate\n")
    assert "`PatientBirthDate` (0010,0030)" in finding.message and "`keep` lets it through" in finding.message
    assert (finding.origin.source, finding.origin.line, finding.origin.text) == ("t.deid", 3, "keep PatientBirthDate")
    assert "waive" in finding.help


def test_every_truth_assignment_is_considered():
    # Kept only when a condition holds: still a leak, since some dataset makes it true.
    assert len(errors(SAFE + 'keep PatientName if Modality == "US"')) == 1
    # A conditional removal over a default keep leaks when the condition is false.
    assert len(errors('remove vr DA, TM, DT, SQ, LO, SH, ST, AS, CS\nremove vr PN if Modality == "CT"')) == 10  # the 10 PN elements
    # Correlated conditions are judged exactly: removed when US, removed when not US.
    text = ('remove vr DA, TM, DT, SQ, LO, SH, ST, AS, CS\nremove vr PN if Modality == "US"\n'
            'empty vr PN if not Modality == "US"')
    assert errors(text) == []


def test_a_path_rule_that_keeps_leaks_at_its_position():
    (finding,) = errors(SAFE + "keep RequestAttributesSequence/*/PatientName")
    assert "in one sequence position" in finding.message


def test_keep_and_clean_do_not_count_as_change():
    assert len(errors(SAFE + "clean PatientName")) == 1


def test_waiver_is_the_only_way_and_is_reported():
    assert errors(SAFE + 'keep PatientSex\nwaive PatientSex because "covariate"') == []
    warnings = [f.message for f in validate(compile_text(SAFE + 'waive PatientSex, Rows because "x"'))]
    assert "`PatientSex` is always changed or removed: the waiver is not needed" in warnings
    assert "`Rows` is not in the minimum: the waiver has no effect" in warnings


def test_minimum_off_needs_reason_and_then_is_not_checked():
    assert errors('require minimum none because "test data only"\ndefault keep') == []


def test_public_compile_raises_every_failed_obligation():
    with pytest.raises(ObligationError) as info:
        deidlang.compile("default keep")
    assert len(info.value.findings) == 50
    assert "(and 49 more)" in info.value.message


def test_basic_profile_coverage():
    plan = deidlang.compile("basic-profile", profile="basic-profile")
    assert 113100 in plan.codes
    weakened = compile_text('include "basic-profile"\nkeep StationName\nwaive PatientSex because "x"\nkeep PatientSex')
    found = [f for f in validate(weakened, "basic-profile") if f.is_error]
    assert {f.message.split(" ")[0] for f in found} == {"`StationName`", "`PatientSex`"}
    # Declaring the option that retains it makes the same keep acceptable.
    ok = compile_text('include "basic-profile"\ninclude "retain-device-identity"')
    assert [f for f in validate(ok, "basic-profile") if f.is_error] == []
