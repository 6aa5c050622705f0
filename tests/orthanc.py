"""Real Orthanc servers for the gateway's integration tests: each with its own configuration,
storage and loopback ports, started and stopped by the test (never left running)."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ORTHANC = shutil.which("Orthanc")
DICOMWEB = next((p for p in ("/usr/share/orthanc/plugins/libOrthancDicomWeb.so",
                             "/usr/lib/orthanc/libOrthancDicomWeb.so.1.7") if Path(p).exists()), None)
needs_orthanc = pytest.mark.skipif(ORTHANC is None, reason="Orthanc is not installed (Debian: orthanc)")
needs_dicomweb = pytest.mark.skipif(ORTHANC is None or DICOMWEB is None,
                                    reason="Orthanc's DICOMweb plugin is not installed (Debian: orthanc-dicomweb)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Orthanc:
    """One Orthanc on 127.0.0.1; ``extra`` is merged into its configuration."""

    def __init__(self, folder: Path, aet: str, **extra) -> None:
        import requests

        self.folder, self.aet = folder, aet
        self.dicom_port, self.http_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.http = requests.Session()
        self.config = {
            "Name": aet, "DicomAet": aet, "DicomPort": self.dicom_port, "HttpPort": self.http_port,
            "StorageDirectory": str(folder / "storage"), "IndexDirectory": str(folder / "storage"),
            "RemoteAccessAllowed": False, "AuthenticationEnabled": False, "DicomCheckCalledAet": True,
            "HttpServerEnabled": True, "DicomServerEnabled": True, "ConcurrentJobs": 1,
            "Plugins": [DICOMWEB] if DICOMWEB else [], "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
            "StorageCommitmentReportsSize": 10, "SaveJobs": False, "OrthancExplorerEnabled": False,
            "DicomScpTimeout": 10, "HttpTimeout": 10,
        }
        self.config.update(extra)
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Orthanc":
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "orthanc.json").write_text(json.dumps(self.config))
        log = open(self.folder / "orthanc.log", "ab")
        self.proc = subprocess.Popen([ORTHANC, str(self.folder / "orthanc.json")], stdout=log, stderr=log,
                                     cwd=self.folder)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Orthanc did not start: see {self.folder / 'orthanc.log'}")
            try:
                if self.http.get(f"{self.url}/system", timeout=1, auth=self._auth()).ok:
                    return self
            except Exception:
                pass
            time.sleep(0.1)
        self.stop(signal.SIGKILL)
        raise RuntimeError("Orthanc did not answer within 30 s")

    def _auth(self):
        users = self.config.get("RegisteredUsers")
        return next(iter(users.items())) if users and self.config.get("AuthenticationEnabled") else None

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def get(self, path: str):
        answer = self.http.get(f"{self.url}{path}", timeout=10, auth=self._auth())
        answer.raise_for_status()
        return answer.json()

    def post(self, path: str, body):
        answer = self.http.post(f"{self.url}{path}", json=body, timeout=60, auth=self._auth())
        answer.raise_for_status()
        return answer.json()

    def sop_instance_uids(self) -> list[str]:
        """Every stored instance's SOP Instance UID (a list: duplicates would show)."""
        found = self.post("/tools/find", {"Level": "Instance", "Query": {}, "Expand": True})
        return [i["MainDicomTags"]["SOPInstanceUID"] for i in found]

    def upload(self, path: Path) -> None:
        answer = self.http.post(f"{self.url}/instances", data=path.read_bytes(), timeout=30, auth=self._auth())
        answer.raise_for_status()
