"""Properties of `deidlang diff` on generated pairs of programs and generated datasets.

If diff calls two plans equivalent, they write the same bytes for every dataset (one key; only the
stamp naming the rules differs). If it says the new plan exposes less (or changed, or equivalent), no
planted value the old plan kept out gets through the new one.
"""

from __future__ import annotations

import warnings
from io import BytesIO

from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

from deidlang.compiler import compile_text
from deidlang.engine import engine_for
from deidlang.errors import Rejected
from deidlang.review.diff import diff_plans

KEY = b"one key for both plans"
# element -> (VR, planted value, the actions that fit it)
ELEMENTS = {
    "PatientName": ("PN", "QZXNAME^Canary", ["remove", "empty", "keep", "hash", 'replace with "ANON"', "clean",
                                             "pseudonym length 6", "pseudonym length 12"]),
    "PatientID": ("LO", "QZXID4711", ["remove", "empty", "keep", "hash", "pseudonym", 'replace with "ID"']),
    "StudyDescription": ("LO", "QZXSTUDY HEAD", ["remove", "keep", "empty", "clean"]),
    "PatientAge": ("AS", "047Y", ["remove", "keep", "round-age to 5 years", "round-age to 10 years",
                                  "round-age to 1 years", "empty"]),
    "PatientBirthDate": ("DA", "19470613", ["remove", "keep", "truncate-date to year", "truncate-date to month",
                                            "shift-date by -30 days", "shift-date by patient within 100 days",
                                            "dummy-date", "empty"]),
}
CONDITIONS = ['Modality == "CT"', 'Modality in ("CT", "MR")', 'Modality != "US"', "Rows > 100", "Rows <= 100",
              'Manufacturer contains "ACME"', "Manufacturer exists"]


@st.composite
def conditions(draw) -> str:
    parts = draw(st.lists(st.sampled_from(CONDITIONS), min_size=1, max_size=2))
    text = draw(st.sampled_from([" and ", " or "])).join(parts)
    return (" if not (" + text + ")") if draw(st.booleans()) else f" if {text}"


@st.composite
def statements(draw) -> str:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return "reject" + draw(conditions())
    if kind == 1:
        return "blackout 0,0,4,4" + (draw(conditions()) if draw(st.booleans()) else "")
    keyword = draw(st.sampled_from(sorted(ELEMENTS)))
    action = draw(st.sampled_from(ELEMENTS[keyword][2]))
    name, _, argument = action.partition(" ")
    return f"{name} {keyword}" + (f" {argument}" if argument else "") + (
        draw(conditions()) if draw(st.booleans()) else "")


@st.composite
def pairs(draw) -> tuple[str, str]:
    """A program and an edit of it: a statement replaced, dropped or added, or the two swapped."""
    body = draw(st.lists(statements(), min_size=1, max_size=5))
    edited = list(body)
    how = draw(st.integers(0, 3))
    at = draw(st.integers(0, len(body) - 1))
    if how == 0:
        edited[at] = draw(statements())
    elif how == 1:
        del edited[at]
    elif how == 2:
        edited.insert(at, draw(statements()))
    else:
        edited[at], edited[-1] = edited[-1], edited[at]
    head = 'ruleset "p" version "1.0.0"\nrequire minimum none because "generated"\n'
    return head + "\n".join(body) + "\n", head + "\n".join(edited) + "\n"


@st.composite
def datasets(draw) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, "1.2.826.0.1.3680043.10.1234.5"
    modality = draw(st.sampled_from(["CT", "MR", "US", "OT", None]))
    if modality:
        ds.Modality = modality
    rows = draw(st.sampled_from([64, 100, 101, 512, None]))
    if rows:
        ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = rows, 8, 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
        ds.PixelData = bytes(range(256)) * (rows * 8 // 256) + bytes(rows * 8 % 256)
    manufacturer = draw(st.sampled_from(["ACME Medical", "OTHER", None]))
    if manufacturer:
        ds.Manufacturer = manufacturer
    for keyword, (vr, value, _) in ELEMENTS.items():
        if draw(st.integers(0, 5)):
            setattr(ds, keyword, value)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def _output(plan, ds: Dataset):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = engine_for(plan).apply(ds, KEY).dataset
    except Rejected:
        return None
    del out[0x00120063]  # DeidentificationMethod names the ruleset and its plan hash
    return out


def _bytes(out) -> bytes | None:
    if out is None:
        return None
    buffer = BytesIO()
    out.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _kept(out, ds: Dataset) -> set[str]:
    """The planted values an output holds (a generalised value counts when it still equals the value)."""
    if out is None:
        return set()
    values = {str(e.value) for e in out.iterall() if e.VR not in ("SQ", "OB", "OW")}
    return {value for _, value, _ in ELEMENTS.values() if value in values}


@settings(deadline=None)
@given(pair=pairs(), samples=st.lists(datasets(), min_size=3, max_size=6))
def test_diff_verdicts_hold_on_datasets(pair, samples):
    old, new = compile_text(pair[0]), compile_text(pair[1])
    result = diff_plans(old, new)
    equivalent = all(c.exposure == "equivalent" for c in result.changes)
    for ds in samples:
        before, after = _output(old, ds), _output(new, ds)
        if equivalent:
            assert _bytes(before) == _bytes(after), pair
        if not result.exposure_increased:
            assert _kept(after, ds) <= _kept(before, ds), (pair, [c for c in result.changes])
