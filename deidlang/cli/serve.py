"""`deidlang serve`: the de-identifying DICOM gateway (Storage SCP, then store or forward)."""

from __future__ import annotations

import json
import os
import signal
import ssl
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import click

from ..errors import InputError
from ..fileio import write_atomically
from ..plancache import compile_cached as compile_rules
from ..runner import load_key


@click.command("serve")
@click.option("-r", "--rules", default="basic-profile", show_default=True, help="rule file or shipped ruleset")
@click.option("--ae-title", default="DEID", show_default=True, help="this node's AE title (callers must call it)")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on (0.0.0.0: all)")
@click.option("--port", type=int, default=11112, show_default=True)
@click.option("--store", "store", type=click.Path(file_okay=False), help="write de-identified instances here")
@click.option("--forward", help="send them on to AE@HOST:PORT or a DICOMweb base URL (through the outbox)")
@click.option("--outbox", type=click.Path(file_okay=False), default="deidlang-outbox", show_default=True,
              help="where forwarded instances wait until delivered (kept across restarts)")
@click.option("--dead-letter", type=click.Path(file_okay=False),
              help="instances the destination refused, with reasons [default: OUTBOX/dead-letter]")
@click.option("--tries", type=click.IntRange(1, 100), default=3, show_default=True,
              help="refusals of one instance before it goes to the dead-letter folder")
@click.option("--forward-tls-ca", type=click.Path(dir_okay=False), help="CA of the destination: TLS on for --forward")
@click.option("--forward-tls-cert", type=click.Path(dir_okay=False), help="client certificate for --forward (PEM)")
@click.option("--forward-tls-key", type=click.Path(dir_okay=False), help="its private key (PEM)")
@click.option("--forward-auth", type=click.Path(dir_okay=False),
              help="DICOMweb credentials file: `Bearer TOKEN` or `USER:PASSWORD` (mode 600)")
@click.option("--status-file", type=click.Path(dir_okay=False), help="health as JSON, rewritten every 2 s")
@click.option("--max-outage", type=click.FloatRange(0), default=3600, show_default=True,
              help="exit 1 when nothing could be forwarded for this many seconds (0: never)")
@click.option("--timeout", type=click.FloatRange(0.5), default=10, show_default=True,
              help="connection, ACSE and DIMSE timeout in seconds")
@click.option("--max-per-peer", type=click.IntRange(1), default=4, show_default=True,
              help="connections one address may hold at once")
@click.option("--commitment-peer", multiple=True, metavar="AE@HOST:PORT",
              help="where to send the Storage Commitment report to AE (repeatable)")
@click.option("--commitment-wait", type=click.FloatRange(0), default=60, show_default=True,
              help="forward mode: seconds a commitment report waits for instances still in the outbox")
@click.option("--key-file", type=click.Path(dir_okay=False), help="site key (else $DEIDLANG_KEY, else random)")
@click.option("--map", "map_path", type=click.Path(dir_okay=False), help="re-identification map (needs a key)")
@click.option("--quarantine", type=click.Path(file_okay=False), help="rejected and failed instances, with reasons")
@click.option("--allow", multiple=True, metavar="AE[@HOST]", help="callers allowed to send (repeatable)")
@click.option("--tls-cert", type=click.Path(dir_okay=False), help="this node's certificate (PEM): TLS on")
@click.option("--tls-key", type=click.Path(dir_okay=False), help="its private key (PEM)")
@click.option("--tls-ca", type=click.Path(dir_okay=False), help="CA whose client certificates are required")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="audit: one JSON line per event")
@click.option("--private", is_flag=True, help="stored and outbox files readable by their owner only (0600); by "
                                              "default the umask decides, as for cp (quarantine: always owner-only)")
def command(rules: str, ae_title: str, host: str, port: int, store: str | None, forward: str | None, outbox: str,
            dead_letter: str | None, tries: int, forward_tls_ca: str | None, forward_tls_cert: str | None,
            forward_tls_key: str | None, forward_auth: str | None, status_file: str | None, max_outage: float,
            timeout: float, max_per_peer: int, commitment_peer: tuple[str, ...], commitment_wait: float,
            key_file: str | None, map_path: str | None, quarantine: str | None,
            allow: tuple[str, ...], tls_cert: str | None, tls_key: str | None, tls_ca: str | None,
            report_path: str | None, private: bool) -> int:
    """Receive instances over DICOM, de-identify each as it arrives, store or forward it."""
    try:
        from ..node import Destination, Node, parse_destination  # pynetdicom is an optional extra
        from ..node.scp import silence_warnings
    except ImportError:
        raise InputError("`deidlang serve` needs pynetdicom: pip install 'deidlang[node]'") from None
    silence_warnings()
    plan = compile_rules(rules)
    key = load_key(key_file, os.environ)
    destination = None
    if forward:
        destination = parse_destination(forward, tls=_client_tls(forward_tls_ca, forward_tls_cert, forward_tls_key),
                                        auth_file=forward_auth, ca_file=forward_tls_ca)
    log = logger()
    report, close = audit_writer(report_path)

    node = Node(plan, key, ae_title=ae_title, host=host, port=port, store=store, forward=destination,
                outbox=outbox, dead_letter=dead_letter, tries=tries, allow=allow, quarantine=quarantine,
                map_path=map_path, ssl_context=_server_tls(tls_cert, tls_key, tls_ca), log=log, report=report,
                timeout=timeout, per_peer=max_per_peer, commitment_wait=commitment_wait,
                commitment_peers=tuple(Destination.parse(peer) for peer in commitment_peer), private=private)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    mode = "pseudonymisation (site key)" if key.persistent else "anonymisation (random one-run key)"
    log(f"rules {plan.name} {plan.version} sha256:{plan.plan_hash[:16]}, {mode}")
    node.start()
    code, start, last, logged = 0, time.monotonic(), 0, time.monotonic()
    while not stop.wait(2):
        if status_file:
            _write_status(Path(status_file), node.health())
        if node.forwarder is not None and max_outage and node.forwarder.stalled_for() > max_outage:
            log(f"nothing could be forwarded for {max_outage:g} s: stopping with exit 1")
            code = 1
            break
        received = node.counts.received
        if received != last and time.monotonic() - logged >= 10:
            forwarded = node.forwarder.delivered if node.forwarder else 0
            log(f"{received} received, {node.counts.stored + node.counts.queued} accepted, {forwarded} forwarded, "
                f"{node.counts.rejected} rejected, {node.counts.failed} failed, "
                f"{received / (time.monotonic() - start):.1f}/s")
            last, logged = received, time.monotonic()
    log("stopping: finishing the instances in flight")
    node.stop()
    if status_file:
        _write_status(Path(status_file), node.health())
    close()
    sys.stdout.flush()
    return code


def logger() -> Callable[[str], None]:
    """Log lines to stderr, each with its UTC time."""
    return lambda message: click.echo(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {message}", err=True)


def audit_writer(path: str | None) -> tuple[Callable[[dict], None], Callable[[], None]]:
    """(write one JSON line, close) for ``--report``; lines from several threads never interleave."""
    if not path:
        return (lambda line: None), (lambda: None)
    file = open(path, "a", encoding="utf-8")
    lock = threading.Lock()

    def write(line: dict) -> None:
        with lock:
            file.write(json.dumps(line) + "\n")
            file.flush()

    return write, file.close


def _server_tls(cert: str | None, key: str | None, ca: str | None) -> ssl.SSLContext | None:
    if not cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=ca)
    context.load_cert_chain(cert, key)
    context.verify_mode = ssl.CERT_REQUIRED if ca else ssl.CERT_NONE
    return context


def _client_tls(ca: str | None, cert: str | None, key: str | None) -> ssl.SSLContext | None:
    """TLS to the destination, verifying it against ``ca``, optionally with our client certificate."""
    if not ca:
        if cert:
            raise InputError("--forward-tls-cert needs --forward-tls-ca (the destination is always verified)")
        return None
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
        if cert:
            context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as err:
        raise InputError(f"cannot load the forward TLS files: {getattr(err, 'strerror', None) or err}") from None
    return context


def _write_status(path: Path, health: dict) -> None:
    data = (json.dumps(health, indent=1) + "\n").encode()
    try:
        write_atomically(lambda f: f.write(data), path)
    except OSError:
        pass  # health is best effort; the node goes on
