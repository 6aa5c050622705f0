"""Layer 7: the command line as DESIGN.md fixes it, through `main(argv) -> int`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from pydicom import dcmread

from deidlang.cli import main
from deidlang.phantom import phantom

from .conftest import FIXTURES, ROOT

EXAMPLES = ROOT / "examples" / "dicom"


def test_check_valid_and_invalid(capsys, tmp_path):
    assert main(["check", "basic-profile", "--profile", "basic-profile"]) == 0
    assert "valid: basic-profile 1.0.0" in capsys.readouterr().out
    bad = tmp_path / "weak.deid"
    bad.write_text('ruleset "weak" version "0.1.0"\ninclude "basic-profile"\nkeep PatientName\n')
    assert main(["check", str(bad)]) == 1
    captured = capsys.readouterr()
    assert "weak.deid:3:6: error: `PatientName` (0010,0010) is in the aryanto50 minimum" in captured.err
    assert "invalid: weak 0.1.0" in captured.out


def test_check_lists_waivers(capsys, tmp_path):
    rules = tmp_path / "site.deid"
    rules.write_text('include "basic-profile"\nkeep PatientSex\nwaive PatientSex because "covariate"\n')
    assert main(["check", str(rules)]) == 0
    assert 'waiver: PatientSex (0010,0040) because "covariate"' in capsys.readouterr().out


def test_syntax_error_has_location_and_no_traceback(capsys):
    path = FIXTURES / "errors" / "unknown-keyword.deid"
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "unknown-keyword.deid:1:8: error: unknown keyword `PatinetName`" in err
    assert "did you mean `PatientName`" in err and "Traceback" not in err


def test_usage_errors_exit_2(capsys, tmp_path):
    assert main(["run"]) == 2
    assert main(["check"]) == 2
    assert main(["run", str(tmp_path / "missing"), "-o", str(tmp_path / "o")]) == 2
    assert main(["run", str(EXAMPLES), "-o", str(EXAMPLES / "inside")]) == 2
    assert "inside the input" in capsys.readouterr().err
    assert not (EXAMPLES / "inside").exists()
    assert main(["check", "basic-profile", "--profile", "nope"]) == 2


def test_explain_text_and_json(capsys):
    assert main(["explain", "aryanto50"]) == 0
    out = capsys.readouterr().out
    assert "(0010,0010)  PatientName" in out and "rulesets/aryanto50.deid:" in out
    assert main(["explain", "basic-profile", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ruleset"] == "basic-profile" and len(data["minimum"]) == 50
    assert all(row["status"] == "protected" for row in data["minimum"])
    name = next(r for r in data["decisions"] if r["keyword"] == "PatientName")
    assert name["action"] == "empty" and name["origin"].startswith("rulesets/basic-profile.deid:")


def test_run_names_outputs_by_new_uids_and_reports_failures(tmp_path, capsys):
    src = tmp_path / "in"
    (src / "Doe^John" / "b").mkdir(parents=True)  # archives name folders after patients
    ds, canaries = phantom()
    ds.save_as(src / "Doe^John" / "b" / "one.dcm", enforce_file_format=True)
    (src / "Doe^John" / "notes.txt").write_text("not dicom")
    before = sorted((p, p.stat().st_mtime_ns) for p in src.rglob("*"))
    code = main(["run", str(src), "-o", str(tmp_path / "out"), "--workers", "1"])
    captured = capsys.readouterr()
    assert code == 1
    assert f"{src / 'Doe^John' / 'notes.txt'}: failed: not a DICOM file" in captured.err
    assert "1 written, 1 failed, 0 rejected" in captured.out
    delivered = [p for p in (tmp_path / "out").rglob("*")]
    (written,) = [p for p in delivered if p.is_file()]  # de-identified DICOM only: no journal, no notes
    out = dcmread(written)
    assert out.PatientIdentityRemoved == "YES"
    assert written.relative_to(tmp_path / "out").parts == (out.StudyInstanceUID, out.SeriesInstanceUID,
                                                            f"{out.SOPInstanceUID}.dcm")
    assert not any("Doe" in str(p) or "one" in p.name for p in delivered)
    assert (tmp_path / "out.deidlang" / "journal.sqlite").exists()  # run state beside the output
    assert sorted((p, p.stat().st_mtime_ns) for p in src.rglob("*")) == before
    for value in canaries.searchable().values():  # values are never printed
        assert value not in captured.err + captured.out
    assert main(["run", str(src), "-o", str(tmp_path / "mirror"), "--layout", "mirror"]) == 1
    assert dcmread(tmp_path / "mirror" / "Doe^John" / "b" / "one.dcm").PatientIdentityRemoved == "YES"


def test_run_with_key_file_is_reproducible(tmp_path, capsys):
    key = tmp_path / "key"
    key.write_bytes(b"a-secret-key-for-testing-only-0123")
    key.chmod(0o600)
    for n in (1, 2):
        assert main(["run", str(EXAMPLES), "-o", str(tmp_path / f"o{n}"), "--key-file", str(key)]) == 0
    for f in (tmp_path / "o1").rglob("*.dcm"):
        assert f.read_bytes() == (tmp_path / "o2" / f.relative_to(tmp_path / "o1")).read_bytes()
    key.chmod(0o644)
    assert main(["run", str(EXAMPLES), "-o", str(tmp_path / "o3"), "--key-file", str(key)]) == 2
    err = capsys.readouterr().err
    assert "can be read by other users" in err and "a-secret-key" not in err


def test_console_script_runs_the_shipped_example(tmp_path):
    env = {**os.environ, "NO_COLOR": "1"}
    result = subprocess.run([sys.executable, "-m", "deidlang", "run", str(EXAMPLES), "-o", str(tmp_path / "o")],
                            capture_output=True, text=True, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "3 written, 0 failed" in result.stdout
