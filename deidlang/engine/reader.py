"""Reading the element stream of a Part 10 file without decoding it: the fast path's reader (`stream`).

An element is a tuple (tag, VR, start of its header, start of its value, value length or `_UNDEFINED`,
end), offsets into the input; values are decoded only on request (`_decode`), as pydicom decodes them.
The VR of an implicit-VR element is settled as pydicom settles it. What the reader cannot take
(truncation, a malformed VR or sequence, an undefined-length UN element) raises `Unsupported`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from .._tables import CHARSETS
from ..dictionary import ALL_VRS, dictionary_vr
from ..plan import is_private_creator
from . import plain

if TYPE_CHECKING:
    from pydicom.dataelem import DataElement

#: VRs whose explicit-VR header has a 4-byte length (PS3.5 7.1.2).
LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})


def _vr_codes(short_only: bool) -> list[str | None]:
    codes: list[str | None] = [None] * 26 * 26
    for vr in ALL_VRS:
        if not (short_only and vr in LONG_VRS):
            codes[(ord(vr[0]) - 65) * 26 + ord(vr[1]) - 65] = vr
    return codes


#: Each VR by its letters A-Z (``(first - 65) * 26 + second - 65``), None for the others; SHORT_VR_CODES
#: only those of short explicit-VR headers (2-byte length). Read by index, so that compiled it takes no
#: slice, hashing or decoding.
VR_CODES, SHORT_VR_CODES = _vr_codes(False), _vr_codes(True)
_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD

# An element: (tag, VR, start of header, start of value, value length or _UNDEFINED, end).
_Element = tuple[int, str, int, int, int, int]


class Unsupported(Exception):
    """This file needs the reference engine; the message says why (no values in it)."""


class ElementReader:
    """The elements of ``data`` (explicit or implicit VR little endian, set by the subclass once the
    transfer syntax is known). ``implicit_vrs`` is a table the VRs of implicit elements are kept in;
    ``charset`` (the Python encodings of the character set) must be set before `_decode`. Compiled
    (`reader.pxd`), an extension type whose headers are read byte by byte from a typed view."""

    def __init__(self, data: bytes, implicit_vrs: dict) -> None:
        self.data, self.size = data, len(data)
        self.view = data  # compiled: the bytes as a typed view
        self.implicit, self.implicit_vrs, self.pixel_rep = False, implicit_vrs, 0

    def _file_meta(self) -> tuple[int, str]:
        offset, syntax = 132, None
        while offset + 8 <= self.size and (self.view[offset] | self.view[offset + 1] << 8) == 0x0002:
            tag, _, _, value, length, end = self._header(offset)
            if tag == 0x00020010:
                syntax = self.data[value:value + length].rstrip(b"\0 ").decode("ascii", "replace")
            offset = end
        if syntax is None:
            raise Unsupported("no transfer syntax in the file meta")
        return offset, syntax

    def _header(self, offset: int) -> _Element:
        if offset + 8 > self.size:
            raise Unsupported("truncated element")
        group, elem = self.view[offset] | self.view[offset + 1] << 8, self.view[offset + 2] | self.view[offset + 3] << 8
        tag = group << 16 | elem
        if group == 0xFFFE:  # item or delimiter: no VR in any syntax
            length = self._u32(offset + 4)
            return tag, "", offset, offset + 8, length, offset + 8 + (0 if length == _UNDEFINED else length)
        if self.implicit:
            length = self._u32(offset + 4)
            vr, value = self._implicit_vr(tag, length), offset + 8
        else:
            first, second = self.view[offset + 4] - 65, self.view[offset + 5] - 65
            vr = VR_CODES[first * 26 + second] if 0 <= first < 26 and 0 <= second < 26 else None
            if vr is None:
                raise Unsupported("malformed VR")
            if vr in LONG_VRS:
                if offset + 12 > self.size:
                    raise Unsupported("truncated element")
                length, value = self._u32(offset + 8), offset + 12
            else:
                length, value = self.view[offset + 6] | self.view[offset + 7] << 8, offset + 8
        if length == _UNDEFINED:
            if vr == "UN" and not self.implicit:
                raise Unsupported("undefined-length UN element")
            end = self._undefined_end(value)
        else:
            end = value + length
        if end > self.size:
            raise Unsupported("an element runs past the end of the file")
        return tag, vr, offset, value, length, end

    def _u32(self, offset: int) -> int:
        """The little-endian unsigned 32-bit number at ``offset``."""
        first, second, third, fourth = (self.view[offset], self.view[offset + 1], self.view[offset + 2],
                                        self.view[offset + 3])  # compiled: as 64-bit numbers, before shifting
        return first | second << 8 | third << 16 | fourth << 24

    def _implicit_vr(self, tag: int, length: int) -> str:
        table = self.implicit_vrs
        key = (tag, length == _UNDEFINED, self.pixel_rep)
        vr = table.get(key)
        if vr is None:
            vr = table[key] = _implicit_vr(tag, length == _UNDEFINED, self.pixel_rep)
        return vr

    def _undefined_end(self, offset: int) -> int:
        """The end of an undefined-length sequence or encapsulated pixel data: its delimiter."""
        while True:
            tag, _, _, value, length, end = self._header(offset)
            if tag == _SEQ_END:
                return value
            if tag != _ITEM:
                raise Unsupported("malformed sequence")
            offset = end if length != _UNDEFINED else self._item_end(value) + 8

    def _item_end(self, offset: int) -> int:
        """Where the delimiter of an undefined-length item starts."""
        while True:
            element = self._header(offset)
            if element[0] == _ITEM_END:
                return offset
            offset = element[5]

    def _elements(self, offset: int, stop: int) -> list[_Element]:
        """The elements of one level, from ``offset`` to ``stop`` or an item delimiter. Short
        explicit-VR headers, most of a file, are read by `_short_run`; everything else by `_header`."""
        size, explicit, out = self.size, not self.implicit, []
        while offset < stop:
            if explicit:
                offset = _short_run(self.view, offset, stop, size, out)
                if offset >= stop:
                    break
            element = self._header(offset)
            if element[0] == _ITEM_END:
                break
            out.append(element)
            offset = element[5]
        return out

    def _items(self, element: _Element) -> Iterator[tuple[int, int]]:
        """(start, end) of the elements of each item of a sequence."""
        offset = element[3]
        stop = element[5] if element[4] != _UNDEFINED else self.size
        while offset < stop:
            tag, _, _, value, length, end = self._header(offset)
            if tag == _SEQ_END:
                return
            if tag != _ITEM:
                raise Unsupported("malformed sequence item")
            if length == _UNDEFINED:
                end = self._item_end(value)
                yield value, end
                offset = end + 8  # past the item delimiter
            else:
                yield value, end
                offset = end

    def _decode(self, element: _Element) -> DataElement:
        """The element decoded by pydicom (imported only now: `_value` does without it where it can)."""
        from pydicom.dataelem import RawDataElement, convert_raw_data_element
        from pydicom.tag import Tag

        tag, vr, _, value, length, end = element
        raw = RawDataElement(Tag(tag), vr, length, self.data[value:end], value, self.implicit, True)
        return convert_raw_data_element(raw, encoding=self.charset)

    def _value(self, element: _Element):
        """The element's value as pydicom decodes it, several as a list (`plain.text` reads it as
        `admission.top_text` reads pydicom's): decoded here when plain, else by pydicom."""
        try:
            return plain.decode(element[1], self.data[element[3]:element[5]], self.charset)
        except plain.NotPlain:
            from pydicom.multival import MultiValue  # loaded by now

            value = self._decode(element).value
            return list(value) if isinstance(value, MultiValue) else value


def encodings(value) -> list[str]:
    """The Python codecs for a SpecificCharacterSet value (a term, several, or none), as pydicom's
    `convert_encodings` gives them: from the generated table for none or one defined term, else by
    pydicom itself (several terms, misspellings), imported only then."""
    if not value:
        return [CHARSETS["ISO_IR 6"]]
    if isinstance(value, str) and value in CHARSETS:
        return [CHARSETS[value]]
    from pydicom.charset import convert_encodings

    return convert_encodings(value)


def _short_run(data: bytes, offset: int, stop: int, size: int, out: list) -> int:
    """Append the elements from ``offset`` on whose headers are short and explicit VR (most of a file)
    to ``out``; return where the first other one starts, or ``stop``. Read byte by byte, little endian,
    so that compiled (`reader.pxd`) it makes no objects but the elements."""
    codes = SHORT_VR_CODES
    while offset < stop and offset + 8 <= size:
        first, second = data[offset + 4] - 65, data[offset + 5] - 65
        if not (0 <= first < 26 and 0 <= second < 26):
            break
        vr = codes[first * 26 + second]
        if vr is None:
            break
        group, elem = data[offset] | data[offset + 1] << 8, data[offset + 2] | data[offset + 3] << 8
        length = data[offset + 6] | data[offset + 7] << 8
        end = offset + 8 + length
        if end > size:
            raise Unsupported("an element runs past the end of the file")
        out.append((group << 16 | elem, vr, offset, offset + 8, length, end))
        offset = end
    return offset


def _implicit_vr(tag: int, undefined: bool, pixel_rep: int) -> str:
    """The VR of an implicit-VR element, settled as pydicom settles it."""
    if is_private_creator(tag):
        return "LO"
    try:
        vr = dictionary_vr(tag)
    except KeyError:
        return "SQ" if undefined else "UN"
    if " or " in vr:  # pixel representation, else the first word
        if vr.startswith("US or SS"):
            return "SS" if pixel_rep == 1 else "US"
        return "OW" if vr == "OB or OW" else vr.split(" or ")[0]
    return vr
