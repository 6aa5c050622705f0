"""Obligation: no element of the Aryanto 50 survives unchanged, under any condition, at any depth,
unless a `waive` names it. `require minimum none because "..."` turns it off, with its reason."""

from __future__ import annotations

from ..dictionary import aryanto50, format_tag
from ..plan import Plan
from ..resolve import Resolver
from ._analysis import Survival, survivals
from ._finding import Finding


def minimum(plan: Plan, resolver: Resolver) -> list[Finding]:
    if plan.minimum == "none":
        return []
    waived = {w.tag for w in plan.waivers}
    findings = []
    for element in aryanto50():
        if element.tag in waived:
            continue
        for survival in survivals(plan, resolver, element.tag, element.vr):
            findings.append(leak_finding(plan, f"`{element.keyword}` {format_tag(element.tag)}", survival,
                                         "is in the aryanto50 minimum but", element.tag, waivable=True))
    return findings


def leak_finding(plan: Plan, name: str, survival: Survival, what: str, tag: int, waivable: bool = False) -> Finding:
    rule = survival.rule
    if rule is None:
        why = "no rule decides it and the default is `keep`"
        help_ = f"add a rule that removes or replaces {name}, or `waive` it with a reason"
        return Finding("error", f"{name} {what} can survive unchanged: {why}", None, help_, tag, waivable)
    where = "in one sequence position " if survival.via_path else ""
    if survival.reversible:
        return Finding("error", f"{name} {what} is only shifted by a constant offset {where}which anyone who "
                       "reads the rules can undo", plan.origin(rule.order),
                       f"shift it `by patient within N days` (keyed), or `waive` {name.split(' ')[0]} with a reason",
                       tag, waivable, plan.columns_of(rule))
    why = f"`{rule.action}` {where}lets it through"
    return Finding("error", f"{name} {what} can survive unchanged: {why}", plan.origin(rule.order),
                   f"change this rule or `waive` {name.split(' ')[0]} with a reason", tag, waivable,
                   plan.columns_of(rule))
