"""The node's receiving side: a Storage SCP that applies the plan to every instance it receives,
then stores it or hands it to the outbox (pynetdicom, the pydicom project's networking library).

- Callers: ``allow`` lists ``AE`` or ``AE@HOST`` (names resolved once, at start); an unknown calling
  AE title or a called AE title that is not ours is rejected, a known title from another host
  aborted; every refusal is logged (titles and addresses only).
- Each instance goes through the same engine as `deidlang run`; a rejected or failing instance (and
  one whose UIDs cannot name a file) is answered with a failure status (0xC000, a PHI-free comment)
  and copied to the quarantine with its reason; the node keeps running.
- Stored and outbox files are created as `cp` creates files (mode 0666 less the umask), or owner-only
  with ``private``; quarantine copies are always owner-only.
- Stored files are written atomically under ``STORE/<StudyInstanceUID>/<SeriesInstanceUID>/
  <SOPInstanceUID>.dcm`` (de-identified UIDs, checked, always inside the store). In forward mode an
  instance is acknowledged once it is in the outbox; `Forwarder` delivers it.
- Every instance and every delivery writes one audit line (`report`): UTC time, calling AE and
  address, de-identified UIDs, plan hash, outcome and status. No original value.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset
from pynetdicom import AE, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import StorageCommitmentPushModel, Verification

from ..engine import Key, Outcome, engine_for, stream
from ..errors import EngineError, InputError, Rejected
from ..fileio import PRIVATE_MODE, SHARED_MODE, write_atomically
from ..plan import Plan
from ..runner import quarantine_dataset, quiet_pydicom
from ..store import PseudonymMap
from .commitment import Commitments
from .delivery import delivery_for
from .destinations import Destination, WebDestination, resolve
from .forwarder import Forwarder, Outbox, utc_now
from .listener import GuardedServer
from .paths import UnsafePath, instance_path

# Transfer syntaxes accepted: the native ones and the compressed ones the engine passes through.
TRANSFER_SYNTAXES = [
    "1.2.840.10008.1.2.1", "1.2.840.10008.1.2", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.5",
]
_PATH_UIDS = (0x0020000D, 0x0020000E, 0x00080018)  # Study, Series and SOP Instance UIDs: the output's path
FAILURE = 0xC000
OUT_OF_RESOURCES = 0xA700


@dataclass
class Counts:
    received: int = 0
    stored: int = 0
    queued: int = 0
    rejected: int = 0
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, n: int = 1) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + n)


def silence_warnings() -> None:
    """pydicom's warnings quote element values (an odd IS, a long UID): none may reach a log."""
    quiet_pydicom()
    warnings.simplefilter("ignore")  # whichever module pydicom attributes them to
    for name in ("pynetdicom", "pydicom"):
        logging.getLogger(name).addHandler(logging.NullHandler())
        logging.getLogger(name).propagate = False


class Node:
    def __init__(self, plan: Plan, key: Key, *, ae_title: str = "DEID", host: str = "127.0.0.1", port: int = 11112,
                 store: str | Path | None = None, forward: Destination | WebDestination | None = None,
                 outbox: str | Path | None = None, dead_letter: str | Path | None = None,
                 allow: tuple[str, ...] = (), quarantine: str | Path | None = None,
                 map_path: str | Path | None = None, ssl_context: ssl.SSLContext | None = None,
                 forward_ssl: ssl.SSLContext | None = None, log: Callable[[str], None] | None = None,
                 report: Callable[[dict], None] | None = None, retry_seconds: float = 2.0,
                 max_backoff: float = 60.0, tries: int = 3, timeout: float = 10.0, per_peer: int = 4,
                 max_associations: int = 32, commitment_peers: tuple[Destination, ...] = (),
                 commitment_wait: float = 60.0, engine: str = "auto", private: bool = False) -> None:
        if (store is None) == (forward is None):
            raise InputError("give either a store folder or a forward destination")
        if forward is not None and outbox is None:
            raise InputError("forwarding needs an outbox folder, where instances wait until delivered")
        if map_path is not None and not key.persistent:
            raise InputError("a map needs a site key (--key-file or DEIDLANG_KEY)")
        if isinstance(forward, Destination) and forward_ssl is not None:
            forward = Destination(forward.ae_title, forward.host, forward.port, forward_ssl)
        if forward is not None:
            forward.check()
        if engine not in ("auto", "reference"):
            raise InputError(f"engine `{engine}`: give auto (the fast path where it applies) or reference")
        self.plan, self.key, self.engine = plan, key, engine_for(plan)
        self.fast = engine == "auto"  # the fast path says per instance when it cannot (Unsupported)
        self.store = Path(store) if store else None
        #: stored and outbox files are created as `cp` creates files (the umask decides), or owner-only
        self.mode = PRIVATE_MODE if private else SHARED_MODE
        self.forward = forward
        self.outbox = Outbox(Path(outbox), Path(dead_letter) if dead_letter else None) if forward else None
        self.quarantine = Path(quarantine) if quarantine else None
        self.map_path = map_path
        self.log = log or (lambda message: None)
        self._report = report or (lambda line: None)
        self.counts = Counts()
        self.retry_seconds, self.max_backoff, self.tries, self.timeout = retry_seconds, max_backoff, tries, timeout
        self.per_peer = per_peer
        self.allow = _allow_list(allow)
        self.ae = AE(ae_title=ae_title)
        self.ae.maximum_associations = max_associations
        self.ae.network_timeout = self.ae.acse_timeout = self.ae.dimse_timeout = timeout
        for context in AllStoragePresentationContexts:
            self.ae.add_supported_context(context.abstract_syntax, TRANSFER_SYNTAXES)
        self.ae.add_supported_context(Verification)
        self.ae.add_supported_context(StorageCommitmentPushModel)
        for peer in commitment_peers:
            peer.check()
        self.commitments = Commitments(key, {p.ae_title: p for p in commitment_peers}, ae_title,
                                       forwarding=forward is not None, wait=commitment_wait, timeout=timeout,
                                       log=self.log)
        self.ae.require_called_aet = True
        if self.allow:
            self.ae.require_calling_aet = sorted({title for title, _ in self.allow})
        self.address = (host, port)
        self.ssl_context = ssl_context
        self.forwarder: Forwarder | None = None
        self._server: GuardedServer | None = None
        self._maps = threading.local()
        self._stopping = threading.Event()
        self._in_flight = 0
        self._idle = threading.Condition()

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        silence_warnings()
        if self.map_path is not None:
            PseudonymMap(self.map_path, self.key, create=True).close()  # made, and the key checked, up front
        if self.outbox is not None:
            self.outbox.create()
        handlers = [(evt.EVT_C_STORE, self._on_store), (evt.EVT_REQUESTED, self._on_requested),
                    (evt.EVT_ACCEPTED, self._on_accepted), (evt.EVT_REJECTED, self._on_rejected),
                    (evt.EVT_N_ACTION, self.commitments.on_action)]
        try:
            self._server = self.ae.make_server(self.address, evt_handlers=handlers, ssl_context=self.ssl_context,
                                               server_class=GuardedServer, per_peer=self.per_peer,
                                               socket_timeout=self.timeout, log=self.log)
        except OSError as err:
            raise InputError(f"cannot listen on {self.address[0]}:{self.address[1]}: {err.strerror}",
                             help="choose another --port, or stop what holds this one") from None
        self.ae._servers.append(self._server)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                         name="deidlang-accept", daemon=True).start()
        self.address = self._server.server_address[:2]
        if self.forward is not None:
            self.forwarder = Forwarder(self.outbox, delivery_for(self.forward, self.ae.ae_title, self.timeout),
                                       log=self.log, report=self.report, tries=self.tries,
                                       retry_seconds=self.retry_seconds, max_backoff=self.max_backoff,
                                       describe=str(self.forward))
            self.forwarder.start(busy=lambda: self._in_flight > 0)
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
        if self.forwarder is not None:
            self.forwarder.stop(deadline - time.monotonic())
        c = self.counts
        forwarded = f", {self.forwarder.delivered} forwarded" if self.forwarder else ""
        self.log(f"stopped: {c.received} received, {c.stored} stored{forwarded}, "
                 f"{c.rejected} rejected, {c.failed} failed")

    def health(self) -> dict:
        """What the status file shows."""
        c = self.counts
        state = {"time": utc_now(), "listening": f"{self.address[0]}:{self.address[1]}",
                 "received": c.received, "stored": c.stored, "queued": c.queued, "rejected": c.rejected,
                 "failed": c.failed}
        if self.forwarder is not None:
            state["forward"] = self.forwarder.health()
        return state

    def report(self, line: dict) -> None:
        if line["outcome"] in ("delivered", "dead-lettered") and line.get("sop"):
            self.commitments.forwarded(line["sop"], line["outcome"] == "delivered")
        self._report({**line, "plan": self.plan.plan_hash})

    # ------------------------------------------------------------ associations

    def _on_requested(self, event) -> None:
        """AE@HOST rules: a known title from a host it is not allowed from is aborted at once."""
        title = event.assoc.requestor.primitive.calling_ae_title.strip()
        if title not in {t for t, _ in self.allow}:
            return  # an unknown title (or no allow list): the negotiation rejects it (`_on_rejected`)
        host = event.assoc.requestor.address
        if not any(title == t and (hosts is None or host in hosts) for t, hosts in self.allow):
            self.log(f"association from {title}@{host} refused: that AE title is not allowed from this host")
            event.assoc.abort()

    def _on_rejected(self, event) -> None:
        primitive = event.assoc.requestor.primitive
        calling, called = primitive.calling_ae_title.strip(), primitive.called_ae_title.strip()
        if self.allow and calling not in {t for t, _ in self.allow}:
            why = "calling AE title not allowed"
        elif called != self.ae.ae_title.strip():
            why = f"called AE title {called!r} is not this node's"
        else:
            why = "too many associations at once"
        self.log(f"association from {calling}@{event.assoc.requestor.address} refused: {why}")

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
        outcome, reason, out = self._deidentify(event)
        self.counts.add(outcome)
        requestor = event.assoc.requestor
        self.report({"time": utc_now(), "calling_ae": requestor.ae_title.strip(), "address": requestor.address,
                     "study": _uid(out, "StudyInstanceUID"), "series": _uid(out, "SeriesInstanceUID"),
                     "sop": _uid(out, "SOPInstanceUID"), "outcome": outcome,
                     "status": "0x0000" if not reason else f"0x{FAILURE:04X}", "reason": reason or None})
        return 0x0000 if not reason else _failure(reason)

    def _deidentify(self, event) -> tuple[str, str, Dataset | None]:
        """(stored | queued | rejected | failed, a PHI-free reason for the last two, the output's UIDs)."""
        try:
            data, outcome = self._apply(event)
        except (Rejected, EngineError) as err:
            self._to_quarantine(event, err.message)
            return "rejected" if isinstance(err, Rejected) else "failed", err.message, None
        except _Undecodable:
            return "failed", "the dataset could not be decoded", None
        except Exception as err:  # fail closed: answered with a failure, nothing stored
            self._to_quarantine(event, f"internal error ({type(err).__name__})")
            return "failed", "internal error while de-identifying", None
        out = outcome.dataset if data is None else dcmread(BytesIO(data), stop_before_pixels=True,
                                                           specific_tags=list(_PATH_UIDS))
        try:
            sop = ("SOPInstanceUID", out.get("SOPInstanceUID"))
            target = (instance_path(self.store, ("StudyInstanceUID", out.get("StudyInstanceUID")),
                                    ("SeriesInstanceUID", out.get("SeriesInstanceUID")), sop)
                      if self.store else instance_path(self.outbox.folder, sop))
        except UnsafePath as err:
            self._to_quarantine(event, str(err))
            return "rejected", str(err), None
        try:
            if self.map_path is not None:
                self._map().record(outcome.pairs)
            target.parent.mkdir(parents=True, exist_ok=True)
            if self.forwarder is not None:  # known before the sender can deliver it
                self.commitments.received(str(event.request.AffectedSOPInstanceUID), str(out.SOPInstanceUID))
            if data is None:
                write_atomically(lambda f: outcome.dataset.save_as(f, enforce_file_format=True), target, self.mode)
            else:
                write_atomically(lambda f: f.write(data), target, self.mode)
        except Exception as err:
            return "failed", f"cannot write the output ({type(err).__name__})", None
        if self.forwarder is None:
            self.commitments.received(str(event.request.AffectedSOPInstanceUID), str(out.SOPInstanceUID))
        return ("stored" if self.store else "queued"), "", out

    def _apply(self, event) -> tuple[bytes | None, Outcome]:
        """The streaming fast path on the received bytes where it applies (as `deidlang run` does),
        else the reference engine on the decoded dataset: (output bytes or None, outcome)."""
        if self.fast:
            try:
                return stream.rewrite(event.encoded_dataset(), self.plan, self.key)
            except stream.Unsupported:
                pass
        return None, self.engine.apply(_dataset(event), self.key)
    def _map(self) -> PseudonymMap:
        store = getattr(self._maps, "store", None)
        if store is None:
            store = self._maps.store = PseudonymMap(self.map_path, self.key)
        return store

    def _to_quarantine(self, event, reason: str) -> None:
        if self.quarantine is not None:
            try:
                quarantine_dataset(_dataset(event), self.quarantine, reason)
            except _Undecodable:
                pass


class _Undecodable(Exception):
    """pynetdicom could not decode the received dataset."""


def _dataset(event) -> Dataset:
    try:
        ds = event.dataset
        ds.file_meta = event.file_meta
        return ds
    except Exception:
        raise _Undecodable() from None


def _allow_list(allow: tuple[str, ...]) -> list[tuple[str, frozenset[str] | None]]:
    """``AE`` (from any host) or ``AE@HOST``, the host's name resolved to its addresses now."""
    rules = []
    for entry in allow:
        title, _, host = entry.partition("@")
        if not title or len(title) > 16:
            raise InputError(f"`{entry}` is not AE or AE@HOST (an AE title of 1 to 16 characters)")
        rules.append((title, frozenset(resolve(host)) if host else None))
    return rules


def _uid(ds: Dataset | None, keyword: str) -> str | None:
    return str(ds.get(keyword, "")) or None if ds is not None else None


def _failure(comment: str) -> Dataset:
    """A failure status with a comment that holds no PHI (it is made from our own reasons)."""
    status = Dataset()
    status.Status = FAILURE
    status.ErrorComment = comment[:64]
    return status
