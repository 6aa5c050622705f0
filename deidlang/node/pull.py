"""Pull by query, the research-request workflow: ask a PACS for the studies matching a query
(C-FIND, study level), have it send each one to this node (C-MOVE to our own AE title), which
de-identifies and stores or forwards them as `deidlang serve` does.

- The query values (a PatientID, an AccessionNumber, dates) identify a patient: they are sent to the
  PACS and nowhere else — not logged, not in the journal, not in errors. Progress lines carry counts.
- The journal makes a pull resumable: it holds, per study retrieved completely, a keyed fingerprint of
  its StudyInstanceUID (HMAC with the site key, so the file says nothing without the key); a second run
  with the same key skips those studies. It therefore needs a site key.
- The PACS must know this node's AE title with its address and port (its C-MOVE destinations).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset
from pynetdicom import AE
from pynetdicom.sop_class import (StudyRootQueryRetrieveInformationModelFind as FIND,
                                  StudyRootQueryRetrieveInformationModelMove as MOVE)

from .. import values
from ..engine import Key
from ..errors import InputError
from .destinations import Destination
from .listener import NO_DELAY

PENDING = (0xFF00, 0xFF01)


@dataclass(frozen=True)
class Query:
    patient_id: str | None = None
    accession: str | None = None
    study_uid: str | None = None
    date_from: str | None = None  # YYYYMMDD
    date_to: str | None = None

    def __post_init__(self) -> None:
        if not any((self.patient_id, self.accession, self.study_uid, self.date_from, self.date_to)):
            raise InputError("a pull needs a query: a patient ID, an accession number, a study UID or dates")
        for name in ("date_from", "date_to"):
            value = getattr(self, name)
            if value is not None and not (len(value) == 8 and value.isdigit()):
                raise InputError(f"--{name.replace('_', '-')} must be a date as YYYYMMDD")

    def identifier(self) -> Dataset:
        ds = Dataset()
        ds.QueryRetrieveLevel = "STUDY"
        ds.StudyInstanceUID = self.study_uid or ""
        ds.PatientID = self.patient_id or ""
        ds.AccessionNumber = self.accession or ""
        ds.StudyDate = f"{self.date_from or ''}-{self.date_to or ''}" if self.date_from or self.date_to else ""
        return ds


@dataclass
class Progress:
    studies: int = 0
    skipped: int = 0
    retrieved: int = 0
    incomplete: int = 0
    instances: int = 0
    failed_instances: int = 0


class Journal:
    """Fingerprints of the studies a pull retrieved completely, one per line (appended, fsynced)."""

    def __init__(self, path: Path | None, key: Key) -> None:
        if path is not None and not key.persistent:
            raise InputError("a pull journal needs a site key (--key-file or DEIDLANG_KEY): with a one-run key "
                             "a second run could not recognise the studies, nor give them the same UIDs")
        self.path, self.key = path, key
        self.done: set[str] = set()
        if path is not None and path.exists():
            self.done = set(path.read_text(encoding="utf-8").split())

    def fingerprint(self, study_uid: str) -> str:
        return values.keyed(self.key.secret, "pull journal", study_uid).hex()[:32]

    def __contains__(self, study_uid: str) -> bool:
        return self.fingerprint(study_uid) in self.done

    def add(self, study_uid: str) -> None:
        mark = self.fingerprint(study_uid)
        self.done.add(mark)
        if self.path is not None:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, (mark + "\n").encode())
                os.fsync(fd)
            finally:
                os.close(fd)


def pull(source: Destination, query: Query, *, ae_title: str, journal: Journal, timeout: float = 30,
         log: Callable[[str], None] = lambda message: None) -> Progress:
    """Find the studies, move each to ``ae_title`` (a running node), and record the complete ones."""
    progress = Progress()
    studies = find_studies(source, query, ae_title, timeout)
    progress.studies = len(studies)
    log(f"pull: {len(studies)} matching studies at {source.ae_title}")
    for number, study_uid in enumerate(studies, 1):
        if study_uid in journal:
            progress.skipped += 1
            continue
        completed, failed = move_study(source, study_uid, ae_title, timeout)
        progress.instances += completed
        progress.failed_instances += failed
        if failed == 0:
            journal.add(study_uid)
            progress.retrieved += 1
        else:
            progress.incomplete += 1
        log(f"pull: study {number}/{len(studies)}: {completed} instances retrieved"
            + (f", {failed} failed (retried on the next run)" if failed else ""))
    return progress


def _associate(source: Destination, sop_class: str, ae_title: str, timeout: float):
    ae = AE(ae_title=ae_title)
    ae.acse_timeout = ae.network_timeout = ae.connection_timeout = timeout
    ae.dimse_timeout = max(timeout, 600)  # a C-MOVE answers only when its sub-operations end
    ae.add_requested_context(sop_class)
    assoc = ae.associate(source.host, source.port, ae_title=source.ae_title,
                         tls_args=(source.tls, source.host) if source.tls else None, evt_handlers=[NO_DELAY])
    if not assoc.is_established:
        raise InputError(f"the PACS {source} refused or did not answer the association")
    return assoc


def find_studies(source: Destination, query: Query, ae_title: str, timeout: float) -> list[str]:
    assoc = _associate(source, FIND, ae_title, timeout)
    found: list[str] = []
    try:
        for status, identifier in assoc.send_c_find(query.identifier(), FIND):
            if "Status" not in status:
                raise InputError(f"the PACS {source} stopped answering the query")
            if status.Status in PENDING and identifier is not None and identifier.get("StudyInstanceUID"):
                found.append(str(identifier.StudyInstanceUID))
            elif status.Status not in PENDING and status.Status != 0:
                raise InputError(f"the PACS {source} refused the query (status 0x{status.Status:04X})")
    finally:
        if assoc.is_established:
            assoc.release()
    return sorted(set(found), key=found.index)


def move_study(source: Destination, study_uid: str, ae_title: str, timeout: float) -> tuple[int, int]:
    """(instances the PACS sent, instances that failed) for one study moved to ``ae_title``."""
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = study_uid
    assoc = _associate(source, MOVE, ae_title, timeout)
    completed = failed = 0
    try:
        for status, _ in assoc.send_c_move(identifier, ae_title, MOVE):
            if "Status" not in status:
                return completed, max(failed, 1)
            completed = int(status.get("NumberOfCompletedSuboperations", completed) or 0) + \
                int(status.get("NumberOfWarningSuboperations", 0) or 0)
            failed = int(status.get("NumberOfFailedSuboperations", 0) or 0)
            if status.Status not in PENDING and status.Status not in (0x0000, 0xB000):
                failed = max(failed, 1)
    finally:
        if assoc.is_established:
            assoc.release()
    return completed, failed
