"""`deidlang check RULES [--profile basic-profile]`: compile and prove; 0 valid, 1 invalid."""

from __future__ import annotations

import click

from ..compiler import compile_file
from ..dictionary import format_tag, keyword_of
from ..review.diff import diff_plans
from ..review.sources import load
from ..validate import PROFILES, Finding, pixel_coverage, validate


@click.command("check")
@click.argument("rules")
@click.option("--profile", type=click.Choice(sorted(PROFILES)), help="also prove coverage of this profile")
@click.option("--against", metavar="OLD", help="the previous rules (path or REV:path): warn when exposure "
                                             "increases but the version does not change")
def command(rules: str, profile: str | None, against: str | None) -> int:
    """Compile RULES (a path or a shipped ruleset name) and check its proof obligations."""
    plan = compile_file(rules)
    findings = validate(plan, profile)
    if against:
        change = diff_plans(load(against), plan)
        if change.exposure_increased and change.same_version:
            findings.append(Finding("warning", f"exposure increases against `{against}` but the version stays "
                                    f"{plan.version}", None, "bump the ruleset version: outputs record it"))
    for finding in findings:
        click.echo(finding.render(), err=True)
    errors = sum(f.is_error for f in findings)
    warnings = len(findings) - errors
    for waiver in plan.waivers:
        name = keyword_of(waiver.tag) or format_tag(waiver.tag)
        click.echo(f"waiver: {name} {format_tag(waiver.tag)} because \"{waiver.reason}\" ({plan.origin(waiver.order)})")
    if plan.pixel_waiver is not None:
        click.echo(f"waiver: pixels because \"{plan.pixel_waiver.reason}\" ({plan.origin(plan.pixel_waiver.order)})")
    for line in _pixel_lines(plan):
        click.echo(line)
    minimum = "off: " + (plan.minimum_reason or "") if plan.minimum == "none" else plan.minimum
    verdict = "invalid" if errors else "valid"
    click.echo(f"{verdict}: {plan.name} {plan.version}, {len(plan.rules)} rules, plan sha256:{plan.plan_hash}, "
               f"minimum {minimum}" + (f", profile {profile}" if profile else "")
               + f", {errors} error(s), {warnings} warning(s)")
    return 1 if errors else 0


_PIXEL_STATUS = {
    "covered": "a complete blackout always applies",
    "decided": "a pixel rule always applies (not complete: PatientIdentityRemoved NO)",
    "partly": "rejected unless a rule's condition holds",
    "rejected": "rejected: no pixel rule decides them",
    "waived": "WRITTEN WITHOUT A PIXEL RULE unless one applies (waived; PatientIdentityRemoved NO)",
}


def _pixel_lines(plan) -> list[str]:
    """The pixel obligation, one line per risk class: what reaches output, and by which rules."""
    lines = []
    for cover in pixel_coverage(plan):
        where = ", ".join(str(plan.origin(r.order)) for r in cover.rules)
        lines.append(f"pixels: {cover.name}: {_PIXEL_STATUS[cover.status]}" + (f" ({where})" if where else ""))
    return lines
