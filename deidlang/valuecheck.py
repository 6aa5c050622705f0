"""What an element must be before an engine decides on it or writes it as it was: the file never votes.

- `decided_vr`: a public element is decided by its dictionary VR. A declared VR the dictionary does
  not allow for the tag (beyond its own alternatives, US/SS, OB/OW ...) means the file lies about what
  the value is (PatientName written as CS would escape `remove vr PN`): the element is removed. UN is
  read as the dictionary VR; an element the dictionary does not know is removed whatever its VR.
- `problem`: a value kept as it was must be valid for its VR (PS3.5 6.2: repertoire, length, and the
  dictionary's VM): a CS value that holds a name, a UI value with text in it, a length that covers the
  next elements are refused. Checked on the encoded bytes, so both engines judge the same thing.
- `safe_private_vr`: a slot of Table E.3.10-1 is kept only as the table's VR.
- `charset_problem`: SpecificCharacterSet is kept only when every term is a defined term.

Messages name the tag and the VR, never the value.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._tables import CHARSETS
from .dictionary import dictionary_vm, format_tag, safe_private, vrs_of

if TYPE_CHECKING:
    from pydicom.dataelem import DataElement

#: VRs of fixed-size binary values: their value length must be a multiple of the size.
FIXED = {"US": 2, "SS": 2, "UL": 4, "SL": 4, "FL": 4, "AT": 4, "FD": 8, "SV": 8, "UV": 8,
          "OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}
_NUMBERS = frozenset("US SS UL SL FL AT FD SV UV".split())  # VM counts binary values
_SINGLE = frozenset("LT ST UT UR OB OW OF OL OD OV UN SQ".split())  # VM 1, a backslash is not a separator
#: Longest value in characters (PS3.5 Table 6.2-1); PN per component group.
_MAX = {"AE": 16, "AS": 4, "CS": 16, "DA": 8, "DS": 16, "DT": 26, "IS": 12, "LO": 64, "LT": 10240, "PN": 64,
        "SH": 16, "ST": 1024, "TM": 14, "UI": 64}
_PATTERN = {vr: re.compile(p) for vr, p in {
    "CS": rb" *[A-Z0-9_][A-Z0-9_ ]*|",
    "DS": rb" *[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)? *",
    "IS": rb" *[+-]?\d+ *",
    "UI": rb"[0-9]+(\.[0-9]+)*",
    "DA": rb"\d{4}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])",
    "TM": rb"([01]\d|2[0-3])(([0-5]\d)(([0-5]\d|60)(\.\d{1,6})?)?)? *",
    "DT": rb"\d{4}((0[1-9]|1[0-2])((0[1-9]|[12]\d|3[01])(([01]\d|2[0-3])(([0-5]\d)(([0-5]\d|60)(\.\d{1,6})?)?)?)?)?)?"
          rb"([+-]\d{4})? *",
    "AS": rb"\d{3}[DWMY]",
}.items()}
#: Every ASCII digit read as 0 (`check_key`).
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1a\x1c-\x1f\x7f]")  # ESC (ISO 2022) allowed, TAB too
_CONTROL_TEXT = re.compile(rb"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")  # LT, ST, UT: also CR, LF, FF
#: Multi-byte character sets: lengths are characters, bytes can be up to four times more.
_MULTI_BYTE = frozenset({"ISO_IR 192", "GB18030", "GBK", "ISO 2022 IR 87", "ISO 2022 IR 159", "ISO 2022 IR 149",
                         "ISO 2022 IR 58"})


def decided_vr(tag: int, declared: str) -> tuple[str | None, str | None]:
    """The VR a public element is decided on, or None and a note saying why it is removed. Private
    elements keep their declared VR (they are decided by creator and offset)."""
    if tag >> 16 & 1:
        return declared, None
    allowed = vrs_of(tag)
    if not allowed:
        return None, f"{format_tag(tag)}: a public element the dictionary does not know: removed"
    if declared in allowed:
        return declared, None
    if declared == "UN" and len(allowed) == 1:
        (known,) = allowed
        if known != "SQ":
            return known, None
        return None, f"{format_tag(tag)}: a sequence written as UN: removed"
    if declared == "UN" or " or " in declared:  # US or SS, OB or OW: the proof covers each
        return min(allowed), None
    return None, (f"{format_tag(tag)}: written as VR {declared}, the dictionary says {'/'.join(sorted(allowed))}: "
                  "removed")


def kept_problem(tag: int, vr: str, creator: str | None, length: int, read: Callable[[], bytes],
                 multi_byte: bool = False) -> str | None:
    """Why an element cannot be kept as it is, or None: `problem` for its VR, where a safe-listed
    private slot (Table E.3.10-1) must be the table's VR (UN is read as that VR). ``read`` gives the
    encoded value; it is only called for VRs whose content is checked (not for pixel data)."""
    if tag >> 16 & 1:
        table = safe_private_vr(creator, tag)
        if table == "":
            return f"{format_tag(tag)}: Table E.3.10-1 gives this slot no VR to check it against: removed"
        if table is not None:
            if vr not in (table, "UN"):
                return f"{format_tag(tag)}: written as VR {vr}, Table E.3.10-1 says {table}: removed"
            vr = table
    size = FIXED.get(vr)
    if size is not None:
        if length % size:
            return f"{format_tag(tag)}: a {vr} value of {length} bytes: removed"
        return _vm(tag, vr, length // size) if vr in _NUMBERS else None
    if vr in ("OB", "UN", "SQ"):
        return None
    return problem(tag, vr, read(), multi_byte)


def check_key(tag: int, vr: str, raw: bytes) -> bytes:
    """A key to remember `kept_problem`'s answer on the encoded value ``raw`` by: values with equal keys get
    equal answers. A public DS or IS value is judged by its pattern, length and VM, none of which depends on
    which digits it holds, so its digits are read as 0 (an IS of at most 9 bytes is always in range): the
    instance numbers and positions of a series then share one answer. Any other value is its own key."""
    if (vr == "DS" or vr == "IS" and len(raw) <= 9) and not tag >> 16 & 1:
        return raw.translate(_DIGITS_AS_ZERO)
    return raw


def problem(tag: int, vr: str, raw: bytes, multi_byte: bool = False) -> str | None:
    """Why ``raw`` (the encoded value) is not a valid ``vr`` value for this tag, or None."""
    size = FIXED.get(vr)
    if size is not None:
        return kept_problem(tag, vr, None, len(raw), lambda: raw)
    if vr in ("OB", "UN", "SQ"):
        return None
    raw = bytes(raw)
    if raw.endswith(b"\0" if vr == "UI" else b" ") or raw.endswith(b"\0"):
        raw = raw[:-1]  # the padding to an even length
    values = [raw] if vr in _SINGLE else raw.split(b"\\")
    if not raw:
        return None
    control = _CONTROL_TEXT if vr in ("LT", "ST", "UT") else _CONTROL
    limit = _MAX.get(vr)
    pattern = _PATTERN.get(vr)
    for value in values:
        if control.search(value):
            return f"{format_tag(tag)}: control characters in a {vr} value: removed"
        if pattern is not None and value and not pattern.fullmatch(value):
            return f"{format_tag(tag)}: not a valid {vr} value: removed"
        if vr == "PN":
            if value.count(b"=") > 2 or any(len(group) > 64 * (4 if multi_byte else 1) or group.count(b"^") > 4
                                             for group in value.split(b"=")):
                return f"{format_tag(tag)}: not a valid PN value: removed"
        elif limit is not None and len(value) > limit * (4 if multi_byte and pattern is None else 1):
            return f"{format_tag(tag)}: a {vr} value longer than {limit} characters: removed"
        if vr == "IS" and value and not -(2**31) <= int(value) < 2**31:
            return f"{format_tag(tag)}: an IS value out of range: removed"
    return None if vr in _SINGLE else _vm(tag, vr, len(values))


def _vm(tag: int, vr: str, count: int) -> str | None:
    """Whether ``count`` values fit the dictionary's VM for a public tag."""
    if tag >> 16 & 1 or count == 0:
        return None
    low, high, step = _vm_range(tag)
    if low is None or count >= low and (high is None or count <= high) and count % step == 0:
        return None
    return f"{format_tag(tag)}: {count} values where the dictionary allows VM {dictionary_vm(tag)}: removed"


@functools.cache
def _vm_range(tag: int) -> tuple[int | None, int | None, int]:
    """(least, most or None, multiple of) values the dictionary allows; (None, ...) when unknown."""
    try:
        vm = dictionary_vm(tag)
    except KeyError:
        return None, None, 1
    match = re.fullmatch(r"(\d+)(?:-(\d*)(n?))?", vm.strip())
    if not match:
        return None, None, 1
    low = int(match.group(1))
    if match.group(2) is None:
        return low, low, 1
    if match.group(3):
        return low, None, int(match.group(2) or 1)
    return low, int(match.group(2)), 1


def multi_byte(charset_terms: list[str] | tuple[str, ...]) -> bool:
    return any(term in _MULTI_BYTE for term in charset_terms)


def charset_problem(raw: bytes) -> str | None:
    """Why a SpecificCharacterSet value cannot be kept (the file is then failed), or None. Each term
    must be a defined term (the first may be empty, as ISO 2022 allows)."""
    terms = bytes(raw).rstrip(b" \0").split(b"\\")
    for index, term in enumerate(terms):
        text = term.strip(b" ").decode("latin-1")
        if not (text in CHARSETS or index == 0 and not text and len(terms) > 1):
            return "SpecificCharacterSet (0008,0005) holds a term that is not a defined character set"
    return None


def safe_private_vr(creator: str | None, tag: int) -> str | None:
    """The VR Table E.3.10-1 gives a private slot ('' when the table gives none), None when the slot is
    not in the table."""
    return _safe_private_table().get((creator, tag >> 16, tag & 0xFF))


@functools.cache
def _safe_private_table() -> dict[tuple[str, int, int], str]:
    table = {}
    for row in safe_private():
        table[(row["private_creator"], int(row["group"], 16), int(row["element"][-2:], 16))] = (row["vr"] or "").strip()
    return table


def encoded(elem: DataElement, encodings: list[str]) -> bytes:
    """A decoded element's value as it is written (implicit VR little endian, whose header is 8 bytes)."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_data_element

    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, True
    write_data_element(fp, elem, encodings)
    return fp.getvalue()[8:]
