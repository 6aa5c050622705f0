"""Where the rules will meet an IOD's requirements: the substitutes `explain` lists for a plan.

A plan cannot know the files it will see, so this lists, for each rule whose action would break an
attribute some IOD requires (Type 1, 1C, 2, 2C in `deidlang.iod`'s tables), the substitute the engines
write instead (`engine.conformance.adjust`, the one function both engines call) and the SOP Classes
whose IODs have that attribute there (in a module the IOD makes mandatory, or one that is in use when
its attributes are present). A declared 1C/2C condition (`iod.conditions`) that needs an attribute the
rules remove is listed as its keyed hash. `run --dry-run` shows what happened in a given file.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import asdict, dataclass

from pydicom.uid import UID_dictionary

from . import iod
from .dictionary import format_tag, keyword_of, vrs_of
from .engine.conformance import adjust
from .explain import rule_text, selector_text
from .plan import Plan, PlanRule
from .resolve import Resolver


@dataclass(frozen=True)
class Substitution:
    origin: str  # FILE:LINE of the rule, or "default"
    rule: str  # the rule's action
    attribute: str  # keywords from the top level, e.g. SegmentSequence/SegmentLabel
    type: str  # the IOD's type, or which 1C/2C attribute needs it
    substitute: str  # what is written instead: dummy, empty, removed, hash
    sop_classes: tuple[str, ...]  # names of the SOP Classes whose IOD has it there

    def to_dict(self) -> dict:
        return asdict(self)


def substitutions(plan: Plan) -> list[Substitution]:
    """Every (rule, attribute, substitute), with the SOP Classes concerned, in source order of the rules.

    >>> from deidlang.compiler import compile_text
    >>> rows = substitutions(compile_text("remove SegmentLabel"))
    >>> [(r.attribute, r.type, r.substitute, r.sop_classes) for r in rows]
    [('SegmentSequence/SegmentLabel', '1', 'dummy', ('Segmentation Storage',))]
    """
    # creator rules never decide a public attribute: leaving them out gives the same decisions, faster
    resolver = Resolver(dataclasses.replace(plan, rules=tuple(r for r in plan.rules if r.selector.kind != "creator")))
    truths = {(False,) * len(plan.conditions), (True,) * len(plan.conditions)}
    found: dict[tuple, set[str]] = {}

    @functools.cache
    def decided(tag: int, position, truth) -> tuple[PlanRule | None, str]:
        rule = resolver.decide(tag, _vr(tag), None, position, truth)
        return rule, rule.action if rule else resolver.default_action(tag)

    for sop_class, path, need in _required():
        tag, position = path[-1], tuple((seq, 0) for seq in path[:-1])
        condition = iod.conditions().get(tag)
        for truth in truths:
            rule, action = decided(tag, position, truth)
            substitute, _ = adjust(action, tag, _vr(tag), position, {path: need})
            if substitute != action:
                kind = f"{need.type} if {condition.describe()}" if condition else need.type
                found.setdefault((_key(plan, rule), path, kind, substitute), set()).add(sop_class)
            if condition is None or condition.kind != "present" or not need.type.endswith("C"):
                continue
            for other in condition.others:  # `conformance.overrides`: what the condition needs is hashed
                rule, action = decided(other, position, truth)
                if action == "remove":
                    kind = f"needed by {keyword_of(tag)} ({need.type})"
                    found.setdefault((_key(plan, rule), (*path[:-1], other), kind, "hash"), set()).add(sop_class)
    rows = [Substitution(origin, text, _attribute(path), kind, substitute, tuple(sorted(_name(u) for u in classes)))
            for ((_order, origin, text), path, kind, substitute), classes in found.items()]
    order = {(origin, text): n for (n, origin, text), *_ in found}
    return sorted(rows, key=lambda r: (order[(r.origin, r.rule)], r.attribute, r.type))


def _required():
    """(SOP Class, path, requirement) of every attribute some IOD requires, in any of its modules."""
    for sop_class in iod.sop_classes():
        for path, need in iod.merged(iod.all_modules(sop_class)).items():
            yield sop_class, path, need


def _key(plan: Plan, rule: PlanRule | None) -> tuple[float, str, str]:
    """(order, origin, text) of the deciding rule; the default last."""
    if rule is None:
        return float("inf"), "default", plan.default
    sel = rule.selector
    name = keyword_of(sel.tag) if sel.kind == "tag" else ""
    return rule.order, str(plan.origin(rule.order) or ""), f"{rule_text(plan, rule)} {name or selector_text(sel)}"


def _vr(tag: int) -> str:
    vrs = vrs_of(tag)
    return min(vrs) if vrs else "UN"


def _attribute(path: iod.Path) -> str:
    return "/".join(keyword_of(t) or format_tag(t) for t in path)


def _name(uid: str) -> str:
    entry = UID_dictionary.get(uid)
    return entry[0] if entry else uid
