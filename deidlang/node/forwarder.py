"""The outbox and its sender: acknowledged instances wait here until the destination has them.

The sender never dies and never stalls on one instance:
- destination unreachable → the batch waits, retried with a backoff that doubles up to a bound;
  one log line when the state changes (reachable → unreachable → reachable), not one per retry;
- an instance refused (failure status, no acceptable context, unreadable) → retried on the next
  passes, and after ``tries`` refusals moved to the dead-letter folder with a PHI-free reason; the
  queue moves on;
- any other error is logged by its type and the pass starts again; a watchdog restarts the thread
  if it ends all the same.
`health` is what the status file shows; `stalled_for` is how long the node has been unable to
forward while instances wait, which the service turns into an exit when it passes a limit.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from pydicom import dcmread

from .delivery import Item, Result, Unreachable

BATCH = 64  # instances read and sent per pass


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


class Outbox:
    """Pending instances as files, oldest first; refused ones end in ``dead-letter/`` with a reason."""

    def __init__(self, folder: Path, dead_letter: Path | None = None) -> None:
        self.folder = folder
        self.dead_letter = dead_letter or folder / "dead-letter"

    def create(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.dead_letter.mkdir(parents=True, exist_ok=True)

    def pending(self) -> list[tuple[int, Path]]:
        """(modification time in ns, path) of every waiting instance, oldest first."""
        found = []
        with os.scandir(self.folder) as entries:
            for entry in entries:
                if entry.name.endswith(".dcm") and entry.is_file(follow_symlinks=False):
                    try:
                        found.append((entry.stat(follow_symlinks=False).st_mtime_ns, Path(entry.path)))
                    except FileNotFoundError:
                        continue
        return sorted(found)

    def to_dead_letter(self, path: Path, reason: str) -> None:
        os.replace(path, self.dead_letter / path.name)
        (self.dead_letter / f"{path.name}.reason.txt").write_text(reason + "\n", encoding="utf-8")


class Forwarder:
    def __init__(self, outbox: Outbox, delivery, *, log: Callable[[str], None], report: Callable[[dict], None],
                 tries: int = 3,
                 retry_seconds: float = 2.0, max_backoff: float = 60.0, describe: str = "") -> None:
        self.outbox, self.delivery = outbox, delivery
        self.log, self.report = log, report
        self.tries, self.retry_seconds, self.max_backoff = tries, retry_seconds, max_backoff
        self.describe = describe
        self.refusals: dict[str, tuple[int, float]] = {}  # outbox name: (refusals, not to be retried before)
        self.delivered = self.dead_lettered = 0
        self.reachable: bool | None = None
        self.last_success: float | None = None
        self.last_error: tuple[float, str] | None = None
        self.waiting_since: float | None = None  # when instances started waiting with no delivery since
        self._queue: tuple[int, float | None] = (0, None)
        self._stop = threading.Event()
        self._busy: Callable[[], bool] = lambda: False
        self._thread: threading.Thread | None = None
        self._watchdog: threading.Thread | None = None
        self.restarts = 0

    # ------------------------------------------------------------ lifecycle

    def start(self, busy: Callable[[], bool]) -> None:
        """Start the sender and its watchdog; ``busy`` says whether instances are still arriving."""
        self._busy = busy
        self._thread = self._spawn()
        self._watchdog = threading.Thread(target=self._watch, name="deidlang-watchdog", daemon=True)
        self._watchdog.start()

    def stop(self, timeout: float) -> None:
        self._stop.set()
        for thread in (self._watchdog, self._thread):
            if thread is not None:
                thread.join(timeout=max(timeout, 1))

    def _spawn(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name="deidlang-forward", daemon=True)
        thread.start()
        return thread

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            if self._thread is not None and not self._thread.is_alive() and not self._stop.is_set():
                self.restarts += 1
                self.log("the forward sender stopped unexpectedly; restarted by the watchdog")
                self._thread = self._spawn()

    def _run(self) -> None:
        backoff = self.retry_seconds
        while not self._stop.is_set() or self._busy():
            try:
                pending = self.outbox.pending()
                now = time.time()
                self._queue = (len(pending), pending[0][0] / 1e9 if pending else None)
                if not pending:
                    self.waiting_since = None
                    self._stop.wait(0.2)
                    continue
                if self.waiting_since is None:
                    self.waiting_since = now
                due = [path for _, path in pending if self.refusals.get(path.name, (0, 0.0))[1] <= now]
                if not due:
                    self._stop.wait(0.2)
                    continue
                self._pass(due[:BATCH])
                self._state(True, "")
                backoff = self.retry_seconds
            except Unreachable as err:
                self._error(err.reason)
                self._state(False, err.reason)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)
            except Exception as err:  # a bug or an OS error: logged by kind, the pass starts again
                self._error(f"forwarding error ({type(err).__name__})")
                self.log(f"forwarding error ({type(err).__name__}); retrying")
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)

    def _pass(self, paths: list[Path]) -> None:
        items = []
        for path in paths:
            try:
                items.append(Item(path, dcmread(path)))
            except FileNotFoundError:
                continue
            except Exception:
                self._refused(path, None, Result(False, "", "the outbox file cannot be read"), final=True)
        stopping = lambda: self._stop.is_set() and not self._busy()  # noqa: E731
        for item, result in self.delivery.send(items, stopping):
            if result.delivered:
                item.path.unlink(missing_ok=True)
                self.refusals.pop(item.path.name, None)
                self.delivered += 1
                self.last_success = time.time()
                self.report(_line(item, "delivered", result))
            else:
                self._refused(item.path, item, result)

    def _refused(self, path: Path, item: Item | None, result: Result, final: bool = False) -> None:
        count = self.refusals.get(path.name, (0, 0.0))[0] + 1
        self.refusals[path.name] = (count, time.time() + self.retry_seconds * 2 ** (count - 1))
        self._error(result.reason)
        if final or count >= self.tries:
            self.refusals.pop(path.name, None)
            self.outbox.to_dead_letter(path, f"{result.reason} ({count} attempt{'s' if count > 1 else ''})")
            self.dead_lettered += 1
            self.log(f"an instance moved to the dead-letter folder: {result.reason}")
            self.report(_line(item, "dead-lettered", result))

    def _error(self, reason: str) -> None:
        self.last_error = (time.time(), reason)

    def _state(self, reachable: bool, reason: str) -> None:
        if reachable == self.reachable:
            return
        if reachable and self.reachable is not None:
            self.log(f"forward destination {self.describe} reachable again")
        elif not reachable:
            self.log(f"forward destination {self.describe} not reachable ({reason}): "
                     f"{self._queue[0]} waiting in the outbox, retrying with backoff")
        self.reachable = reachable

    # ------------------------------------------------------------ health

    def stalled_for(self) -> float:
        """Seconds during which instances have waited without any delivery (0 when none wait)."""
        if self.waiting_since is None:
            return 0.0
        return time.time() - max(self.waiting_since, self.last_success or 0)

    def health(self) -> dict:
        queued, oldest = self._queue
        return {"destination": self.describe, "reachable": self.reachable, "queue": queued,
                "oldest_age_seconds": round(time.time() - oldest, 1) if oldest else 0,
                "delivered": self.delivered, "dead_lettered": self.dead_lettered,
                "last_success": _iso(self.last_success),
                "last_error": {"time": _iso(self.last_error[0]), "reason": self.last_error[1]}
                if self.last_error else None,
                "sender_alive": bool(self._thread and self._thread.is_alive()), "sender_restarts": self.restarts}


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _line(item: Item | None, outcome: str, result: Result) -> dict:
    """A report line for a forwarding outcome, made of de-identified UIDs and our own words."""
    ds = item.dataset if item is not None else None
    return {"time": utc_now(), "outcome": outcome,
            "study": str(ds.get("StudyInstanceUID", "")) if ds is not None else None,
            "series": str(ds.get("SeriesInstanceUID", "")) if ds is not None else None,
            "sop": str(ds.get("SOPInstanceUID", "")) if ds is not None else None,
            "destination_status": result.status or None, "reason": result.reason or None}
