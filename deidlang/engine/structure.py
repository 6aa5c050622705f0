"""The structure of an encoded file, checked once before either engine reads it.

A file must never vote on its own fate. A length that covers the next elements, an item tag where no
sequence is open, a file meta element in the body or pixel data cut short each make readers disagree
on what the file holds: a lenient reader resynchronises, a byte copier keeps the covered elements
inside a kept value. So a file whose structure is not well formed is failed, with a reason that names
the defect and never a value, and both engines (the fast path before it reads, the reference engine
before pydicom reads) call `check` on the same bytes: neither can write what the other refused, and a
fallback cannot re-admit it.

Well formed here means: every element header and value lies inside its file, item or sequence; an
undefined length is used only by a sequence, an undefined-length UN (a sequence written in implicit
VR) or encapsulated pixel data, and is closed by its delimiter; items appear only in sequences and
fragments only in encapsulated pixel data; tags ascend within each dataset; no group 0002 element
follows the file meta; native pixel data holds at least Rows x Columns x frames x samples x bits, and
an image (Rows, Columns, BitsAllocated at the top level) has pixel data. The inside of a public
element the dictionary knows as a sequence but written as UN is checked as the implicit VR sequence it
is, and `check` hands both engines the file with it re-encoded as that sequence (`unsequence`).
`check_dataset` applies the pixel checks and the group 0002 check to a Dataset given in memory.
"""

from __future__ import annotations

import functools
import struct
import zlib
from typing import TYPE_CHECKING

from .. import iod, limits
from ..dictionary import ALL_VRS, dictionary_vr, format_tag, keyword_of
from ..errors import EngineError
from . import unsequence
from .reader import LONG_VRS, SHORT_VR_CODES, VR_CODES

if TYPE_CHECKING:
    from pydicom.dataset import Dataset


class Malformed(EngineError):
    """The file's structure is not well formed; the message names the defect (never a value)."""


_VRS = frozenset(vr.encode() for vr in ALL_VRS)
_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_PIXEL_DATA = 0x7FE00010
_NATIVE_PIXELS = {0x7FE00008: 32, 0x7FE00009: 64, _PIXEL_DATA: 0}  # float, double (bits fixed), pixel data
_IMPLICIT, _BIG, _DEFLATED = "1.2.840.10008.1.2", "1.2.840.10008.1.2.2", ("1.2.840.10008.1.2.1.99",)
_ROWS, _COLUMNS, _SAMPLES, _BITS, _FRAMES, _PHOTOMETRIC = (0x00280010, 0x00280011, 0x00280002, 0x00280100,
                                                          0x00280008, 0x00280004)
_IMAGE = frozenset((_ROWS, _COLUMNS, _SAMPLES, _BITS, _FRAMES, _PHOTOMETRIC))
_SOP_CLASS = 0x00080016
_READ = _IMAGE | {_SOP_CLASS}  # the top-level values the checks read
_WATCHED = frozenset(_READ | _NATIVE_PIXELS.keys())  # elements `_short_run` leaves to the general way
_LE16, _BE16 = struct.Struct("<H").unpack_from, struct.Struct(">H").unpack_from


def check(data: bytes, max_depth: int | None = None) -> bytes:
    """Raise `Malformed` unless ``data`` (a Part 10 file, or a dataset written without preamble and
    file meta) is well formed from its first byte to its last; return the bytes both engines read:
    ``data`` itself, or (rarely) a copy in which sequences written as UN are re-encoded as the
    sequences they are (`unsequence`). ``max_depth``: the nesting limit, when the caller has read
    `limits.depth` already."""
    try:
        start = _check(data, max_depth)
    except Malformed as err:
        if data[128:132] != b"DICM":
            raise Malformed(f"not a DICOM file (no DICM prefix, and no well-formed dataset: {err.message})") from None
        raise
    return data if start is None else unsequence.explicit(data, start)


def _check(data: bytes, max_depth: int | None = None) -> int | None:
    """Check ``data``; where its dataset starts when it holds a sequence written as UN that
    `unsequence` re-encodes, else None."""
    size = len(data)
    offset = 132 if size >= 132 and data[128:132] == b"DICM" else 0
    syntax = None
    if offset or data[:2] == b"\x02\x00":
        reader = _Reader(data, False, True, max_depth=0)  # reads headers only
        while offset + 8 <= size and data[offset:offset + 2] == b"\x02\x00":
            tag, vr, value, length = reader.header(offset, size)
            if length == _UNDEFINED:
                raise Malformed("a file meta element has an undefined length")
            if value + length > size:
                raise Malformed("a file meta element runs past the end of the file")
            if tag == 0x00020010:
                syntax = bytes(data[value:value + length]).rstrip(b"\0 ").decode("ascii", "replace")
            offset = value + length
    if offset + 8 > size:
        raise Malformed("the file holds no dataset")
    if syntax is None:  # as pydicom guesses: explicit VR when the first element names one; the byte order
        # that gives the first group the smaller number (groups start low: 0008)
        implicit = data[offset + 4:offset + 6] not in _VRS
        little = _LE16(data, offset)[0] <= _BE16(data, offset)[0]
    else:
        implicit, little = syntax == _IMPLICIT, syntax != _BIG
    body, start = data, offset
    if syntax in _DEFLATED:
        most = limits.inflated()
        try:
            body, start = zlib.decompressobj(-zlib.MAX_WBITS).decompress(bytes(data[offset:]), most + 1), 0
        except zlib.error:
            raise Malformed("the deflated dataset cannot be inflated") from None
        if len(body) > most:
            raise Malformed(f"the deflated data set inflates to more than {most >> 20} MiB ({limits.INFLATED_ENV})")
    if (syntax is not None and not implicit and start + 6 <= len(body) and body[start + 4:start + 6] not in _VRS
            and body[start:start + 2] != b"\xfe\xff"):
        # as highdicom 0.1 wrote SC_rgb_jpeg.dcm: the body in implicit VR under an explicit-VR syntax. pydicom
        # guesses the encoding from the bytes; the file does not choose how it is read
        raise Malformed("the dataset is not encoded in the transfer syntax its file meta declares (explicit VR, "
                        "but its first element has no VR)")
    # Sequences written as UN are re-encoded only in explicit VR little endian: in other syntaxes they
    # are removed (`valuecheck.decided_vr`), fail closed.
    reader = _Reader(body, implicit, little, un_sequences=little and not implicit and syntax not in _DEFLATED,
                     max_depth=max_depth)
    reader.dataset(start, len(body), 0, False)
    return start if reader.found else None


def check_dataset(ds: Dataset) -> None:
    """The checks that apply to a Dataset given in memory: no file meta element among its elements, and
    native pixel data not shorter than its image size (at every depth)."""
    for tag in ds.keys():
        if tag >> 16 == 0x0002:
            raise Malformed("a file meta element (group 0002) is in the dataset")
        if ds.get_item(tag).VR == "SQ":
            for item in ds[tag].value:
                check_dataset(item)
    meta = getattr(ds, "file_meta", None)
    if meta is not None and not _native(meta.get("TransferSyntaxUID")):
        return
    for tag, bits in _NATIVE_PIXELS.items():
        elem = ds.get_item(tag) if tag in ds else None
        if elem is None or getattr(elem, "is_undefined_length", False) or getattr(elem, "length", 0) == _UNDEFINED:
            continue
        image = {}
        for t in _IMAGE:
            try:
                image[t] = ds[t].value if t in ds else None
            except Exception:  # undecodable: as if absent
                pass
        _pixels(len(elem.value or b""), image, bits)


def _native(syntax) -> bool:
    return syntax is None or syntax in (_IMPLICIT, _BIG, "1.2.840.10008.1.2.1", *_DEFLATED)


class _Reader:
    """One pass over the elements of a body in one encoding (a UN sequence switches to implicit VR
    little endian for its contents, as the standard says)."""

    def __init__(self, data: bytes, implicit: bool, little: bool, un_sequences: bool = False,
                 max_depth: int | None = None) -> None:
        self.data, self.implicit, self.little = data, implicit, little
        self.view = data  # compiled (`structure.pxd`): the bytes as a typed view, read byte by byte
        #: whether public sequences written as UN are read (and re-encoded) as sequences; `found`: seen one
        self.un_sequences, self.found = un_sequences, False
        # read once per file: the environment is slow to ask per item
        self.max_depth = limits.depth() if max_depth is None else max_depth

    def header(self, offset: int, stop: int) -> tuple[int, str | None, int, int]:
        """(tag, VR or None when implicit, start of value, length) of the element at ``offset``."""
        if offset + 8 > stop:
            raise Malformed("an element header runs past the end of " + ("the file" if stop == len(self.data) else
                                                                          "its item"))
        group, elem = self.u16(offset), self.u16(offset + 2)
        tag = group << 16 | elem
        if group == 0xFFFE or self.implicit:
            return tag, None, offset + 8, self.u32(offset + 4)
        first, second = self.view[offset + 4] - 65, self.view[offset + 5] - 65
        vr = VR_CODES[first * 26 + second] if 0 <= first < 26 and 0 <= second < 26 else None
        if vr is None:
            raise Malformed(f"{_name(tag)} has no valid VR")
        if vr in LONG_VRS:
            if offset + 12 > stop:
                raise Malformed("an element header runs past the end of its item or file")
            return tag, vr, offset + 12, self.u32(offset + 8)
        return tag, vr, offset + 8, self.u16(offset + 6)

    def u16(self, offset: int) -> int:
        """The unsigned 16-bit number at ``offset``, in the body's byte order."""
        if self.little:
            return self.view[offset] | self.view[offset + 1] << 8
        return self.view[offset] << 8 | self.view[offset + 1]

    def u32(self, offset: int) -> int:
        """The unsigned 32-bit number at ``offset``, in the body's byte order."""
        first, second, third, fourth = (self.view[offset], self.view[offset + 1], self.view[offset + 2],
                                        self.view[offset + 3])  # compiled: as 64-bit numbers, before shifting
        if self.little:
            return first | second << 8 | third << 16 | fourth << 24
        return first << 24 | second << 16 | third << 8 | fourth

    def dataset(self, offset: int, stop: int, depth: int, delimited: bool) -> int:
        """Check the elements from ``offset`` to ``stop``, or (``delimited``) to an item delimiter;
        return where they end."""
        if depth > self.max_depth:
            raise Malformed("sequences are nested too deep")
        last, image, pixels = -1, {}, False
        short = not self.implicit and self.little  # most headers: skipped by `_short_run`
        while offset < stop:
            if short:
                offset, last = _short_run(self.view, offset, stop, last)
                if offset >= stop:
                    break
            tag, vr, value, length = self.header(offset, stop)
            if tag >> 16 == 0xFFFE:
                if tag == _ITEM_END and delimited:
                    if length:
                        raise Malformed("an item delimiter has a length")
                    return value
                raise Malformed(f"an item or delimiter tag ({_name(tag)}) outside a sequence")
            if tag >> 16 == 0x0002:
                raise Malformed("a file meta element (group 0002) is in the dataset")
            if tag <= last:
                raise Malformed(f"{_name(tag)} is out of order or repeated")
            last = tag
            if length == _UNDEFINED:
                pixels = pixels or tag == _PIXEL_DATA
                offset = self._undefined(tag, vr, value, stop, depth)
                continue
            end = value + length
            if end > stop:
                raise Malformed(f"{_name(tag)} runs past the end of " + ("the file" if stop == len(self.data)
                                                                              else "its item"))
            if vr == "SQ" or vr is None and _implicit_sequence(tag):
                self._items(value, end, depth)
            elif vr == "UN" and self.un_sequences and unsequence.is_un_sequence(tag):
                self.found = True  # a sequence in implicit VR little endian (PS3.5 6.2.2)
                _Reader(self.data, True, True, max_depth=self.max_depth)._items(value, end, depth)
            elif tag in _READ:
                image[tag] = self._value(tag, vr, value, end)
            elif tag in _NATIVE_PIXELS:
                pixels = True
                _pixels(length, image, _NATIVE_PIXELS[tag])
            offset = end
        if delimited:
            raise Malformed("an item of undefined length has no delimiter")
        if not depth and not pixels:
            if image.keys() & {_ROWS, _COLUMNS, _BITS}:
                raise Malformed("the image has no pixel data: the file is cut short")
            if _needs_pixels(image.get(_SOP_CLASS)):
                raise Malformed("the image has no pixel data (its SOP class's IOD requires them): the file is cut "
                                "short or incomplete")
        return offset

    def _undefined(self, tag: int, vr: str | None, value: int, stop: int, depth: int) -> int:
        """Where an undefined-length element ends (past its sequence delimiter)."""
        if tag == _PIXEL_DATA and vr in (None, "OB", "OW"):
            return self._fragments(value, stop)
        if vr == "UN":  # a sequence in implicit VR little endian (PS3.5 6.2.2)
            self.found = self.found or self.un_sequences and unsequence.is_un_sequence(tag)
            return _Reader(self.data, True, True, max_depth=self.max_depth)._items(value, stop, depth, delimited=True)
        if vr == "SQ" or vr is None and (tag >> 16 & 1 or _implicit_sequence(tag, unknown=True)):
            return self._items(value, stop, depth, delimited=True)
        raise Malformed(f"{_name(tag)} has an undefined length but is not a sequence")

    def _items(self, offset: int, stop: int, depth: int, delimited: bool = False) -> int:
        """Check the items of a sequence; return where it ends."""
        while offset < stop:
            tag, _, value, length = self.header(offset, stop)
            if tag == _SEQ_END and delimited:
                if length:
                    raise Malformed("a sequence delimiter has a length")
                return value
            if tag != _ITEM:
                raise Malformed("a sequence holds an element that is not an item")
            if length == _UNDEFINED:
                offset = self.dataset(value, stop, depth + 1, True)
            elif value + length > stop:
                raise Malformed("an item runs past the end of its sequence")
            else:
                offset = self.dataset(value, value + length, depth + 1, False)
        if delimited:
            raise Malformed("a sequence of undefined length has no delimiter")
        return offset

    def _fragments(self, offset: int, stop: int) -> int:
        """Check the fragments of encapsulated pixel data; return where they end."""
        while True:
            tag, _, value, length = self.header(offset, stop)
            if tag == _SEQ_END:
                return value
            if tag != _ITEM or length == _UNDEFINED:
                raise Malformed("encapsulated pixel data holds something other than fragments")
            offset = value + length
            if offset > stop:
                raise Malformed("a pixel data fragment runs past the end of the file")

    def _value(self, tag: int, vr: str | None, value: int, end: int):
        """A value the checks read: a number (US), or the text of NumberOfFrames, PhotometricInterpretation
        and SOPClassUID."""
        if tag in (_FRAMES, _PHOTOMETRIC, _SOP_CLASS):
            return bytes(self.data[value:end]).decode("latin-1").strip(" \0")
        return self.u16(value) if end - value >= 2 else None


def _short_run(data: bytes, offset: int, stop: int, last: int) -> tuple[int, int]:
    """Skip the elements from ``offset`` on that need no check but their place: a short explicit-VR
    little endian header (most of a file), in order, inside ``stop``, not group 0002 or FFFE, not one
    the checks read (`_WATCHED`). Return where the first other one starts (or ``stop``) and the last
    tag skipped (else ``last``): the general way (`_Reader.header`) reads the next one, with its
    messages. Read byte by byte, so that compiled (`structure.pxd`) it makes no objects."""
    codes, watched = SHORT_VR_CODES, _WATCHED
    while offset < stop and offset + 8 <= stop:
        first, second = data[offset + 4] - 65, data[offset + 5] - 65
        if not (0 <= first < 26 and 0 <= second < 26) or codes[first * 26 + second] is None:
            break
        group = data[offset] | data[offset + 1] << 8
        tag = group << 16 | data[offset + 2] | data[offset + 3] << 8
        end = offset + 8 + (data[offset + 6] | data[offset + 7] << 8)
        if group == 0x0002 or group == 0xFFFE or tag <= last or end > stop or tag in watched:
            break
        last, offset = tag, end
    return offset, last


def _name(tag: int) -> str:
    """A tag as messages name it: only one the dictionary knows, since the four bytes read where a
    damaged file has no header can be four bytes of a value."""
    keyword = keyword_of(tag)
    return f"{keyword} {format_tag(tag)}" if keyword else "an element"


@functools.lru_cache(maxsize=256)
def _needs_pixels(sop_class: str | None) -> bool:
    """Whether the IOD of a SOP class (as the shipped PS3.3 tables know it) makes the Image Pixel
    module, and so pixel data, mandatory: an instance of it without pixels is cut short."""
    return bool(sop_class) and (_PIXEL_DATA,) in iod.requirements(sop_class, frozenset())


def _implicit_sequence(tag: int, unknown: bool = False) -> bool:
    """Whether an implicit-VR element is a sequence by the dictionary (``unknown``: also when the
    dictionary does not know it, as pydicom reads an undefined length)."""
    try:
        return dictionary_vr(tag) == "SQ"
    except KeyError:
        return unknown


def _pixels(length: int, image: dict, bits: int) -> None:
    """Native pixel data must hold what its image attributes say it holds: no less (a truncated file),
    no more (room for a payload no rule sees, copied with the pixels)."""
    rows, columns = image.get(_ROWS), image.get(_COLUMNS)
    bits = bits or image.get(_BITS)
    if not (isinstance(rows, int) and isinstance(columns, int) and isinstance(bits, int)):
        return  # no image size to hold it to: not an image the viewers would draw
    try:
        frames = max(int(str(image.get(_FRAMES) or 1)), 1)
    except ValueError:
        raise Malformed("NumberOfFrames (0028,0008) is not a number: the size of the pixel data cannot be "
                        "checked") from None
    samples = image.get(_SAMPLES) if isinstance(image.get(_SAMPLES), int) else 1
    photometric = str(image.get(_PHOTOMETRIC) or "")
    per_frame = rows * columns * samples
    if photometric.endswith("_422"):
        per_frame = rows * columns * 2
    elif photometric.endswith("_420"):
        per_frame = rows * columns * 3 // 2
    needed = (per_frame * frames * bits + 7) // 8  # BitsAllocated 1: packed across frames (PS3.5 8.1.1)
    if length < needed:
        raise Malformed("the pixel data is shorter than its image size (Rows x Columns x frames x samples x bits)")
    if length > needed + needed % 2:  # one byte pads an odd size to an even length, no more
        raise Malformed("the pixel data is longer than its image size (Rows x Columns x frames x samples x bits): "
                        "the bytes past the image could carry anything")
