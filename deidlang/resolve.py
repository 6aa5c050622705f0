"""Which rule decides an element: the precedence rule of DESIGN.md as a compiled lookup.

`Resolver` is built once per plan. For an element it returns the candidate rules, most specific
first; the first whose condition holds decides, and when none does the ruleset's ``default`` decides
(private elements with no rule are always removed). Candidates for a (tag, VR, creator) key are
computed once and cached, so deciding an element is a dict lookup plus a walk down a short list.
Path rules are kept apart, indexed by their leaf tag, and only consulted inside sequences.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from .plan import Plan, PlanRule, is_private

Position = tuple[tuple[int, int], ...]  # (sequence tag, item index) from the top level down


class Resolver:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self._exact: dict[int, list[PlanRule]] = {}
        self._paths: dict[int, list[PlanRule]] = {}
        self._by_vr: dict[str, list[PlanRule]] = {}
        #: creator rules by (group, element offset): a long safe-list of private elements is not scanned
        #: for every element
        self._creators: dict[tuple[int, int], list[PlanRule]] = {}
        #: groups and masks that fix the group, by that group; with their index in the plan
        self._by_group: dict[int, list[tuple[int, PlanRule]]] = {}
        self._general: list[tuple[int, PlanRule]] = []  # masks open in their group, private: tested in turn
        for index, rule in enumerate(plan.rules):
            kind = rule.selector.kind
            if kind == "tag":
                self._exact.setdefault(rule.selector.tag, []).append(rule)
            elif kind == "path":
                self._paths.setdefault(rule.selector.tag, []).append(rule)
            elif kind == "vr":
                self._by_vr.setdefault(rule.selector.vr, []).append(rule)
            elif kind == "creator":
                self._creators.setdefault((rule.selector.group, rule.selector.tag), []).append(rule)
            elif kind == "group" or (kind == "mask" and rule.selector.mask >> 16 == 0xFFFF):
                group = rule.selector.group if kind == "group" else rule.selector.tag >> 16
                self._by_group.setdefault(group, []).append((index, rule))
            else:
                self._general.append((index, rule))
        for rules in self._paths.values():
            rules.sort(key=lambda r: r.precedence, reverse=True)
        self._cache: dict[tuple[int, str, str | None], tuple[PlanRule, ...]] = {}
        #: leaf tags of path rules: only these elements can be decided differently by position
        self.path_leaves = frozenset(self._paths)

    def candidates(self, tag: int, vr: str, creator: str | None) -> tuple[PlanRule, ...]:
        """Rules that apply to this element anywhere (path rules excluded), most specific first."""
        key = (tag, vr, creator)
        found = self._cache.get(key)
        if found is None:
            # each list holds one kind in plan order (groups and masks merged back into it), so ties of
            # precedence keep the order they always had
            creators = self._creators.get((tag >> 16, tag & 0xFF), []) if creator is not None else []
            general = [r for _, r in heapq.merge(self._by_group.get(tag >> 16, ()), self._general)]
            pool = self._exact.get(tag, []) + self._by_vr.get(vr, []) + creators + general
            found = tuple(sorted((r for r in pool if r.applies(tag, vr, creator)),
                                 key=lambda r: r.precedence, reverse=True))
            self._cache[key] = found
        return found

    def path_rules(self, tag: int) -> Sequence[PlanRule]:
        """Every path rule whose leaf is this tag, most specific first."""
        return self._paths.get(tag, ())

    def decide(self, tag: int, vr: str, creator: str | None, position: Position,
               truths: Sequence[bool]) -> PlanRule | None:
        """The rule that decides this element, or None when the default does."""
        if position and tag in self._paths:
            for rule in self._paths[tag]:
                if (rule.selector.matches_position(position) and not _spared(rule, tag, vr, creator)
                        and (rule.condition is None or truths[rule.condition])):
                    return rule
        for rule in self.candidates(tag, vr, creator):
            if rule.condition is None or truths[rule.condition]:
                return rule
        return None

    def default_action(self, tag: int) -> str:
        """What happens to an element no rule decides: private ones go, others follow `default`."""
        return "remove" if is_private(tag) else self.plan.default


def _spared(rule: PlanRule, tag: int, vr: str, creator: str | None) -> bool:
    return any(e.matches(tag, vr, creator) for e in rule.excepts)
