"""`deidlang pull`: retrieve the studies matching a query from a PACS through the de-identifying node."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import click

from ..errors import InputError
from ..plancache import compile_cached as compile_rules
from ..runner import load_key
from .serve import _client_tls, audit_writer, logger


@click.command("pull")
@click.option("--from", "source", required=True, metavar="AE@HOST:PORT", help="the PACS to query and move from")
@click.option("--query-file", type=click.Path(dir_okay=False),
              help="the query as JSON (patient_id, accession, study_uid, date_from, date_to): keeps it out of ps")
@click.option("--patient-id", help="query: PatientID")
@click.option("--accession", help="query: AccessionNumber")
@click.option("--study-uid", help="query: StudyInstanceUID")
@click.option("--date-from", metavar="YYYYMMDD", help="query: StudyDate from")
@click.option("--date-to", metavar="YYYYMMDD", help="query: StudyDate to")
@click.option("-r", "--rules", default="basic-profile", show_default=True, help="rule file or shipped ruleset")
@click.option("--ae-title", default="DEID", show_default=True, help="our AE title: the PACS's move destination")
@click.option("--host", default="127.0.0.1", show_default=True, help="address the PACS sends to")
@click.option("--port", type=int, default=11112, show_default=True)
@click.option("--store", type=click.Path(file_okay=False), help="write de-identified instances here")
@click.option("--forward", help="or send them on to AE@HOST:PORT or a DICOMweb base URL")
@click.option("--outbox", type=click.Path(file_okay=False), default="deidlang-outbox", show_default=True)
@click.option("--forward-tls-ca", type=click.Path(dir_okay=False), help="CA of the destination: TLS on")
@click.option("--forward-auth", type=click.Path(dir_okay=False), help="DICOMweb credentials file (mode 600)")
@click.option("--journal", type=click.Path(dir_okay=False), help="studies done, for resuming (needs a site key)")
@click.option("--key-file", type=click.Path(dir_okay=False), help="site key (else $DEIDLANG_KEY, else random)")
@click.option("--map", "map_path", type=click.Path(dir_okay=False), help="re-identification map (needs a key)")
@click.option("--quarantine", type=click.Path(file_okay=False), help="rejected and failed instances, with reasons")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="audit: one JSON line per event")
@click.option("--timeout", type=click.FloatRange(0.5), default=30, show_default=True)
@click.option("--private", is_flag=True, help="stored and outbox files readable by their owner only (0600); by "
                                              "default the umask decides, as for cp (quarantine: always owner-only)")
def command(source: str, query_file: str | None, patient_id: str | None, accession: str | None,
            study_uid: str | None, date_from: str | None, date_to: str | None, rules: str, ae_title: str, host: str,
            port: int, store: str | None, forward: str | None, outbox: str, forward_tls_ca: str | None,
            forward_auth: str | None, journal: str | None, key_file: str | None, map_path: str | None,
            quarantine: str | None, report_path: str | None, timeout: float, private: bool) -> int:
    """Query a PACS, retrieve the matching studies to this node (C-MOVE), de-identify, store or forward.

    The query values are identifying: they go to the PACS only, never to the log or the journal."""
    try:
        from ..node import Destination, Node, parse_destination
        from ..node.pull import Journal, Query, pull
        from ..node.scp import silence_warnings
    except ImportError:
        raise InputError("`deidlang pull` needs pynetdicom: pip install 'deidlang[node]'") from None
    silence_warnings()
    fields = dict(patient_id=patient_id, accession=accession, study_uid=study_uid, date_from=date_from,
                  date_to=date_to)
    if query_file:
        try:
            fields.update({k: v for k, v in json.loads(Path(query_file).read_text(encoding="utf-8")).items()
                           if k in fields})
        except (OSError, ValueError, AttributeError):
            raise InputError(f"`{query_file}` is not a JSON object of query fields") from None
    query = Query(**{k: (str(v) if v is not None else None) for k, v in fields.items()})
    pacs = Destination.parse(source)
    plan = compile_rules(rules)
    key = load_key(key_file, os.environ)
    done = Journal(Path(journal) if journal else None, key)
    log = logger()
    report, close = audit_writer(report_path)
    destination = parse_destination(forward, tls=_client_tls(forward_tls_ca, None, None), auth_file=forward_auth,
                                    ca_file=forward_tls_ca) if forward else None
    node = Node(plan, key, ae_title=ae_title, host=host, port=port, store=store, forward=destination,
                outbox=outbox, allow=(f"{pacs.ae_title}@{pacs.host}",), quarantine=quarantine, map_path=map_path,
                log=log, report=report, timeout=min(timeout, 30), private=private)
    node.start()
    try:
        progress = pull(pacs, query, ae_title=ae_title, journal=done, timeout=timeout, log=log)
        if node.forwarder is not None:
            deadline = time.monotonic() + 600
            while node.outbox.pending() and node.forwarder.reachable is not False and time.monotonic() < deadline:
                time.sleep(0.2)
    finally:
        node.stop()
        close()
    waiting = len(node.outbox.pending()) if node.outbox is not None else 0
    log(f"pull: {progress.retrieved} studies retrieved, {progress.skipped} already done, "
        f"{progress.incomplete} incomplete; {progress.instances} instances, {node.counts.rejected} rejected, "
        f"{node.counts.failed} failed" + (f"; {waiting} still in the outbox" if waiting else ""))
    return 1 if progress.incomplete or node.counts.failed or node.counts.rejected else 0
