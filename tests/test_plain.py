"""The fast path's own decoding and encoding of plain values (`engine.plain`) gives what pydicom gives,
on generated values of every VR it takes, in every character set it takes; what it does not take it
refuses (`NotPlain`), and pydicom is asked."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydicom.dataelem import DataElement, RawDataElement, convert_raw_data_element, empty_value_for_VR
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element
from pydicom.multival import MultiValue
from pydicom.tag import Tag

from deidlang.actions import empty_value
from deidlang.dictionary import ALL_VRS
from deidlang.engine import plain
from deidlang.engine.admission import top_text
from deidlang.quiet import quiet

_VRS = sorted(plain.STRING_VRS | {"US", "SS", "UL", "SL"})
_CODECS = sorted(plain.PLAIN_CODECS)
# ASCII, the separators and padding, ESC, and bytes above 0x7F (which not every codec decodes)
_BYTES = st.lists(st.sampled_from(list(b"AZaz09 ^=.-+\\\x00\x1b") + [0xE9, 0xC3, 0xA9, 0xFF, 0x80]),
                  max_size=24).map(bytes)
_TEXT = st.text(st.sampled_from(list("AZaz09 ^=.-+\\") + ["\xe9", "\x1b"]), max_size=20)


def _pydicom_value(vr: str, raw: bytes, encodings: list[str]):
    with quiet():
        return convert_raw_data_element(RawDataElement(Tag(0x00091010), vr, len(raw), raw, 0, True, True),
                                         encoding=encodings).value


def _plain_form(value):
    """pydicom's value as the plain module gives it: lists for MultiValue, text for UID/PersonName."""
    if isinstance(value, MultiValue):
        return [_plain_form(v) for v in value]
    return value if value is None or isinstance(value, int) else str(value)


@given(vr=st.sampled_from(_VRS), raw=_BYTES, codec=st.sampled_from(_CODECS))
@example(vr="UI", raw=b" 1.2 \\3\0", codec="iso8859")
@example(vr="PN", raw=b"A^B=C\\D ", codec="utf_8")
@example(vr="AE", raw=b" A \\ B ", codec="iso8859")
@example(vr="UL", raw=b"\1\2\3\4", codec="iso8859")
@example(vr="SL", raw=b"\xff\xff\xff\xff", codec="iso8859")
@example(vr="UL", raw=b"\1\2\3\4\5\6\7\x08", codec="iso8859")
@example(vr="SS", raw=b"\xff\xff", codec="iso8859")
def test_decoding_is_pydicoms(vr, raw, codec):
    try:
        ours = plain.decode(vr, raw, [codec])
    except plain.NotPlain:
        return
    theirs = _pydicom_value(vr, raw, [codec])
    assert ours == _plain_form(theirs)
    ds = Dataset()
    with quiet():
        ds.add(convert_raw_data_element(RawDataElement(Tag(0x00091010), vr, len(raw), raw, 0, True, True),
                                        encoding=[codec]))
    assert plain.text(ours) == top_text(ds, 0x00091010)


def _pydicom_bytes(tag: int, vr: str, value, implicit: bool, encodings: list[str]) -> bytes:
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, implicit
    with quiet():
        write_data_element(fp, DataElement(tag, vr, value), encodings)
    return fp.getvalue()


@given(vr=st.sampled_from(sorted(plain.STRING_VRS)), value=st.one_of(st.none(), _TEXT, st.lists(_TEXT, max_size=3)),
       implicit=st.booleans(), codec=st.sampled_from(_CODECS))
@example(vr="PN", value="ANON^X==", implicit=False, codec="iso8859")
@example(vr="UI", value=" 1.2 ", implicit=True, codec="iso8859")
@example(vr="LT", value="a\\b", implicit=False, codec="latin_1")
def test_encoding_is_pydicoms(vr, value, implicit, codec):
    try:
        ours = plain.encode(0x00100010, vr, value, implicit, [codec])
    except plain.NotPlain:
        assert value is not None and not all(v.isascii() and "\x1b" not in v
                                             for v in ([value] if isinstance(value, str) else value))
        return
    assert ours == _pydicom_bytes(0x00100010, vr, value, implicit, [codec])


def test_single_integers_are_read_at_their_standard_size():
    assert plain.decode("UL", b"\1\0\0\0", []) == 1 and plain.decode("SL", b"\xff\xff\xff\xff", []) == -1
    assert plain.decode("US", b"\1\0", []) == 1 and plain.decode("US", b"", []) is None


def test_what_is_not_plain_is_refused():
    for vr in ("DS", "IS", "OB", "SQ", "FL", "AT"):
        with pytest.raises(plain.NotPlain):
            plain.decode(vr, b"1", ["iso8859"])
    with pytest.raises(plain.NotPlain):
        plain.decode("LO", b"a", ["iso2022_jp"])
    with pytest.raises(plain.NotPlain):
        plain.decode("US", b"\1\0\2", ["iso8859"])
    with pytest.raises(plain.NotPlain):
        plain.encode(0x00100010, "LO", "\xe9", False, ["latin_1"])
    with pytest.raises(plain.NotPlain):
        plain.encode(0x00100010, "LO", "a" * 70000, False, ["latin_1"])


def test_a_sequence_is_written_as_pydicom_writes_a_new_one():
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator = "113100", "DCM"
    ours = plain.sequence(0x00120064, [b"".join(plain.encode(int(e.tag), e.VR, e.value, False, ["iso8859"])
                                                for e in item)], False)
    assert ours == _pydicom_bytes(0x00120064, "SQ", [item], False, ["iso8859"])


@pytest.mark.parametrize("vr", sorted(ALL_VRS))
def test_the_empty_value_is_pydicoms(vr):
    ours, theirs = DataElement(0x00100010, vr, empty_value(vr)), DataElement(0x00100010, vr, empty_value_for_VR(vr))
    assert type(ours.value) is type(theirs.value) and ours.value == theirs.value
    assert _pydicom_bytes(0x00100010, vr, empty_value(vr), False, []) == _pydicom_bytes(
        0x00100010, vr, empty_value_for_VR(vr), False, [])
