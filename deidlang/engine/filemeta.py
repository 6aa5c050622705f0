"""Part 10 file meta information, rebuilt from the de-identified SOP UIDs (never copied from the input):
one list of elements (`elements`), which the reference engine holds as a `FileMetaDataset` and the fast
path writes as bytes (explicit VR little endian, PS3.10 7.1)."""

from __future__ import annotations

import functools
import struct
from typing import TYPE_CHECKING

from .._version import __version__
from ..errors import EngineError
from .reader import Unsupported

if TYPE_CHECKING:
    from pydicom.dataset import FileMetaDataset

IMPLEMENTATION_CLASS_UID = "2.25.334988505321491280022850772193694334904"
IMPLEMENTATION_VERSION = f"DEIDLANG_{__version__}"[:16]
_SOP_INSTANCE = 0x00020003  # MediaStorageSOPInstanceUID


def elements(sop_class: str | None, sop_instance: str | None, syntax: str) -> list[tuple[int, str, str | bytes]]:
    """(tag, VR, value) of every file meta element but its group length; `EngineError` when the
    de-identified dataset has no SOP Class or Instance UID."""
    for keyword, value in (("SOPClassUID", sop_class), ("SOPInstanceUID", sop_instance)):
        if not value:
            raise EngineError(f"no {keyword} after de-identification: a Part 10 file needs one")
    return [(0x00020001, "OB", b"\0\1"), (0x00020002, "UI", sop_class), (0x00020003, "UI", sop_instance),
            (0x00020010, "UI", syntax), (0x00020012, "UI", IMPLEMENTATION_CLASS_UID),
            (0x00020013, "SH", IMPLEMENTATION_VERSION)]


def dataset(sop_class: str | None, sop_instance: str | None, syntax: str) -> FileMetaDataset:
    from pydicom.dataset import FileMetaDataset

    meta = FileMetaDataset()
    for tag, vr, value in elements(sop_class, sop_instance, syntax):
        meta.add_new(tag, vr, value)
    return meta


def encoded(sop_class: str | None, sop_instance: str | None, syntax: str) -> bytes:
    """The file meta as bytes, its group length first; `Unsupported` for a value that is not ASCII. Only
    the SOP Instance UID differs between the files of a series: the rest is encoded once (`_around`)."""
    if not sop_class or not sop_instance:
        elements(sop_class, sop_instance, syntax)  # raises, naming what is missing
    before, after = _around(sop_class, syntax)
    body = before + _element(_SOP_INSTANCE & 0xFFFF, b"UI", _text(sop_instance, "UI")) + after
    return _element(0x0000, b"UL", struct.pack("<L", len(body))) + body


@functools.lru_cache(maxsize=64)
def _around(sop_class: str, syntax: str) -> tuple[bytes, bytes]:
    """The file meta elements before and after the SOP Instance UID, encoded."""
    parts: tuple[list[bytes], list[bytes]] = ([], [])
    for tag, vr, value in elements(sop_class, "0", syntax):
        if tag != _SOP_INSTANCE:
            parts[tag > _SOP_INSTANCE].append(_element(tag & 0xFFFF, vr.encode(),
                                                       value if isinstance(value, bytes) else _text(value, vr)))
    return b"".join(parts[0]), b"".join(parts[1])


def _element(element: int, vr: bytes, value: bytes) -> bytes:
    if vr == b"OB":
        return struct.pack("<HH2s2xL", 0x0002, element, vr, len(value)) + value
    return struct.pack("<HH2sH", 0x0002, element, vr, len(value)) + value


def _text(value: str, vr: str) -> bytes:
    """A UI value padded with NUL, other text with a space, to an even length (PS3.5 6.2)."""
    try:
        text = value.encode("ascii")
    except UnicodeEncodeError:
        raise Unsupported("a file meta value that is not ASCII") from None
    return text + (b"\0" if vr == "UI" else b" ") if len(text) % 2 else text
