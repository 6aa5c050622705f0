"""`deidlang verify`: references that resolved among a run's inputs must resolve among its outputs."""

from __future__ import annotations

import json

from deidlang.cli import main
from deidlang.verify import pairs_from_report, verify

from .midib.generate import collection, write


def _run(tmp_path, rules: str) -> list:
    write(collection(0, 2), tmp_path / "in")
    report = tmp_path / "report.jsonl"
    key = tmp_path / "site.key"
    key.write_bytes(b"v" * 32)
    key.chmod(0o600)
    assert main(["run", "-q", "-r", rules, str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--workers", "1",
                 "--key-file", str(key), "--report", str(report)]) == 0
    return pairs_from_report(report)


def test_a_keyed_run_keeps_every_reference_and_patient(tmp_path, capsys):
    pairs = _run(tmp_path, "research")
    verdict = verify(pairs)
    assert verdict.ok and verdict.resolved_before > 0 and verdict.merged_patients == 0
    assert main(["verify", "--report", str(tmp_path / "report.jsonl")]) == 0
    out = capsys.readouterr().out
    assert f"{verdict.resolved_before} references resolved among the inputs, {verdict.resolved_before} still" in out


def test_broken_references_and_merged_patients_are_reported(tmp_path, capsys):
    _run(tmp_path, "research")
    # a rule set that removes the references and gives every patient the same ID
    rules = tmp_path / "lossy.deid"
    rules.write_text('ruleset "lossy" version "1.0.0"\ninclude "research"\nremove ReferencedImageSequence\n'
                     'replace PatientID with "ANON"\n')
    report = tmp_path / "lossy.jsonl"
    assert main(["run", "-q", "-r", str(rules), str(tmp_path / "in"), "-o", str(tmp_path / "lossy"),
                 "--workers", "1", "--key-file", str(tmp_path / "site.key"), "--report", str(report)]) == 0
    verdict = verify(pairs_from_report(report))
    assert not verdict.ok and sum(verdict.broken.values()) > 0 and verdict.merged_patients == 1
    assert main(["verify", "--report", str(report)]) == 1
    out = capsys.readouterr().out
    assert "broken: (0008,1140)[0]/(0008,1155) (ReferencedSOPInstanceUID)" in out
    assert "MRN" not in out and "1.2.826" not in out  # no values


def test_a_split_patient_is_reported(tmp_path):
    pairs = _run(tmp_path, "research")
    from pydicom import dcmread

    _, output = pairs[0]
    ds = dcmread(output)
    ds.PatientID = "P-SOMEONEELSE"
    ds.save_as(output)
    assert verify(pairs).split_patients == 1
    assert json.loads((tmp_path / "report.jsonl").read_text().splitlines()[0])["outcome"] == "written"
