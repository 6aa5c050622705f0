"""Layer 6: files and folders in, de-identified files out.

Outputs are named from de-identified values, ``OUT/<StudyInstanceUID>/<SeriesInstanceUID>/
<SOPInstanceUID>.dcm`` as written (``layout="uid"``), so nothing of an input's path (folders named
after patients) reaches the delivered folder; ``layout="mirror"`` mirrors the input folders instead,
at that risk, for those who ask. The run's state (journal, temporary files, lock) lives in a state
folder outside the delivered one, which holds de-identified DICOM only.

Before anything is written, the output, state and quarantine folders are checked against every
input (after resolving links): no output can land on or inside an input. Each output is written
complete under a temporary name, then linked to its final name; no link in the output tree is ever
followed (`fileio.OutputTree`). A file that cannot be read, is rejected or fails is reported with
its path and a reason in words, and nothing is written for it; only regular files are read (FIFOs,
devices and sockets are skipped with a reason). Reasons never contain DICOM values.
"""

from __future__ import annotations

import errno
import fcntl
import io
import json
import logging
import os
import re
import secrets
import stat
import struct
import time
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydicom import dcmread
from pydicom.errors import InvalidDicomError
from pydicom.filewriter import dcmwrite
from pydicom.uid import DeflatedExplicitVRLittleEndian

from . import limits
from .engine import Decision, Key, engine_for, identifying, pixels, stream, structure
from .engine.keys import MIN_KEY_BYTES
from .errors import EngineError, InputError, Rejected
from .fileio import (PRIVATE_MODE, SHARED_MODE, Exists, Input, NotRegular, OutputTree, chunks, kind_of,
                     remove_temporaries, write_atomically, write_file)
from .journal import Journal
from .plan import Plan
from .pool import Pool
from .store import PseudonymMap

#: The reason of an input skipped on resume.
FINISHED = "finished by an earlier run"
LAYOUTS = ("uid", "mirror")


@dataclass
class FileResult:
    source: str
    status: str  # written | failed | rejected | skipped
    output: str | None = None
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    engine: str = ""  # fast (the byte stream) or reference (pydicom Datasets)
    fallback: str = ""  # why the fast path could not take this file
    #: (size, mtime_ns) of the input when it was read, which the journal records; None if unknown
    version: tuple[int, int] | None = None
    #: (size, sha256) of the output written, which the journal records so that resume can check it
    written: tuple[int, str] | None = None


@dataclass
class Summary:
    written: int = 0
    failed: int = 0
    rejected: int = 0
    skipped: int = 0
    fast: int = 0  # files the streaming fast path took
    reference: int = 0  # files the reference engine took (fallbacks included)
    failures: list[FileResult] = field(default_factory=list)
    #: why the journal or report could not be kept up (the run went on), else ""
    trouble: str = ""

    def add(self, result: FileResult) -> None:
        setattr(self, result.status, getattr(self, result.status) + 1)
        if result.engine:
            setattr(self, result.engine, getattr(self, result.engine) + 1)
        if result.status in ("failed", "rejected"):
            self.failures.append(result)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.rejected


KEY_ENV = "DEIDLANG_KEY"


def load_key(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Key:
    """The site key from a key file, else from the environment variable ``DEIDLANG_KEY``, else a
    random key for this run only (anonymisation).

    A key file that group or others can read is refused: the key is what protects re-identification.
    """
    if path is None:
        value = (environ or {}).get(KEY_ENV)
        if value is None:
            return Key.random()
        if len(value.encode()) < MIN_KEY_BYTES:
            raise InputError(f"{KEY_ENV} holds fewer than {MIN_KEY_BYTES} bytes", None, "use a long random key")
        return Key(value.encode())
    path = Path(path)
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise InputError(f"the key file `{path}` is {kind_of(mode)}, not a regular file")
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read the key file `{path}`: {err.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InputError(f"the key file `{path}` can be read by other users", None,
                         f"make it private: chmod 600 {path}")
    key = data.strip()
    if len(key) < MIN_KEY_BYTES:
        raise InputError(f"the key file `{path}` holds fewer than {MIN_KEY_BYTES} bytes", None, "use a long random key")
    return Key(key)


def require_site_key(key: Key, map_path: str | Path | None, resume: bool) -> None:
    """A map and ``resume`` need a persistent key; raises `InputError` before anything is said or done."""
    if map_path is not None and not key.persistent:
        raise InputError("a map needs a site key (--key-file or DEIDLANG_KEY)", None,
                         "without one the run is anonymisation: there is nothing to map back")
    if resume and not key.persistent:
        raise InputError("--resume needs a site key (--key-file or DEIDLANG_KEY)", None,
                         "a one-run key gives other UIDs each run: one study would end up with two")


def discover(inputs: Iterable[str | Path]) -> Iterator[tuple[Path, Path]]:
    """(input root, file) for every file under the inputs, in a stable order; a file given by name
    is its own root. Links to folders are not followed. Raises `InputError` for a missing input."""
    roots = [Path(p) for p in inputs]
    for root in roots:
        if not os.path.lexists(root) or not root.exists():
            raise InputError(f"no such file or folder `{root}`")
    for root in roots:
        if not root.is_dir():
            yield root, root
            continue
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            for name in sorted(files):
                yield root, Path(folder) / name


def mirrored(root: Path, source: Path) -> tuple[str, ...]:
    """Where ``--layout mirror`` puts a file: its path under its input folder (a file given by name:
    its name)."""
    return (source.name,) if root == source else source.relative_to(root).parts


def plan_outputs(inputs: Iterable[str | Path], outdir: str | Path) -> Iterator[tuple[Path, Path]]:
    """(source, destination) for every file under the inputs, mirrored under ``outdir`` (the
    ``mirror`` layout). Raises `InputError` at once (not when iterated) for a missing input or an
    output folder that overlaps an input."""
    out = Path(outdir).resolve()
    roots = [Path(p) for p in inputs]
    _check_apart(roots, {"output folder": out})
    return ((source, out.joinpath(*mirrored(root, source))) for root, source in discover(roots))


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _check_apart(roots: list[Path], places: dict[str, Path]) -> None:
    """Refuse (`InputError`) when a place that will be written (resolved) lies on or inside an
    input, or holds one; every input must exist."""
    for root in roots:
        if not os.path.lexists(root) or not root.exists():
            raise InputError(f"no such file or folder `{root}`")
        real = root.resolve()
        for what, place in places.items():
            if _inside(place, real) and (real.is_dir() or place == real):
                raise InputError(f"the {what} `{place}` is inside the input `{root}`", None,
                                 f"choose an {what} outside every input: the input is never written to")
            if _inside(real, place):
                raise InputError(f"the input `{root}` is inside the {what} `{place}`", None,
                                 f"choose an {what} that holds no input: the input is never written to")


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
    return process(Path(source), lambda data, outcome: (str(destination), write_file(data, destination)),
                   plan, Key.of(key), store, engine, verify_pixels)


#: Writes an output's bytes somewhere; returns where, its size and sha256.
Place = Callable[[Iterable[bytes | memoryview], object], tuple[str, tuple[int, str]]]


def process(source: Path, place: Place, plan: Plan, key: Key, store: PseudonymMap | None = None,
            engine: str = "auto", verify_pixels: bool = False) -> FileResult:
    """`deidentify_file` with the output put where ``place`` says."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom's warnings can quote values: they must not reach a log
        try:
            data = Input(source)
        except NotRegular as err:
            return FileResult(str(source), "skipped", reason=f"not read: {err.strerror}")
        except OSError as err:
            return FileResult(str(source), "failed", reason=f"cannot read: {os_reason(err)}")
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


def _reference(source: Path, data: bytes, place: Place, plan: Plan, key: Key, store: PseudonymMap | None,
               fallback: str, verify_pixels: bool = False) -> FileResult:
    """The reference engine: parse with pydicom, apply, encode (and read the pixels back by OCR)."""
    try:
        ds = read_dataset(data)
        outcome = engine_for(plan).apply(ds, key)
        encoded = io.BytesIO()
        dcmwrite(encoded, outcome.dataset, enforce_file_format=True)
    except Exception as err:
        return _failure(source, err, "reference", fallback)
    if verify_pixels and outcome.pixel_rules:
        try:
            still = pixels.verify(dcmread(io.BytesIO(encoded.getvalue())),
                                  identifying.removed_or_changed(ds, outcome.dataset))
        except EngineError as err:
            return FileResult(str(source), "failed", reason=f"--verify-pixels: {err.message}", engine="reference",
                              fallback=fallback)
        if still:
            return FileResult(str(source), "failed", engine="reference", fallback=fallback,
                              reason=f"--verify-pixels: OCR still reads text repeating {', '.join(still)} in the "
                                     "redacted pixels: not written")
    return _finish(source, outcome, [encoded.getbuffer()], place, store, "reference", fallback)


def _failure(source: Path, err: Exception, engine: str, fallback: str) -> FileResult:
    status = "rejected" if isinstance(err, Rejected) else "failed"
    return FileResult(str(source), status, reason=reason_for(err), engine=engine, fallback=fallback)


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
    if isinstance(err, (struct.error, IndexError, EOFError, zlib.error, InvalidDicomError)):
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


def read_dataset(data: bytes):
    """A dataset parsed from a file's bytes: Part 10, and also datasets written without the 128-byte
    preamble or file meta as long as they parse into an instance; anything else is refused. A
    deflated dataset is inflated only up to the limit (`limits.inflated`). Only a well-formed file is
    parsed (`structure.check`): pydicom reads leniently, and no lenient reading of a damaged file may
    be written. Sequences written as UN are read as the sequences they are (`structure.check`)."""
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
    if DeflatedExplicitVRLittleEndian.encode() not in data[144:end]:
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


def _finish(source: Path, outcome, data: Iterable[bytes | memoryview], place: Place, store: PseudonymMap | None,
            engine: str, fallback: str) -> FileResult:
    """Record the keyed pairs, then ``place`` the output."""
    try:
        if store is not None:  # before the write: no output ever exists without its pairs
            store.record(outcome.pairs)
    except Exception as err:
        return FileResult(str(source), "failed", reason=f"cannot record pseudonyms in the map: {reason_for(err)}",
                          engine=engine, fallback=fallback)
    try:
        output, written = place(data, outcome)
    except Exists:
        return FileResult(str(source), "failed", engine=engine, fallback=fallback,
                          reason="another output with other content already has this file's name (the same "
                                 "SOP Instance UID twice, or an earlier run into this folder with other rules or "
                                 "another key)")
    except EngineError as err:
        return FileResult(str(source), "failed", reason=err.message, engine=engine, fallback=fallback)
    except Exception as err:
        return FileResult(str(source), "failed", reason=f"cannot write the output: {reason_for(err)}", engine=engine,
                          fallback=fallback)
    return FileResult(str(source), "written", output, notes=outcome.notes, engine=engine, fallback=fallback,
                      written=written)


_UID = re.compile(r"[0-9]+(\.[0-9]+)*")
_NAMES = ((0x0020000D, "StudyInstanceUID"), (0x0020000E, "SeriesInstanceUID"), (0x00080018, "SOPInstanceUID"))


def uid_path(outcome) -> tuple[str, str, str]:
    """``<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm`` as the output has them; each
    must be a valid UID (digits and dots, at most 64), or no path is made of it."""
    names = []
    for tag, keyword in _NAMES:
        if outcome.dataset is not None:
            value = outcome.dataset.get(tag)
            value = str(value.value) if value is not None and value.VR == "UI" else None
        else:
            value = outcome.uids.get(tag)
        if not value or len(value) > 64 or not _UID.fullmatch(value):
            raise EngineError(f"the output's {keyword} is {'missing' if not value else 'not a valid UID'}: the "
                              "output is named by it", None, "de-identify it with a uid rule, or use --layout mirror")
        names.append(value)
    return names[0], names[1], names[2] + ".dcm"


@dataclass(frozen=True)
class Target:
    """Where a run's outputs go, as workers (local or Dask) need it: the delivered folder, the
    folder for temporary files, and the layout."""

    root: str
    temporary: str | None
    layout: str
    mode: int = SHARED_MODE


_TREES: dict[Target, OutputTree] = {}


def _placer(target: Target, relative: tuple[str, ...]) -> Place:
    """Where an output goes: its mirrored name (``relative``) or its UIDs, by the target's layout."""
    tree = _TREES.get(target)
    if tree is None:
        tree = _TREES[target] = OutputTree(Path(target.root), Path(target.temporary) if target.temporary else None,
                                             target.mode)

    def place(data, outcome):
        mirror = target.layout == "mirror"
        names = relative if mirror else uid_path(outcome)
        # mirrored names are claimed once per run by the main process; uid names are never replaced
        written = tree.place(data, names, replace=mirror)
        return os.path.join(target.root, *names), written

    return place


@dataclass
class Preview:
    """What a run would do to one file (a dry run): nothing is written, no value is shown."""

    source: str
    status: str  # written | rejected | failed | skipped
    reason: str = ""
    decisions: list[Decision] = field(default_factory=list)
    pixel_rules: list = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the engine noted (never a value)


def preview(source: str | Path, plan: Plan, key: Key | bytes) -> Preview:
    """Decide every element of one file as `run` would, without writing or decoding pixels. Never
    raises for a bad file."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = read_dataset(Input(source).data)
        except NotRegular as err:
            return Preview(str(source), "skipped", f"not read: {err.strerror}")
        except OSError as err:
            return Preview(str(source), "failed", f"cannot read: {os_reason(err)}")
        except Exception as err:
            return Preview(str(source), "failed", reason_for(err))
        trace: list[Decision] = []
        try:
            outcome = engine_for(plan).apply(ds, Key.of(key), trace=trace)
        except Rejected as err:
            return Preview(str(source), "rejected", err.message)
        except Exception as err:
            return Preview(str(source), "failed", reason_for(err), trace)
        return Preview(str(source), "written", "", trace, outcome.pixel_rules, outcome.notes)


def state_folder(outdir: str | Path) -> Path:
    """The default state folder of a run into ``outdir``: beside it, ``<outdir>.deidlang``."""
    out = Path(outdir).resolve()
    return out.with_name(out.name + ".deidlang")


def run(plan: Plan, inputs: Iterable[str | Path], outdir: str | Path, key: Key | bytes, workers: int = 1,
        on_result: Callable[[FileResult], None] | None = None, map_path: str | Path | None = None, *,
        resume: bool = False, quarantine: str | Path | None = None, report_path: str | Path | None = None,
        engine: str = "local", scheduler: str | None = None, layout: str = "uid",
        state: str | Path | None = None, verify_pixels: bool = False, private: bool = False) -> Summary:
    """De-identify every file under ``inputs`` into ``outdir`` with ``workers`` processes.

    ``layout``: ``uid`` names outputs by their new UIDs, ``mirror`` mirrors the input folders.
    ``state``: the folder for the journal and temporary files (default: `state_folder`).
    ``map_path``: record keyed pairs there (needs a persistent key). ``resume``: skip inputs the
    journal says are finished and whose outputs are still the files it recorded (needs a site key).
    ``quarantine``: copy each rejected or failed input there, beside a ``.reason.txt``.
    ``report_path``: one JSON line per input. ``engine="dask"``: run the files on the Dask cluster at
    ``scheduler`` (a LocalCluster of ``workers`` processes when None). ``verify_pixels``: see
    `deidentify_file`. ``private``: outputs readable by their owner only (0600) whatever the umask;
    otherwise they are created as `cp` creates files. Quarantine copies are always owner-only.

    Raises `InputError` for what makes the run impossible before it starts (missing input, an
    output overlapping an input, an output folder that cannot be written, resume without a key).
    """
    key = Key.of(key)
    if layout not in LAYOUTS:
        raise InputError(f"unknown layout `{layout}`", None, "use uid or mirror")
    require_site_key(key, map_path, resume)
    inputs = [Path(p) for p in inputs]
    out = Path(outdir).resolve()
    state_dir = Path(state).resolve() if state is not None else state_folder(out)
    places = {"output folder": out, "state folder": state_dir}
    if quarantine is not None:
        places["quarantine folder"] = Path(quarantine).resolve()
    if report_path is not None:
        places["report"] = Path(report_path).resolve()
    if map_path is not None:
        places["map"] = Path(map_path).resolve()
    _check_apart(inputs, places)
    for what, place in places.items():
        if what != "output folder" and _inside(place, out):
            raise InputError(f"the {what} `{place}` is inside the output folder", None,
                             "the output folder holds de-identified DICOM only: put it beside")
    lock = _prepare(out, state_dir)
    engine_for(plan)  # the engine (and the plan's hash) made once, here: forked workers inherit it
    target = Target(str(out), str(state_dir / "tmp"), layout, PRIVATE_MODE if private else SHARED_MODE)
    store = PseudonymMap(map_path, key, create=True) if map_path is not None else None
    journal = Journal(state_dir / "journal.sqlite")
    tree = OutputTree(out)
    report_file = open(report_path, "w", encoding="utf-8") if report_path else None
    summary = Summary()
    claimed: set[tuple[str, ...]] = set()  # mirrored names, so that two inputs never share one

    def todo() -> Iterator[tuple[Path, tuple[str, ...]]]:
        for root, source in discover(inputs):
            relative = mirrored(root, source)
            if source.is_symlink() and any(_inside(source.resolve(), p) for p in places.values()):
                done(FileResult(str(source), "skipped", reason="not read: a link into a folder this run writes"),
                     relative)
                continue
            if layout == "mirror":
                if relative in claimed:
                    done(FileResult(str(source), "failed", reason="another input is also written to "
                                                                  f"`{os.path.join(*relative)}`"), relative)
                    continue
                claimed.add(relative)
            if resume and _finished(journal, tree, source, plan.plan_hash):
                done(FileResult(str(source), "skipped", reason=FINISHED), relative)
                continue
            yield source, relative

    def done(result: FileResult, relative: tuple[str, ...]) -> None:
        summary.add(result)
        try:
            if result.status != "skipped":
                output = os.path.relpath(result.output, out) if result.output else None
                journal.record(result.source, result.version, result.status, output, result.written, plan.plan_hash)
            if report_file is not None:
                report_file.write(json.dumps({"source": result.source, "outcome": result.status,
                                              "output": result.output, "engine": result.engine,
                                              "fallback": result.fallback, "reason": result.reason}) + "\n")
        except Exception as err:  # a full disk: the run goes on, and says so at the end
            summary.trouble = summary.trouble or f"the journal or report could not be written: {reason_for(err)}"
        if quarantine is not None and result.status in ("failed", "rejected"):
            _quarantine(Path(result.source), Path(quarantine).joinpath(*relative), result.reason)
        if on_result:
            on_result(result)

    def lost(job: tuple[Path, tuple[str, ...]], why: str) -> None:
        done(FileResult(str(job[0]), "failed", reason=why), job[1])

    try:
        if engine == "dask":
            from .cluster import run_dask  # only a Dask run loads the Dask back end

            run_dask(plan, key, map_path, workers, scheduler, target, todo(), done, verify_pixels)
        elif workers <= 1:
            for source, relative in todo():
                done(process(source, _placer(target, relative), plan, key, store, verify_pixels=verify_pixels),
                     relative)
        else:
            pool = Pool(workers, _init_worker, (plan, key, map_path, target, verify_pixels), _work)
            pool.run(todo(), lambda result, job: done(result, job[1]), lost)
    finally:
        for resource in (store, journal, report_file, tree):
            if resource is not None:
                try:
                    resource.close()
                except Exception as err:
                    summary.trouble = summary.trouble or f"the journal could not be closed: {reason_for(err)}"
        _TREES.pop(target, None)
        os.close(lock)
    return summary


def _prepare(out: Path, state: Path) -> int:
    """Make the output and state folders, check that both can be written, take the state folder's
    lock and clear what killed runs left in it. A folder that cannot be used is an `InputError`."""
    for what, folder in (("output folder", out), ("state folder", state)):
        if os.path.lexists(folder) and not folder.is_dir():
            raise InputError(f"the {what} `{folder}` is an existing file, not a folder", None,
                             "give the name of a folder (it is made if it does not exist)")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / f".deidlang-probe-{os.getpid()}"
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
            probe.unlink()
        except OSError as err:
            raise InputError(f"the {what} `{folder}` cannot be written: {os_reason(err)}") from None
    os.chmod(state, 0o700)
    lock = os.open(state / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a POSIX lock: forked workers do not hold it
    except OSError:
        os.close(lock)
        raise InputError(f"another run is using the state folder `{state}`", None,
                         "wait for it to finish, or give this run another output folder") from None
    remove_temporaries(state / "tmp")
    return lock


def _finished(journal: Journal, tree: OutputTree, source: Path, plan_hash: str) -> bool:
    """Whether the journal says this input, unchanged, was finished with this plan, and its output
    is still the file it recorded. When it is not, an output recorded for it is removed (it is
    made again)."""
    row = journal.entry(source)
    if row is None:
        return False
    try:
        info = source.stat()
    except OSError:
        return False
    status, output, written = row["status"], row["output"], row["written"]
    if row["plan_hash"] == plan_hash and row["version"] == (info.st_size, info.st_mtime_ns):
        if status == "rejected":
            return True
        if status == "written" and output and written and tree.matches(Path(output).parts, *written):
            return True
    if output:
        try:
            tree.remove(Path(output).parts)
        except OSError:
            pass
    return False


def quarantine_dataset(ds, folder: Path, reason: str) -> None:
    """A received instance (the node's input) kept as it came, under a name that says nothing about
    it, beside its reason."""
    name = f"received-{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(4)}.dcm"
    try:
        write_atomically(lambda f: ds.save_as(f, enforce_file_format=False), folder / name)
        (folder / f"{name}.reason.txt").write_text(reason + "\n", encoding="utf-8")
    except Exception:
        pass  # the failure is answered and counted already


def _quarantine(source: Path, target: Path, reason: str) -> None:
    """A copy of the input (never moved: the input is not modified), private to its owner, and its
    reason, which holds no PHI. A file that could not be read gets its reason only."""
    try:
        data = Input(source).data
    except OSError:
        data = None
    try:
        if data is not None:
            write_file([data], target, PRIVATE_MODE)
        write_file([(reason + "\n").encode()], target.with_name(target.name + ".reason.txt"), PRIVATE_MODE)
    except OSError:
        pass  # the failure itself is already reported


_WORKER: tuple[Plan, Key, PseudonymMap | None, Target, bool] | None = None




def quiet_pydicom() -> None:
    """pydicom logs warnings that can quote element values; they must never reach a log."""
    logger = logging.getLogger("pydicom")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False


def _init_worker(plan: Plan, key: Key, map_path: str | Path | None, target: Target, verify_pixels: bool) -> None:
    global _WORKER
    quiet_pydicom()
    _TREES.clear()  # the main process's descriptors are not this worker's to use
    store = PseudonymMap(map_path, key) if map_path is not None else None
    _WORKER = (plan, key, store, target, verify_pixels)


def _work(job: tuple[Path, tuple[str, ...]]) -> FileResult:
    assert _WORKER is not None
    plan, key, store, target, verify_pixels = _WORKER
    return process(job[0], _placer(target, job[1]), plan, key, store, verify_pixels=verify_pixels)
