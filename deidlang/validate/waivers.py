"""Obligation: every waiver is needed. A waiver for an element outside the minimum, or for one the
plan changes anyway, is a warning, so that reviewers do not read it as an exposure."""

from __future__ import annotations

from ..dictionary import aryanto50, format_tag, keyword_of
from ..plan import Plan
from ..resolve import Resolver
from ._analysis import survivals
from ._finding import Finding


def waivers(plan: Plan, resolver: Resolver) -> list[Finding]:
    minimum = {e.tag: e for e in aryanto50()}
    findings = []
    for waiver in plan.waivers:
        name = f"`{keyword_of(waiver.tag) or format_tag(waiver.tag)}`"
        element = minimum.get(waiver.tag)
        if element is None:
            findings.append(Finding("warning", f"{name} is not in the minimum: the waiver has no effect",
                                    plan.origin(waiver.order)))
        elif not survivals(plan, resolver, waiver.tag, element.vr):
            findings.append(Finding("warning", f"{name} is always changed or removed: the waiver is not needed",
                                    plan.origin(waiver.order)))
    return findings
