"""Fail-closed at every edge (issue 13): a file's own structure, VRs, values and pixels never carry
identity out. Each test runs both engines through `deidentify_file` (the fast path, which falls back to
the reference engine for what it does not take, and the reference engine alone)."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

import deidlang
from deidlang.cli import main
from deidlang.compiler import compile_text
from deidlang.pixelrisk import DECLARED, burned_in, classify
from deidlang.runner import deidentify_file

from .conftest import KEY, ROOT

CORPUS = Path(pydicom.__file__).parent / "data" / "test_files"
ENGINES = ("auto", "reference")
US_EXAMPLE = ROOT / "examples" / "ultrasound" / "us-banner.dcm"


def both(source: Path, plan, tmp: Path):
    """The result of each engine, and the output it wrote (None when it wrote nothing)."""
    out = []
    for engine in ENGINES:
        dest = tmp / f"{engine}.dcm"
        result = deidentify_file(source, dest, plan, KEY, engine=engine)
        out.append((result, dest.read_bytes() if dest.exists() else None))
    return out


def saved(ds: Dataset, tmp: Path, name: str = "in.dcm") -> Path:
    path = tmp / name
    ds.save_as(path, enforce_file_format=True)
    return path


def ct(**values) -> Dataset:
    ds = dcmread(CORPUS / "CT_small.dcm")
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


# ---------------------------------------------------------------- 6. burned-in text


@pytest.mark.parametrize(("sop", "modality", "said", "risk"), [
    ("1.2.840.10008.5.1.4.1.1.2", "CT", None, None),
    ("1.2.840.10008.5.1.4.1.1.2", "CT", "YES", DECLARED),
    ("1.2.840.10008.5.1.4.1.1.2", "CT", "yes", DECLARED),
    ("1.2.840.10008.5.1.4.1.1.2", "CT", "YES\\YES", DECLARED),
    ("1.2.840.10008.5.1.4.1.1.2", "CT", " Y", DECLARED),
    ("1.2.840.10008.5.1.4.1.1.2", "US", None, "ultrasound"),
    ("1.2.840.10008.5.1.4.1.1.6.1", "OT", "NO ", None),
    ("1.2.840.10008.5.1.4.1.1.7", "OT", None, "secondary capture"),
    ("1.2.840.10008.5.1.4.1.1.7.4", "OT", None, "secondary capture"),
    ("1.2.840.10008.5.1.4.1.1.12.1", "XA", None, "X-ray angiography and fluoroscopy"),
    ("1.2.840.10008.5.1.4.1.1.77.1.4", "XC", None, "endoscopy and visible-light photography"),
    ("1.2.840.10008.5.1.4.1.1.104.1", "DOC", None, "encapsulated document"),
])
def test_pixel_risk_classes(sop, modality, said, risk):
    assert classify(sop, modality, said) == risk
    assert burned_in(None) == "absent" and burned_in("NO") == "no" and burned_in("no") == "yes"


def test_burned_in_text_is_rejected_by_default_in_both_engines(tmp_path):
    """The deid-data case: a US image and an SC, default rules, used to be written with
    PatientIdentityRemoved YES and exit 0."""
    plan = deidlang.compile("basic-profile")
    for source in (US_EXAMPLE, CORPUS / "SC_rgb_rle.dcm", saved(ct(BurnedInAnnotation="yes"), tmp_path)):
        for result, written in both(source, plan, tmp_path):
            assert (result.status, written) == ("rejected", None), (source.name, result.reason)
            assert "burned-in text" in result.reason and "waive pixels" in result.reason


def test_a_pixel_rule_or_a_waiver_lets_them_out_saying_so(tmp_path):
    banners = deidlang.compile('include "basic-profile"\ninclude "ultrasound-banners"')
    for result, written in both(US_EXAMPLE, banners, tmp_path):
        assert result.status == "written", result.reason
    out = dcmread(tmp_path / "reference.dcm")
    assert out.PatientIdentityRemoved == "NO"  # the banner rules are not marked complete
    complete = deidlang.compile('include "basic-profile"\nblackout 0,0,320,40 complete if Modality == "US"')
    assert both(US_EXAMPLE, complete, tmp_path)[1][0].status == "written"
    assert dcmread(tmp_path / "reference.dcm").PatientIdentityRemoved == "YES"
    waived = deidlang.compile('include "basic-profile"\nwaive pixels because "reviewed: no text"')
    results = both(CORPUS / "SC_rgb_rle.dcm", waived, tmp_path)
    assert [r.status for r, _ in results] == ["written", "written"]
    assert results[0][1] == results[1][1]
    out = dcmread(tmp_path / "auto.dcm")
    assert out.PatientIdentityRemoved == "NO" and "pixels not covered: burned-in text may remain" in \
        out.DeidentificationMethod
    assert dcmread(saved(ct(), tmp_path, "ct.dcm")) and \
        both(tmp_path / "ct.dcm", waived, tmp_path)[0][0].status == "written"
    assert dcmread(tmp_path / "auto.dcm").PatientIdentityRemoved == "YES"  # a CT's pixels need no rule


def test_check_prints_the_pixel_obligation(tmp_path, capsys):
    assert main(["check", "basic-profile"]) == 0
    assert "pixels: ultrasound: rejected: no pixel rule decides them" in capsys.readouterr().out
    rules = tmp_path / "site.deid"
    rules.write_text('include "basic-profile"\ninclude "ultrasound-banners"\nwaive pixels because "reviewed"\n')
    assert main(["check", str(rules)]) == 0
    out = capsys.readouterr().out
    assert 'waiver: pixels because "reviewed"' in out
    assert "pixels: secondary capture: WRITTEN WITHOUT A PIXEL RULE" in out
    assert "pixels: ultrasound: WRITTEN WITHOUT A PIXEL RULE unless one applies (" in out and "ultrasound-banners.deid:9" in out
    assert compile_text('waive pixels because "x"').pixel_waiver.reason == "x"
