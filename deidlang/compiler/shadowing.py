"""Warnings about rules that can never decide anything, because a later rule always does first."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from ..plan import Origin, PlanRule, Selector


def shadow_warnings(rules: Sequence[tuple[PlanRule, tuple[int, int]]], origins: Sequence[Origin]) -> list[tuple]:
    """A selector of a rule is shadowed when a later, unconditional rule of the same file has the
    same selector and spares nothing: through it the rule can never decide an element. The whole
    statement is said to decide nothing only when every one of its selectors is shadowed.

    ``rules`` are the plan's rules with their selector's columns, in plan order; the warnings are
    (message, order) or (message, order, col, end_col), as `Plan.warnings` keeps them."""
    last: dict[tuple[Selector, str], PlanRule] = {}
    shadowed: dict[int, list[tuple[PlanRule, tuple[int, int], int]]] = {}
    for rule, cols in reversed(rules):
        key = (rule.selector, origins[rule.order].source)
        later = last.get(key)
        if later is not None and later.order != rule.order:
            shadowed.setdefault(rule.order, []).append((rule, cols, origins[later.order].line))
        if rule.condition is None and not rule.excepts:
            last.setdefault(key, rule)
    statements = Counter(r.order for r, _ in rules)
    warnings: list[tuple] = []
    for order, found in shadowed.items():
        lines = sorted({line for _, _, line in found})
        by = f"line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))} override{'' if len(lines) > 1 else 's'}"
        if len(found) == statements[order]:
            warnings.append((f"this rule never decides anything: {by} it", order))
            continue
        for rule, cols, line in sorted(found, key=lambda f: f[1]):
            name = origins[order].text[cols[0] - 1:cols[1] - 1]
            warnings.append((f"`{name}` is never decided by this rule: line {line} overrides it", order, *cols))
    return warnings
