"""Layer 6: files and folders in, de-identified files out.

Folders are walked recursively and mirrored under the output folder; a file given by name lands at
the top of it. Each output is written to a temporary name beside its final one and renamed when
complete, so no partial file ever carries a final name. A file that cannot be read, is rejected or
fails is reported with its path and a reason, and nothing is written for it. Reasons never contain
DICOM values.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import secrets
import shutil
import stat
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from pydicom import dcmread
from pydicom.errors import InvalidDicomError
from pydicom.filewriter import dcmwrite

from .engine import Decision, Key, engine_for, identifying, pixels, stream, structure
from .errors import EngineError, InputError, Rejected
from .fileio import Input, write_atomically, write_parts_atomically
from .journal import Journal
from .plan import Plan
from .store import PseudonymMap


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


@dataclass
class Summary:
    written: int = 0
    failed: int = 0
    rejected: int = 0
    skipped: int = 0
    fast: int = 0  # files the streaming fast path took
    reference: int = 0  # files the reference engine took (fallbacks included)
    failures: list[FileResult] = field(default_factory=list)

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
        if len(value.encode()) < 16:
            raise InputError(f"{KEY_ENV} holds fewer than 16 bytes", None, "use a long random key")
        return Key(value.encode())
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
    return Key(key)


def discover(inputs: Iterable[str | Path]) -> Iterator[tuple[Path, Path]]:
    """(input root, file) for every file under the inputs, in a stable order; a file given by name
    is its own root. Raises `InputError` for a missing input."""
    roots = [Path(p) for p in inputs]
    for root in roots:
        if not root.exists():
            raise InputError(f"no such file or folder `{root}`")
    for root in roots:
        if root.is_file():
            yield root, root
            continue
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            for name in sorted(files):
                yield root, Path(folder) / name


def plan_outputs(inputs: Iterable[str | Path], outdir: str | Path) -> Iterator[tuple[Path, Path]]:
    """(source, destination) for every file under the inputs: folders are mirrored under ``outdir``,
    files land at its top. Raises `InputError` at once (not when iterated) for a missing input or an
    output folder inside an input folder."""
    out = Path(outdir).resolve()
    roots = [Path(p) for p in inputs]
    for root in roots:
        if not root.exists():
            raise InputError(f"no such file or folder `{root}`")
        if root.is_dir() and (out == root.resolve() or root.resolve() in out.parents):
            raise InputError(f"the output folder `{outdir}` is inside the input `{root}`", None,
                             "choose an output folder outside every input, the input is never written to")
    return ((source, out / (source.name if root == source else source.relative_to(root)))
            for root, source in discover(roots))


def deidentify_file(source: str | Path, destination: str | Path, plan: Plan, key: Key | bytes,
                    store: PseudonymMap | None = None, engine: str = "auto", verify_pixels: bool = False) -> FileResult:
    """Read one file, de-identify it with the plan, record its keyed pairs in ``store`` if given, and
    write it atomically. Never raises for bad input: the result says what happened.

    ``engine``: ``auto`` takes the streaming fast path and falls back to the reference engine for
    what it does not support; ``reference`` always uses the reference engine. ``verify_pixels``: a
    file whose pixels a rule changed is read back by OCR before it is written, and fails if text
    repeating a removed or changed value is still read.
    """
    source, destination = Path(source), Path(destination)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom's warnings can quote values: they must not reach a log
        fallback = "asked for" if engine == "reference" else ""
        if not fallback:
            try:
                data = Input(source)
            except OSError as err:
                return FileResult(str(source), "failed", reason=f"cannot read: {err.strerror}")
            with data:
                result = None
                try:
                    parts, outcome = stream.rewrite_parts(data.data, plan, key)
                except stream.Unsupported as why:
                    fallback = str(why)
                except Rejected as err:
                    result = FileResult(str(source), "rejected", reason=err.message, engine="fast")
                except EngineError as err:
                    result = FileResult(str(source), "failed", reason=err.message, engine="fast")
                except Exception as err:  # fail closed
                    result = FileResult(str(source), "failed",
                                        reason=f"internal error while de-identifying: {_safe(err)}", engine="fast")
                else:
                    result = _finish(source, destination, outcome,
                                     lambda: write_parts_atomically(parts, data, destination), store, "fast", "")
                if result is not None:
                    result.version = data.version
                    return result
        try:
            info = source.stat()  # before reading: a change made while it is read is seen on resume
        except OSError:
            info = None
        result = _deidentify(source, destination, plan, Key.of(key), store, fallback, verify_pixels)
        if info is not None:
            result.version = (info.st_size, info.st_mtime_ns)
        return result


@dataclass
class Preview:
    """What a run would do to one file (a dry run): nothing is written, no value is shown."""

    source: str
    status: str  # written | rejected | failed
    reason: str = ""
    decisions: list[Decision] = field(default_factory=list)
    pixel_rules: list = field(default_factory=list)


def preview(source: str | Path, plan: Plan, key: Key | bytes) -> Preview:
    """Decide every element of one file as `run` would, without writing or decoding pixels."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = _read(Path(source))
        except (InputError, EngineError) as err:
            return Preview(str(source), "failed", err.message)
        except Exception as err:
            return Preview(str(source), "failed", f"cannot read: {_safe(err)}")
        trace: list[Decision] = []
        try:
            outcome = engine_for(plan).apply(ds, Key.of(key), trace=trace)
        except Rejected as err:
            return Preview(str(source), "rejected", err.message)
        except EngineError as err:
            return Preview(str(source), "failed", err.message, trace)
        return Preview(str(source), "written", "", trace, outcome.pixel_rules)


def _read(source: Path):
    """Part 10 files, and also datasets written without the 128-byte preamble or file meta, as long
    as they parse into an instance (SOP Class and Instance UIDs); anything else is refused. Only a
    well-formed file is parsed (`structure.check`): pydicom is lenient, and no lenient reading of a
    damaged file may be written."""
    data = source.read_bytes()
    structure.check(data)
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


def _deidentify(source: Path, destination: Path, plan: Plan, key: Key, store: PseudonymMap | None,
                fallback: str, verify_pixels: bool = False) -> FileResult:
    """The reference engine: read with pydicom, apply, write."""
    try:
        ds = _read(source)
    except (InputError, EngineError) as err:
        return FileResult(str(source), "failed", reason=err.message, engine="reference", fallback=fallback)
    except Exception as err:  # pydicom raises many types for damaged files
        return FileResult(str(source), "failed", reason=f"cannot read: {_safe(err)}", engine="reference",
                          fallback=fallback)
    try:
        outcome = engine_for(plan).apply(ds, key)
    except Rejected as err:
        return FileResult(str(source), "rejected", reason=err.message, engine="reference", fallback=fallback)
    except EngineError as err:
        return FileResult(str(source), "failed", reason=err.message, engine="reference", fallback=fallback)
    except Exception as err:  # fail closed: whatever went wrong, nothing is written
        return FileResult(str(source), "failed", reason=f"internal error while de-identifying: {_safe(err)}",
                          engine="reference", fallback=fallback)
    if verify_pixels and outcome.pixel_rules:
        buffer = io.BytesIO()
        dcmwrite(buffer, outcome.dataset, enforce_file_format=True)
        written = buffer.getvalue()
        try:
            still = pixels.verify(dcmread(io.BytesIO(written)), identifying.removed_or_changed(ds, outcome.dataset))
        except EngineError as err:
            return FileResult(str(source), "failed", reason=f"--verify-pixels: {err.message}", engine="reference",
                              fallback=fallback)
        if still:
            return FileResult(str(source), "failed", engine="reference", fallback=fallback,
                              reason=f"--verify-pixels: OCR still reads text repeating {', '.join(still)} in the "
                                     "redacted pixels: not written")
        return _finish(source, destination, outcome, lambda: write_atomically(lambda f: f.write(written), destination),
                       store, "reference", fallback)
    return _finish(source, destination, outcome,
                   lambda: write_atomically(lambda f: dcmwrite(f, outcome.dataset, enforce_file_format=True),
                                            destination), store, "reference", fallback)


def _finish(source: Path, destination: Path, outcome, save: Callable[[], None], store: PseudonymMap | None,
            engine: str, fallback: str) -> FileResult:
    """Record the keyed pairs, then ``save`` the output (atomically)."""
    try:
        if store is not None:  # before the write: no output ever exists without its pairs
            store.record(outcome.pairs)
    except Exception as err:
        return FileResult(str(source), "failed", reason=f"cannot record pseudonyms in the map: {_safe(err)}",
                          engine=engine, fallback=fallback)
    try:
        save()
    except Exception as err:
        return FileResult(str(source), "failed", reason=f"cannot write the output: {_safe(err)}", engine=engine,
                          fallback=fallback)
    return FileResult(str(source), "written", str(destination), notes=outcome.notes, engine=engine, fallback=fallback)


def _safe(err: BaseException) -> str:
    """An exception as type and message with anything quoted cut out, so values cannot leak."""
    text = str(err).splitlines()[0] if str(err) else ""
    text = re.sub(r"(['\"]).*?\1|b'.*?'", "…", text)[:160]
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def run(plan: Plan, inputs: Iterable[str | Path], outdir: str | Path, key: Key | bytes, workers: int = 1,
        on_result: Callable[[FileResult], None] | None = None, map_path: str | Path | None = None, *,
        resume: bool = False, quarantine: str | Path | None = None, report_path: str | Path | None = None,
        engine: str = "local", scheduler: str | None = None, verify_pixels: bool = False) -> Summary:
    """De-identify every file under ``inputs`` into ``outdir`` with ``workers`` processes.

    ``map_path``: record keyed pairs there (needs a persistent key). ``resume``: skip inputs the
    journal says are finished. ``quarantine``: copy each rejected or failed input there, beside a
    ``.reason.txt``. ``report_path``: one JSON line per input. ``engine="dask"``: run the files on the
    Dask cluster at ``scheduler`` (a LocalCluster of ``workers`` processes when None).
    ``verify_pixels``: see `deidentify_file`.
    """
    key = Key.of(key)
    if map_path is not None and not key.persistent:
        raise InputError("a map needs a site key (--key-file or DEIDLANG_KEY)", None,
                         "without one the run is anonymisation: there is nothing to map back")
    inputs = [Path(p) for p in inputs]
    out = Path(outdir).resolve()
    jobs = plan_outputs(inputs, out)
    engine_for(plan)  # the engine (and the plan's hash) made once, here: forked workers inherit it
    store = PseudonymMap(map_path, key, create=True) if map_path is not None else None
    journal = Journal(out)
    report_file = open(report_path, "w", encoding="utf-8") if report_path else None
    summary = Summary()
    claimed: set[Path] = set()  # only needed when several inputs could write to one place

    def todo() -> Iterator[tuple[Path, Path]]:
        for source, dest in jobs:
            if len(inputs) > 1:
                if dest in claimed:
                    done(FileResult(str(source), "failed", reason=f"another input is also written to `{dest}`"), dest)
                    continue
                claimed.add(dest)
            if resume and journal.finished(source, plan.plan_hash):
                done(FileResult(str(source), "skipped", reason="finished by an earlier run"), dest)
                continue
            yield source, dest

    def done(result: FileResult, dest: Path) -> None:
        summary.add(result)
        if result.status != "skipped":
            journal.record(result.source, result.version, result.status, result.output, plan.plan_hash)
        if quarantine is not None and result.status in ("failed", "rejected"):
            _quarantine(Path(result.source), Path(quarantine) / dest.relative_to(out), result.reason)
        if report_file is not None:
            report_file.write(json.dumps({"source": result.source, "outcome": result.status, "output": result.output,
                                          "engine": result.engine, "fallback": result.fallback,
                                          "reason": result.reason}) + "\n")
        if on_result:
            on_result(result)

    try:
        if engine == "dask":
            _run_dask(plan, key, map_path, workers, scheduler, todo(), done, verify_pixels)
        elif workers <= 1:
            for source, dest in todo():
                done(deidentify_file(source, dest, plan, key, store, verify_pixels=verify_pixels), dest)
        else:
            _run_pool(plan, key, map_path, workers, todo(), done, verify_pixels)
    finally:
        for resource in (store, journal, report_file):
            if resource is not None:
                resource.close()
    return summary


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
    """A copy of the input (never moved: the input is not modified) and its reason, which holds no PHI."""
    try:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(source, "rb") as src, _private_file(target) as dst:  # mode 0600: it holds raw PHI
            shutil.copyfileobj(src, dst)
        with _private_file(target.with_name(target.name + ".reason.txt")) as dst:
            dst.write((reason + "\n").encode("utf-8"))
    except OSError:
        pass  # the failure itself is already reported


def _private_file(path: Path):
    """A file opened for writing that only its owner can read, whatever the umask or an old copy's mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    return open(fd, "wb")


def _run_pool(plan: Plan, key: Key, map_path, workers: int, jobs: Iterator[tuple[Path, Path]],
              done: Callable[[FileResult, Path], None], verify_pixels: bool = False) -> None:
    """Files go to the workers in batches, so that a small file does not pay for a round trip of its
    own; at most a bounded window of batches is in flight, so memory stays flat however many files."""
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(plan, key, map_path, verify_pixels)) as pool:
        pending: dict[Future, list[tuple[Path, Path]]] = {}

        def collect(futures) -> None:
            for fut in futures:
                for result, (_, dest) in zip(fut.result(), pending.pop(fut)):
                    done(result, dest)

        for batch in _batches(jobs):
            pending[pool.submit(_work, batch)] = batch
            if len(pending) >= workers * 4:
                collect(wait(pending, return_when=FIRST_COMPLETED)[0])
        collect(list(pending))


def _batches(jobs: Iterator[tuple[Path, Path]], largest: int = 32) -> Iterator[list[tuple[Path, Path]]]:
    """Batches that grow from one file to ``largest``: a short run is spread over every worker at
    once, a long one pays little per file."""
    size, batch = 1, []
    for job in jobs:
        batch.append(job)
        if len(batch) >= size:
            yield batch
            size, batch = min(size * 2, largest), []
    if batch:
        yield batch


def _run_dask(plan: Plan, key: Key, map_path, workers: int, scheduler: str | None,
              jobs: Iterator[tuple[Path, Path]], done: Callable[[FileResult, Path], None],
              verify_pixels: bool = False) -> None:
    """The same work on a Dask distributed cluster: each task de-identifies one file, paths as the
    workers see them (a shared filesystem). At most a bounded window of tasks is in flight."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise InputError("--engine dask needs Dask: pip install 'deidlang[dask]'") from None
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=max(workers, 1), threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None)
    try:
        with Client(scheduler or cluster) as client:
            plan_data = client.scatter(plan.to_dict(), broadcast=True)
            window = as_completed()
            pending: dict = {}
            for source, dest in jobs:
                fut = client.submit(_dask_work, str(source), str(dest), plan.plan_hash, plan_data, key, map_path,
                                    verify_pixels, pure=False)
                pending[fut.key] = dest
                window.add(fut)
                if window.count() >= max(workers, 1) * 8:
                    fut = next(window)
                    done(fut.result(), pending.pop(fut.key))
            for fut in window:
                done(fut.result(), pending.pop(fut.key))
    finally:
        if cluster is not None:
            cluster.close()


def _dask_work(source: str, dest: str, plan_hash: str, plan_data: dict, key: Key, map_path,
               verify_pixels: bool = False) -> FileResult:
    """One file on a Dask worker; the plan is rebuilt once per worker process (by its hash) and kept."""
    plan = _DASK_PLANS.get(plan_hash)
    if plan is None:
        quiet_pydicom()
        plan = _DASK_PLANS[plan_hash] = Plan.from_dict(plan_data)
    store = PseudonymMap(map_path, key) if map_path is not None else None
    try:
        return deidentify_file(source, dest, plan, key, store, verify_pixels=verify_pixels)
    finally:
        if store is not None:
            store.close()


_DASK_PLANS: dict[str, Plan] = {}
_WORKER: tuple[Plan, Key, PseudonymMap | None, bool] | None = None


def quiet_pydicom() -> None:
    """pydicom logs warnings that can quote element values; they must never reach a log."""
    logger = logging.getLogger("pydicom")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False


def _init_worker(plan: Plan, key: Key, map_path: str | Path | None, verify_pixels: bool = False) -> None:
    global _WORKER
    quiet_pydicom()
    store = PseudonymMap(map_path, key) if map_path is not None else None
    _WORKER = (plan, key, store, verify_pixels)


def _work(batch: list[tuple[Path, Path]]) -> list[FileResult]:
    assert _WORKER is not None
    plan, key, store, verify_pixels = _WORKER
    return [deidentify_file(source, dest, plan, key, store, verify_pixels=verify_pixels) for source, dest in batch]
