"""--engine dask (issue 14): the cluster deidlang starts is TLS with a certificate of its own and no
dashboard, nothing without the certificate connects, and the key is never part of a task."""

from __future__ import annotations

import gc
import pickle
import urllib.error
import urllib.request

import pytest

distributed = pytest.importorskip("distributed")

import deidlang  # noqa: E402
from deidlang import cluster  # noqa: E402
from deidlang.engine import Key  # noqa: E402
from deidlang.errors import InputError  # noqa: E402
from deidlang.runner import run  # noqa: E402

from .conftest import KEY  # noqa: E402
from .test_robust import make_inputs  # noqa: E402


@pytest.mark.integration
def test_the_local_cluster_refuses_a_client_without_its_certificate():
    local, security = cluster.local_cluster(1, Key(KEY))
    try:
        address = local.scheduler_address
        assert address.startswith("tls://127.0.0.1:")
        # each refused client is collected at once: left to a later collection, its __del__ once ran
        # inside the next client's start, waited for a lock that start held, and hung the suite
        with pytest.raises(Exception):  # no certificate: the TLS handshake fails
            distributed.Client(address, timeout=3)
        gc.collect()
        with pytest.raises(Exception):  # plain TCP to the same port
            distributed.Client(address.replace("tls://", "tcp://"), timeout=3)
        gc.collect()
        with distributed.Client(local, security=security) as client:
            assert client.submit(lambda: 2).result() == 2
            port = client.scheduler_info()["services"].get("dashboard")  # the HTTP server, not a dashboard
            if port is not None:
                with pytest.raises(urllib.error.HTTPError):  # no dashboard page is served
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5)
    finally:
        local.close()


@pytest.mark.integration
def test_the_key_is_never_part_of_a_task(tmp_path, monkeypatch):
    make_inputs(tmp_path / "in", 2)
    sent = []
    real = distributed.Client.submit

    def submit(self, fn, *args, **kwargs):
        sent.append(pickle.dumps((fn, args, kwargs)))
        return real(self, fn, *args, **kwargs)

    monkeypatch.setattr(distributed.Client, "submit", submit)
    summary = run(deidlang.compile("basic-profile"), [tmp_path / "in"], tmp_path / "out", KEY, workers=1,
                  engine="dask")
    assert summary.written == 2 and sent
    assert not any(KEY in task or KEY.hex().encode() in task for task in sent)


def test_an_external_scheduler_must_be_tls(tmp_path):
    make_inputs(tmp_path / "in", 1)
    with pytest.raises(InputError, match="not a tls:// address"):
        run(deidlang.compile("basic-profile"), [tmp_path / "in"], tmp_path / "out", KEY, engine="dask",
            scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(InputError, match="needs a site key"):
        run(deidlang.compile("basic-profile"), [tmp_path / "in"], tmp_path / "out2", Key.random(), engine="dask",
            scheduler="tls://127.0.0.1:8786")
