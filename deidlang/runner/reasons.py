"""Why a file failed, in words a person can act on, and pydicom kept from logging values."""

from __future__ import annotations

import errno
import logging
import struct
import sys
import zlib

from .. import limits
from ..errors import EngineError, InputError


def reason_for(err: BaseException) -> str:
    """Why a file failed, in words a person can act on: never a value, never Python's own text."""
    if isinstance(err, (EngineError, InputError)):
        return err.message
    if isinstance(err, OSError):
        return os_reason(err)
    if isinstance(err, MemoryError):
        return "not enough memory to de-identify it"
    if isinstance(err, RecursionError):
        return f"its sequences are nested too deeply (more than {limits.depth()} levels)"
    pydicom_errors = sys.modules.get("pydicom.errors")  # none of its errors can exist before it is imported
    if isinstance(err, (struct.error, IndexError, EOFError, zlib.error)) or (
            pydicom_errors is not None and isinstance(err, pydicom_errors.InvalidDicomError)):
        return "malformed: an element or its value runs past the end of the data, or its structure is broken"
    if isinstance(err, UnicodeError):
        return "a text value cannot be decoded with the file's character set"
    return ("malformed: a value could not be decoded (or deidlang has a bug: rerun this file alone with "
            "DEIDLANG_DEBUG=1 to see it)")


def os_reason(err: OSError) -> str:
    """An OS error in words, with its name (ENOSPC), never a path we did not choose to show."""
    name = errno.errorcode.get(err.errno or 0)
    text = err.strerror or "input/output error"
    return f"{text} ({name})" if name else text


def quiet_pydicom() -> None:
    """pydicom logs warnings that can quote element values; they must never reach a log."""
    logger = logging.getLogger("pydicom")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
