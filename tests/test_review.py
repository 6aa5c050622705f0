"""Review tools: plan diffs (exposure), profile coverage."""

from __future__ import annotations

import json
import subprocess

from deidlang.cli import main
from deidlang.compiler import compile_file, compile_text
from deidlang.review.coverage import coverage, totals
from deidlang.review.diff import diff_plans

BASE = 'ruleset "site" version "1.0.0"\ninclude "basic-profile"\n'


def changes(old: str, new: str):
    return {c.subject: c for c in diff_plans(compile_text(old), compile_text(new)).changes}


def test_keep_instead_of_remove_exposes_more_and_names_lines():
    found = changes(BASE, BASE + "keep PatientAge\nwaive PatientAge because \"covariate\"")
    age = found["PatientAge (0010,1010)"]
    assert (age.before, age.after, age.exposure) == ("remove", "keep", "more")
    assert age.where.startswith("rulesets/basic-profile.deid:") and age.where.endswith("-> <string>:3")
    assert found['waiver PatientAge (0010,1010) because "covariate"'].exposure == "more"


def test_narrowed_condition_and_shrunk_blackout_expose_more():
    old = BASE + 'blackout 0,0,100,40 if Modality == "US"\nremove StationName\n'
    new = BASE + 'blackout 0,0,100,20 if Modality == "US"\nremove StationName if Modality == "CT"\n'
    found = changes(old, new)
    assert found["StationName (0008,1010)"].exposure == "more"
    assert found["blackout"].exposure == "more" and found["blackout"].before == '0,0,100,40 if Modality == "US"'
    assert changes(new, old)["blackout"].exposure == "less"


def test_same_meaning_no_changes():
    result = diff_plans(compile_text(BASE + "remove PatientName, StationName"),
                        compile_text("# moved\n" + BASE + "remove StationName,PatientName"))
    assert result.changes == [] and not result.exposure_increased


def test_cli_diff_exit_codes_formats_and_version_warning(tmp_path, capsys):
    old, new = tmp_path / "old.deid", tmp_path / "new.deid"
    old.write_text(BASE)
    new.write_text(BASE + "keep StationName\n")
    assert main(["diff", str(old), str(new)]) == 1
    out = capsys.readouterr().out
    assert "[EXPOSES MORE] StationName (0008,1010): dummy -> keep" in out
    assert "warning: exposure increases but the version stays 1.0.0" in out
    assert main(["diff", str(new), str(old), "--markdown"]) == 0
    assert "| less | StationName (0008,1010) |" in capsys.readouterr().out
    assert main(["diff", str(old), str(new), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["exposure_increased"] is True


def test_cli_diff_reads_git_revisions(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = lambda *a: subprocess.run(["git", *a], check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "site.deid").write_text(BASE)
    run("add", ".")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "v1")
    (tmp_path / "rules" / "site.deid").write_text(BASE.replace("1.0.0", "1.1.0") + "keep StationName\n")
    assert main(["diff", "HEAD:rules/site.deid", "rules/site.deid"]) == 1
    out = capsys.readouterr().out
    assert "site 1.0.0" in out and "site 1.1.0" in out and "version stays" not in out
    assert main(["diff", "HEAD:rules/missing.deid", "rules/site.deid"]) == 2


def test_coverage_of_shipped_rulesets():
    rows = coverage(compile_file("basic-profile"))
    assert len(rows) == 657 and all(r.status != "weaker" for r in rows)
    assert totals(rows)["X"]["rows"] == 417
    weak = coverage(compile_text(BASE + "keep StationName"))
    (row,) = [r for r in weak if r.status == "weaker"]
    assert (row.tag, row.standard, row.plan, row.lines) == ("0008,1010", "X/Z/D", "keep", "<string>:3")
    with_option = coverage(compile_text(BASE + 'include "retain-device-identity"'))
    station = next(r for r in with_option if r.tag == "0008,1010")
    assert station.standard == "K (retain-device-identity)" and station.status == "ok"


def test_cli_coverage(capsys):
    assert main(["coverage", "basic-profile"]) == 0
    out = capsys.readouterr().out
    assert "aryanto50 minimum: 50 protected, 0 waived, 0 exposed" in out and "X         417: 417 / 0 / 0" in out
    assert main(["coverage", "aryanto50"]) == 1


# ---------------------------------------------------------------- rule tests

import pytest  # noqa: E402

from deidlang.compiler import shipped_rulesets  # noqa: E402
from deidlang.review.cases import run_cases  # noqa: E402

from .conftest import ROOT  # noqa: E402


@pytest.mark.parametrize("name", shipped_rulesets())
def test_every_shipped_ruleset_passes_its_rule_tests(name):
    report = run_cases(name, ROOT / "rulesets" / "tests" / f"{name}.yaml")
    assert report.cases >= 1 and report.checks >= 2
    assert [f.render() for f in report.failures] == []


def test_a_failing_case_names_the_deciding_rule(tmp_path, capsys):
    rules = tmp_path / "site.deid"
    rules.write_text('include "basic-profile"\nkeep PatientAge\n')
    cases = tmp_path / "site.yaml"
    cases.write_text("cases:\n  - name: age\n    input: {PatientAge: 047Y, StudyDate: '20200101'}\n"
                     "    expect: {PatientAge: removed, StudyDate: empty, file: written}\n")
    assert main(["test", str(rules), str(cases)]) == 1
    captured = capsys.readouterr()
    assert f"FAIL age: PatientAge: expected removed, got kept (decided by `keep` at {rules}:2)" in captured.err
    assert "1 cases, 3 checks, 1 failed" in captured.out


def test_check_warns_when_exposure_increases_without_a_new_version(tmp_path, capsys):
    old, new = tmp_path / "old.deid", tmp_path / "new.deid"
    old.write_text(BASE)
    new.write_text(BASE + 'keep PatientAge\nwaive PatientAge because "covariate"\n')
    assert main(["check", str(new), "--against", str(old)]) == 0
    assert "warning: exposure increases against" in capsys.readouterr().err
    new.write_text(BASE.replace("1.0.0", "1.1.0") + 'keep PatientAge\nwaive PatientAge because "covariate"\n')
    assert main(["check", str(new), "--against", str(old)]) == 0
    assert "exposure increases" not in capsys.readouterr().err


def test_dry_run_shows_lengths_and_rules_never_values(tmp_path, capsys):
    from deidlang.phantom import phantom

    ds, canaries = phantom()
    ds.save_as(tmp_path / "one.dcm", enforce_file_format=True)
    assert main(["run", "--dry-run", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{tmp_path / 'one.dcm'}: would be written" in out
    assert "(0010,0010) PatientName PN length 22: empty (rulesets/basic-profile.deid:" in out
    assert "ReferencedImageSequence[0]/(0008,1155) ReferencedSOPInstanceUID UI" in out and "(0029,1001) - LO length" in out
    for value in canaries.searchable().values():
        assert value not in out
    assert list(tmp_path.iterdir()) == [tmp_path / "one.dcm"]  # nothing written


def test_precommit_hooks_and_example_rule_repository(monkeypatch, capsys):
    import yaml

    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert [h["id"] for h in hooks] == ["deidlang-fmt", "deidlang-check", "deidlang-test"]
    repo = ROOT / "examples" / "rule-repo"
    monkeypatch.chdir(repo)
    assert main(["fmt", "--check", "rules/site.deid"]) == 0
    assert main(["check", "rules/site.deid", "--profile", "basic-profile"]) == 0
    assert main(["test", "rules/site.deid", "rules/tests/site.yaml"]) == 0


def test_rule_tests_never_crash_on_a_case_file(tmp_path, capsys):
    rules = tmp_path / "site.deid"
    rules.write_text('include "basic-profile"\n')
    cases = tmp_path / "site.yaml"
    cases.write_text("cases:\n  - name: age\n    input: {PatientAge: 047Y}\n    expect: {PatientAge: shifted by 3 days}\n")
    assert main(["test", str(rules), str(cases)]) == 1  # a failure, not an internal error
    assert "expected shifted by 3 days, got removed" in capsys.readouterr().err
    (tmp_path / "keep.deid").write_text('include "basic-profile"\nkeep PatientAge\n')
    assert main(["test", str(tmp_path / "keep.deid"), str(cases)]) == 1
    assert "got kept (a AS element, not a date)" in capsys.readouterr().err
    for bad, line, message in [
            ("cases:\n  - name: a\n    input: {Nonsense: 1}\n    expect: {PatientAge: kept}\n", 2,
             "case 1: unknown keyword `Nonsense` in a case file"),
            ("cases:\n  - name: a\n    input: {}\n    expect: {PatientAge: flambéed}\n", 2,
             "case 1: unknown expectation `flambéed`"),
            ("cases:\n  - name: a\n    input: {}\n    expect: {}\n  - name: b\n    input: {PixelSpacing: [a, b]}\n"
             "    expect: {Rows: kept}\n", 5, "case 2 cannot be run"),
            ("cases:\n  - name: a\n    input: [}\n", 3, ""),
            ("cases:\n  - name: a\n    input: {}\n    expect: {pixels: unchanged}\n", 2, "`pixels` needs")]:
        cases.write_text(bad)
        assert main(["test", str(rules), str(cases)]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"{cases}:{line}:") and message in err and "internal error" not in err


def test_a_nested_failure_names_the_rule_of_the_enclosing_sequence(tmp_path, capsys):
    rules = tmp_path / "site.deid"
    rules.write_text('include "basic-profile"\nkeep PatientName\nremove RequestAttributesSequence\n')
    cases = tmp_path / "site.yaml"
    cases.write_text("cases:\n  - name: nested\n    input:\n      RequestAttributesSequence:\n"
                     "        - PatientName: Doe^Jane\n    expect:\n      RequestAttributesSequence/0/PatientName: kept\n")
    assert main(["test", str(rules), str(cases)]) == 1
    assert f"got removed (decided by `remove` at {rules}:3, on the enclosing sequence)" in capsys.readouterr().err


def test_diff_of_a_missing_file_is_a_usage_error(tmp_path):
    assert main(["diff", str(tmp_path / "missing.deid"), "basic-profile"]) == 2
    assert main(["check", str(tmp_path / "missing.deid")]) == 2


def test_explain_lists_rejects_and_every_pixel_rule_with_conditions_and_lines(tmp_path, capsys):
    rules = tmp_path / "us.deid"
    rules.write_text('round-age PatientAge to 5 years\nreject if BurnedInAnnotation == "YES" because "burned in"\n'
                     'blackout 0,0,640,40 complete if Modality == "US"\nblackout detected-text\nburn overlays\n')
    assert main(["explain", str(rules), "--json"]) == 0
    rows = {r["action"]: r for r in json.loads(capsys.readouterr().out)["decisions"]}
    assert rows['reject because "burned in"']["condition"] == 'BurnedInAnnotation == "YES"'
    assert rows['reject because "burned in"']["origin"] == f"{rules}:2"
    assert rows["blackout 0,0,640,40 complete"]["condition"] == 'Modality == "US"'
    assert rows["blackout detected-text"]["origin"] == f"{rules}:4" and rows["burn overlays"]["origin"] == f"{rules}:5"
    assert "round-age to 5 years" in rows
    assert main(["explain", str(rules)]) == 0
    assert "blackout 0,0,640,40 complete" in capsys.readouterr().out
