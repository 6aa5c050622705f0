"""A file's bytes to a pydicom dataset, for the reference engine: only a well-formed file, and
bounded (a deflated data set is inflated only up to a limit)."""

from __future__ import annotations

import io
import struct
import zlib

from .. import limits
from ..engine import structure
from ..errors import EngineError, InputError

_DEFLATED = b"1.2.840.10008.1.2.1.99"  # Deflated Explicit VR Little Endian


def read_dataset(data: bytes):
    """A dataset parsed from a file's bytes: Part 10, and also datasets written without the 128-byte
    preamble or file meta as long as they parse into an instance; anything else is refused. A
    deflated dataset is inflated only up to the limit (`limits.inflated`). Only a well-formed file is
    parsed (`structure.check`): pydicom reads leniently, and no lenient reading of a damaged file may
    be written. Sequences written as UN are read as the sequences they are (`structure.check`)."""
    from pydicom import dcmread
    from pydicom.errors import InvalidDicomError

    data = structure.check(data)
    _check_inflation(data)
    try:
        return dcmread(io.BytesIO(data))
    except InvalidDicomError:
        pass
    try:
        ds = dcmread(io.BytesIO(data), force=True)
        if ds.get("SOPClassUID") and ds.get("SOPInstanceUID"):
            return ds
    except Exception:
        pass
    raise InputError("not a DICOM file (no DICM prefix, and no SOP instance could be parsed)")


def _check_inflation(data: bytes) -> None:
    """Refuse a deflated data set that inflates past the limit (a few hundred KB can hold GBs)."""
    if data[128:132] != b"DICM" or data[132:136] != b"\x02\x00\x00\x00" or len(data) < 144:
        return  # no file meta to declare deflation: the reader refuses or reads it plainly
    end = 144 + struct.unpack_from("<L", data, 140)[0]
    if _DEFLATED not in data[144:end]:
        return
    most = limits.inflated()
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        size = len(inflater.decompress(data[end:], most + 1))
    except zlib.error:
        raise EngineError("malformed: the deflated data set cannot be inflated") from None
    if size > most:
        raise EngineError(f"the deflated data set inflates to more than {most >> 20} MiB (the limit; "
                          f"--max-inflated or {limits.INFLATED_ENV} raises it)")
