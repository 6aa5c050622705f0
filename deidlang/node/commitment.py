"""Storage Commitment Push Model (PS3.4 J) as SCP: a modality asks whether the node has safely taken
instances (N-ACTION), the node answers in an N-EVENT-REPORT on a new association to the modality.

What the commitment means:
- in store mode, the instance is in the store (de-identified, written atomically);
- in forward mode, the destination has acknowledged it (success or a warning status); the report
  waits up to ``wait`` seconds for instances still in the outbox, and those not delivered by then, or
  dead-lettered, are reported as failures, so the modality keeps its copy.
The node knows the instances it received since it started: it remembers a keyed fingerprint of each
original SOP Instance UID (never the UID itself) with its fate, in memory (the last million); an
instance received before a restart, or forgotten, is reported as a failure ("no such object
instance"), which is the safe answer.
Where to send the report: the requester's AE title must be given with its address
(``--commitment-peer AE@HOST:PORT``); a request from any other AE is answered with a failure.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from pydicom.dataset import Dataset
from pynetdicom import AE, build_role
from pynetdicom.sop_class import StorageCommitmentPushModel

from .. import values
from ..engine import Key
from .destinations import Destination
from .listener import NO_DELAY

INSTANCE = "1.2.840.10008.1.20.1.1"  # the well-known Storage Commitment Push Model SOP Instance
PROCESSING_FAILURE, NO_SUCH_INSTANCE = 0x0110, 0x0112
DONE, FAILED = "committed", "failed"
REMEMBERED = 1_000_000  # instances whose fate is kept; older ones are forgotten (then reported as failures)


class Commitments:
    def __init__(self, key: Key, peers: dict[str, Destination], ae_title: str, *, forwarding: bool,
                 wait: float = 60.0, timeout: float = 10.0, log: Callable[[str], None] = lambda m: None) -> None:
        self.key, self.peers, self.ae_title = key, peers, ae_title
        self.forwarding, self.wait, self.timeout, self.log = forwarding, wait, timeout, log
        self._state: dict[str, str] = {}  # fingerprint of the original SOP Instance UID -> state
        self._by_output: dict[str, str] = {}  # de-identified SOP Instance UID -> fingerprint, while queued
        self._lock = threading.Lock()

    def _mark(self, uid: str) -> str:
        return values.keyed(self.key.secret, "storage commitment", uid).hex()[:32]

    # ------------------------------------------------------------ what happened to instances

    def received(self, original_uid: str, output_uid: str) -> None:
        mark = self._mark(original_uid)
        with self._lock:
            if len(self._state) >= REMEMBERED:
                del self._state[next(iter(self._state))]
            if self.forwarding:
                self._state[mark] = "queued"
                self._by_output[output_uid] = mark
            else:
                self._state[mark] = DONE

    def forwarded(self, output_uid: str, delivered: bool) -> None:
        with self._lock:
            mark = self._by_output.pop(output_uid, None)
            if mark is not None:
                self._state[mark] = DONE if delivered else FAILED

    # ------------------------------------------------------------ the request and the report

    def on_action(self, event) -> tuple[int, Dataset | None]:
        """The N-ACTION: accepted when the report can be sent, which then happens on its own thread."""
        requestor = event.assoc.requestor
        calling = requestor.ae_title.strip()
        peer = self.peers.get(calling)
        try:
            request = event.action_information
            transaction = str(request.TransactionUID)
            refs = [(str(i.ReferencedSOPClassUID), str(i.ReferencedSOPInstanceUID))
                    for i in request.get("ReferencedSOPSequence", [])]
        except Exception:
            return PROCESSING_FAILURE, None
        if peer is None:
            self.log(f"storage commitment from {calling}@{requestor.address} refused: "
                     f"no --commitment-peer address for {calling}")
            return PROCESSING_FAILURE, None
        threading.Thread(target=self._report, args=(peer, transaction, refs), name="deidlang-commitment",
                         daemon=True).start()
        return 0x0000, None

    def _report(self, peer: Destination, transaction: str, refs: list[tuple[str, str]]) -> None:
        marks = [self._mark(uid) for _, uid in refs]
        deadline = time.monotonic() + self.wait
        while time.monotonic() < deadline and any(self._state.get(m) == "queued" for m in marks):
            time.sleep(0.2)
        report = Dataset()
        report.TransactionUID = transaction
        done, failed = [], []
        for (sop_class, uid), mark in zip(refs, marks):
            item = Dataset()
            item.ReferencedSOPClassUID, item.ReferencedSOPInstanceUID = sop_class, uid
            state = self._state.get(mark)
            if state == DONE:
                done.append(item)
            else:
                item.FailureReason = NO_SUCH_INSTANCE if state is None else PROCESSING_FAILURE
                failed.append(item)
        if done:
            report.ReferencedSOPSequence = done
        if failed:
            report.FailedSOPSequence = failed
        ae = AE(ae_title=self.ae_title)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = ae.connection_timeout = self.timeout
        ae.add_requested_context(StorageCommitmentPushModel)
        assoc = ae.associate(peer.host, peer.port, ae_title=peer.ae_title,
                             ext_neg=[build_role(StorageCommitmentPushModel, scp_role=True)],
                             tls_args=(peer.tls, peer.host) if peer.tls else None, evt_handlers=[NO_DELAY])
        if not assoc.is_established:
            self.log(f"storage commitment report to {peer} not sent: no association")
            return
        try:
            status, _ = assoc.send_n_event_report(report, 2 if failed else 1, StorageCommitmentPushModel, INSTANCE)
            answered = f"0x{int(status.Status):04X}" if "Status" in status else "no answer"
            self.log(f"storage commitment report to {peer.ae_title}: {len(done)} committed, {len(failed)} not "
                     f"({answered})")
        finally:
            if assoc.is_established:
                assoc.release()
