"""Layer 6: files and folders in, de-identified files out.

Folders are walked recursively and mirrored under the output folder; a file given by name lands at
the top of it. Each output is written to a temporary name beside its final one and renamed when
complete, so no partial file ever carries a final name. A file that cannot be read, is rejected or
fails is reported with its path and a reason, and nothing is written for it. Reasons never contain
DICOM values.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import stat
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from pydicom import dcmread
from pydicom.errors import InvalidDicomError
from pydicom.filewriter import dcmwrite

from .engine import engine_for
from .errors import EngineError, InputError, Rejected
from .plan import Plan


@dataclass
class FileResult:
    source: str
    status: str  # written | failed | rejected
    output: str | None = None
    reason: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class Summary:
    written: int = 0
    failed: int = 0
    rejected: int = 0
    failures: list[FileResult] = field(default_factory=list)

    def add(self, result: FileResult) -> None:
        setattr(self, result.status, getattr(self, result.status) + 1)
        if result.status != "written":
            self.failures.append(result)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.rejected


def load_key(path: str | Path | None) -> bytes:
    """The secret key from a key file, or a random per-run key (anonymisation) when none is given.

    A key file that group or others can read is refused: the key is what protects re-identification.
    """
    if path is None:
        return secrets.token_bytes(32)
    path = Path(path)
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read the key file `{path}`: {err.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InputError(f"the key file `{path}` can be read by other users", None,
                         f"make it private: chmod 600 {path}")
    key = data.strip()
    if len(key) < 16:
        raise InputError(f"the key file `{path}` holds fewer than 16 bytes", None, "use a long random key")
    return key


def plan_outputs(inputs: Iterable[str | Path], outdir: str | Path) -> Iterator[tuple[Path, Path]]:
    """(source, destination) for every file under the inputs, in a stable order.

    Raises `InputError` for a missing input or an output folder inside an input folder.
    """
    out = Path(outdir).resolve()
    roots = [Path(p) for p in inputs]
    for root in roots:
        if not root.exists():
            raise InputError(f"no such file or folder `{root}`")
        if root.is_dir() and (out == root.resolve() or root.resolve() in out.parents):
            raise InputError(f"the output folder `{outdir}` is inside the input `{root}`", None,
                             "choose an output folder outside every input, the input is never written to")
    for root in roots:
        if root.is_file():
            yield root, out / root.name
            continue
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            for name in sorted(files):
                source = Path(folder) / name
                yield source, out / source.relative_to(root)


def deidentify_file(source: str | Path, destination: str | Path, plan: Plan, key: bytes) -> FileResult:
    """Read one file, de-identify it with the plan, write it atomically. Never raises for bad input:
    the result says what happened."""
    source, destination = Path(source), Path(destination)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom's warnings can quote values: they must not reach a log
        return _deidentify(source, destination, plan, key)


def _read(source: Path):
    """Part 10 files, and also datasets written without the 128-byte preamble or file meta, as long
    as they parse into an instance (SOP Class and Instance UIDs); anything else is refused."""
    try:
        return dcmread(source)
    except InvalidDicomError:
        pass
    try:
        ds = dcmread(source, force=True)
        if ds.get("SOPClassUID") and ds.get("SOPInstanceUID"):
            return ds
    except Exception:
        pass
    raise InputError("not a DICOM file (no DICM prefix, and no SOP instance could be parsed)")


def _deidentify(source: Path, destination: Path, plan: Plan, key: bytes) -> FileResult:
    try:
        ds = _read(source)
    except InputError as err:
        return FileResult(str(source), "failed", reason=err.message)
    except Exception as err:  # pydicom raises many types for damaged files
        return FileResult(str(source), "failed", reason=f"cannot read: {_safe(err)}")
    try:
        outcome = engine_for(plan).apply(ds, key)
    except Rejected as err:
        return FileResult(str(source), "rejected", reason=err.message)
    except EngineError as err:
        return FileResult(str(source), "failed", reason=err.message)
    except Exception as err:  # fail closed: whatever went wrong, nothing is written
        return FileResult(str(source), "failed", reason=f"internal error while de-identifying: {_safe(err)}")
    try:
        _write_atomically(outcome.dataset, destination)
    except Exception as err:
        return FileResult(str(source), "failed", reason=f"cannot write the output: {_safe(err)}")
    return FileResult(str(source), "written", str(destination), notes=outcome.notes)


def _write_atomically(ds, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".deidlang-", suffix=".part", dir=destination.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            dcmwrite(f, ds, enforce_file_format=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, destination)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _safe(err: BaseException) -> str:
    """An exception as type and message with anything quoted cut out, so values cannot leak."""
    text = str(err).splitlines()[0] if str(err) else ""
    text = re.sub(r"(['\"]).*?\1|b'.*?'", "…", text)[:160]
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def run(plan: Plan, inputs: Iterable[str | Path], outdir: str | Path, key: bytes, workers: int = 1,
        on_result: Callable[[FileResult], None] | None = None) -> Summary:
    """De-identify every file under ``inputs`` into ``outdir`` with ``workers`` processes."""
    summary = Summary()
    jobs = plan_outputs(inputs, outdir)
    claimed: set[Path] = set()

    def unique(pairs: Iterator[tuple[Path, Path]]) -> Iterator[tuple[Path, Path]]:
        for source, dest in pairs:
            if dest in claimed:
                report(FileResult(str(source), "failed", reason=f"another input is also written to `{dest}`"))
                continue
            claimed.add(dest)
            yield source, dest

    def report(result: FileResult) -> None:
        summary.add(result)
        if on_result:
            on_result(result)

    if workers <= 1:
        for source, dest in unique(jobs):
            report(deidentify_file(source, dest, plan, key))
        return summary
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(plan.to_dict(), key)) as pool:
        pending: set[Future] = set()
        for source, dest in unique(jobs):
            pending.add(pool.submit(_work, source, dest))
            if len(pending) >= workers * 8:  # a bounded window: memory stays flat however many files
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    report(fut.result())
        for fut in pending:
            report(fut.result())
    return summary


_WORKER: tuple[Plan, bytes] | None = None


def quiet_pydicom() -> None:
    """pydicom logs warnings that can quote element values; they must never reach a log."""
    logger = logging.getLogger("pydicom")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False


def _init_worker(plan_data: dict, key: bytes) -> None:
    global _WORKER
    quiet_pydicom()
    _WORKER = (Plan.from_dict(plan_data), key)


def _work(source: Path, dest: Path) -> FileResult:
    assert _WORKER is not None
    return deidentify_file(source, dest, *_WORKER)
