"""`deidlang diff OLD NEW`: what a rule change does to patient exposure, compared plan to plan.

Compared are: every element named by an exact rule of either plan, the aryanto50 minimum and every
row of PS3.15 Table E.1-1 (their top-level handling, see `handling`); the rules with general
selectors (masks, groups, VR classes, private, creators, paths); the default; the minimum; waivers;
reject rules; pixel rules. Each change is classed ``more`` (exposes more), ``less`` or ``changed``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..actions import ACTIONS
from ..dictionary import aryanto50, e1_1, parse_tag
from ..explain import action_text, condition_text, selector_text
from ..plan import Plan, PlanRule
from ..resolve import Resolver
from .handling import element_name, handling


@dataclass(frozen=True)
class Change:
    subject: str
    before: str
    after: str
    exposure: str  # more | less | changed
    where: str = ""  # the lines responsible, old -> new


@dataclass
class PlanDiff:
    old: tuple[str, str, str]  # name, version, hash
    new: tuple[str, str, str]
    changes: list[Change] = field(default_factory=list)

    @property
    def exposure_increased(self) -> bool:
        return any(c.exposure == "more" for c in self.changes)

    @property
    def same_version(self) -> bool:
        return self.old[1] == self.new[1]

    def to_dict(self) -> dict:
        return {"old": dict(zip(("name", "version", "plan_hash"), self.old)),
                "new": dict(zip(("name", "version", "plan_hash"), self.new)),
                "exposure_increased": self.exposure_increased,
                "changes": [asdict(c) for c in self.changes]}


def diff_plans(old: Plan, new: Plan) -> PlanDiff:
    result = PlanDiff((old.name, old.version, old.plan_hash), (new.name, new.version, new.plan_hash))
    if old.plan_hash == new.plan_hash:
        return result
    add = result.changes.append
    old_resolver, new_resolver = Resolver(old), Resolver(new)
    tags = {r.selector.tag for p in (old, new) for r in p.rules if r.selector.kind == "tag"}
    tags |= {e.tag for e in aryanto50()}
    tags |= {parse_tag(row["tag"]) for row in e1_1() if "x" not in row["tag"] and "g" not in row["tag"]}
    for tag in sorted(tags):
        before, after = handling(old, old_resolver, tag), handling(new, new_resolver, tag)
        if before.text() != after.text():
            add(Change(element_name(tag), before.text(), after.text(), _compare(before.weakest, after.weakest),
                       f"{before.origins()} -> {after.origins()}"))
    old_general, new_general = _general(old), _general(new)
    for key in sorted(old_general.keys() - new_general.keys()):
        add(Change(key, "present", "gone", "more" if ACTIONS[old_general[key][0].action].strength >= 2 else "less",
                   _where(old, old_general[key])))
    for key in sorted(new_general.keys() - old_general.keys()):
        add(Change(key, "absent", "added", "less" if ACTIONS[new_general[key][0].action].strength >= 2 else "more",
                   _where(new, new_general[key])))
    if old.default != new.default:
        add(Change("default", old.default, new.default, "more" if new.default == "keep" else "less"))
    if old.minimum != new.minimum:
        add(Change("require minimum", old.minimum, new.minimum, "more" if new.minimum == "none" else "less"))
    _sets(add, "waiver", {f"{element_name(w.tag)} because \"{w.reason}\"" for w in old.waivers},
          {f"{element_name(w.tag)} because \"{w.reason}\"" for w in new.waivers}, added_is="more")
    _sets(add, "reject", {_cond(old, r.condition) for r in old.rejects}, {_cond(new, r.condition) for r in new.rejects},
          added_is="less")
    _pixels(add, old, new)
    return result


def _compare(before: int, after: int) -> str:
    return "more" if after < before else "less" if after > before else "changed"


def _general(plan: Plan) -> dict[str, list[PlanRule]]:
    """Rules with other than an exact-tag selector, keyed by what they mean (not where they stand)."""
    out: dict[str, list[PlanRule]] = {}
    for rule in plan.rules:
        if rule.selector.kind == "tag":
            continue
        key = f"{action_text(rule)} {selector_text(rule.selector)}"
        if rule.excepts:
            key += " except " + ", ".join(selector_text(e) for e in rule.excepts)
        if rule.condition is not None:
            key += f" if {condition_text(plan.conditions[rule.condition])}"
        out.setdefault(key, []).append(rule)
    return out


def _where(plan: Plan, rules: list[PlanRule]) -> str:
    return ", ".join(str(plan.origin(r.order)) for r in rules)


def _cond(plan: Plan, index: int | None) -> str:
    return condition_text(plan.conditions[index]) if index is not None else "always"


def _sets(add, what: str, old: set[str], new: set[str], added_is: str) -> None:
    removed_is = "less" if added_is == "more" else "more"
    for item in sorted(old - new):
        add(Change(f"{what} {item}", "present", "gone", removed_is))
    for item in sorted(new - old):
        add(Change(f"{what} {item}", "absent", "added", added_is))


def _pixels(add, old: Plan, new: Plan) -> None:
    """Pixel rules by kind and condition; a blackout that covers fewer pixels exposes more."""
    def rules(plan: Plan) -> dict[tuple[str, str], set[tuple[int, int, int, int]]]:
        out: dict[tuple[str, str], set] = {}
        for rule in plan.pixel_rules:
            out.setdefault((rule.kind, _cond(plan, rule.condition)), set()).update(rule.regions)
        return out

    before, after = rules(old), rules(new)
    for key in sorted(before.keys() | after.keys()):
        kind, cond = key
        subject = f"{kind} if {cond}"
        if key not in after:
            add(Change(subject, _regions(before[key]), "gone", "more"))
        elif key not in before:
            add(Change(subject, "absent", _regions(after[key]), "less"))
        elif before[key] != after[key]:
            add(Change(subject, _regions(before[key]), _regions(after[key]),
                       "more" if not _covers(after[key], before[key]) else "less"))


def _regions(regions: set) -> str:
    return ", ".join(",".join(map(str, r)) for r in sorted(regions)) or "present"


def _covers(new: set, old: set) -> bool:
    """Whether the new regions cover every pixel of the old ones (checked on a grid of their extent)."""
    if not old:
        return True
    width = max(x + w for x, y, w, h in old | new)
    height = max(y + h for x, y, w, h in old | new)
    grid_old = np.zeros((min(height, 8192), min(width, 8192)), bool)
    grid_new = grid_old.copy()
    for grid, regions in ((grid_old, old), (grid_new, new)):
        for x, y, w, h in regions:
            grid[max(y, 0):y + h, max(x, 0):x + w] = True
    return bool((grid_new | ~grid_old).all())


def render_text(d: PlanDiff) -> str:
    lines = [f"{d.old[0]} {d.old[1]} (sha256:{d.old[2][:16]}) -> {d.new[0]} {d.new[1]} (sha256:{d.new[2][:16]})"]
    if not d.changes:
        lines.append("no change in meaning")
    for c in d.changes:
        mark = {"more": "EXPOSES MORE", "less": "exposes less", "changed": "changed"}[c.exposure]
        lines.append(f"[{mark}] {c.subject}: {c.before} -> {c.after}" + (f"  ({c.where})" if c.where else ""))
    lines += _verdict(d)
    return "\n".join(lines)


def render_markdown(d: PlanDiff) -> str:
    lines = [f"### Rule change: `{d.old[0]}` {d.old[1]} → `{d.new[0]}` {d.new[1]}", "",
             "| exposure | element or rule | before | after | lines |", "|---|---|---|---|---|"]
    for c in d.changes:
        mark = {"more": "⚠️ **more**", "less": "less", "changed": "changed"}[c.exposure]
        cells = [mark, c.subject, c.before, c.after, c.where]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    lines += [""] + _verdict(d)
    return "\n".join(lines)


def _verdict(d: PlanDiff) -> list[str]:
    out = []
    if d.exposure_increased:
        out.append("exposure increases: this change needs an explicit approval")
        if d.same_version:
            out.append(f"warning: exposure increases but the version stays {d.new[1]}: bump it")
    return out
