"""A de-identifying DICOM node: a Storage SCP that applies the plan to every instance it receives,
then stores it or forwards it to another node (pynetdicom, the pydicom project's networking library).

- Callers: ``allow`` lists ``AE`` or ``AE@HOST``; an association from anyone else is rejected (an
  unknown AE title) or aborted (a known title from the wrong host) before any data is accepted.
- Each instance goes through the same engine as `deidlang run`; a rejected or failing instance is
  answered with a failure status (0xC000 with a PHI-free error comment) and copied to the quarantine
  with its reason; the node keeps running.
- Stored files are written atomically under ``STORE/<StudyInstanceUID>/<SeriesInstanceUID>/
  <SOPInstanceUID>.dcm`` (the de-identified UIDs). Forwarding goes through a persistent outbox folder:
  an instance is acknowledged once it is in the outbox, and a sender thread delivers the outbox with
  retries, so nothing is lost while the destination is down, nor across a restart.
- `stop` finishes the instances in flight, then stops. Log lines name associations, counts and
  outcomes, never a value.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset
from pynetdicom import AE, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import Verification

from .engine import Key, engine_for
from .errors import EngineError, InputError, Rejected
from .plan import Plan
from .fileio import write_atomically
from .runner import quarantine_dataset, quiet_pydicom
from .store import PseudonymMap

# Transfer syntaxes accepted: the native ones and the compressed ones the engine passes through.
TRANSFER_SYNTAXES = [
    "1.2.840.10008.1.2.1", "1.2.840.10008.1.2", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.5",
]
FAILURE = 0xC000
OUT_OF_RESOURCES = 0xA700


@dataclass(frozen=True)
class Destination:
    ae_title: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> "Destination":
        """``AE@HOST:PORT``."""
        try:
            ae_title, rest = text.split("@", 1)
            host, port = rest.rsplit(":", 1)
            return cls(ae_title, host, int(port))
        except ValueError:
            raise InputError(f"`{text}` is not AE@HOST:PORT") from None


@dataclass
class Counts:
    received: int = 0
    stored: int = 0
    queued: int = 0
    forwarded: int = 0
    rejected: int = 0
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, n: int = 1) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + n)


class Node:
    def __init__(self, plan: Plan, key: Key, *, ae_title: str = "DEID", host: str = "0.0.0.0", port: int = 11112,
                 store: str | Path | None = None, forward: Destination | None = None,
                 outbox: str | Path | None = None, allow: tuple[str, ...] = (), quarantine: str | Path | None = None,
                 map_path: str | Path | None = None, ssl_context: ssl.SSLContext | None = None,
                 forward_ssl: ssl.SSLContext | None = None, log: Callable[[str], None] | None = None,
                 report: Callable[[dict], None] | None = None, retry_seconds: float = 2.0) -> None:
        if (store is None) == (forward is None):
            raise InputError("give either a store folder or a forward destination")
        if forward is not None and outbox is None:
            raise InputError("forwarding needs an outbox folder, where instances wait until delivered")
        if map_path is not None and not key.persistent:
            raise InputError("a map needs a site key (--key-file or DEIDLANG_KEY)")
        self.plan, self.key, self.engine = plan, key, engine_for(plan)
        self.store = Path(store) if store else None
        self.forward = forward
        self.outbox = Path(outbox) if forward is not None else None
        self.quarantine = Path(quarantine) if quarantine else None
        self.map_path = map_path
        self.log = log or (lambda message: None)
        self.report = report or (lambda line: None)
        self.counts = Counts()
        self.retry_seconds = retry_seconds
        self.allow = [a.split("@", 1) if "@" in a else [a, None] for a in allow]
        self.ae = AE(ae_title=ae_title)
        self.ae.maximum_associations = 16
        self.ae.network_timeout = 30
        for context in AllStoragePresentationContexts:
            self.ae.add_supported_context(context.abstract_syntax, TRANSFER_SYNTAXES)
        self.ae.add_supported_context(Verification)
        if self.allow:
            self.ae.require_calling_aet = sorted({title for title, _ in self.allow})
        self.address = (host, port)
        self.ssl_context, self.forward_ssl = ssl_context, forward_ssl
        self._server = None
        self._maps = threading.local()
        self._stopping = threading.Event()
        self._in_flight = 0
        self._idle = threading.Condition()
        self._sender: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        quiet_pydicom()
        logging.getLogger("pynetdicom").addHandler(logging.NullHandler())
        logging.getLogger("pynetdicom").propagate = False
        if self.map_path is not None:
            PseudonymMap(self.map_path, self.key, create=True).close()  # made, and the key checked, up front
        if self.outbox is not None:
            self.outbox.mkdir(parents=True, exist_ok=True)
        handlers = [(evt.EVT_C_STORE, self._on_store), (evt.EVT_REQUESTED, self._on_requested),
                    (evt.EVT_ACCEPTED, self._on_accepted)]
        self._server = self.ae.start_server(self.address, block=False, evt_handlers=handlers,
                                            ssl_context=self.ssl_context)
        self.address = self._server.server_address[:2]
        if self.forward is not None:
            self._sender = threading.Thread(target=self._send_outbox, name="deidlang-forward", daemon=True)
            self._sender.start()
        self.log(f"listening as {self.ae.ae_title} on {self.address[0]}:{self.address[1]}")

    def stop(self, timeout: float = 30.0) -> None:
        """Stop accepting, finish the instances in flight, stop the sender after its current file."""
        self._stopping.set()
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._in_flight and time.monotonic() < deadline:
                self._idle.wait(0.1)
        if self._server is not None:
            self._server.shutdown()
        if self._sender is not None:
            self._sender.join(timeout=max(deadline - time.monotonic(), 1))
        c = self.counts
        self.log(f"stopped: {c.received} received, {c.stored} stored, {c.forwarded} forwarded, "
                 f"{c.rejected} rejected, {c.failed} failed")

    # ------------------------------------------------------------ associations

    def _on_requested(self, event) -> None:
        """AE@HOST rules: a known title from a host it is not allowed from is aborted at once."""
        title = event.assoc.requestor.primitive.calling_ae_title.strip()
        if title not in {t for t, _ in self.allow}:
            return  # an unknown title (or no allow list): the association negotiation rejects it
        host = event.assoc.requestor.address
        if not any(title == t and (h is None or h == host) for t, h in self.allow):
            self.log(f"association from {title}@{host} refused")
            event.assoc.abort()

    def _on_accepted(self, event) -> None:
        requestor = event.assoc.requestor
        self.log(f"association from {requestor.ae_title.strip()}@{requestor.address} accepted")

    def _on_store(self, event) -> int | Dataset:
        if self._stopping.is_set():
            return OUT_OF_RESOURCES
        with self._idle:
            self._in_flight += 1
        try:
            return self._store_one(event)
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def _store_one(self, event) -> int | Dataset:
        """Count, report and answer one instance: success, or a failure status with its reason."""
        self.counts.add("received")
        outcome, reason = self._deidentify(event)
        self.counts.add(outcome)
        self.report({"outcome": "written" if outcome in ("stored", "queued") else outcome, "engine": "reference",
                     "reason": reason})
        return 0x0000 if not reason else _failure(reason)

    def _deidentify(self, event) -> tuple[str, str]:
        """(stored | queued | rejected | failed, a PHI-free reason for the last two)."""
        try:
            ds = event.dataset
            ds.file_meta = event.file_meta
        except Exception:
            return "failed", "the dataset could not be decoded"
        try:
            outcome = self.engine.apply(ds, self.key)
        except (Rejected, EngineError) as err:
            self._to_quarantine(ds, err.message)
            return "rejected" if isinstance(err, Rejected) else "failed", err.message
        except Exception as err:  # fail closed: answered with a failure, nothing stored
            self._to_quarantine(ds, f"internal error ({type(err).__name__})")
            return "failed", "internal error while de-identifying"
        out = outcome.dataset
        try:
            if self.map_path is not None:
                self._map().record(outcome.pairs)
            name = f"{out.SOPInstanceUID}.dcm"
            target = (self.store / str(out.get("StudyInstanceUID", "unknown")) /
                      str(out.get("SeriesInstanceUID", "unknown")) / name) if self.store else self.outbox / name
            write_atomically(lambda f: out.save_as(f, enforce_file_format=True), target)
        except Exception as err:
            return "failed", f"cannot write the output ({type(err).__name__})"
        return ("stored" if self.store else "queued"), ""

    def _map(self) -> PseudonymMap:
        store = getattr(self._maps, "store", None)
        if store is None:
            store = self._maps.store = PseudonymMap(self.map_path, self.key)
        return store

    def _to_quarantine(self, ds: Dataset, reason: str) -> None:
        if self.quarantine is not None:
            quarantine_dataset(ds, self.quarantine, reason)

    # ------------------------------------------------------------ forwarding

    def _send_outbox(self) -> None:
        """Deliver the outbox, oldest first, until stopped; retry while the destination is down."""
        while not self._stopping.is_set() or self._in_flight:
            files = sorted(self.outbox.glob("*.dcm"), key=lambda p: p.stat().st_mtime_ns)
            if not files:
                self._stopping.wait(0.2)
                continue
            if not self._send(files):
                self.log(f"forward destination {self.forward.ae_title}@{self.forward.host}:{self.forward.port} "
                         f"not reachable: {len(files)} waiting in the outbox, retrying")
                self._stopping.wait(self.retry_seconds)

    def _send(self, files: list[Path]) -> bool:
        datasets = []
        for path in files[:200]:
            try:
                datasets.append((path, dcmread(path)))
            except Exception:
                continue
        scu = AE(ae_title=self.ae.ae_title)
        scu.network_timeout = scu.acse_timeout = 10
        for sop_class, syntax in sorted({(str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID))
                                         for _, ds in datasets})[:128]:
            scu.add_requested_context(sop_class, syntax)
        tls = (self.forward_ssl, self.forward.host) if self.forward_ssl else None
        assoc = scu.associate(self.forward.host, self.forward.port, ae_title=self.forward.ae_title, tls_args=tls)
        if not assoc.is_established:
            return False
        try:
            for path, ds in datasets:
                status = assoc.send_c_store(ds)
                if status is None or not assoc.is_established:
                    return False
                if status.Status == 0x0000:
                    path.unlink(missing_ok=True)
                    self.counts.add("forwarded")
                else:
                    self.log(f"forward refused an instance (status 0x{status.Status:04X}); it stays in the outbox")
                    return False
                if self._stopping.is_set() and not self._in_flight:
                    break
        finally:
            if assoc.is_established:
                assoc.release()
        return True


def _failure(comment: str) -> Dataset:
    """A failure status with a comment that holds no PHI (it is made from our own reasons)."""
    status = Dataset()
    status.Status = FAILURE
    status.ErrorComment = comment[:64]
    return status
