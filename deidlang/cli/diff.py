"""`deidlang diff OLD NEW [--json | --markdown] [--all] [--witness DIR]`: exit 1 when the change
exposes more (or more for some datasets and less for others), 2 on a usage error."""

from __future__ import annotations

import json

import click

from ..review import witness
from ..review.diff import diff_plans, render_markdown, render_text
from ..review.sources import load


@click.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("--json", "as_json", is_flag=True, help="the changes as JSON")
@click.option("--markdown", is_flag=True, help="a table for a pull-request comment")
@click.option("--all", "everything", is_flag=True, help="also list changes that are equivalent for every dataset")
@click.option("--witness", "witness_dir", type=click.Path(file_okay=False),
              help="write a DICOM file per EXPOSES MORE finding that shows it (synthetic values)")
def command(old: str, new: str, as_json: bool, markdown: bool, everything: bool, witness_dir: str | None) -> int:
    """Compare the plans of OLD and NEW (paths, shipped names, or REV:path from git)."""
    before, after = load(old), load(new)
    result = diff_plans(before, after)
    if as_json:
        click.echo(json.dumps(result.to_dict(everything), indent=2))
    else:
        click.echo(render_markdown(result, everything) if markdown else render_text(result, everything))
    if witness_dir:
        for found in witness.write(result, before, after, witness_dir):
            subject = result.changes[found.change].subject
            if found.path:
                click.echo(f"witness {found.path}: {subject}: {found.reason}", err=True)
            else:
                click.echo(f"no witness for {subject}: the new output reveals no planted value the old one hides",
                           err=True)
    return 1 if result.exposure_increased else 0
