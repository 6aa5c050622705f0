"""The values the fast path decodes and encodes itself, so that a plain file needs no pydicom at all.

Importing pydicom costs several times Python's own start (it imports numpy, its pixel handlers and
requests on import), more than a one-file run's whole work. A plain value is one that pydicom would
decode or encode in an obvious way: a string VR in a single-byte ISO 8859 or UTF-8 character set
with no escape sequences, or a single binary integer. For those this module gives what pydicom gives (the
same value, the same bytes: `tests/test_plain.py` compares both on generated values); for anything
else it raises `NotPlain`, and the caller asks pydicom, imported only then.
"""

from __future__ import annotations

import struct

from .._tables import CHARSETS

#: Codecs in which ASCII text is its own bytes and no escape sequences are used: the default
#: repertoire, the ISO 8859 parts (ISO_IR 100-166) and UTF-8.
PLAIN_CODECS = frozenset(codec for term, codec in CHARSETS.items()
                         if term in ("", "ISO_IR 6", "ISO_IR 192") or term.startswith("ISO_IR 1") and term != "ISO_IR 13")
#: String VRs decoded in the default repertoire (pydicom's `default_encoding`), whatever the character set.
_DEFAULT = frozenset("AE AS CS DA DT TM UI UR".split())
#: String VRs decoded (and encoded) with the character set.
_CHARSET = frozenset("LO LT PN SH ST UC UT".split())
_SINGLE = frozenset("LT ST UT UR".split())  # a backslash is part of the value (pydicom's ALLOW_BACKSLASH)
_INTEGERS = {"US": "H", "SS": "h", "UL": "L", "SL": "l"}
_LONG = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})
#: The VRs this module encodes.
STRING_VRS = _DEFAULT | _CHARSET


class NotPlain(Exception):
    """Not a plain value: pydicom decodes or encodes it."""


def decode(vr: str, raw: bytes, encodings: list[str]):
    """The value pydicom's `convert_raw_data_element` gives (a UI as `str`, not `UID`; a PN as its
    text, not `PersonName`; several values as a list, not a `MultiValue`), or `NotPlain`."""
    raw = bytes(raw)
    if vr in _INTEGERS:
        size = struct.calcsize("<" + _INTEGERS[vr])  # standard sizes: "L" alone is 8 bytes here
        if not raw:
            return None
        if len(raw) != size:  # several numbers: pydicom gives a list (not a MultiValue)
            raise NotPlain(vr)
        return struct.unpack(f"<{_INTEGERS[vr]}", raw)[0]
    if vr not in STRING_VRS or len(encodings) != 1 or encodings[0] not in PLAIN_CODECS or b"\x1b" in raw:
        raise NotPlain(vr)
    if not raw:
        return ""
    if vr in _DEFAULT:
        text = raw.decode("iso8859")
        if vr == "UR":
            return text.rstrip()
        if vr == "AE":
            return _one_or_list([v.strip() for v in text.split("\\")])
        items = text.rstrip(" \0").split("\\")
        return _one_or_list([v.strip() for v in items] if vr == "UI" else items)
    try:
        text = raw.decode(encodings[0])
    except UnicodeError:
        raise NotPlain(vr) from None  # pydicom warns and decodes with replacement characters
    if vr == "PN":
        return _one_or_list([_person_name(v) for v in raw.rstrip(b"\0 ").decode(encodings[0]).split("\\")])
    if vr in _SINGLE:
        return text.rstrip("\0 ")
    return _one_or_list([v.rstrip("\0 ") for v in text.split("\\")])


def _one_or_list(items: list):
    return items[0] if len(items) == 1 else items


def text(value) -> str:
    """A decoded value as text, as `admission.top_text` gives it: several joined with a backslash."""
    if value is None:
        return ""
    return "\\".join(map(str, value)) if isinstance(value, list) else str(value)


def encode(tag: int, vr: str, value, implicit: bool, encodings: list[str]) -> bytes:
    """The element as pydicom's `write_data_element` writes ``DataElement(tag, vr, value)``: a string
    VR whose values (None, a str or a list of them) are ASCII, or `NotPlain`."""
    if vr not in STRING_VRS or len(encodings) != 1 or encodings[0] not in PLAIN_CODECS:
        raise NotPlain(vr)
    if value is None:
        values: list[str] = []
    elif isinstance(value, str):
        values = [value] if vr in _SINGLE else value.split("\\")
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        values = list(value)
    else:
        raise NotPlain(vr)
    if not all(v.isascii() and "\x1b" not in v for v in values):
        raise NotPlain(vr)
    if vr == "UI":
        values = [v.strip() for v in values]
    elif vr == "PN":  # PersonName drops empty trailing component groups
        values = [_person_name(v) for v in values]
    body = "\\".join(values).encode("ascii")
    if len(body) % 2:
        body += b"\0" if vr == "UI" else b" "
    return header(tag, vr, len(body), implicit) + body


def _person_name(value: str) -> str:
    groups = value.split("=")
    while groups and not groups[-1]:
        groups.pop()
    return "=".join(groups)


def header(tag: int, vr: str, length: int, implicit: bool) -> bytes:
    """An element's header, little endian (PS3.5 7.1); `NotPlain` for a length a short VR cannot hold."""
    if implicit:
        return struct.pack("<HHL", tag >> 16, tag & 0xFFFF, length)
    if vr in _LONG:
        return struct.pack("<HH2s2xL", tag >> 16, tag & 0xFFFF, vr.encode(), length)
    if length > 0xFFFF:
        raise NotPlain(vr)
    return struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr.encode(), length)


def sequence(tag: int, items: list[bytes], implicit: bool) -> bytes:
    """A sequence of defined length whose items (their encoded elements) have defined lengths, as
    pydicom writes a new `Sequence`."""
    body = b"".join(struct.pack("<HHL", 0xFFFE, 0xE000, len(item)) + item for item in items)
    return header(tag, "SQ", len(body), implicit) + body


class Values:
    """Some top-level values of a file, decoded here, read as a `Context` reads its original dataset:
    ``get(keyword)`` gives a value, ``keys()`` the tags."""

    def __init__(self, by_keyword: dict[str, object], tags) -> None:
        self._values, self._tags = by_keyword, tuple(tags)

    def get(self, keyword: str, default=None):
        return self._values.get(keyword, default)

    def keys(self):
        return self._tags
