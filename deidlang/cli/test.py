"""`deidlang test RULES CASES...`: run rule tests (YAML case files); exit 1 on any failure."""

from __future__ import annotations

import click

from ..review.cases import run_cases


@click.command("test")
@click.argument("rules")
@click.argument("cases", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def command(rules: str, cases: tuple[str, ...]) -> int:
    """Check what RULES do to the inputs of each case file."""
    total_cases = total_checks = failed = 0
    for case_file in cases:
        report = run_cases(rules, case_file)
        total_cases += report.cases
        total_checks += report.checks
        for failure in report.failures:
            failed += 1
            click.echo(f"{case_file}: {failure.render()}", err=True)
    click.echo(f"{total_cases} cases, {total_checks} checks, {failed} failed")
    return 1 if failed else 0
