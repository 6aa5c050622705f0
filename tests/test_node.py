"""The DICOM node on loopback: real associations from pynetdicom's SCU (and DCMTK's storescu where
installed), the same checks as the batch runner."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
import threading
import time

import pytest
from pydicom import dcmread
from pynetdicom import AE, evt
from pynetdicom.sop_class import CTImageStorage, Verification

import deidlang
from deidlang.engine import Key
from deidlang.node import Destination, Node
from deidlang.phantom import phantom
from deidlang.runner import run
from deidlang.store import PseudonymMap

pytestmark = pytest.mark.integration  # every test runs a DICOM node on 127.0.0.1

KEY = Key(b"node-test-key-0123456789abcdef")


def study(n: int, series: str = "1.2.826.0.1.3680043.10.3.1.1"):
    out = []
    for i in range(1, n + 1):
        ds, _ = phantom(instance=i, study_uid="1.2.826.0.1.3680043.10.3.1", series_uid=series)
        ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID = f"{series}.{i % n + 1}"
        out.append(ds)
    return out


def send(port: int, datasets, title: str = "MODALITY") -> list[int]:
    ae = AE(ae_title=title)
    ae.add_requested_context(CTImageStorage)
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", port, ae_title="DEID")
    assert assoc.is_established
    statuses = [assoc.send_c_store(ds).Status for ds in datasets]
    assoc.release()
    return statuses


@pytest.fixture
def node(tmp_path):
    made = []

    def make(**kwargs):
        options = dict(ae_title="DEID", host="127.0.0.1", port=0, allow=("MODALITY", "PACS@127.0.0.1"),
                       quarantine=tmp_path / "quarantine")
        options.update(kwargs)
        n = Node(deidlang.compile(options.pop("rules", "basic-profile")), KEY, **options)
        n.start()
        made.append(n)
        return n

    yield make
    for n in made:
        n.stop(timeout=5)


PSEUDONYMISE = str(Path(__file__).resolve().parent.parent / "examples" / "pseudonymise.deid")


def test_store_echo_and_consistency_with_the_batch_runner(node, tmp_path):
    n = node(store=tmp_path / "store", map_path=tmp_path / "node.map", rules=PSEUDONYMISE)
    datasets = study(4)
    assert send(n.address[1], datasets[:2]) == [0, 0]
    assert send(n.address[1], datasets[2:], title="PACS") == [0, 0]  # a second association, same study
    stored = {dcmread(p).InstanceNumber: dcmread(p) for p in (tmp_path / "store").rglob("*.dcm")}
    assert len(stored) == 4
    # the same files through `run` with the same key: identical pseudonyms and UIDs
    (tmp_path / "in").mkdir()
    for ds in datasets:
        ds.save_as(tmp_path / "in" / f"{ds.InstanceNumber}.dcm", enforce_file_format=True)
    run(deidlang.compile(PSEUDONYMISE), [tmp_path / "in"], tmp_path / "batch", KEY)
    for path in (tmp_path / "batch").glob("*.dcm"):
        batch = dcmread(path)
        mine = stored[batch.InstanceNumber]
        assert mine.SOPInstanceUID == batch.SOPInstanceUID == mine.file_meta.MediaStorageSOPInstanceUID
        assert mine.StudyInstanceUID == batch.StudyInstanceUID and mine.StudyDate == batch.StudyDate
        assert mine.PatientID == batch.PatientID and mine.PatientID.startswith("P-")  # the same pseudonym
        assert mine.PatientIdentityRemoved == "YES" and str(mine.PatientName).startswith("PAT-")
        ref = mine.ReferencedImageSequence[0].ReferencedSOPInstanceUID
        assert ref == stored[mine.InstanceNumber % 4 + 1].SOPInstanceUID
    store = PseudonymMap(tmp_path / "node.map", KEY)
    assert store.originals(stored[1].SOPInstanceUID) == [("uid", datasets[0].SOPInstanceUID)]
    store.close()


def test_callers_not_allowed_are_refused_at_association(node, tmp_path):
    # PACS may call only from 192.0.2.1 (a documentation address: nothing is sent there), we are 127.0.0.1
    n = node(store=tmp_path / "store", allow=("MODALITY", "PACS@192.0.2.1"))
    outcomes = {}
    for title in ("MODALITY", "STRANGER", "PACS"):
        ae = AE(ae_title=title)
        ae.add_requested_context(Verification)
        assoc = ae.associate("127.0.0.1", n.address[1], ae_title="DEID")
        outcomes[title] = (assoc.is_established, assoc.is_rejected)
        if assoc.is_established:
            assoc.release()
    assert outcomes == {"MODALITY": (True, False), "STRANGER": (False, True), "PACS": (False, False)}


def test_rejected_instance_gets_a_failure_status_and_the_node_goes_on(node, tmp_path):
    rules = 'include "basic-profile"\nreject if BurnedInAnnotation == "YES" because "burned-in text"'
    n = node(store=tmp_path / "store", rules=rules)
    bad, good = study(2)
    bad.BurnedInAnnotation = "YES"
    assert send(n.address[1], [bad, good]) == [0xC000, 0]
    reasons = list((tmp_path / "quarantine").glob("*.reason.txt"))
    assert len(reasons) == 1 and "burned-in text" in reasons[0].read_text()
    assert len(list((tmp_path / "store").rglob("*.dcm"))) == 1


def _modes(folder: Path) -> set[str]:
    return {oct(p.stat().st_mode & 0o777) for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("private", [False, True])
def test_store_and_outbox_files_follow_the_umask_unless_private_and_quarantine_is_owner_only(node, tmp_path, private):
    """Stored and outbox files are made as cp makes them (0644 under umask 022), owner-only with
    ``private``; quarantine copies and reasons are 0600 either way."""
    rules = 'include "basic-profile"\nreject if BurnedInAnnotation == "YES" because "burned-in text"'
    old = os.umask(0o022)
    try:
        stored = node(store=tmp_path / "store", rules=rules, private=private)
        # a destination nobody listens on: the instances stay in the outbox
        queued = node(forward=Destination("ARCHIVE", "127.0.0.1", _free_port()), outbox=tmp_path / "outbox",
                      private=private, retry_seconds=60)
        bad, good = study(2)
        bad.BurnedInAnnotation = "YES"
        assert send(stored.address[1], [bad, good]) == [0xC000, 0]
        assert send(queued.address[1], study(1)) == [0]
    finally:
        os.umask(old)
    expected = {"0o600"} if private else {"0o644"}
    assert _modes(tmp_path / "store") == expected
    assert len(list((tmp_path / "outbox").glob("*.dcm"))) == 1
    assert _modes(tmp_path / "outbox") == expected
    assert len(list((tmp_path / "quarantine").iterdir())) == 2 and _modes(tmp_path / "quarantine") == {"0o600"}


@pytest.mark.integration
def test_burst_from_two_concurrent_associations_loses_nothing(node, tmp_path):
    n = node(store=tmp_path / "store")
    batches = [study(150, f"1.2.826.0.1.3680043.10.3.1.{s}") for s in (7, 8)]
    results: list[list[int]] = []
    problems: list[BaseException] = []

    def sender(batch) -> None:
        try:
            results.append(send(n.address[1], batch))
        except BaseException as err:  # said by the test, not lost in the thread
            problems.append(err)

    threads = [threading.Thread(target=sender, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)  # bounded: a hung association fails the test rather than the run
    assert not problems and not any(t.is_alive() for t in threads), problems
    assert sorted(map(len, results)) == [150, 150] and all(s == 0 for r in results for s in r)
    assert len(list((tmp_path / "store").rglob("*.dcm"))) == 300
    assert n.counts.received == n.counts.stored == 300


class Destination_SCP:
    """A plain Storage SCP that counts what it receives, and can be stopped and started again."""

    def __init__(self) -> None:
        self.received: set[str] = set()
        self.port = None
        self.server = None

    def start(self, port: int = 0) -> None:
        ae = AE(ae_title="ARCHIVE")
        ae.add_supported_context(CTImageStorage)
        handler = [(evt.EVT_C_STORE, lambda event: self.received.add(event.dataset.SOPInstanceUID) or 0)]
        self.server = ae.start_server(("127.0.0.1", port), block=False, evt_handlers=handler)
        self.port = self.server.server_address[1]

    def stop(self) -> None:
        self.server.shutdown()


@pytest.mark.integration
def test_forward_survives_the_destination_going_down(node, tmp_path):
    archive = Destination_SCP()
    archive.start()
    n = node(forward=Destination("ARCHIVE", "127.0.0.1", archive.port), outbox=tmp_path / "outbox")
    n.forwarder.retry_seconds = 0.2
    datasets = study(60)
    assert send(n.address[1], datasets[:20]) == [0] * 20
    deadline = time.monotonic() + 20
    while len(archive.received) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    archive.stop()  # the destination goes down mid-burst
    assert send(n.address[1], datasets[20:]) == [0] * 40  # still accepted: they wait in the outbox
    time.sleep(0.5)
    assert list((tmp_path / "outbox").glob("*.dcm"))
    archive.start(archive.port)  # and comes back
    deadline = time.monotonic() + 30
    while len(archive.received) < 60 and time.monotonic() < deadline:
        time.sleep(0.1)
    archive.stop()
    assert len(archive.received) == 60 and not list((tmp_path / "outbox").glob("*.dcm"))
    assert n.forwarder.delivered == 60


@pytest.mark.skipif(shutil.which("storescu") is None, reason="DCMTK's storescu is not installed")
def test_dcmtk_storescu(node, tmp_path):
    n = node(store=tmp_path / "store")
    for ds in study(3):
        ds.save_as(tmp_path / f"{ds.InstanceNumber}.dcm", enforce_file_format=True)
    result = subprocess.run(["storescu", "-aet", "MODALITY", "-aec", "DEID", "127.0.0.1", str(n.address[1]),
                             *map(str, sorted(tmp_path.glob("*.dcm")))], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "store").rglob("*.dcm"))) == 3


def test_serve_command_logs_without_phi_and_stops_gracefully_on_sigterm(tmp_path):
    import signal
    import socket
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "deidlang", "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--store", str(tmp_path / "store"), "--allow", "MODALITY",
                             "--report", str(tmp_path / "report.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        datasets = study(3)
        while time.monotonic() < deadline:
            ae = AE(ae_title="MODALITY")
            ae.add_requested_context(CTImageStorage)
            assoc = ae.associate("127.0.0.1", port, ae_title="DEID")
            if assoc.is_established:
                statuses = [assoc.send_c_store(ds).Status for ds in datasets]
                assoc.release()
                break
            time.sleep(0.2)
        assert statuses == [0, 0, 0]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "association from MODALITY@127.0.0.1 accepted" in err and "stopped: 3 received, 3 stored" in err
    for ds in datasets:
        assert str(ds.PatientName) not in err and ds.PatientID not in err
    assert len((tmp_path / "report.json").read_text().splitlines()) == 3
    assert len(list((tmp_path / "store").rglob("*.dcm"))) == 3


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_tls(node, tmp_path):
    import ssl

    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
                   check=True, capture_output=True)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    n = node(store=tmp_path / "store", ssl_context=server)
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(tmp_path / "cert.pem"))
    ae = AE(ae_title="MODALITY")
    ae.add_requested_context(CTImageStorage)
    assoc = ae.associate("127.0.0.1", n.address[1], ae_title="DEID", tls_args=(client, "localhost"))
    assert assoc.is_established
    assert assoc.send_c_store(study(1)[0]).Status == 0
    assoc.release()
    plain = AE(ae_title="MODALITY")
    plain.add_requested_context(CTImageStorage)
    assert not plain.associate("127.0.0.1", n.address[1], ae_title="DEID").is_established


# ------------------------------------------------------------ hostile input (issue 14)

RETAIN_UIDS = 'include "basic-profile"\ninclude "retain-uids"'


@pytest.mark.parametrize("attribute", ["StudyInstanceUID", "SeriesInstanceUID"])
def test_uids_that_cannot_name_a_file_are_refused_and_nothing_leaves_the_store(node, tmp_path, attribute):
    n = node(store=tmp_path / "area" / "store", rules=RETAIN_UIDS)
    hostile = ["/abs/path", "..", "1.2.3/../../x", "1." + "2" * 70, "1.02.3", ""]
    datasets = study(len(hostile) + 1)
    for ds, value in zip(datasets, hostile):
        setattr(ds, attribute, value)
    assert send(n.address[1], datasets) == [0xC000] * len(hostile) + [0]
    written = [p for p in (tmp_path / "area").rglob("*") if p.is_file()]
    assert len(written) == 1 and written[0].resolve().is_relative_to((tmp_path / "area" / "store").resolve())
    reasons = [p.read_text() for p in (tmp_path / "quarantine").glob("*.reason.txt")]
    assert len(reasons) == len(hostile) and all(f"{attribute} is not a valid UID" in r for r in reasons)


@pytest.mark.parametrize("uid", ["/abs/path", "..", "1.2.3/../../x", "1." + "2" * 70, "1.2.", "", None, "1.2 "])
def test_instance_paths_take_valid_uids_only(tmp_path, uid):
    from deidlang.node.paths import UnsafePath, instance_path

    with pytest.raises(UnsafePath, match="SOPInstanceUID is not a valid UID"):
        instance_path(tmp_path, ("StudyInstanceUID", "1.2.3"), ("SOPInstanceUID", uid))
    assert instance_path(tmp_path, ("StudyInstanceUID", "1.2.3"), ("SOPInstanceUID", "1.2.3.0")) == \
        tmp_path.resolve() / "1.2.3" / "1.2.3.0.dcm"


def _half_open(port: int, source: str):
    import socket

    s = socket.socket()
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    s.sendall(b"\x01\x00\x00\x00\x10\x00")  # an A-ASSOCIATE-RQ header announcing 4 KiB, then nothing
    return s


def _timed_echo(port: int) -> float:
    """Seconds for an allowed sender to associate, C-ECHO and release."""
    ae = AE(ae_title="MODALITY")
    ae.add_requested_context(Verification)
    started = time.monotonic()
    assoc = ae.associate("127.0.0.1", port, ae_title="DEID")
    assert assoc.is_established
    assert assoc.send_c_echo().Status == 0
    assoc.release()
    return time.monotonic() - started


def test_half_open_connections_cannot_lock_out_an_allowed_sender(node, tmp_path):
    """With 32 half-open connections held, an allowed C-ECHO takes about what it takes without them
    (a same-run baseline, so a loaded machine does not fail it), within a second on an idle one; locked
    out, it would wait for the node's 10 s timeout."""
    lines = []
    n = node(store=tmp_path / "store", log=lines.append, timeout=10.0)
    alone = min(_timed_echo(n.address[1]) for _ in range(3))
    held = [_half_open(n.address[1], "127.0.0.2") for _ in range(32)]  # another host (loopback alias)
    try:
        assert _wait(lambda: any("connection from 127.0.0.2 refused" in line for line in lines), 10)
        took = _timed_echo(n.address[1])
        assert took < max(1.0, 5 * alone + 0.5), (took, alone)
        assert took < 5.0  # far from the 10 s a locked-out sender would wait
    finally:
        for s in held:
            s.close()


def test_half_open_connections_are_dropped_after_the_timeout(node, tmp_path):
    n = node(store=tmp_path / "store", timeout=1.0, per_peer=2)
    held = [_half_open(n.address[1], "127.0.0.1") for _ in range(2)]
    try:
        time.sleep(2.0)  # the node drops them: the slots of this peer are free again
        assert all(s.recv(1) == b"" for s in held)
        ae = AE(ae_title="MODALITY")
        ae.add_requested_context(Verification)
        assoc = ae.associate("127.0.0.1", n.address[1], ae_title="DEID")
        assert assoc.is_established
        assoc.release()
    finally:
        for s in held:
            s.close()


def test_called_ae_title_is_checked_and_every_refusal_is_logged(node, tmp_path):
    lines = []
    n = node(store=tmp_path / "store", log=lines.append, allow=("MODALITY", "PACS@localhost"))
    results = {}
    for calling, called in (("MODALITY", "OTHER"), ("STRANGER", "DEID"), ("PACS", "DEID")):
        ae = AE(ae_title=calling)
        ae.add_requested_context(Verification)
        assoc = ae.associate("127.0.0.1", n.address[1], ae_title=called)
        results[calling] = assoc.is_established
        if assoc.is_established:
            assoc.release()
    assert results == {"MODALITY": False, "STRANGER": False, "PACS": True}  # localhost resolved at start
    time.sleep(0.2)
    assert any("MODALITY@127.0.0.1 refused: called AE title 'OTHER'" in line for line in lines)
    assert any("STRANGER@127.0.0.1 refused: calling AE title not allowed" in line for line in lines)


def test_a_host_name_that_does_not_resolve_is_a_clear_error(tmp_path):
    from deidlang.errors import InputError

    with pytest.raises(InputError, match="does not resolve"):
        Node(deidlang.compile("basic-profile"), KEY, store=tmp_path, allow=("PACS@no-such-host.invalid",))
    with pytest.raises(InputError, match="does not resolve"):
        Node(deidlang.compile("basic-profile"), KEY, forward=Destination("A", "no-such-host.invalid", 104),
             outbox=tmp_path)


def test_audit_lines_name_the_caller_and_the_deidentified_uids_only(node, tmp_path):
    lines = []
    rules = 'include "basic-profile"\nreject if BurnedInAnnotation == "YES" because "burned-in text"'
    n = node(store=tmp_path / "store", report=lines.append, rules=rules)
    good, bad = study(2)
    bad.BurnedInAnnotation = "YES"
    assert send(n.address[1], [good, bad]) == [0, 0xC000]
    stored = dcmread(next((tmp_path / "store").rglob("*.dcm")))
    assert lines[0]["outcome"] == "stored" and lines[0]["status"] == "0x0000"
    assert lines[0]["calling_ae"] == "MODALITY" and lines[0]["address"] == "127.0.0.1"
    assert (lines[0]["study"], lines[0]["series"], lines[0]["sop"]) == (
        stored.StudyInstanceUID, stored.SeriesInstanceUID, stored.SOPInstanceUID)
    assert lines[0]["plan"] == n.plan.plan_hash and lines[0]["time"].endswith("Z")
    assert lines[1]["outcome"] == "rejected" and lines[1]["status"] == "0xC000" and lines[1]["sop"] is None
    text = repr(lines)
    for ds in (good, bad):
        assert ds.SOPInstanceUID not in text and ds.StudyInstanceUID not in text and ds.PatientID not in text


# ------------------------------------------------------------ the sender (issue 21)

class Scripted_SCP(Destination_SCP):
    """A destination whose answer depends on the instance: ``answer(dataset) -> status``; it accepts
    the given transfer syntaxes only."""

    def __init__(self, answer, syntaxes=None, sop_classes=(CTImageStorage,)) -> None:
        super().__init__()
        self.answer, self.syntaxes, self.sop_classes = answer, syntaxes, sop_classes
        self.syntax_seen: list[str] = []

    def start(self, port: int = 0) -> None:
        from pynetdicom import DEFAULT_TRANSFER_SYNTAXES

        ae = AE(ae_title="ARCHIVE")
        for sop in self.sop_classes:
            ae.add_supported_context(sop, self.syntaxes or DEFAULT_TRANSFER_SYNTAXES)

        def on_store(event):
            ds = event.dataset
            self.syntax_seen.append(str(event.context.transfer_syntax))
            status = self.answer(ds)
            if status in (0, 0xB000, 0xB006, 0xB007):
                self.received.add(ds.SOPInstanceUID)
            return status

        self.server = ae.start_server(("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)])
        self.port = self.server.server_address[1]


def _wait(condition, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def test_refused_instances_go_to_the_dead_letter_folder_and_warnings_count_as_delivered(node, tmp_path):
    answers = {1: 0xA900, 2: 0xB000, 3: 0xB006, 4: 0xB007, 5: 0xC123}
    archive = Scripted_SCP(lambda ds: answers.get(int(ds.InstanceNumber), 0))
    archive.start()
    lines = []
    n = node(forward=Destination("ARCHIVE", "127.0.0.1", archive.port), outbox=tmp_path / "outbox",
             retry_seconds=0.05, tries=3, report=lines.append)
    try:
        assert send(n.address[1], study(8)) == [0] * 8
        assert _wait(lambda: n.forwarder.dead_lettered == 2 and len(archive.received) == 6)
    finally:
        archive.stop()
    dead = sorted((tmp_path / "outbox" / "dead-letter").glob("*.reason.txt"))
    assert len(dead) == 2 and {d.read_text().strip() for d in dead} == {
        "the destination refused the instance (status 0xA900) (3 attempts)",
        "the destination refused the instance (status 0xC123) (3 attempts)"}
    assert not list((tmp_path / "outbox").glob("*.dcm"))
    delivered = [line for line in lines if line["outcome"] == "delivered"]
    assert sorted(line["destination_status"] for line in delivered) == ["0x0000"] * 3 + ["0xB000", "0xB006", "0xB007"]
    assert all(line["sop"] in archive.received and line["plan"] == n.plan.plan_hash for line in delivered)
    assert [line["outcome"] for line in lines].count("dead-lettered") == 2


def test_instances_are_converted_to_what_the_destination_accepts(node, tmp_path):
    from pydicom.uid import ImplicitVRLittleEndian, RLELossless

    archive = Scripted_SCP(lambda ds: 0, syntaxes=[ImplicitVRLittleEndian])
    archive.start()
    n = node(forward=Destination("ARCHIVE", "127.0.0.1", archive.port), outbox=tmp_path / "outbox")
    datasets = study(2)
    datasets[0].compress(RLELossless)
    try:
        ae = AE(ae_title="MODALITY")
        ae.add_requested_context(CTImageStorage, [RLELossless])
        ae.add_requested_context(CTImageStorage)
        assoc = ae.associate("127.0.0.1", n.address[1], ae_title="DEID")
        assert [assoc.send_c_store(ds).Status for ds in datasets] == [0, 0]
        assoc.release()
        assert _wait(lambda: len(archive.received) == 2)
    finally:
        archive.stop()
    assert archive.syntax_seen == [ImplicitVRLittleEndian] * 2


def test_a_destination_without_the_sop_class_dead_letters_and_the_queue_moves_on(node, tmp_path):
    from pynetdicom.sop_class import MRImageStorage

    archive = Scripted_SCP(lambda ds: 0, sop_classes=(MRImageStorage,))
    archive.start()
    n = node(forward=Destination("ARCHIVE", "127.0.0.1", archive.port), outbox=tmp_path / "outbox",
             retry_seconds=0.05, tries=2)
    try:
        assert send(n.address[1], study(3)) == [0] * 3
        assert _wait(lambda: n.forwarder.dead_lettered == 3)
    finally:
        archive.stop()
    reasons = {p.read_text().strip() for p in (tmp_path / "outbox" / "dead-letter").glob("*.reason.txt")}
    assert reasons == {"the destination does not accept this SOP class (2 attempts)"}


def test_the_watchdog_restarts_a_sender_that_died(node, tmp_path, monkeypatch):
    archive = Destination_SCP()
    archive.start()
    lines = []
    n = node(forward=Destination("ARCHIVE", "127.0.0.1", archive.port), outbox=tmp_path / "outbox",
             log=lines.append)

    class Death(BaseException):
        pass

    real = n.forwarder.delivery.send
    deaths = []

    def dies_once(items, stopping):
        if not deaths:
            deaths.append(1)
            raise Death()
        return real(items, stopping)

    monkeypatch.setattr(n.forwarder.delivery, "send", dies_once)
    try:
        assert send(n.address[1], study(3)) == [0] * 3
        assert _wait(lambda: len(archive.received) == 3)
    finally:
        archive.stop()
    assert n.forwarder.restarts == 1 and any("restarted by the watchdog" in line for line in lines)


def test_an_unreachable_destination_is_logged_once_and_health_shows_it(node, tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    lines = []
    n = node(forward=Destination("ARCHIVE", "127.0.0.1", port), outbox=tmp_path / "outbox", log=lines.append,
             retry_seconds=0.05, max_backoff=0.2)
    assert send(n.address[1], study(2)) == [0, 0]
    time.sleep(2)
    health = n.health()["forward"]
    assert health["queue"] == 2 and health["reachable"] is False and health["oldest_age_seconds"] >= 1
    assert health["last_error"]["reason"] == "no connection to the destination" and health["last_success"] is None
    assert sum("not reachable" in line for line in lines) == 1  # once per state change, not per retry
    assert n.forwarder.stalled_for() >= 1
    archive = Destination_SCP()
    archive.start(port)
    try:
        assert _wait(lambda: len(archive.received) == 2)
        assert _wait(lambda: any("reachable again" in line for line in lines), 3)
    finally:
        archive.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(*args: str) -> subprocess.Popen:
    import sys

    return subprocess.Popen([sys.executable, "-m", "deidlang", "serve", "--host", "127.0.0.1", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _planted(ds) -> None:
    """Values pydicom warns about when it reads them (an IS that is not a number, a UID with a
    letter), carrying canaries: its warnings quote them."""
    from pydicom.dataelem import RawDataElement
    from pydicom.tag import Tag

    for tag, vr, value in ((0x00200011, "IS", b"12CANARYIS"), (0x00200013, "IS", b"7CANARYNUM"),
                           (0x00081155, "UI", b"1.2.CANARYUID")):
        ds[tag] = RawDataElement(Tag(tag), vr, len(value), value, 0, False, True)


def test_pydicom_warnings_never_reach_the_log(tmp_path):
    port = _free_port()
    proc = _serve("--port", str(port), "--store", str(tmp_path / "store"), "--allow", "MODALITY",
                  "-r", RETAIN_UIDS, "--report", str(tmp_path / "report.json"))
    try:
        datasets = study(2)
        for ds in datasets:
            _planted(ds)
        assert _wait(lambda: _echo(port), 30)
        ae = AE(ae_title="MODALITY")
        ae.add_requested_context(CTImageStorage)
        assoc = ae.associate("127.0.0.1", port, ae_title="DEID")
        [assoc.send_c_store(ds) for ds in datasets]
        assoc.release()
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=60)
    assert "received" in err
    everything = out + err + (tmp_path / "report.json").read_text()
    assert "CANARY" not in everything and "Invalid value" not in everything


def _echo(port: int) -> bool:
    ae = AE(ae_title="MODALITY")
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", port, ae_title="DEID")
    established = assoc.is_established
    if established:
        assoc.release()
    return established


def test_a_port_in_use_is_a_usage_error(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        proc = _serve("--port", str(s.getsockname()[1]), "--store", str(tmp_path / "store"))
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "cannot listen on 127.0.0.1:" in err and "internal error" not in err


@pytest.mark.integration
def test_serve_exits_non_zero_when_it_cannot_forward_and_the_status_file_says_why(tmp_path):
    port, dead = _free_port(), _free_port()
    status = tmp_path / "status.json"
    proc = _serve("--port", str(port), "--forward", f"ARCHIVE@127.0.0.1:{dead}", "--outbox", str(tmp_path / "out"),
                  "--allow", "MODALITY", "--status-file", str(status), "--max-outage", "3")
    try:
        assert _wait(lambda: _echo(port), 30)
        assert send(port, study(2)) == [0, 0]
        assert _wait(lambda: status.exists() and json.loads(status.read_text())["forward"]["queue"] == 2, 10)
        health = json.loads(status.read_text())
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 1 and "nothing could be forwarded for 3 s" in err
    assert health["queued"] == 2 and health["forward"]["reachable"] is False
    assert health["forward"]["last_error"]["reason"] == "no connection to the destination"
    assert len(list((tmp_path / "out").glob("*.dcm"))) == 2  # nothing lost: delivered on the next start


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_forward_over_tls_verifies_the_destination(node, tmp_path):
    import ssl

    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=archive",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(tmp_path / "key.pem"),
                    "-out", str(tmp_path / "cert.pem")], check=True, capture_output=True)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    archive = node(store=tmp_path / "archive", ssl_context=server, ae_title="ARCHIVE", allow=("DEID",))
    trusted = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(tmp_path / "cert.pem"))
    n = node(forward=Destination("ARCHIVE", "127.0.0.1", archive.address[1]), forward_ssl=trusted,
             outbox=tmp_path / "outbox")
    assert send(n.address[1], study(2)) == [0, 0]
    assert _wait(lambda: n.forwarder.delivered == 2)
    assert len(list((tmp_path / "archive").rglob("*.dcm"))) == 2
    # a destination whose certificate is not the one trusted is never sent anything
    untrusted = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    other = node(forward=Destination("ARCHIVE", "127.0.0.1", archive.address[1]), forward_ssl=untrusted,
                 outbox=tmp_path / "outbox2", retry_seconds=0.1)
    assert send(other.address[1], study(1)) == [0]
    assert _wait(lambda: other.forwarder.last_error is not None, 10)
    assert other.forwarder.delivered == 0 and len(other.outbox.pending()) == 1


# ------------------------------------------------------------ DICOMweb credentials

def test_stow_rs_sends_a_bearer_token_from_a_private_file(node, tmp_path):
    import http.server

    from deidlang.node import WebDestination

    seen = []

    class Archive(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((self.path, self.headers["Authorization"], self.headers["Content-Type"], body.count(b"DICM")))
            self.send_response(200)
            self.send_header("Content-Type", "application/dicom+json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Archive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    token = tmp_path / "token"
    token.write_text("Bearer abc.def.ghi\n")
    token.chmod(0o600)
    try:
        destination = WebDestination.parse(f"http://127.0.0.1:{server.server_address[1]}/dicom-web", str(token))
        n = node(forward=destination, outbox=tmp_path / "outbox")
        assert send(n.address[1], study(3)) == [0, 0, 0]
        assert _wait(lambda: n.forwarder.delivered == 3)
    finally:
        server.shutdown()
    assert {(path, auth) for path, auth, _, _ in seen} == {("/dicom-web/studies", "Bearer abc.def.ghi")}
    assert all(kind.startswith('multipart/related; type="application/dicom"') for _, _, kind, _ in seen)
    assert sum(count for *_, count in seen) == 3


def test_dicomweb_credentials_only_from_a_private_file(tmp_path):
    from deidlang.errors import InputError
    from deidlang.node import WebDestination, parse_destination

    shared = tmp_path / "shared"
    shared.write_text("user:password\n")
    shared.chmod(0o644)
    with pytest.raises(InputError, match="can be read by other users"):
        WebDestination.parse("https://archive.example.org/dicom-web", str(shared))
    with pytest.raises(InputError, match="credentials in the URL are not accepted"):
        parse_destination("https://user:password@archive.example.org/dicom-web")
    shared.chmod(0o600)
    assert WebDestination.parse("https://archive.example.org/dicom-web/", str(shared)).auth == ("user", "password")
    with pytest.raises(InputError, match="--forward-auth is for a DICOMweb destination"):
        parse_destination("ARCHIVE@127.0.0.1:104", auth_file=str(shared))


def test_every_socket_of_the_node_sends_without_nagle(node, tmp_path, monkeypatch):
    import socket

    import deidlang.node.delivery as delivery
    import deidlang.node.listener as listener

    options = []

    def recording(sock):
        real(sock)
        options.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    real = listener.no_delay
    monkeypatch.setattr(listener, "no_delay", recording)
    monkeypatch.setattr(delivery, "no_delay", recording)
    archive = Destination_SCP()
    archive.start()
    try:
        n = node(forward=Destination("ARCHIVE", "127.0.0.1", archive.port), outbox=tmp_path / "outbox")
        assert send(n.address[1], study(2)) == [0, 0]  # the receiving socket
        assert _wait(lambda: len(archive.received) == 2)  # the sending one
    finally:
        archive.stop()
    assert len(options) >= 2 and all(options)
