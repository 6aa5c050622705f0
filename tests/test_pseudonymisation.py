"""Pseudonymisation: keyed, consistent across runs and files, reversible through the map only."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

import deidlang
from deidlang.cli import main
from deidlang.engine.keys import Key
from deidlang.phantom import phantom
from deidlang.runner import load_key, run
from deidlang.store import MapError, PseudonymMap

from .conftest import ROOT

RULES = ROOT / "examples" / "pseudonymise.deid"
STUDY_DATES = ["20200105", "20210611"]


def make_folder(root: Path) -> dict[str, dict]:
    """3 patients x 2 studies x 2 instances; each instance references the other of its series."""
    truth = {}
    for patient in range(3):
        for study in range(2):
            study_uid = f"1.2.826.0.1.3680043.10.5.{patient}.{study}"
            for n in (1, 2):
                ds, _ = phantom(seed=patient, instance=n, study_uid=study_uid, series_uid=f"{study_uid}.1")
                ds.StudyDate = STUDY_DATES[study]
                ds.SeriesDate = STUDY_DATES[study]
                ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID = f"{study_uid}.1.{3 - n}"
                path = root / f"p{patient}" / f"s{study}" / f"i{n}.dcm"
                path.parent.mkdir(parents=True, exist_ok=True)
                ds.save_as(path, enforce_file_format=True)
                truth[str(path.relative_to(root))] = {"PatientID": ds.PatientID, "PatientName": str(ds.PatientName),
                                                       "SOPInstanceUID": ds.SOPInstanceUID, "patient": patient}
    return truth


def key_file(tmp_path: Path, name: str, secret: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(secret)
    path.chmod(0o600)
    return path


def outputs(folder: Path) -> dict[str, Dataset]:
    return {str(p.relative_to(folder)): dcmread(p) for p in sorted(folder.rglob("*.dcm"))}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pseudo")
    src = tmp / "in"
    truth = make_folder(src)
    plan = deidlang.compile(RULES)
    key_a, key_b = Key(b"site-key-A-0123456789abcdef"), Key(b"site-key-B-0123456789abcdef")
    for name, key, workers, map_path in [("a1", key_a, 1, tmp / "a.map"), ("a2", key_a, 2, tmp / "a.map"),
                                         ("b", key_b, 1, None)]:
        summary = run(plan, [src], tmp / name, key, workers, map_path=map_path, layout="mirror")
        assert summary.ok and summary.written == len(truth)
    return tmp, truth, {n: outputs(tmp / n) for n in ("a1", "a2", "b")}


def test_same_key_same_results_different_key_different(runs):
    _, truth, out = runs
    for rel in truth:
        a1, a2, b = out["a1"][rel], out["a2"][rel], out["b"][rel]
        for keyword in ("PatientID", "PatientName", "AccessionNumber", "SOPInstanceUID", "StudyDate"):
            assert a1.data_element(keyword).value == a2.data_element(keyword).value, keyword
            assert a1.data_element(keyword).value != b.data_element(keyword).value, keyword
        assert a1.PatientID.startswith("P-") and len(a1.PatientID) == 12
        assert str(a1.PatientName).startswith("PAT-")
        assert "pseudonymised with a site key" in a1.DeidentificationMethod
        assert a1.LongitudinalTemporalInformationModified == "MODIFIED"


def test_one_patient_one_pseudonym_and_one_offset(runs):
    _, truth, out = runs
    by_patient: dict[int, set] = {}
    offsets: dict[int, set] = {}
    for rel, facts in truth.items():
        ds = out["a1"][rel]
        by_patient.setdefault(facts["patient"], set()).add(ds.PatientID)
        study = int(rel.split("/")[1][1])
        delta = dt.date.fromisoformat(_iso(ds.StudyDate)) - dt.date.fromisoformat(_iso(STUDY_DATES[study]))
        offsets.setdefault(facts["patient"], set()).add(delta.days)
    assert all(len(ids) == 1 for ids in by_patient.values()) and len({min(i) for i in by_patient.values()}) == 3
    assert all(len(o) == 1 and 0 < abs(min(o)) <= 365 for o in offsets.values())  # intervals kept
    assert len({min(o) for o in offsets.values()}) == 3                               # independent offsets


def _iso(da: str) -> str:
    return f"{da[:4]}-{da[4:6]}-{da[6:]}"


def test_generalised_age_and_birth_date(runs):
    _, truth, out = runs
    ds = next(iter(out["a1"].values()))
    assert ds.PatientAge.endswith("Y") and int(ds.PatientAge[:3]) % 5 == 0
    assert ds.PatientBirthDate.endswith("0101")


def test_references_point_at_the_remapped_instance(runs):
    _, truth, out = runs
    for rel, facts in truth.items():
        ds = out["a1"][rel]
        other = rel[:-5] + ("2" if rel.endswith("1.dcm") else "1") + ".dcm"
        assert ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID == out["a1"][other].SOPInstanceUID
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID


def test_map_round_trips_every_pseudonym_and_is_owner_only(runs, capsys, tmp_path):
    tmp, truth, out = runs
    map_path = tmp / "a.map"
    assert stat.S_IMODE(map_path.stat().st_mode) == 0o600
    key = load_key(key_file(tmp_path, "k", b"site-key-A-0123456789abcdef"))
    store = PseudonymMap(map_path, key)
    for rel, facts in truth.items():
        ds = out["a1"][rel]
        assert ("pseudonym:10:P-", facts["PatientID"]) in store.originals(ds.PatientID)
        assert ("uid", facts["SOPInstanceUID"]) in store.originals(ds.SOPInstanceUID)
        assert ("pseudonym:10:PAT-", facts["PatientName"]) in store.originals(str(ds.PatientName))
    (count,) = store.db.execute("SELECT count(*) FROM pairs").fetchone()
    (distinct,) = store.db.execute("SELECT count(DISTINCT kind || original) FROM pairs").fetchone()
    assert count == distinct  # two runs into one map: no pair stored twice
    store.close()


def test_reidentify_and_lookup_commands(runs, capsys, tmp_path):
    tmp, truth, out = runs
    rel, facts = next(iter(truth.items()))
    pseudo = out["a1"][rel].PatientID
    good = key_file(tmp_path, "good", b"site-key-A-0123456789abcdef")
    bad = key_file(tmp_path, "bad", b"site-key-B-0123456789abcdef")
    assert main(["reidentify", "--map", str(tmp / "a.map"), "--key-file", str(good), pseudo]) == 0
    assert capsys.readouterr().out == f"{pseudo}\t{facts['PatientID']}\tpseudonym:10:P-\n"
    assert main(["lookup", "--map", str(tmp / "a.map"), facts["PatientID"]]) == 0
    assert f"{facts['PatientID']}\t{pseudo}\tpseudonym:10:P-" in capsys.readouterr().out
    assert main(["reidentify", "--map", str(tmp / "a.map"), "--key-file", str(bad), pseudo]) == 1
    err = capsys.readouterr().err
    assert "was made with another key" in err and facts["PatientID"] not in err
    assert main(["reidentify", "--map", str(tmp / "a.map"), "P-NOTHERE00"]) == 1


def test_map_refuses_other_key_others_readable_and_anonymisation(tmp_path):
    path = tmp_path / "m.map"
    PseudonymMap(path, Key(b"k" * 20), create=True).close()
    with pytest.raises(MapError, match="another key"):
        PseudonymMap(path, Key(b"z" * 20))
    path.chmod(0o644)
    with pytest.raises(MapError, match="read by other users"):
        PseudonymMap(path, Key(b"k" * 20))
    with pytest.raises(deidlang.DeidError, match="needs a site key"):
        run(deidlang.compile("basic-profile"), [ROOT / "examples" / "dicom"], tmp_path / "o", Key.random(),
            map_path=tmp_path / "x.map")


def test_tampered_map_is_refused_with_a_key(tmp_path):
    path = tmp_path / "m.map"
    key = Key(b"k" * 20)
    store = PseudonymMap(path, key, create=True)
    store.record([("hash", "REAL", "0000000000000000")])
    with pytest.raises(MapError, match="did not make"):
        store.originals("0000000000000000")
    store.close()


def test_key_comes_from_file_or_environment_never_printed(tmp_path, capsys):
    assert load_key(None, {"DEIDLANG_KEY": "an-environment-key-123"}).secret == b"an-environment-key-123"
    assert not load_key(None, {}).persistent
    assert "an-environment" not in repr(load_key(None, {"DEIDLANG_KEY": "an-environment-key-123"}))
    with pytest.raises(deidlang.DeidError, match="fewer than 16"):
        load_key(None, {"DEIDLANG_KEY": "short"})


def test_run_without_key_says_anonymisation(tmp_path, capsys):
    assert main(["run", str(ROOT / "examples" / "dicom"), "-o", str(tmp_path / "o")]) == 0
    ds = dcmread(next((tmp_path / "o").rglob("*.dcm")))
    assert "anonymised with a one-run key" in ds.DeidentificationMethod
    assert main(["run", str(ROOT / "examples" / "dicom"), "-o", str(tmp_path / "o2"), "--map",
                 str(tmp_path / "m.map")]) == 2
    assert "needs a site key" in capsys.readouterr().err
