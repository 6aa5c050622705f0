"""Warnings about rules that can never decide anything, because a later rule always does first."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from ..plan import Origin, PlanRule
from .selectors import selector_fields


def shadow_warnings(rules: Sequence[tuple[PlanRule, tuple[int, int]]], origins: Sequence[Origin]) -> list[tuple]:
    """A selector of a rule is shadowed when a later, unconditional rule of the same file has the
    same selector and spares nothing: through it the rule can never decide an element. The whole
    statement is said to decide nothing only when every one of its selectors is shadowed.

    ``rules`` are the plan's rules with their selector's columns, in plan order; the warnings are
    (message, order) or (message, order, col, end_col), as `Plan.warnings` keeps them. One pass
    from the end, one dictionary lookup per rule: a long file is mostly rules nothing overrides."""
    sources = [origin.span.source for origin in origins]
    last: dict[tuple[tuple, str], int] = {}  # the order of the last unconditional rule that spares nothing
    shadowed: dict[int, list[tuple[tuple[int, int], int]]] = {}  # order -> (columns, the overriding order)
    for rule, cols in reversed(rules):
        order = rule.order
        key = (selector_fields(rule.selector), sources[order])
        later = last.get(key)
        if later is None:
            if rule.condition is None and not rule.excepts:
                last[key] = order
        elif later != order:
            shadowed.setdefault(order, []).append((cols, later))
    selectors = Counter(rule.order for rule, _ in rules)  # per statement
    warnings: list[tuple] = []
    for order, found in shadowed.items():
        if len(found) == 1:  # nearly always: one selector, one line overriding it
            by = f"line {origins[found[0][1]].span.line} overrides"
        else:
            lines = sorted({origins[later].span.line for _, later in found})
            by = f"line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))} override{'' if len(lines) > 1 else 's'}"
        if len(found) == selectors[order]:
            warnings.append((f"this rule never decides anything: {by} it", order))
            continue
        text = origins[order].text
        for cols, later in sorted(found):
            warnings.append((f"`{text[cols[0] - 1:cols[1] - 1]}` is never decided by this rule: line "
                             f"{origins[later].span.line} overrides it", order, *cols))
    return warnings
