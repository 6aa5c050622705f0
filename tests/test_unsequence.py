"""Sequences written as UN (engine/unsequence.py, PS3.5 6.2.2): a public element the dictionary knows as
SQ, written with VR UN and its value in implicit VR little endian, is decided as the sequence it is, in
both engines and with the same bytes; a malformed inside fails the file; a private or unknown tag
written as UN is decided as before."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

import deidlang
from deidlang.engine import structure, unsequence
from deidlang.phantom import phantom
from deidlang.runner import deidentify_file

from .conftest import KEY

NAME = b"QZXUNSEQ^NAME"
PLAN_UID = b"1.2.826.0.1.3680043.10.1.77\0"
RT_PLAN = 0x300C0002  # ReferencedRTPlanSequence, Type 1C in RT Dose


def _implicit(tag: int, value: bytes) -> bytes:
    return struct.pack("<HHL", tag >> 16, tag & 0xFFFF, len(value)) + value


def _item(body: bytes, undefined: bool = False) -> bytes:
    if undefined:
        return struct.pack("<HHL", 0xFFFE, 0xE000, 0xFFFFFFFF) + body + struct.pack("<HHL", 0xFFFE, 0xE00D, 0)
    return struct.pack("<HHL", 0xFFFE, 0xE000, len(body)) + body


def _un(tag: int, items: bytes, undefined: bool = False) -> bytes:
    head = struct.pack("<HH2s2x", tag >> 16, tag & 0xFFFF, b"UN")
    if undefined:
        return head + struct.pack("<L", 0xFFFFFFFF) + items + struct.pack("<HHL", 0xFFFE, 0xE0DD, 0)
    return head + struct.pack("<L", len(items)) + items


def _plan_item(undefined: bool = False) -> bytes:
    """An implicit VR item: the referenced plan, a nested sequence, and a PatientName nobody should keep."""
    beam = _item(_implicit(0x300C0006, b"1 "), undefined)
    return _item(_implicit(0x00081150, b"1.2.840.10008.5.1.4.1.1.481.5\0") + _implicit(0x00081155, PLAN_UID)
                 + _implicit(0x00100010, NAME + b" ") + _implicit(0x300C0004, beam), undefined)


def _with(*elements: tuple[int, bytes], tmp: Path) -> Path:
    """A phantom CT file (explicit VR little endian, as pydicom writes it) with each (tag, encoded
    element) put in its place in tag order."""
    ds, _ = phantom()
    for tag in [t for t in ds.keys() if t >> 16 & 1 or t >= 0x300C0000 and t != 0x7FE00010]:
        del ds[tag]  # the phantom's private blocks and overlays: out of the way
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    for tag, element in elements:
        at = _first_after(data, tag)
        data = data[:at] + element + data[at:]
    path = tmp / "in.dcm"
    path.write_bytes(data)
    return path


def _first_after(data: bytes, tag: int) -> int:
    """The offset of the first top-level element past ``tag`` (explicit VR, defined lengths)."""
    offset = 132
    while True:
        group, elem = struct.unpack_from("<HH", data, offset)
        if group != 0x0002 and (group << 16 | elem) > tag:
            return offset
        if data[offset + 4:offset + 6] in (b"OB", b"OW", b"SQ", b"UN", b"UT", b"UC", b"UR", b"OF", b"OD", b"OL"):
            offset += 12 + struct.unpack_from("<L", data, offset + 8)[0]
        else:
            offset += 8 + struct.unpack_from("<H", data, offset + 6)[0]


def both(source: Path, plan, tmp: Path):
    out = []
    for engine in ("auto", "reference"):
        dest = tmp / f"{engine}.dcm"
        result = deidentify_file(source, dest, plan, KEY, engine=engine)
        out.append((result, dest.read_bytes() if dest.exists() else None))
    return out


@pytest.mark.parametrize("undefined", [False, True], ids=["defined length", "undefined length"])
def test_a_sequence_written_as_un_is_decided_as_a_sequence_in_both_engines(undefined, tmp_path):
    source = _with((RT_PLAN, _un(RT_PLAN, _plan_item(undefined), undefined)), tmp=tmp_path)
    (fast, fast_bytes), (reference, reference_bytes) = both(source, deidlang.compile("basic-profile"), tmp_path)
    assert fast.status == reference.status == "written", (fast.reason, reference.reason)
    assert fast.engine == "fast"  # the fast path takes it, it is not passed on
    assert fast_bytes == reference_bytes
    assert NAME not in fast_bytes and PLAN_UID.rstrip(b"\0") not in fast_bytes
    out = dcmread(tmp_path / "auto.dcm")
    assert out[RT_PLAN].VR == "SQ"
    (item,) = out.ReferencedRTPlanSequence
    assert item.ReferencedSOPClassUID == "1.2.840.10008.5.1.4.1.1.481.5"
    assert item.ReferencedSOPInstanceUID.startswith("2.25.")  # `uid` applied inside, like any sequence
    assert item.get("PatientName", "") in ("", "ANONYMOUS") and item.ReferencedBeamSequence[0].ReferencedBeamNumber == 1
    assert not any("written as UN" in n for n in fast.notes + reference.notes)


def test_the_re_encoding_works_out_the_lengths_around_it_again():
    """Inside an explicit sequence of defined length: the item's and the sequence's lengths change."""
    inner = _un(RT_PLAN, _plan_item())
    item = struct.pack("<HHL", 0xFFFE, 0xE000, len(inner)) + inner
    outer = struct.pack("<HH2s2xL", 0x0008, 0x1115, b"SQ", len(item)) + item  # ReferencedSeriesSequence
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.481.2", "1.2.3.4"
    buffer = io.BytesIO()
    ds.save_as(buffer, implicit_vr=False, little_endian=True)
    plain = buffer.getvalue()
    assert structure.check(plain) is plain  # nothing to re-encode: the bytes as they are
    read = dcmread(io.BytesIO(structure.check(plain + outer)), force=True)
    nested = read.ReferencedSeriesSequence[0].ReferencedRTPlanSequence[0]
    assert nested.ReferencedSOPInstanceUID == PLAN_UID.rstrip(b"\0").decode()
    assert nested.ReferencedBeamSequence[0].ReferencedBeamNumber == 1
    assert unsequence.is_un_sequence(RT_PLAN) and not unsequence.is_un_sequence(0x00091001)


def _item_too_long() -> bytes:
    """The UN's own length is right, its item's length runs past it."""
    element = bytearray(_un(RT_PLAN, _plan_item()))
    element[16:20] = (int.from_bytes(element[16:20], "little") + 8).to_bytes(4, "little")
    return bytes(element)


MALFORMED = {
    "an element that is not an item": _un(RT_PLAN, _implicit(0x00100010, NAME + b" ")),
    "an item past the end of the value": _item_too_long(),
    "no sequence delimiter": _un(RT_PLAN, _plan_item(True), True)[:-8],
    "an inner length past the item": _un(RT_PLAN, _item(struct.pack("<HHL", 0x0008, 0x1150, 200) + NAME)),
}


@pytest.mark.parametrize("defect", sorted(MALFORMED))
def test_a_malformed_sequence_written_as_un_fails_the_file(defect, tmp_path):
    source = _with((RT_PLAN, MALFORMED[defect]), tmp=tmp_path)
    for result, written in both(source, deidlang.compile("basic-profile"), tmp_path):
        assert (result.status, written) == ("failed", None), (defect, result.engine, result.reason)
        assert NAME.decode() not in result.reason and "QZX" not in result.reason


def test_a_private_or_unknown_tag_written_as_un_is_decided_as_before(tmp_path):
    """Not re-encoded (the dictionary does not say it is a sequence): basic-profile removes both."""
    creator = struct.pack("<HH2sH", 0x0009, 0x0010, b"LO", 8) + b"QZXCREAT"
    source = _with((0x00090010, creator + _un(0x00091001, _plan_item())),
                   (0x0010FF10, _un(0x0010FF10, _plan_item())), tmp=tmp_path)
    data = source.read_bytes()
    assert structure.check(data) is data
    results = both(source, deidlang.compile("basic-profile"), tmp_path)
    assert results[0][1] == results[1][1]
    for result, written in results:
        assert result.status == "written", result.reason
        assert NAME not in written and b"QZXCREAT" not in written
