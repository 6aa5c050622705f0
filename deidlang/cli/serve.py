"""`deidlang serve`: the de-identifying DICOM node (Storage SCP, then store or forward)."""

from __future__ import annotations

import json
import os
import signal
import ssl
import sys
import threading
import time

import click

from ..plancache import compile_cached as compile_rules
from ..errors import InputError
from ..runner import load_key


@click.command("serve")
@click.option("-r", "--rules", default="basic-profile", show_default=True, help="rule file or shipped ruleset")
@click.option("--ae-title", default="DEID", show_default=True)
@click.option("--host", default="0.0.0.0", show_default=True, help="address to listen on")
@click.option("--port", type=int, default=11112, show_default=True)
@click.option("--store", "store", type=click.Path(file_okay=False), help="write de-identified instances here")
@click.option("--forward", help="send them on to AE@HOST:PORT (through the outbox)")
@click.option("--outbox", type=click.Path(file_okay=False), default="deidlang-outbox", show_default=True,
              help="where forwarded instances wait until delivered (kept across restarts)")
@click.option("--key-file", type=click.Path(dir_okay=False), help="site key (else $DEIDLANG_KEY, else random)")
@click.option("--map", "map_path", type=click.Path(dir_okay=False), help="re-identification map (needs a key)")
@click.option("--quarantine", type=click.Path(file_okay=False), help="rejected and failed instances, with reasons")
@click.option("--allow", multiple=True, metavar="AE[@HOST]", help="callers allowed to send (repeatable)")
@click.option("--tls-cert", type=click.Path(dir_okay=False), help="this node's certificate (PEM): TLS on")
@click.option("--tls-key", type=click.Path(dir_okay=False), help="its private key (PEM)")
@click.option("--tls-ca", type=click.Path(dir_okay=False), help="CA whose client certificates are required")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="one JSON line per instance")
def command(rules: str, ae_title: str, host: str, port: int, store: str | None, forward: str | None, outbox: str,
            key_file: str | None, map_path: str | None, quarantine: str | None, allow: tuple[str, ...],
            tls_cert: str | None, tls_key: str | None, tls_ca: str | None, report_path: str | None) -> int:
    """Receive instances over DICOM, de-identify each as it arrives, store or forward it."""
    try:
        from ..node import Destination, Node  # pynetdicom is an optional extra
    except ImportError:
        raise InputError("`deidlang serve` needs pynetdicom: pip install 'deidlang[node]'") from None
    plan = compile_rules(rules)
    key = load_key(key_file, os.environ)
    context = None
    if tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=tls_ca)
        context.load_cert_chain(tls_cert, tls_key)
        context.verify_mode = ssl.CERT_REQUIRED if tls_ca else ssl.CERT_NONE
    report_file = open(report_path, "a", encoding="utf-8") if report_path else None
    lock = threading.Lock()

    def log(message: str) -> None:
        click.echo(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}", err=True)

    def report(line: dict) -> None:
        if report_file is not None:
            with lock:
                report_file.write(json.dumps(line) + "\n")
                report_file.flush()

    node = Node(plan, key, ae_title=ae_title, host=host, port=port, store=store,
                forward=Destination.parse(forward) if forward else None, outbox=outbox, allow=allow,
                quarantine=quarantine, map_path=map_path, ssl_context=context, log=log, report=report)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    mode = "pseudonymisation (site key)" if key.persistent else "anonymisation (random one-run key)"
    log(f"rules {plan.name} {plan.version} sha256:{plan.plan_hash[:16]}, {mode}")
    node.start()
    start, last = time.monotonic(), 0
    while not stop.wait(10):
        received = node.counts.received
        if received != last:
            log(f"{received} received, {node.counts.stored + node.counts.queued} accepted, "
                f"{node.counts.forwarded} forwarded, {node.counts.rejected} rejected, {node.counts.failed} failed, "
                f"{received / (time.monotonic() - start):.1f}/s")
            last = received
    log("stopping: finishing the instances in flight")
    node.stop()
    if report_file is not None:
        report_file.close()
    sys.stdout.flush()
    return 0
