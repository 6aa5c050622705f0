"""How a plan handles one element, in a form two plans can be compared by: the chain of rules that
can decide it at the top level (most specific first, down to the first unconditional one or the
default), and how much of the value can get through in the worst case.

Strength orders actions by what they let through (`deidlang.actions.Action.strength`): 4 removes
the element, 3 replaces its value with one that carries nothing of the original or only through a key,
2 generalises it, 1 cleans free text by heuristics, 0 keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..actions import ACTIONS
from ..dictionary import format_tag, keyword_of, vrs_of
from ..explain import action_text, condition_text
from ..plan import Plan, PlanRule
from ..resolve import Resolver
from ..validate import deciders

@dataclass(frozen=True)
class Step:
    action: str
    condition: str
    origin: str

    def text(self) -> str:
        return self.action + (f" if {self.condition}" if self.condition else "")


@dataclass(frozen=True)
class Handling:
    steps: tuple[Step, ...]
    weakest: int  # the lowest strength any dataset can meet

    def text(self) -> str:
        return "; else ".join(step.text() for step in self.steps)

    def origins(self) -> str:
        return ", ".join(step.origin for step in self.steps if step.origin)


def element_name(tag: int) -> str:
    return f"{keyword_of(tag) or '?'} {format_tag(tag)}"


def vr_for(tag: int) -> str:
    vrs = sorted(vrs_of(tag))
    return vrs[0] if vrs else "UN"


def handling(plan: Plan, resolver: Resolver, tag: int, vr: str | None = None) -> Handling:
    """The top-level handling of a public element (VR from the dictionary unless given)."""
    chain = resolver.candidates(tag, vr or vr_for(tag), None)
    steps: list[Step] = []
    for rule in chain:
        cond = condition_text(plan.conditions[rule.condition]) if rule.condition is not None else ""
        steps.append(Step(action_text(rule), cond, str(plan.origin(rule.order) or "")))
        if rule.condition is None:
            break
    else:
        steps.append(Step(resolver.default_action(tag), "", "default"))
    weakest = min(_strength(plan, resolver, tag, rule) for rule in deciders(plan, chain))
    return Handling(tuple(steps), weakest)


def _strength(plan: Plan, resolver: Resolver, tag: int, rule: PlanRule | None) -> int:
    return ACTIONS[rule.action if rule else resolver.default_action(tag)].strength
