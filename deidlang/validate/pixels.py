"""The pixel obligation: which files that may carry burned-in text (`pixelrisk`) can reach output
without a pixel rule deciding their pixels.

The engine rejects such a file unless a text pixel rule (`blackout`, `blackout detected-text`) applies
to it or the rules `waive pixels`; this module says, per risk class, what the plan does, so that
`check` can print it and a reviewer sees which images the rules let out and on what grounds.
Conditions are judged statically: a rule with a condition may or may not apply to a given file.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..conditions import And, Compare, Condition, Member
from ..pixelrisk import CLASSES, DECLARED, MODALITY, SOP_CLASS
from ..plan import PixelRule, Plan


@dataclass(frozen=True)
class PixelCoverage:
    """What happens to one risk class: ``covered`` (an unconditional complete blackout: identity
    removed), ``decided`` (an unconditional pixel rule, not complete), ``partly`` (rules with
    conditions; files they miss are rejected), ``rejected`` (no rule), ``waived`` (written as they
    are, marked PatientIdentityRemoved NO)."""

    name: str
    status: str
    rules: tuple[PixelRule, ...]


def pixel_coverage(plan: Plan) -> list[PixelCoverage]:
    text_rules = [r for r in plan.pixel_rules if r.kind != "burn-overlays"]
    out = []
    for risk in [*CLASSES, None]:
        name = risk.name if risk else DECLARED
        rules = tuple(r for r in text_rules if r.condition is None or _may_apply(plan.conditions[r.condition], risk))
        always = [r for r in rules if r.condition is None]
        if any(r.kind == "blackout" and r.complete for r in always):
            status = "covered"
        elif always:
            status = "decided"
        elif plan.pixel_waiver is not None:
            status = "waived"
        else:
            status = "partly" if rules else "rejected"
        out.append(PixelCoverage(name, status, rules))
    return out


def _may_apply(cond: Condition, risk) -> bool:
    """Whether a condition may hold for a file of the class: conditions that require Modality or the
    SOP class to be values of another class only are ruled out; anything else may hold."""
    if risk is None:
        return True
    for test in _conjuncts(cond):
        if isinstance(test, Member) or isinstance(test, Compare) and test.op == "==":
            if test.tag not in (MODALITY, SOP_CLASS):
                continue
            values = test.values if isinstance(test, Member) else (test.value,)
            if not any(isinstance(v, str) and risk.holds(v, v) for v in values):
                return False
    return True


def _conjuncts(cond: Condition) -> list[Condition]:
    """The tests a condition requires all of (through `and` only)."""
    return _conjuncts(cond.left) + _conjuncts(cond.right) if isinstance(cond, And) else [cond]
