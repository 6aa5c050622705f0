"""`deidlang explain RULES [--json]`: what the rules do to every element, and why."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..compiler import compile_file
from ..explain import decision_table, minimum_table
from ..review.html import render as render_html
from ..substitution import substitutions


@click.command("explain")
@click.argument("rules")
@click.option("--json", "as_json", is_flag=True, help="print the tables as JSON")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="write a self-contained review page")
def command(rules: str, as_json: bool, html_path: str | None) -> int:
    """Print the decision table of RULES: selector, keyword, action, condition, file:line."""
    plan = compile_file(rules)
    if html_path:
        Path(html_path).write_text(render_html(plan), encoding="utf-8")
        click.echo(f"wrote {html_path}: {plan.name} {plan.version} sha256:{plan.plan_hash[:16]}")
        return 0
    decisions, minimum = decision_table(plan), minimum_table(plan)
    if as_json:
        click.echo(json.dumps({
            "ruleset": plan.name, "version": plan.version, "plan_hash": plan.plan_hash, "default": plan.default,
            "codes": list(plan.codes), "minimum": [r.to_dict() for r in minimum],
            "decisions": [r.to_dict() for r in decisions],
            "waivers": [{"tag": f"{w.tag:08X}", "reason": w.reason, "origin": str(plan.origin(w.order))}
                        for w in plan.waivers],
            "substitutions": [r.to_dict() for r in substitutions(plan)],
        }, indent=2))
        return 0
    click.echo(f"ruleset {plan.name} version {plan.version}")
    click.echo(f"plan sha256:{plan.plan_hash} (outputs carry this in DeidentificationMethod)")
    click.echo(f"default {plan.default}; private elements with no rule are removed")
    click.echo("")
    click.echo("aryanto50 minimum (top level; rules apply at every depth):")
    _table([("tag", "keyword", "status", "what happens")] +
           [(r.tag, r.keyword, r.status, r.actions) for r in minimum])
    click.echo("")
    click.echo("decision table (most specific first; the first rule whose condition holds decides):")
    _table([("selector", "keyword", "action", "condition", "except", "source", "status")] +
           [(r.selector, r.keyword, r.action, r.condition, r.excepts, r.origin, r.status) for r in decisions])
    _substitutions(plan)
    return 0


def _substitutions(plan) -> None:
    """Where the IOD's substitute replaces what a rule does (`deidlang.substitution`), by SOP Class."""
    rows = substitutions(plan)
    if not rows:
        return
    click.echo("")
    click.echo("IOD substitutes (where an IOD requires what a rule removes; `run --dry-run` shows them per file):")
    _table([("source", "rule", "attribute", "type", "written", "SOP Classes")] +
           [(r.origin, r.rule, r.attribute, r.type, r.substitute, _classes(r.sop_classes)) for r in rows])


def _classes(names: tuple[str, ...]) -> str:
    shown = ", ".join(n.removesuffix(" Storage") for n in names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [min(40, max(len(r[i]) for r in rows)) for i in range(len(rows[0]) - 1)]
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
