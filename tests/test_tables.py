"""The generated `deidlang._tables` says what pydicom says (its dictionary, character sets and transfer
syntaxes), and the shipped file is what the generator writes from the installed pydicom."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydicom._dicom_dict import DicomDictionary
from pydicom.charset import convert_encodings, python_encoding
from pydicom.datadict import dictionary_VM, dictionary_VR, get_entry, keyword_dict
from pydicom.uid import UID, UID_dictionary

from deidlang import _tables, dictionary
from deidlang.engine.reader import encodings
from deidlang.engine.stream import _syntax

from .conftest import ROOT


def test_the_shipped_table_is_not_stale():
    """The generator, run as a contributor runs it, writes what is shipped (else: regenerate it)."""
    done = subprocess.run([sys.executable, "tools/generate_tables.py", "--check"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def _pydicom_entry(tag: int):
    try:
        vr, vm, _, _, keyword = get_entry(tag)
    except KeyError:
        return None
    return vr, vm, keyword


def _ours(tag: int):
    try:
        return dictionary.entry(tag)
    except KeyError:
        return None


def test_every_dictionary_tag_has_pydicoms_entry():
    for tag in DicomDictionary:
        assert _ours(tag) == _pydicom_entry(tag), hex(tag)
        assert dictionary.dictionary_vr(tag) == dictionary_VR(tag) and dictionary.dictionary_vm(tag) == dictionary_VM(tag)


@pytest.mark.parametrize("group", [0x0008, 0x0009, 0x0010, 0x0011, 0x0020, 0x0028, 0x0029, 0x1000, 0x1001, 0x5000,
                                   0x5001, 0x501E, 0x6000, 0x6001, 0x601E, 0x60FF, 0x7F00, 0x7FE0, 0xFFFE])
def test_repeating_groups_unknown_and_private_tags_as_pydicom(group):
    """Elements of groups with masks (curves, overlays, 0028,04x0, 1000,xxx0 ...) and around them: every
    13th, and all of 0x0000-0x0FFF (where the element masks are) and the curve/overlay elements."""
    for element in sorted({*range(0, 0x10000, 13), *range(0x1000), *range(0x3000, 0x3010), *range(0x4000, 0x4010)}):
        tag = group << 16 | element
        assert _ours(tag) == _pydicom_entry(tag), hex(tag)


def test_keywords_as_pydicom():
    assert {k: t for k, t in keyword_dict.items() if k} == dictionary._keywords()
    assert dictionary.tag_for_keyword("PatientName") == 0x00100010 and dictionary.tag_for_keyword("NoSuch") is None
    assert dictionary.keyword_of(0x60003000) == "OverlayData" and dictionary.keyword_of(0x00091001) == ""


def test_character_sets_as_pydicom():
    assert _tables.CHARSETS == python_encoding
    for value in (None, "", *python_encoding, ["", "ISO 2022 IR 87"], ["ISO 2022 IR 6", "ISO 2022 IR 100"],
                  "ISO-IR 100", "latin_1", "NO SUCH SET"):
        assert encodings(value) == convert_encodings(value), value


def test_transfer_syntaxes_as_pydicom():
    # pynetdicom, once imported, adds newer syntaxes to pydicom's table: those are looked up by pydicom
    syntaxes = [uid for uid, entry in UID_dictionary.items() if entry[1] == "Transfer Syntax"]
    assert set(_tables.TRANSFER_SYNTAXES) <= set(syntaxes)
    for uid in syntaxes:
        found = UID(uid)
        assert _syntax(uid) == (found.is_implicit_VR, found.is_little_endian, found.is_deflated, found.name), uid
    for uid in ("1.2.3.4", "1.2.840.10008.5.1.4.1.1.2"):  # not transfer syntaxes: pydicom's refusal, as before
        with pytest.raises(ValueError, match="not a transfer syntax"):
            UID(uid).is_little_endian
        with pytest.raises(ValueError, match="not a transfer syntax"):
            _syntax(uid)


def test_the_tables_read_without_csv_as_with_it():
    """`read_rows` splits by tab where `csv` would parse quotes: the shipped tables have none."""
    import csv

    from deidlang._resources import data_file, read_rows

    names = sorted(p.name for p in data_file("x").parent.glob("*.tsv"))
    assert "iod_attributes.tsv" in names and "aryanto50.tsv" in names
    for name in names:
        with open(data_file(name), encoding="utf-8", newline="") as f:
            assert read_rows(name) == list(csv.DictReader((line for line in f if not line.startswith("#")),
                                                          delimiter="\t")), name


def test_the_iod_tables_read_by_key_as_read_whole():
    """`iod._rows` finds one key's rows by bisection: the same rows as the whole table has for it, as
    the generator sorts them (lines sorted as text)."""
    from deidlang import iod
    from deidlang._resources import read_rows

    for name, columns in (("iod_modules.tsv", ("sop_class", "module", "usage")),
                          ("iod_attributes.tsv", ("module", "path", "type"))):
        rows = read_rows(name)
        keys = [row[columns[0]] for row in rows]
        lines = ["\t".join(row[c] for c in columns) for row in rows]
        assert lines == sorted(lines) and iod._table(name) == (list(columns), lines)
        for key in set(keys):
            assert iod._rows(name, key, columns[1:]) == [tuple(row[c] for c in columns[1:]) for row in rows
                                                         if row[columns[0]] == key]
        assert iod._rows(name, "1.2.3", columns[1:]) == [] and iod._rows(name, f"{keys[0]}\t", columns[1:]) == []
        if name == "iod_modules.tsv":
            assert iod.sop_classes() == sorted(set(keys))