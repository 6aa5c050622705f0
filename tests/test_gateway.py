"""The gateway against real Orthanc servers (Debian `orthanc`, `orthanc-dicomweb`) on loopback:
forwarding over DIMSE and STOW-RS, a destination killed mid-stream, syntax conversion; skipped
where Orthanc is not installed."""

from __future__ import annotations

import signal
import time
from collections import Counter

import pytest
from pydicom.uid import RLELossless

import deidlang
from deidlang.node import Destination, Node, WebDestination

from .orthanc import Orthanc, needs_dicomweb, needs_orthanc
from .test_node import KEY, send, study

pytestmark = [pytest.mark.integration, needs_orthanc]


@pytest.fixture
def orthanc(tmp_path):
    made: list[Orthanc] = []

    def make(name: str = "RESEARCH", **extra) -> Orthanc:
        server = Orthanc(tmp_path / name.lower(), name, **extra).start()
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop(signal.SIGKILL)


@pytest.fixture
def gateway(tmp_path):
    made: list[Node] = []

    def make(forward, **options) -> tuple[Node, list[dict]]:
        lines: list[dict] = []
        n = Node(deidlang.compile("basic-profile"), KEY, host="127.0.0.1", port=0, allow=("MODALITY",),
                 forward=forward, outbox=tmp_path / "outbox", report=lines.append, retry_seconds=0.2,
                 max_backoff=1.0, **options)
        n.start()
        made.append(n)
        return n, lines

    yield make
    for n in made:
        n.stop(timeout=5)


def _wait(condition, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)
    return condition()


def _delivered(lines: list[dict]) -> Counter:
    return Counter(line["sop"] for line in lines if line["outcome"] == "delivered")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_destination_killed_mid_stream_every_acknowledged_instance_arrives_once(orthanc, gateway, sig):
    research = orthanc()
    n, lines = gateway(Destination("RESEARCH", "127.0.0.1", research.dicom_port))
    datasets = study(80)
    assert send(n.address[1], datasets[:40]) == [0] * 40
    assert _wait(lambda: n.forwarder.delivered >= 10, 30)
    research.stop(sig)  # mid-stream: the sender is inside an association
    assert send(n.address[1], datasets[40:]) == [0] * 40  # still acknowledged: the outbox holds them
    # the sender has seen the outage (an event, not a fixed sleep) before the destination comes back
    assert _wait(lambda: n.forwarder.reachable is False, 60), n.health()
    research.start()
    assert _wait(lambda: n.forwarder.delivered == 80 and not n.outbox.pending(), 180), n.health()
    stored = research.sop_instance_uids()
    acknowledged = {line["sop"] for line in lines if line["outcome"] == "queued"}
    assert len(acknowledged) == 80 and set(stored) == acknowledged
    assert max(Counter(stored).values()) == 1 and max(_delivered(lines).values()) == 1  # no duplicates
    assert n.forwarder.dead_lettered == 0


def test_a_destination_refusing_a_syntax_gets_the_instance_decompressed(orthanc, gateway):
    research = orthanc(AcceptedTransferSyntaxes=["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"])
    n, lines = gateway(Destination("RESEARCH", "127.0.0.1", research.dicom_port))
    datasets = study(3)
    for ds in datasets:
        ds.compress(RLELossless)
    from pynetdicom import AE
    from pynetdicom.sop_class import CTImageStorage

    ae = AE(ae_title="MODALITY")
    ae.add_requested_context(CTImageStorage, [RLELossless])
    assoc = ae.associate("127.0.0.1", n.address[1], ae_title="DEID")
    assert [assoc.send_c_store(ds).Status for ds in datasets] == [0, 0, 0]
    assoc.release()
    assert _wait(lambda: n.forwarder.delivered == 3, 30), n.health()
    for uid in research.sop_instance_uids():
        found = research.post("/tools/find", {"Level": "Instance", "Query": {"SOPInstanceUID": uid}})
        syntax = research.get(f"/instances/{found[0]}/metadata?expand")["TransferSyntax"]
        assert syntax in ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")


@needs_dicomweb
def test_forward_with_stow_rs_and_basic_auth_from_a_file(orthanc, gateway, tmp_path):
    research = orthanc(AuthenticationEnabled=True, RegisteredUsers={"deid": "s3cret-pass"})
    auth = tmp_path / "auth"
    auth.write_text("deid:s3cret-pass\n")
    auth.chmod(0o600)
    destination = WebDestination.parse(f"{research.url}/dicom-web", str(auth))
    n, lines = gateway(destination)
    datasets = study(60)  # two STOW-RS requests (batches of 50)
    assert send(n.address[1], datasets) == [0] * 60
    assert _wait(lambda: n.forwarder.delivered == 60, 60), n.health()
    stored = research.sop_instance_uids()
    assert len(stored) == 60 and set(stored) == set(_delivered(lines))
    assert {line["destination_status"] for line in lines if line["outcome"] == "delivered"} == {"HTTP 200"}


@needs_dicomweb
def test_stow_rs_with_wrong_credentials_waits_and_says_why(orthanc, gateway, tmp_path):
    research = orthanc(AuthenticationEnabled=True, RegisteredUsers={"deid": "s3cret-pass"})
    auth = tmp_path / "auth"
    auth.write_text("deid:wrong\n")
    auth.chmod(0o600)
    n, lines = gateway(WebDestination.parse(f"{research.url}/dicom-web", str(auth)))
    assert send(n.address[1], study(2)) == [0, 0]
    assert _wait(lambda: n.forwarder.last_error is not None, 10)
    assert n.forwarder.last_error[1] == "the DICOMweb server answered HTTP 401"
    assert len(n.outbox.pending()) == 2 and n.forwarder.dead_lettered == 0


def test_pull_a_study_from_clinical_to_research_through_the_node(orthanc, tmp_path):
    import os
    import subprocess
    import sys

    from .orthanc import free_port

    node_port = free_port()
    research = orthanc("RESEARCH")
    clinical = orthanc("CLINICAL", DicomModalities={"deid": ["DEID", "127.0.0.1", node_port]})
    wanted, other = study(4), study(2, series="1.2.826.0.1.3680043.10.3.9.1")
    for ds in other:
        ds.StudyInstanceUID, ds.PatientID = "1.2.826.0.1.3680043.10.3.9", "OTHER-PATIENT-77"
    for ds in wanted + other:
        path = tmp_path / f"{ds.SOPInstanceUID}.dcm"
        ds.save_as(path, enforce_file_format=True)
        clinical.upload(path)
    key = tmp_path / "site.key"
    key.write_bytes(os.urandom(32))
    key.chmod(0o600)
    query = tmp_path / "query.json"
    query.write_text('{"patient_id": "%s"}' % wanted[0].PatientID)
    command = [sys.executable, "-m", "deidlang", "pull", "--from", f"CLINICAL@127.0.0.1:{clinical.dicom_port}",
               "--query-file", str(query), "--port", str(node_port), "--key-file", str(key),
               "--forward", f"RESEARCH@127.0.0.1:{research.dicom_port}", "--outbox", str(tmp_path / "outbox"),
               "--journal", str(tmp_path / "pull.journal"), "--report", str(tmp_path / "audit.jsonl")]
    first = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "pull: 1 matching studies" in first.stderr and "1 studies retrieved" in first.stderr
    stored = research.sop_instance_uids()
    assert len(stored) == 4 and not {ds.SOPInstanceUID for ds in wanted} & set(stored)
    found = research.post("/tools/find", {"Level": "Instance", "Query": {}, "Expand": True})
    assert all(i["MainDicomTags"]["SOPInstanceUID"] != wanted[0].SOPInstanceUID for i in found)
    again = subprocess.run(command, capture_output=True, text=True, timeout=120)  # resumed: nothing to do
    assert again.returncode == 0 and "0 studies retrieved, 1 already done" in again.stderr, again.stderr
    everything = first.stderr + again.stderr + (tmp_path / "pull.journal").read_text() + \
        (tmp_path / "audit.jsonl").read_text()
    for ds in wanted:
        assert ds.PatientID not in everything and ds.StudyInstanceUID not in everything
        assert str(ds.PatientName) not in everything


@pytest.mark.parametrize("mode", ["store", "forward"])
def test_storage_commitment_is_answered_to_the_modality(orthanc, tmp_path, mode):
    from .orthanc import free_port

    node_port = free_port()
    modality = orthanc("MODALITY", DicomModalities={
        "deid": {"AET": "DEID", "Host": "127.0.0.1", "Port": node_port, "AllowStorageCommitment": True}})
    research = orthanc("RESEARCH") if mode == "forward" else None
    options = dict(store=tmp_path / "store") if mode == "store" else dict(
        forward=Destination("RESEARCH", "127.0.0.1", research.dicom_port), outbox=tmp_path / "outbox")
    n = Node(deidlang.compile("basic-profile"), KEY, host="127.0.0.1", port=node_port, allow=("MODALITY",),
             commitment_peers=(Destination("MODALITY", "127.0.0.1", modality.dicom_port),), **options)
    n.start()
    try:
        datasets = study(3)
        for ds in datasets:
            path = tmp_path / f"{ds.SOPInstanceUID}.dcm"
            ds.save_as(path, enforce_file_format=True)
            modality.upload(path)
        modality.post("/modalities/deid/store", {"Resources": modality.get("/instances"), "Synchronous": True})
        asked = [[str(ds.SOPClassUID), str(ds.SOPInstanceUID)] for ds in datasets]
        asked.append([str(datasets[0].SOPClassUID), "1.2.826.0.1.3680043.10.3.404"])  # never sent
        job = modality.post("/modalities/deid/storage-commitment", {"DicomInstances": asked, "Timeout": 60})
        assert _wait(lambda: modality.get(job["Path"])["Status"] != "Pending", 30)
        answer = modality.get(job["Path"])
    finally:
        n.stop(timeout=5)
    assert answer["Status"] == "Failure"  # one instance was never sent
    assert sorted(i["SOPInstanceUID"] for i in answer["Success"]) == sorted(ds.SOPInstanceUID for ds in datasets)
    assert [i["SOPInstanceUID"] for i in answer["Failures"]] == ["1.2.826.0.1.3680043.10.3.404"]
    if research is not None:
        assert len(research.sop_instance_uids()) == 3  # committed only once delivered


@needs_dicomweb
def test_serve_forwards_to_a_dicomweb_url_given_on_the_command_line(orthanc, tmp_path):
    import json
    import subprocess
    import sys

    from .orthanc import free_port
    from .test_node import _echo

    research = orthanc()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "deidlang", "serve", "--port", str(port), "--allow", "MODALITY",
                             "--forward", f"{research.url}/dicom-web", "--outbox", str(tmp_path / "out"),
                             "--report", str(tmp_path / "audit.jsonl"), "--status-file", str(tmp_path / "status.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _wait(lambda: proc.poll() is not None or _echo(port), 30) and proc.poll() is None
        assert send(port, study(5)) == [0] * 5
        assert _wait(lambda: len(research.sop_instance_uids()) == 5, 30)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "5 forwarded" in err, err
    health = json.loads((tmp_path / "status.json").read_text())
    assert health["forward"]["delivered"] == 5 and health["forward"]["queue"] == 0
    lines = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert sorted(line["outcome"] for line in lines) == ["delivered"] * 5 + ["queued"] * 5
