"""`deidlang diff OLD NEW`: what a rule change does to patient exposure, compared plan to plan.

The comparison is exact over the datasets that matter (`semantics.Space`): for every element, at
every representative dataset, the rule each plan lets decide it gives an outcome (its action and
argument, or the default), and the two outcomes are ordered by what they let through
(`deidlang.actions.exposure_order`: strength, then the action's argument). Per element the verdict
is ``more`` (EXPOSES MORE: some dataset gets more through, none less), ``less``, ``incomparable``
(more for some datasets, less for others), ``changed`` (different output, the same exposure, e.g. a
new replacement text) or ``equivalent`` (the same output for every dataset: not printed unless
asked). Reject rules and each pixel rule kind are judged the same way; so are the default, the
minimum, waivers (one added exposes more: it lets a future rule through the proof) and method codes.

Compared elements: every element named by an exact rule of either plan, the aryanto50 minimum, every
row of PS3.15 Table E.1-1, every dictionary element a general rule (VR class, mask, group) of either
plan reaches (grouped when they change alike), private elements of each creator a rule names and of
an unknown creator, and each sequence position a path rule names. Where the new plan exposes more, a
`Witness` says which dataset shows it; `review.witness` writes it as a DICOM file.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field

import numpy as np
from pydicom.datadict import DicomDictionary

from ..actions import ACTIONS, exposure_order
from ..dictionary import aryanto50, e1_1, format_tag, keyword_of, parse_tag
from ..explain import action_text, condition_text, selector_text
from ..plan import Plan, PlanRule, is_private
from ..resolve import Resolver
from .handling import element_name, vr_for
from .pixeldiff import compare_regions, distinct, image_size, rules_text
from .semantics import Point, Space

Position = tuple[tuple[int, int], ...]
VERDICTS = ("more", "incomparable", "less", "changed", "equivalent")
_LABEL = {"more": "EXPOSES MORE", "incomparable": "INCOMPARABLE (exposes more and less)", "less": "exposes less",
          "changed": "changed", "equivalent": "equivalent"}


@dataclass(frozen=True)
class Witness:
    """A dataset on which the new plan lets more through: the representative values of the tested
    elements, and what to plant: an element (tag, VR, position in sequences), pixels, or nothing (a
    reject). ``pixel`` is a point (x, y) the old plan blacks out and the new one does not."""

    point: Point
    kind: str  # element | pixels | reject
    tag: int = 0
    vr: str = ""
    creator: str | None = None
    position: Position = ()
    pixel: tuple[int, int] | None = None
    size: tuple[int, int] = (0, 0)  # rows, columns of the image to plant


@dataclass(frozen=True)
class Change:
    subject: str
    before: str
    after: str
    exposure: str  # one of VERDICTS
    where: str = ""  # the lines responsible, old -> new


@dataclass
class PlanDiff:
    old: tuple[str, str, str]  # name, version, hash
    new: tuple[str, str, str]
    changes: list[Change] = field(default_factory=list)
    #: index into ``changes`` -> the dataset that shows the exposure (exact spaces only)
    witnesses: dict[int, Witness] = field(default_factory=dict)

    @property
    def exposure_increased(self) -> bool:
        return any(c.exposure in ("more", "incomparable") for c in self.changes)

    @property
    def same_version(self) -> bool:
        return self.old[1] == self.new[1]

    def shown(self, everything: bool = False) -> list[Change]:
        return [c for c in self.changes if everything or c.exposure != "equivalent"]

    def to_dict(self, everything: bool = False) -> dict:
        return {"old": dict(zip(("name", "version", "plan_hash"), self.old)),
                "new": dict(zip(("name", "version", "plan_hash"), self.new)),
                "exposure_increased": self.exposure_increased,
                "changes": [asdict(c) for c in self.shown(everything)]}


@dataclass(frozen=True)
class _Outcome:
    """What one plan does to an element at one dataset: the action and argument, and the rule."""

    action: str
    argument: object
    rule: PlanRule | None
    why: str  # the rule's text, for the report

    @property
    def key(self) -> tuple:
        return self.action, self.argument


def verdict(results: set[int | str]) -> str:
    """Per-dataset comparisons (1 more, -1 less, 'changed', 0 same) to one verdict."""
    if 1 in results:
        return "incomparable" if -1 in results else "more"
    if -1 in results:
        return "less"
    return "changed" if "changed" in results else "equivalent"


def compare(old: _Outcome, new: _Outcome) -> int | str:
    if old.key == new.key:
        return 0
    order = exposure_order(old.action, old.argument, new.action, new.argument)
    return order if order else "changed"


class _Side:
    """One plan with what its outcomes at each point are worked out from."""

    def __init__(self, plan: Plan, space: Space) -> None:
        self.plan, self.space, self.resolver = plan, space, Resolver(plan)
        self.truths = [space.holds(c) for c in plan.conditions]
        self.rejected = np.zeros(space.size, bool)
        for reject in plan.rejects:
            self.rejected |= self.truths[reject.condition]

    def signature(self, subject: "_Subject") -> tuple:
        """What decides an element, by meaning (actions, arguments, conditions), not by line."""
        out = [(r.action, r.argument, r.condition is None or self.plan.conditions[r.condition])
               for r in self.chain(subject.tag, subject.vr, subject.creator, subject.position)]
        return (*out, self.resolver.default_action(subject.tag), subject.position)

    def chain(self, tag: int, vr: str, creator: str | None, position: Position) -> list[PlanRule]:
        """The rules tried in turn for an element at a position, as `Resolver.decide` tries them."""
        rules = [r for r in self.resolver.path_rules(tag) if position and r.selector.matches_position(position)
                 and not any(e.matches(tag, vr, creator) for e in r.excepts)]
        return rules + list(self.resolver.candidates(tag, vr, creator))

    def outcomes(self, tag: int, vr: str, creator: str | None = None,
                 position: Position = ()) -> tuple[np.ndarray, list[_Outcome]]:
        """Per point, the index of this plan's outcome for the element (an enclosing sequence that
        does not keep its items decides for it)."""
        found: list[_Outcome] = []
        codes = np.full(self.space.size, -1)
        for depth in range(len(position)):  # enclosing sequences first
            seq = position[depth][0]
            seq_codes, seq_outcomes = self.outcomes(seq, "SQ", None, position[:depth])
            for i, outcome in enumerate(seq_outcomes):
                if not ACTIONS[outcome.action].walks_items:
                    codes[(seq_codes == i) & (codes < 0)] = len(found)
                    found.append(_Outcome(outcome.action, outcome.argument, outcome.rule,
                                          f"{outcome.why} (on the enclosing {keyword_of(seq) or format_tag(seq)})"))
        for rule in self.chain(tag, vr, creator, position):
            where = (codes < 0) if rule.condition is None else (codes < 0) & self.truths[rule.condition]
            if where.any():
                action = rule.action if ACTIONS[rule.action].fits(vr) else "remove"  # a misfit goes
                codes[where] = len(found)
                found.append(_Outcome(action, rule.argument if action == rule.action else None, rule,
                                      _rule_text(self.plan, rule)))
            if rule.condition is None:
                break
        default = self.resolver.default_action(tag)
        if (codes < 0).any():
            codes[codes < 0] = len(found)
            found.append(_Outcome(default, None, None, default + " (default)"))
        return codes, found


def _rule_text(plan: Plan, rule: PlanRule) -> str:
    cond = f" if {condition_text(plan.conditions[rule.condition])}" if rule.condition is not None else ""
    return action_text(rule) + cond


@dataclass(frozen=True)
class _Subject:
    name: str
    tag: int
    vr: str
    creator: str | None = None
    position: Position = ()
    notable: bool = True  # reported on its own line, not grouped with elements that change alike


def diff_plans(old: Plan, new: Plan) -> PlanDiff:
    result = PlanDiff((old.name, old.version, old.plan_hash), (new.name, new.version, new.plan_hash))
    if old.plan_hash == new.plan_hash:
        return result
    space = Space([*old.conditions, *new.conditions])
    a, b = _Side(old, space), _Side(new, space)
    both_write = ~a.rejected & ~b.rejected
    grouped: dict[tuple, list[_Subject]] = {}
    group_witness: dict[tuple, Witness] = {}
    for subject in _subjects(old, new):
        if a.signature(subject) == b.signature(subject):
            continue  # the same rules (by meaning) in the same order: the same outcome everywhere
        codes_a, outs_a = a.outcomes(subject.tag, subject.vr, subject.creator, subject.position)
        codes_b, outs_b = b.outcomes(subject.tag, subject.vr, subject.creator, subject.position)
        pairs = set(zip(codes_a[both_write].tolist(), codes_b[both_write].tolist()))
        results = {compare(outs_a[i], outs_b[j]) for i, j in pairs}
        found = verdict(results)
        before, after = _text(outs_a, codes_a, both_write), _text(outs_b, codes_b, both_write)
        if found == "equivalent" and before == after:
            continue
        where = f"{_where(old, outs_a)} -> {_where(new, outs_b)}"
        witness = None
        if found in ("more", "incomparable") and space.exact:
            hit = next(k for k in np.flatnonzero(both_write)
                       if compare(outs_a[codes_a[k]], outs_b[codes_b[k]]) == 1)
            witness = Witness(space.point(int(hit)), "element", subject.tag, subject.vr, subject.creator,
                              subject.position)
        if not subject.notable:
            key = (found, before, after, where)
            grouped.setdefault(key, []).append(subject)
            if witness is not None:
                group_witness.setdefault(key, witness)
            continue
        result.changes.append(Change(subject.name, before, after, found, where))
        if witness is not None:
            result.witnesses[len(result.changes) - 1] = witness
    for key, subjects in sorted(grouped.items(), key=lambda item: item[0]):
        found, before, after, where = key
        names = [s.name for s in subjects]
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        result.changes.append(Change(f"{len(names)} other element{'s' if len(names) > 1 else ''} ({shown})",
                                     before, after, found, where))
        if key in group_witness:
            result.witnesses[len(result.changes) - 1] = group_witness[key]
    _rejects(result, a, b)
    _pixels(result, a, b, both_write)
    _settings(result, old, new)
    order = {v: i for i, v in enumerate(VERDICTS)}
    ranked = sorted(range(len(result.changes)), key=lambda i: order[result.changes[i].exposure])
    result.witnesses = {ranked.index(i): w for i, w in result.witnesses.items()}
    result.changes = [result.changes[i] for i in ranked]
    return result


def _text(outcomes: list[_Outcome], codes: np.ndarray, where: np.ndarray) -> str:
    used = sorted(set(codes[where].tolist())) if where.any() else []
    return "; else ".join(outcomes[i].why for i in used) or "(never written)"


def _where(plan: Plan, outcomes: list[_Outcome]) -> str:
    return ", ".join(dict.fromkeys(str(plan.origin(o.rule.order)) if o.rule else "default" for o in outcomes))


def _subjects(old: Plan, new: Plan) -> list[_Subject]:
    """Every element and sequence position whose handling the two plans could differ on."""
    tags = {r.selector.tag for p in (old, new) for r in p.rules if r.selector.kind == "tag"}
    tags |= {e.tag for e in aryanto50()}
    tags |= {parse_tag(row["tag"]) for row in e1_1() if "x" not in row["tag"] and "g" not in row["tag"]}
    # command and file meta elements are never copied from a dataset: the file meta is rebuilt
    out = [_Subject(element_name(tag), tag, vr_for(tag)) for tag in sorted(tags)
           if not is_private(tag) and (tag >> 16) not in (0x0000, 0x0002)]
    general = {r.selector for p in (old, new) for r in p.rules if r.selector.kind in ("vr", "mask", "group")}
    reached: set[int] = set()
    for sel in general:
        reached |= {tag for tag, vr in _public_elements() if sel.matches(tag, vr, None)}
    if old.default != new.default:
        reached = {tag for tag, _ in _public_elements()}
    out += [_Subject(element_name(tag), tag, vr_for(tag), notable=False) for tag in sorted(reached - tags)]
    for sel in {r.selector for p in (old, new) for r in p.rules if r.selector.kind == "mask"}:
        if sel.tag not in DicomDictionary:
            out.append(_Subject(f"{selector_text(sel)} (an element of the mask)", sel.tag, "UN"))
    out += _private_subjects(old, new)
    for sel in sorted({r.selector for p in (old, new) for r in p.rules if r.selector.kind == "path"},
                      key=selector_text):
        position = tuple((seq, 0 if item == "*" else int(item)) for seq, item in sel.path)
        out.append(_Subject(f"{selector_text(sel)} ({format_tag(sel.tag)})", sel.tag, vr_for(sel.tag),
                            position=position))
    return out


@functools.cache
def _public_elements() -> tuple[tuple[int, str], ...]:
    """Every public element of the dictionary a dataset can hold (no command or file meta group)."""
    return tuple((tag, vr_for(tag)) for tag in sorted(DicomDictionary)
                 if not is_private(tag) and (tag >> 16) not in (0x0000, 0x0002))


def _private_subjects(old: Plan, new: Plan) -> list[_Subject]:
    out = [_Subject("a private element of an unknown creator (0009,1001)", 0x00091001, "LO", "UNKNOWN")]
    for sel in sorted({r.selector for p in (old, new) for r in p.rules}, key=selector_text):
        if sel.kind == "creator":
            tag = (sel.group << 16) | 0x1000 | sel.tag
            out.append(_Subject(f"{selector_text(sel)} (private)", tag, "LO", sel.creator))
        elif sel.kind == "group" and sel.group & 1:
            out.append(_Subject(f"{selector_text(sel)} (a private element)", (sel.group << 16) | 0x1001, "LO",
                                "UNKNOWN"))
    return out


def _rejects(result: PlanDiff, a: _Side, b: _Side) -> None:
    """Datasets the old plan turned away and the new one writes expose more, and the reverse less."""
    more, less = a.rejected & ~b.rejected, b.rejected & ~a.rejected
    found = verdict(({1} if more.any() else set()) | ({-1} if less.any() else set()))
    if found == "equivalent":  # the same datasets are turned away, however the conditions are written
        return
    before = "; ".join(condition_text(a.plan.conditions[r.condition]) for r in a.plan.rejects) or "none"
    after = "; ".join(condition_text(b.plan.conditions[r.condition]) for r in b.plan.rejects) or "none"
    where = (", ".join(str(a.plan.origin(r.order)) for r in a.plan.rejects) or "none") + " -> " + (
        ", ".join(str(b.plan.origin(r.order)) for r in b.plan.rejects) or "none")
    result.changes.append(Change("reject", before, after, found, where))
    if more.any() and a.space.exact:
        result.witnesses[len(result.changes) - 1] = Witness(a.space.point(int(np.flatnonzero(more)[0])), "reject")


def _pixels(result: PlanDiff, a: _Side, b: _Side, both_write: np.ndarray) -> None:
    """Per pixel rule kind, what is covered at each dataset: a blackout that covers fewer pixels,
    detected text or overlays no longer handled, or a new claim that the regions are `complete`
    (the output then says BurnedInAnnotation NO) expose more."""
    for kind in sorted({r.kind for p in (a.plan, b.plan) for r in p.pixel_rules}):
        rules_a = [r for r in a.plan.pixel_rules if r.kind == kind]
        rules_b = [r for r in b.plan.pixel_rules if r.kind == kind]
        results: set[int | str] = set()
        witness = None
        for k in distinct(both_write, [_active(a, r) for r in rules_a] + [_active(b, r) for r in rules_b]):
            found_here, pixel = compare_regions([r for r in rules_a if _holds_at(a, r, k)],
                                               [r for r in rules_b if _holds_at(b, r, k)])
            results |= found_here
            if 1 in found_here and witness is None and a.space.exact:
                witness = Witness(a.space.point(k), "pixels", pixel=pixel, size=image_size(rules_a, rules_b))
        found = verdict(results)
        text_a, text_b = rules_text(a.plan, rules_a), rules_text(b.plan, rules_b)
        if found == "equivalent" and text_a == text_b:
            continue
        where = (", ".join(str(a.plan.origin(r.order)) for r in rules_a) or "none") + " -> " + (
            ", ".join(str(b.plan.origin(r.order)) for r in rules_b) or "none")
        result.changes.append(Change(kind, text_a, text_b, found, where))
        if witness is not None and found in ("more", "incomparable"):
            result.witnesses[len(result.changes) - 1] = witness


def _active(side: _Side, rule) -> np.ndarray:
    return np.ones(side.space.size, bool) if rule.condition is None else side.truths[rule.condition]


def _holds_at(side: _Side, rule, k: int) -> bool:
    return rule.condition is None or bool(side.truths[rule.condition][k])


def _settings(result: PlanDiff, old: Plan, new: Plan) -> None:
    add = result.changes.append
    if old.default != new.default:  # elements no dictionary knows follow the default
        add(Change("default", old.default, new.default, "more" if new.default == "keep" else "less"))
    if old.minimum != new.minimum:
        add(Change("require minimum", old.minimum, new.minimum, "more" if new.minimum == "none" else "less"))
    waivers = ({f"{element_name(w.tag)} because \"{w.reason}\"" for w in plan.waivers} for plan in (old, new))
    before, after = next(waivers), next(waivers)
    for item in sorted(before - after):
        add(Change(f"waiver {item}", "present", "gone", "less"))
    for item in sorted(after - before):
        add(Change(f"waiver {item}", "absent", "added", "more"))
    if old.codes != new.codes:
        add(Change("method codes", ", ".join(map(str, old.codes)) or "none", ", ".join(map(str, new.codes)) or "none",
                   "changed"))


def render_text(d: PlanDiff, everything: bool = False) -> str:
    lines = [f"{d.old[0]} {d.old[1]} (sha256:{d.old[2][:16]}) -> {d.new[0]} {d.new[1]} (sha256:{d.new[2][:16]})"]
    shown = d.shown(everything)
    if not shown:
        lines.append("no change in meaning" if not d.changes else "no change in exposure: every element is handled "
                     "the same for every dataset")
    for c in shown:
        lines.append(f"[{_LABEL[c.exposure]}] {c.subject}: {c.before} -> {c.after}" + (f"  ({c.where})" if c.where else ""))
    lines += _verdict(d)
    return "\n".join(lines)


def render_markdown(d: PlanDiff, everything: bool = False) -> str:
    lines = [f"### Rule change: `{d.old[0]}` {d.old[1]} → `{d.new[0]}` {d.new[1]}", "",
             "| exposure | element or rule | before | after | lines |", "|---|---|---|---|---|"]
    for c in d.shown(everything):
        mark = {"more": "⚠️ **more**", "incomparable": "⚠️ **more and less**"}.get(c.exposure, c.exposure)
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
