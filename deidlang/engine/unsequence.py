"""Sequences written as UN, re-encoded as the explicit-VR sequences the dictionary says they are.

A public element whose dictionary VR is SQ may reach us written with VR UN (a node that did not know
the attribute passed it on): its value is then the sequence encoded in implicit VR little endian, with a
defined length or an undefined one closed by a sequence delimiter (PS3.5 6.2.2). Removing it would
break an IOD (ReferencedRTPlanSequence, Type 1C in RT Dose); keeping its bytes would keep whatever they
hold undecided. So it is decided as the sequence it is: `explicit` rewrites the file's bytes, before
either engine reads them, with each such element re-encoded as an explicit VR little endian SQ (every
element inside given the VR an implicit-VR reader gives it), and both engines then apply the plan to its
items like any sequence's. The dictionary decides, not the file: a private or unknown tag written as
UN is left as it is (and decided as before).

Only bytes that `structure.check` passed are given here (it checks the inside of such an element as
implicit VR items, so a malformed one has failed the file already); lengths of the sequences and items
around a re-encoded element are worked out again, everything else is copied as it is.
"""

from __future__ import annotations

import struct

from ..dictionary import dictionary_vr
from .reader import _implicit_vr

_LONG = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})
_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_PIXEL_DATA = 0x7FE00010
_TAG, _U16, _U32 = struct.Struct("<HH").unpack_from, struct.Struct("<H").unpack_from, struct.Struct("<L").unpack_from


def is_un_sequence(tag: int) -> bool:
    """Whether an element written as UN is a sequence by the dictionary (public tags only)."""
    if tag >> 16 & 1:
        return False
    try:
        return dictionary_vr(tag) == "SQ"
    except KeyError:
        return False


def explicit(data: bytes, start: int) -> bytes:
    """``data`` (an explicit VR little endian file whose dataset begins at ``start``, well formed by
    `structure.check`) with every public UN element the dictionary knows as SQ re-encoded as an
    explicit VR little endian sequence."""
    return bytes(data[:start]) + _Encoder(data).level(start, len(data), False, False)[0]


class _Encoder:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def header(self, offset: int, implicit: bool) -> tuple[int, str | None, int, int]:
        """(tag, VR or None, start of value, length) of the element at ``offset``."""
        group, elem = _TAG(self.data, offset)
        tag = group << 16 | elem
        if group == 0xFFFE or implicit:
            return tag, None, offset + 8, _U32(self.data, offset + 4)[0]
        vr = bytes(self.data[offset + 4:offset + 6]).decode()
        if vr in _LONG:
            return tag, vr, offset + 12, _U32(self.data, offset + 8)[0]
        return tag, vr, offset + 8, _U16(self.data, offset + 6)[0]

    def level(self, offset: int, stop: int, implicit: bool, delimited: bool) -> tuple[bytes, int]:
        """The elements of one dataset, from ``offset`` to ``stop`` or past its item delimiter, re-encoded
        in explicit VR; (bytes, where they ended)."""
        out = []
        while offset < stop:
            tag, vr, value, length = self.header(offset, implicit)
            if tag == _ITEM_END and delimited:
                out.append(self.data[offset:value])
                return b"".join(out), value
            undefined = length == _UNDEFINED
            end = None if undefined else value + length
            if implicit:
                vr = _implicit_vr(tag, undefined, 0)
                if undefined:  # as `structure` reads it: encapsulated pixel data, else a sequence
                    vr = "OB" if tag == _PIXEL_DATA else "SQ"
            if vr == "SQ" or vr == "UN" and not implicit and is_un_sequence(tag):
                items, offset = self.items(value, stop if undefined else end, implicit or vr == "UN", undefined)
                out.append(_head(tag, "SQ", _UNDEFINED if undefined else len(items)) + items)
                continue
            if undefined:  # encapsulated pixel data, or a UN that is no public sequence: copied as it is
                end = self.fragments(value) if tag == _PIXEL_DATA and vr != "UN" else self.sequence_end(value)
            if implicit:
                out.append(_head(tag, vr if vr in _LONG or length <= 0xFFFF else "UN", length)
                           + self.data[value:end])
            else:
                out.append(self.data[offset:end])
            offset = end
        return b"".join(out), offset

    def items(self, offset: int, stop: int, implicit: bool, delimited: bool) -> tuple[bytes, int]:
        """A sequence's items re-encoded (with its delimiter when ``delimited``); (bytes, end)."""
        out = []
        while offset < stop:
            tag, _, value, length = self.header(offset, implicit)
            if tag == _SEQ_END:
                out.append(self.data[offset:value])
                return b"".join(out), value
            if length == _UNDEFINED:
                body, offset = self.level(value, stop, implicit, True)
            else:
                body, offset = self.level(value, value + length, implicit, False)[0], value + length
            out.append(_head(_ITEM, None, _UNDEFINED if length == _UNDEFINED else len(body)) + body)
        return b"".join(out), offset

    def fragments(self, offset: int) -> int:
        """The end of encapsulated pixel data (past its delimiter)."""
        while True:
            tag, _, value, length = self.header(offset, True)
            offset = value + (0 if tag == _SEQ_END else length)
            if tag == _SEQ_END:
                return offset

    def sequence_end(self, offset: int) -> int:
        """The end of an undefined-length UN written in implicit VR (past its sequence delimiter)."""
        return self.items(offset, len(self.data), True, True)[1]


def _head(tag: int, vr: str | None, length: int) -> bytes:
    """An explicit VR little endian header (an item's or delimiter's when ``vr`` is None)."""
    group, elem = tag >> 16, tag & 0xFFFF
    if vr is None:
        return struct.pack("<HHL", group, elem, length)
    if vr in _LONG:
        return struct.pack("<HH2s2xL", group, elem, vr.encode(), length)
    return struct.pack("<HH2sH", group, elem, vr.encode(), length)
