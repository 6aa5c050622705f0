"""Obligation (on request): the plan is at least as strong as the PS3.15 Annex E Basic Profile.

Every row of Table E.1-1 whose basic action is not K must be changed or removed under every
condition, unless an option the plan declares with `code` retains or cleans it (the option columns).
The pattern rows are checked on a representative element: curve data, overlay data and comments,
and a private element of an unknown creator.
"""

from __future__ import annotations

from ..dictionary import E1_1_PATTERNS, OPTION_COLUMNS, e1_1, format_tag, parse_tag, vrs_of
from ..actions import always_changes
from ..plan import Plan
from ..resolve import Resolver
from ._analysis import survivals
from ._finding import Finding
from .minimum import leak_finding



def _any_action(action: str) -> bool:
    return True


def basic_profile(plan: Plan, resolver: Resolver) -> list[Finding]:
    codes = set(plan.codes)
    findings = []
    for row in e1_1():
        if row["basic_profile"] == "K":
            continue
        if any(row[column] and code in codes for column, (code, _) in OPTION_COLUMNS.items()):
            continue
        if row["tag"] in E1_1_PATTERNS:
            tag, vr = E1_1_PATTERNS[row["tag"]]
            vrs = [vr]
        else:
            tag = parse_tag(row["tag"])
            vrs = sorted(vrs_of(tag)) or ["UN"]
        name = f"`{row['keyword'] or row['name']}` {row['tag'] if row['tag'] in E1_1_PATTERNS else format_tag(tag)}"
        # X/Z/U*: keeping the sequence while its UIDs are re-mapped is one of the standard's choices.
        changes = _any_action if row["basic_profile"] == "X/Z/U*" else always_changes
        for vr in vrs:
            for survival in survivals(plan, resolver, tag, vr, changes):
                findings.append(leak_finding(plan, name, survival, f"has basic-profile action {row['basic_profile']}",
                                             tag))
    return findings
