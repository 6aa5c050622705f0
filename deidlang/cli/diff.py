"""`deidlang diff OLD NEW [--json | --markdown]`: exit 1 when the change exposes more."""

from __future__ import annotations

import json

import click

from ..review.diff import diff_plans, render_markdown, render_text
from ..review.sources import load


@click.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("--json", "as_json", is_flag=True, help="the changes as JSON")
@click.option("--markdown", is_flag=True, help="a table for a pull-request comment")
def command(old: str, new: str, as_json: bool, markdown: bool) -> int:
    """Compare the plans of OLD and NEW (paths, shipped names, or REV:path from git)."""
    result = diff_plans(load(old), load(new))
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo(render_markdown(result) if markdown else render_text(result))
    return 1 if result.exposure_increased else 0
