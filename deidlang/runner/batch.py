"""`run`: every file under the inputs into the output folder, on this process, a pool of worker
processes (`deidlang.pool`), or a Dask cluster (`deidlang.cluster`); with a journal, a report, a
quarantine and a summary that are always kept, whatever happens to single files or workers."""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..engine import Key, engine_for
from ..errors import InputError
from ..fileio import PRIVATE_MODE, SHARED_MODE, OutputTree
from ..journal import Journal
from ..plan import Plan
from ..quiet import quiet, quiet_for_good
from ..store import PseudonymMap
from . import outputs
from .inputs import check_apart, files, inside
from .onefile import FileResult, process
from .outputs import LAYOUTS, Target, placer
from .quarantine import quarantine_input
from .reasons import quiet_pydicom, reason_for
from .sitekey import require_site_key
from .state import FINISHED, JOURNAL, finished, move_old_journal, old_journal, prepare, state_folder


@dataclass
class Summary:
    """What a run did: files by status and by engine, the failures, and any trouble keeping its records."""

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
    check_apart(inputs, places)
    for what, place in places.items():
        if what != "output folder" and inside(place, out):
            raise InputError(f"the {what} `{place}` is inside the output folder", None,
                             "the output folder holds de-identified DICOM only: put it beside")
    old = old_journal(out, state_dir, layout)
    lock = prepare(out, state_dir)
    if old is not None:
        try:
            move_old_journal(old, out, state_dir)
        except Exception:
            os.close(lock)
            raise
    engine_for(plan)  # the engine (and the plan's hash) made once, here: forked workers inherit it
    target = Target(str(out), str(state_dir / "tmp"), layout, PRIVATE_MODE if private else SHARED_MODE)
    store = PseudonymMap(map_path, key, create=True) if map_path is not None else None
    journal = Journal(state_dir / JOURNAL)
    tree = OutputTree(out)
    report_file = open(report_path, "w", encoding="utf-8") if report_path else None
    summary = Summary()
    claimed: set[tuple[str, ...]] = set()  # mirrored names, so that two inputs never share one
    prefix = os.path.join(out, "")

    def todo() -> Iterator[tuple[str, tuple[str, ...]]]:
        for _, source, relative, link in files(inputs):
            if link and any(inside(Path(source).resolve(), p) for p in places.values()):
                done(FileResult(source, "skipped", reason="not read: a link into a folder this run writes"),
                     relative)
                continue
            if layout == "mirror":
                if relative in claimed:
                    done(FileResult(source, "failed", reason="another input is also written to "
                                                                  f"`{os.path.join(*relative)}`"), relative)
                    continue
                claimed.add(relative)
            if resume and finished(journal, tree, source, plan.plan_hash):
                done(FileResult(source, "skipped", reason=FINISHED), relative)
                continue
            yield source, relative

    def done(result: FileResult, relative: tuple[str, ...]) -> None:
        summary.add(result)
        try:
            if result.status != "skipped":
                output = result.output
                if output is not None:  # made as os.path.join(out, ...) (`outputs.placer`): the names after it
                    output = output[len(prefix):] if output.startswith(prefix) else os.path.relpath(output, out)
                journal.record(result.source, result.version, result.status, output, result.written, plan.plan_hash)
            if report_file is not None:
                report_file.write(json.dumps({"source": result.source, "outcome": result.status,
                                              "output": result.output, "engine": result.engine,
                                              "fallback": result.fallback, "reason": result.reason}) + "\n")
        except Exception as err:  # a full disk: the run goes on, and says so at the end
            summary.trouble = summary.trouble or f"the journal or report could not be written: {reason_for(err)}"
        if quarantine is not None and result.status in ("failed", "rejected"):
            quarantine_input(Path(result.source), Path(quarantine).joinpath(*relative), result.reason)
        if on_result:
            on_result(result)

    def lost(job: tuple[str, tuple[str, ...]], why: str) -> None:
        done(FileResult(job[0], "failed", reason=why), job[1])

    try:
        jobs: Iterator[tuple[str, tuple[str, ...]]] = todo()
        if engine != "dask" and workers > 1:  # no more worker processes than files (one file: none)
            first = list(itertools.islice(jobs, workers))
            workers, jobs = len(first), itertools.chain(first, jobs)
        if engine == "dask":
            from ..cluster import run_dask  # only a Dask run loads the Dask back end

            run_dask(plan, key, map_path, workers, scheduler, target, jobs, done, verify_pixels)
        elif workers <= 1:
            with fewer_collections(), quiet():  # quiet once for the run, not per file
                for source, relative in jobs:
                    done(process(source, placer(target, relative), plan, key, store, verify_pixels=verify_pixels),
                         relative)
        else:
            from ..pool import Pool  # worker processes (multiprocessing, ctypes) only when there are several

            pool = Pool(workers, _init_worker, (plan, key, map_path, target, verify_pixels), _work)
            # through the pipes as plain strings and tuples: a Path or a dataclass costs several times more to pickle
            pool.run(jobs, lambda result, job: done(FileResult(*result), job[1]), lost)
    finally:
        for resource in (store, journal, report_file, tree):
            if resource is not None:
                try:
                    resource.close()
                except Exception as err:
                    summary.trouble = summary.trouble or f"the journal could not be closed: {reason_for(err)}"
        outputs.forget(target)
        os.close(lock)
    return summary


#: Allocations between collections of the youngest generation while files are de-identified (Python's
#: default is 700): a file makes thousands of short-lived tuples, none in a cycle that outlives it.
GC_THRESHOLD = (50_000, 20, 100)


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the block with the cyclic garbage collector run less often (`GC_THRESHOLD`), then restore
    it: per file it would otherwise cost about a tenth of the fast path's time."""
    before = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*before)


#: What a pool worker holds for the whole run: plan, key, its own map handle, target, verify_pixels.
_WORKER: tuple[Plan, Key, PseudonymMap | None, Target, bool] | None = None


def _init_worker(plan: Plan, key: Key, map_path: str | Path | None, target: Target, verify_pixels: bool) -> None:
    global _WORKER
    quiet_pydicom()
    quiet_for_good()  # the worker only de-identifies files
    gc.set_threshold(*GC_THRESHOLD)
    outputs.forget()  # the main process's descriptors are not this worker's to use
    store = PseudonymMap(map_path, key) if map_path is not None else None
    _WORKER = (plan, key, store, target, verify_pixels)


def _work(job: tuple[str, tuple[str, ...]]) -> tuple:
    """One file in a pool worker: its `FileResult`'s fields, in order."""
    assert _WORKER is not None
    plan, key, store, target, verify_pixels = _WORKER
    result = process(job[0], placer(target, job[1]), plan, key, store, verify_pixels=verify_pixels)
    return tuple(getattr(result, name) for name in _RESULT_FIELDS)


_RESULT_FIELDS = tuple(f.name for f in fields(FileResult))
