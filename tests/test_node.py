"""The DICOM node on loopback: real associations from pynetdicom's SCU (and DCMTK's storescu where
installed), the same checks as the batch runner."""

from __future__ import annotations

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


def test_burst_from_two_concurrent_associations_loses_nothing(node, tmp_path):
    n = node(store=tmp_path / "store")
    batches = [study(150, f"1.2.826.0.1.3680043.10.3.1.{s}") for s in (7, 8)]
    results: list[list[int]] = []
    threads = [threading.Thread(target=lambda b=b: results.append(send(n.address[1], b))) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
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
