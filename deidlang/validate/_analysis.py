"""Can an element survive unchanged? The static question behind every obligation.

For one element the resolver gives a chain of candidate rules, most specific first, then the default.
Under a truth assignment of the conditions the first rule whose condition holds decides. We enumerate
assignments of the atomic predicates (comparisons, `in`, `exists`) that occur in the chain up to its
first unconditional rule (the rules after it never decide), so correlated conditions (``if A`` then
``if not A``) are judged exactly; past `MAX_ATOMS` atoms each condition is treated as free, which can
only make the answer more cautious.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..actions import always_changes
from ..conditions import atoms, holds
from ..plan import Plan, PlanRule
from ..resolve import Resolver

MAX_ATOMS = 12


@dataclass(frozen=True)
class Survival:
    """How a value can get through: the rule that lets it (None: the default), and the path rule that
    narrows it to a position, if any."""

    rule: PlanRule | None
    via_path: bool = False
    #: changed, but by a constant date offset: anyone who reads the rules can undo it
    reversible: bool = False


def survivals(plan: Plan, resolver: Resolver, tag: int, vr: str,
              changes: Callable[[str], bool] = always_changes) -> list[Survival]:
    """Every way an element of this tag and VR, anywhere in a dataset, can keep its value."""
    base = resolver.candidates(tag, vr, None)
    chains = [(base, False)]
    for rule in resolver.path_rules(tag):
        if not any(e.matches(tag, vr, None) for e in rule.excepts):
            chains.append(((rule, *base), True))
    found: dict[int | None, Survival] = {}
    for chain, via_path in chains:
        for rule in deciders(plan, chain):
            action = rule.action if rule else resolver.default_action(tag)
            if not changes(action):
                found.setdefault(rule.order if rule else None, Survival(rule, via_path))
            elif rule is not None and constant_shift(rule):
                found.setdefault(rule.order, Survival(rule, via_path, reversible=True))
    return list(found.values())


def constant_shift(rule: PlanRule) -> bool:
    """A `shift-date` by a fixed number of days: written in a reviewed, versioned rule file, the offset
    is known to every reader, so the original date is one subtraction away. A keyed per-patient shift
    is not (its offsets need the key)."""
    return rule.action == "shift-date" and rule.argument is not None and not rule.argument.per_patient


def deciders(plan: Plan, chain: tuple[PlanRule, ...]) -> Iterable[PlanRule | None]:
    """The rules of a chain that decide under at least one assignment (None: the default).

    Only rules up to the chain's first unconditional one can decide, so the work grows with that
    prefix, never with the number of assignments of every condition in the chain."""
    reach = next((i for i, r in enumerate(chain) if r.condition is None), len(chain))
    last = chain[reach] if reach < len(chain) else None  # what decides when no condition holds
    conds = [plan.conditions[r.condition] for r in chain[:reach]]
    names = sorted({a for c in conds for a in atoms(c)}, key=repr)
    if len(names) > MAX_ATOMS:
        # too many atoms: each condition free, so each conditional rule decides when it alone holds
        # (listed in the order an enumeration of the assignments, all false first, meets them)
        return [last, *reversed(chain[:reach])]
    # exact: a rule whose condition an earlier rule has never decides (the earlier one does first)
    first: dict[int, int] = {}
    for i, rule in enumerate(chain[:reach]):
        first.setdefault(rule.condition, i)
    candidates = sorted(first.values())
    found: dict[int, PlanRule | None] = {}
    for values in itertools.product((False, True), repeat=len(names)):
        truth = dict(zip(names, values))
        index = next((i for i in candidates if holds(conds[i], truth.__getitem__)), reach)
        found.setdefault(index, chain[index] if index < reach else last)
    return found.values()
