"""`deidlang verify --report RUN.jsonl`: references and patients of a run, input against output."""

from __future__ import annotations

import click

from ..runner import quiet_pydicom
from ..verify import pairs_from_report, verify


@click.command("verify")
@click.option("--report", "report_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="the --report of the run: which output each input became")
def command(report_path: str) -> int:
    """Report references that resolved among the inputs and do not among the outputs, file meta that
    disagrees with the SOP Instance UID, and patients split into several PatientIDs. Exit 1 if any."""
    quiet_pydicom()
    verdict = verify(pairs_from_report(report_path))
    for line in verdict.lines():
        click.echo(line)
    return 0 if verdict.ok else 1
