"""Why a file failed, in words a person can act on, and pydicom kept from logging values."""

from __future__ import annotations

import errno
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
    """pydicom logs warnings that can quote element values; they must never reach a log. Its logger is
    silenced now if pydicom is imported, else as its import starts: a run whose files all take the fast
    path imports neither pydicom nor `logging` (a thirtieth of its start)."""
    if "pydicom" in sys.modules:
        _silence_pydicom()
    elif not any(isinstance(finder, _SilenceOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _SilenceOnImport())


def _silence_pydicom() -> None:
    import logging

    logger = logging.getLogger("pydicom")  # the one pydicom logs to, whether it is imported yet or not
    logger.addHandler(logging.NullHandler())
    logger.propagate = False


class _SilenceOnImport:
    """On the import path until pydicom's import starts: it silences pydicom's logger then (before any of
    pydicom runs), leaves, and finds nothing, so that the import goes on as it would have. A mere search
    for pydicom (`importlib.util.find_spec`) looks the same to it: the logger is silenced early then."""

    def find_spec(self, name: str, path=None, target=None) -> None:
        if name == "pydicom":
            sys.meta_path.remove(self)
            _silence_pydicom()
        return None
