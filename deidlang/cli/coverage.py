"""`deidlang coverage RULES --profile basic-profile [--json] [--kb]`: exit 1 where the rules are weaker."""

from __future__ import annotations

import json

import click

from ..compiler import compile_file
from ..explain import minimum_table
from ..review.coverage import coverage, kb_coverage, kb_totals, totals


@click.command("coverage")
@click.argument("rules")
@click.option("--profile", type=click.Choice(["basic-profile"]), default="basic-profile", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--all", "show_all", is_flag=True, help="list every row, not only the weaker ones")
@click.option("--kb", is_flag=True, help="private elements by the TCIA private tag knowledge base's disposition instead")
def command(rules: str, profile: str, as_json: bool, show_all: bool, kb: bool) -> int:
    """Every row of PS3.15 Table E.1-1: the standard's action and the rules', flagged where weaker."""
    plan = compile_file(rules)
    if kb:
        return _kb(plan, as_json, show_all)
    rows, minimum = coverage(plan), minimum_table(plan)
    weaker = [r for r in rows if r.status == "weaker"]
    if as_json:
        click.echo(json.dumps({"ruleset": plan.name, "version": plan.version, "plan_hash": plan.plan_hash,
                               "minimum": [m.to_dict() for m in minimum], "rows": [r.to_dict() for r in rows],
                               "totals": totals(rows)}, indent=2))
        return 1 if weaker else 0
    protected = sum(m.status == "protected" for m in minimum)
    waived = sum(m.status.startswith("waived") for m in minimum)
    click.echo(f"{plan.name} {plan.version} against {profile} (PS3.15 Table E.1-1)")
    click.echo(f"aryanto50 minimum: {protected} protected, {waived} waived, {50 - protected - waived} exposed")
    for m in minimum:
        if m.status != "protected":
            click.echo(f"  {m.tag} {m.keyword}: {m.status}")
    click.echo("totals by the standard's action (rows: ok / weaker / stronger):")
    for code, counts in totals(rows).items():
        click.echo(f"  {code:<8} {counts['rows']:>4}: {counts.get('ok', 0)} / {counts.get('weaker', 0)} / "
                   f"{counts.get('stronger', 0)}")
    for r in rows if show_all else weaker:
        click.echo(f"{r.status.upper() if r.status == 'weaker' else r.status}: ({r.tag}) {r.name}: standard {r.standard}, "
                   f"rules: {r.plan} ({r.lines})")
    return 1 if weaker else 0


def _kb(plan, as_json: bool, show_all: bool) -> int:
    """Each private element of the TCIA KB: its disposition and the rules' action on it (top level)."""
    rows = kb_coverage(plan)
    weaker = [r for r in rows if r.status == "weaker"]
    if as_json:
        click.echo(json.dumps({"ruleset": plan.name, "version": plan.version, "plan_hash": plan.plan_hash,
                               "kb": [vars(r) for r in rows], "totals": kb_totals(rows)}, indent=2))
        return 1 if weaker else 0
    click.echo(f"{plan.name} {plan.version} against the TCIA private tag knowledge base (2024-02-01), "
               f"{len(rows)} private elements by creator, offset and VR")
    click.echo("by the KB's disposition: the rules' actions")
    for disposition, actions in kb_totals(rows).items():
        click.echo(f"  {disposition:<10} {sum(actions.values()):>5}: "
                   + ", ".join(f"{a} {n}" for a, n in sorted(actions.items())))
    for r in rows if show_all else weaker:
        click.echo(f"{r.status.upper() if r.status == 'weaker' else r.status}: \"{r.creator}\" {r.element} vr {r.vr}: "
                   f"KB {r.disposition}, rules: {r.plan}")
    return 1 if weaker else 0
