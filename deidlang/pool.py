"""Worker processes whose death costs the files they held, never the run.

`concurrent.futures.ProcessPoolExecutor` breaks as a whole when one worker dies (as the kernel's
out-of-memory killer does it), failing every file in flight. Here each worker has a pipe of its own
and reports each file as it finishes, so the main process knows which files a dead worker still
held: the one it was working on is tried once more (alone, in a new worker) and failed with a reason
the second time; the ones it had not started yet are simply handed out again. A new worker takes
the dead one's place.

A worker answers once per batch (a wake-up of the main process and a message per file would cost
more than a small file's de-identification), and counts the jobs it starts in memory it shares with
the main process: so the main process still knows which job a dead worker was on. The jobs it had
finished but not yet answered are done again; their outputs are there already, with the same bytes,
which placing them again accepts. Workers are killed by the kernel when the main process dies (``kill -9``
included), so none is ever left behind.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

#: How many times a file is tried in a worker that then dies before it is failed.
TRIES = 2


def die_with_parent(parent: int) -> None:
    """Ask the kernel (Linux) to kill this process when its parent (``parent``, the pid it had before the
    fork) dies; exit now if it already has."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the pipe's end stops the worker instead
        pass
    if os.getppid() != parent:
        os._exit(1)


def _serve(conn: Connection, started, parent: int, others: list[int], initializer: Callable[..., None],
           initargs: tuple, work: Callable[[Any], Any]) -> None:
    die_with_parent(parent)
    for fd in others:  # the main process's ends of the other workers' pipes: held here, they would keep
        try:           # those workers waiting for input after the main process is gone
            os.close(fd)
        except OSError:
            pass
    initializer(*initargs)
    try:
        while (batch := conn.recv()) is not None:
            results = []
            for job in batch:
                started.value += 1  # before the job: a death now is this job's
                results.append(work(job))
            conn.send(results)
    except (EOFError, BrokenPipeError, KeyboardInterrupt):  # the main process is gone or stopping
        pass


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    #: how many jobs the worker has started, counted by the worker in shared memory
    started: Any
    held: deque = field(default_factory=deque)  # (job, tries) sent and not yet answered, in order
    answered: int = 0  # how many jobs the worker has answered


class Pool:
    """``workers`` processes, each running ``initializer(*initargs)`` once, then ``work(job)`` per job."""

    def __init__(self, workers: int, initializer: Callable[..., None], initargs: tuple,
                 work: Callable[[Any], Any]) -> None:
        self.context = multiprocessing.get_context("fork")  # workers share the compiled plan's pages
        self.args = (initializer, initargs, work)
        self.workers: list[_Worker] = []
        for _ in range(max(workers, 1)):
            self.workers.append(self._start())

    def _start(self) -> _Worker:
        mine, theirs = self.context.Pipe()
        started = self.context.RawValue("q", 0)
        others = [w.conn.fileno() for w in self.workers if not w.conn.closed]
        process = self.context.Process(target=_serve, args=(theirs, started, os.getpid(), others, *self.args),
                                       daemon=True)
        process.start()
        theirs.close()
        return _Worker(process, mine, started)

    def run(self, jobs: Iterator[Any], done: Callable[[Any, Any], None], lost: Callable[[Any, str], None]) -> None:
        """Every job through the workers; ``done(result, job)`` for each answer, ``lost(job, why)``
        for a job whose worker died each time it was tried. Batches grow from one job to 32, so a
        short run is spread over every worker at once and a long one pays little per job."""
        retry: deque = deque()  # (job, tries): jobs to hand out again, before new ones
        state = {"size": 1, "exhausted": False}
        try:
            while True:
                for i, worker in enumerate(self.workers):
                    if len(worker.held) <= state["size"] and not self._feed(worker, jobs, retry, state):
                        self.workers[i] = self._bury(worker, retry, lost)
                busy = [w for w in self.workers if w.held]
                if not busy:
                    return
                ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy]))
                for i, worker in enumerate(self.workers):
                    if (worker.conn in ready or worker.process.sentinel in ready) and not self._collect(worker, done):
                        self.workers[i] = self._bury(worker, retry, lost)
        finally:
            self.close()

    @staticmethod
    def _feed(worker: _Worker, jobs: Iterator[Any], retry: deque, state: dict) -> bool:
        """Send a worker its next batch (retried jobs first); False when it has died."""
        if retry:
            batch = [retry.popleft() for _ in range(min(len(retry), state["size"]))]
        elif state["exhausted"]:
            return True
        else:
            batch = [(job, 0) for job in _take(jobs, state["size"])]
            state["exhausted"] = len(batch) < state["size"]
            state["size"] = min(state["size"] * 2, 32)
            if not batch:
                return True
        try:
            worker.conn.send([job for job, _ in batch])
        except OSError:
            retry.extendleft(reversed(batch))
            return False
        worker.held.extend(batch)
        return True

    def _collect(self, worker: _Worker, done: Callable[[Any, Any], None]) -> bool:
        """Take what a worker has answered; False when it has died."""
        try:
            while worker.held and worker.conn.poll():
                results = worker.conn.recv()
                worker.answered += len(results)
                for result in results:
                    done(result, worker.held.popleft()[0])
        except (EOFError, OSError):
            return False
        return worker.process.is_alive()

    def _bury(self, worker: _Worker, retry: deque, lost: Callable[[Any, str], None]) -> _Worker:
        """A worker died: the job it was on is tried again or lost, the others handed out again."""
        worker.process.join()
        code = worker.process.exitcode
        why = (f"killed by {signal.Signals(-code).name}" if code is not None and code < 0 and -code in
               signal.valid_signals() else f"exited with status {code}")
        worker.conn.close()
        finished = worker.started.value - worker.answered - 1  # held jobs done but not answered
        if finished >= 0:  # the next one held is the job it died on
            retry.extend(worker.held.popleft() for _ in range(finished))
            job, tries = worker.held.popleft()
            if tries + 1 >= TRIES:
                lost(job, f"the worker process died while de-identifying it, {TRIES} times ({why}, for example "
                          "by the out-of-memory killer)")
            else:
                retry.append((job, tries + 1))
        retry.extend(worker.held)  # not started yet
        return self._start()

    def close(self) -> None:
        for worker in self.workers:
            try:
                worker.conn.send(None)
            except OSError:
                pass
        for worker in self.workers:
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()


def _take(jobs: Iterator[Any], n: int) -> list[Any]:
    out = []
    for job in jobs:
        out.append(job)
        if len(out) >= n:
            break
    return out
