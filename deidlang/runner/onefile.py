"""One file through an engine to its place: the fast path first, the reference engine for what it
does not take; every outcome a `FileResult`, never an exception."""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..engine import Key, engine_for, stream
from ..errors import EngineError, Rejected
from ..fileio import Exists, Input, NotRegular, chunks, write_file
from ..plan import Plan
from ..store import PseudonymMap
from .outputs import Place
from .reading import read_dataset
from .reasons import os_reason, reason_for
from ..quiet import quiet


@dataclass
class FileResult:
    """What became of one input: its outcome, where its output went and why, in words (never a value)."""

    source: str
    status: str  # written | failed | rejected | skipped
    output: str | None = None
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    engine: str = ""  # fast (the byte stream) or reference (pydicom Datasets)
    fallback: str = ""  # why the fast path could not take this file
    #: (size, mtime_ns) of the input when it was read, which the journal records; None if unknown
    version: tuple[int, int] | None = None
    #: (size, digest naming its algorithm) of the output written, which the journal records so that resume can check it
    written: tuple[int, str] | None = None


def deidentify_file(source: str | Path, destination: str | Path, plan: Plan, key: Key | bytes,
                    store: PseudonymMap | None = None, engine: str = "auto", verify_pixels: bool = False) -> FileResult:
    """Read one file, de-identify it with the plan, record its keyed pairs in ``store`` if given, and
    write it atomically at ``destination`` (replacing what is there). Never raises for bad input:
    the result says what happened.

    ``engine``: ``auto`` takes the streaming fast path and falls back to the reference engine for
    what it does not support; ``reference`` always uses the reference engine. ``verify_pixels``: a
    file whose pixels a rule changed is read back by OCR before it is written, and fails if text
    repeating a removed or changed value is still read.
    """
    destination = Path(destination)
    return process(source, lambda data, outcome: (str(destination), write_file(data, destination)),
                   plan, Key.of(key), store, engine, verify_pixels)


def process(source: str | Path, place: Place, plan: Plan, key: Key, store: PseudonymMap | None = None,
            engine: str = "auto", verify_pixels: bool = False) -> FileResult:
    """`deidentify_file` with the output put where ``place`` says."""
    source = os.fspath(source)
    with quiet():  # pydicom's warnings can quote values: they must not reach a log
        try:
            data = Input(source)
        except NotRegular as err:
            return FileResult(source, "skipped", reason=f"not read: {err.strerror}")
        except OSError as err:
            return FileResult(source, "failed", reason=f"cannot read: {os_reason(err)}")
        result = None
        fallback = "asked for" if engine == "reference" else ""
        if not fallback:
            try:
                parts, outcome = stream.rewrite_parts(data.data, plan, key)
            except stream.Unsupported as why:
                fallback = str(why)
            except Exception as err:
                result = _failure(source, err, "fast", "")
            else:
                result = _finish(source, outcome, chunks(parts, data.data), place, store, "fast", "")
        if result is None:
            result = _reference(source, data.data, place, plan, key, store, fallback, verify_pixels)
        result.version = data.version
        return result


def _reference(source: str, data: bytes, place: Place, plan: Plan, key: Key, store: PseudonymMap | None,
               fallback: str, verify_pixels: bool = False) -> FileResult:
    """The reference engine: parse with pydicom, apply, encode (and read the pixels back by OCR).
    pydicom (and for OCR numpy) is imported here, not before: the fast path's files never need it."""
    from pydicom import dcmread
    from pydicom.filewriter import dcmwrite

    try:
        ds = read_dataset(data)
        outcome = engine_for(plan).apply(ds, key)
        encoded = io.BytesIO()
        dcmwrite(encoded, outcome.dataset, enforce_file_format=True)
    except Exception as err:
        return _failure(source, err, "reference", fallback)
    if verify_pixels and outcome.pixel_rules:
        from ..engine import identifying, pixels

        try:
            still = pixels.verify(dcmread(io.BytesIO(encoded.getvalue())),
                                  identifying.removed_or_changed(ds, outcome.dataset))
        except EngineError as err:
            return FileResult(source, "failed", reason=f"--verify-pixels: {err.message}", engine="reference",
                              fallback=fallback)
        if still:
            return FileResult(source, "failed", engine="reference", fallback=fallback,
                              reason=f"--verify-pixels: OCR still reads text repeating {', '.join(still)} in the "
                                     "redacted pixels: not written")
    return _finish(source, outcome, [encoded.getbuffer()], place, store, "reference", fallback)


def _failure(source: str, err: Exception, engine: str, fallback: str) -> FileResult:
    status = "rejected" if isinstance(err, Rejected) else "failed"
    return FileResult(source, status, reason=reason_for(err), engine=engine, fallback=fallback)


def _finish(source: str, outcome, data: Iterable[bytes | memoryview], place: Place, store: PseudonymMap | None,
            engine: str, fallback: str) -> FileResult:
    """Record the keyed pairs, then ``place`` the output."""
    try:
        if store is not None:  # before the write: no output ever exists without its pairs
            store.record(outcome.pairs)
    except Exception as err:
        return FileResult(source, "failed", reason=f"cannot record pseudonyms in the map: {reason_for(err)}",
                          engine=engine, fallback=fallback)
    try:
        output, written = place(data, outcome)
    except Exists:
        return FileResult(source, "failed", engine=engine, fallback=fallback,
                          reason="another output with other content already has this file's name (the same "
                                 "SOP Instance UID twice, or an earlier run into this folder with other rules or "
                                 "another key)")
    except EngineError as err:
        return FileResult(source, "failed", reason=err.message, engine=engine, fallback=fallback)
    except Exception as err:
        return FileResult(source, "failed", reason=f"cannot write the output: {reason_for(err)}", engine=engine,
                          fallback=fallback)
    return FileResult(source, "written", output, notes=outcome.notes, engine=engine, fallback=fallback,
                      written=written)
