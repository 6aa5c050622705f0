"""Delivering de-identified instances to the destination, each outcome classified.

A delivery ``send``s a batch of outbox items and yields one `Result` per instance it got an answer
for; when the destination cannot be reached (no connection, association rejected or aborted, an
HTTP error that is not about the instance) it raises `Unreachable`, and the items not yet answered
stay in the outbox. Warning statuses (PS3.4 B.2.3: 0xB000 coercion, 0xB006 elements discarded,
0xB007 data set does not match the SOP class) mean the instance was stored: they are deliveries.
Reasons are made here, from statuses and our own words; nothing the destination says is repeated.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, UID
from pynetdicom import AE, evt

from .destinations import Destination, WebDestination
from .listener import no_delay

WARNINGS = frozenset({0xB000, 0xB006, 0xB007})
UNCOMPRESSED = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
MAX_CONTEXTS = 128  # PS3.8: presentation context IDs are odd numbers 1..255


@dataclass(frozen=True)
class Item:
    path: Path
    dataset: Dataset


@dataclass(frozen=True)
class Result:
    delivered: bool
    status: str  # "0x0000", "HTTP 200", or "" when nothing was sent
    reason: str = ""


class Unreachable(Exception):
    """The destination cannot take anything now; the reason holds no PHI."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def delivery_for(destination: Destination | WebDestination, ae_title: str, timeout: float):
    if isinstance(destination, WebDestination):
        return StowDelivery(destination, timeout)
    return DimseDelivery(destination, ae_title, timeout)


class DimseDelivery:
    """C-STORE over one association per batch, proposing for every SOP class the instance's own
    syntax and the uncompressed ones, so that what the destination refuses can be converted."""

    def __init__(self, destination: Destination, ae_title: str, timeout: float) -> None:
        self.destination, self.ae_title, self.timeout = destination, ae_title, timeout

    def send(self, items: list[Item], stopping: Callable[[], bool]) -> Iterator[tuple[Item, Result]]:
        ae = AE(ae_title=self.ae_title)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = ae.connection_timeout = self.timeout
        items = _propose(ae, items)
        d = self.destination
        tls = (d.tls, d.host) if d.tls is not None else None
        connected = []

        def opened(event) -> None:
            connected.append(True)
            no_delay(event.assoc.dul.socket.socket)

        assoc = ae.associate(d.host, d.port, ae_title=d.ae_title, tls_args=tls, evt_handlers=[(evt.EVT_CONN_OPEN, opened)])
        if not assoc.is_established and assoc.rejected_contexts and not assoc.accepted_contexts:
            for item in items:  # the destination takes none of what was proposed: each instance refused
                yield item, Result(False, "", "the destination does not accept this SOP class")
            return
        if not assoc.is_established:
            raise Unreachable("no connection to the destination" if not connected else
                              "the destination rejected the association" if assoc.is_rejected else
                              "the destination aborted the association")
        try:
            for item in items:
                if stopping():
                    break
                yield item, self._store(assoc, item)
        finally:
            if assoc.is_established:
                assoc.release()

    def _store(self, assoc, item: Item) -> Result:
        ds, refusal = _fit(item.dataset, assoc.accepted_contexts)
        if ds is None:
            return Result(False, "", refusal)
        try:
            status = assoc.send_c_store(ds)
        except Exception as err:  # pynetdicom raises on encoding and context errors
            if not assoc.is_established:
                raise Unreachable("the association ended during a transfer") from None
            return Result(False, "", f"the instance could not be sent ({type(err).__name__})")
        if "Status" not in status:  # no answer: the association was aborted or timed out
            if assoc.is_established:
                assoc.abort()
            raise Unreachable("the destination stopped answering during a transfer")
        code = int(status.Status)
        if code == 0 or code in WARNINGS:
            return Result(True, f"0x{code:04X}")
        return Result(False, f"0x{code:04X}", f"the destination refused the instance (status 0x{code:04X})")


def _propose(ae: AE, items: list[Item]) -> list[Item]:
    """Request contexts for the batch (the instance's syntax, and uncompressed as a fallback);
    the batch is cut where the 128 contexts of an association run out."""
    contexts: set[tuple[str, tuple[str, ...]]] = set()
    taken = []
    for item in items:
        sop = str(item.dataset.SOPClassUID)
        syntax = str(item.dataset.file_meta.TransferSyntaxUID)
        wanted = {(sop, tuple(UNCOMPRESSED))} | (set() if syntax in UNCOMPRESSED else {(sop, (syntax,))})
        if len(contexts | wanted) > MAX_CONTEXTS:
            break
        contexts |= wanted
        taken.append(item)
    for sop, syntaxes in sorted(contexts):
        ae.add_requested_context(sop, list(syntaxes))
    return taken


def _fit(ds: Dataset, accepted) -> tuple[Dataset | None, str]:
    """The dataset in a syntax the destination accepted for its SOP class, decompressing (to
    Explicit VR Little Endian) as a last resort; or None and the reason."""
    sop, syntax = str(ds.SOPClassUID), UID(str(ds.file_meta.TransferSyntaxUID))
    taken = [str(cx.transfer_syntax[0]) for cx in accepted if str(cx.abstract_syntax) == sop]
    if not taken:
        return None, "the destination does not accept this SOP class"
    if syntax in taken:
        return ds, ""
    if not any(s in UNCOMPRESSED for s in taken):
        return None, "the destination accepts only syntaxes this instance cannot be converted to"
    if syntax.is_compressed:
        try:
            ds.decompress()  # to Explicit VR Little Endian
        except Exception:
            return None, "the destination takes no compressed syntax and the pixels cannot be decompressed"
    elif syntax.is_deflated:
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian  # decoded in memory already
    return ds, ""  # between uncompressed syntaxes pynetdicom converts as it encodes


class StowDelivery:
    """STOW-RS (PS3.18 10.5): batches of Part 10 files in one multipart/related request each."""

    def __init__(self, destination: WebDestination, timeout: float) -> None:
        import requests  # the `gateway` extra

        self.destination, self.timeout, self._requests = destination, timeout, requests
        self.session = requests.Session()
        auth = destination.auth
        if isinstance(auth, tuple):
            self.session.auth = auth
        elif isinstance(auth, str):
            self.session.headers["Authorization"] = f"Bearer {auth}"
        self.session.verify = destination.ca_file or True

    def send(self, items: list[Item], stopping: Callable[[], bool]) -> Iterator[tuple[Item, Result]]:
        size = self.destination.batch
        for start in range(0, len(items), size):
            if stopping():
                break
            chunk = items[start:start + size]
            yield from zip(chunk, self._post(chunk))

    def _post(self, chunk: list[Item]) -> list[Result]:
        boundary = secrets.token_hex(16)
        body = b"".join(b"--" + boundary.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n" +
                        item.path.read_bytes() + b"\r\n" for item in chunk) + b"--" + boundary.encode() + b"--\r\n"
        headers = {"Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
                   "Accept": "application/dicom+json"}
        try:
            answer = self.session.post(f"{self.destination.url}/studies", data=body, headers=headers,
                                       timeout=(self.timeout, max(self.timeout, 60)))
        except self._requests.RequestException as err:
            raise Unreachable(f"the DICOMweb server cannot be reached ({type(err).__name__})") from None
        code = answer.status_code
        if code in (401, 403, 407, 408, 429) or code >= 500:
            raise Unreachable(f"the DICOMweb server answered HTTP {code}")
        stored, failed = _stow_outcome(answer)
        results = []
        for item in chunk:
            uid = str(item.dataset.SOPInstanceUID)
            if uid in failed:
                results.append(Result(False, f"HTTP {code}",
                                      f"the DICOMweb server refused the instance (failure reason {failed[uid]})"))
            elif code in (200, 202) and (uid in stored or (code == 200 and not stored)):
                results.append(Result(True, f"HTTP {code}"))
            else:
                results.append(Result(False, f"HTTP {code}", f"the DICOMweb server refused the instance (HTTP {code})"))
        return results


def _stow_outcome(answer) -> tuple[set[str], dict[str, str]]:
    """SOP Instance UIDs stored (00081199) and failed with their reasons (00081198) in a STOW answer."""
    try:
        body = answer.json()
    except ValueError:
        return set(), {}
    if isinstance(body, list):
        body = body[0] if body else {}

    def items(tag: str) -> list[dict]:
        return (body.get(tag) or {}).get("Value") or [] if isinstance(body, dict) else []

    def uid(item: dict) -> str:
        return str(((item.get("00081155") or {}).get("Value") or [""])[0])

    stored = {uid(i) for i in items("00081199")}
    failed = {uid(i): "0x%04X" % int(((i.get("00081197") or {}).get("Value") or [0xC000])[0]) for i in items("00081198")}
    return stored, failed
