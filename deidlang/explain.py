"""What a plan does, as tables a reviewer can read: the decision table and the minimum's status.

Rows are plain data so that the command line can print them as text or JSON (and later HTML).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from . import conditions, printing
from .actions import ACTIONS
from .dictionary import aryanto50, format_tag, keyword_of
from .plan import PixelRule, Plan, PlanRule, Selector
from .resolve import Resolver
from .validate import survivals


@dataclass(frozen=True)
class Row:
    selector: str
    keyword: str
    action: str
    condition: str
    excepts: str
    origin: str
    status: str  # decides | if condition | overridden by FILE:LINE

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MinimumRow:
    tag: str
    keyword: str
    kind: str
    actions: str
    status: str  # protected | waived: reason | LEAKS

    def to_dict(self) -> dict:
        return asdict(self)


def selector_text(sel: Selector) -> str:
    """A plan selector written back in the language's own syntax (`deidlang.printing`).

    >>> selector_text(Selector("mask", tag=0x60003000, mask=0xFF00FFFF))
    '(60xx,3000)'
    """
    return printing.selector_text(sel)


def condition_text(cond: conditions.Condition) -> str:
    """A plan condition written back in the language's syntax (`deidlang.printing`).

    >>> condition_text(conditions.Not(conditions.Exists(0x00280301)))
    'not BurnedInAnnotation exists'
    """
    return printing.condition_text(cond)


def action_text(rule: PlanRule) -> str:
    """The rule's action with its argument, as the language writes it.

    >>> from deidlang.actions import Years
    >>> action_text(PlanRule("round-age", Selector("tag", tag=0x00101010), argument=Years(5)))
    'round-age to 5 years'
    """
    return ACTIONS[rule.action].text(rule.argument)


def decision_table(plan: Plan) -> list[Row]:
    """Every rule, grouped by selector from most to least specific; within a selector the rule that
    decides comes first and the ones it overrides follow."""
    rules = sorted(plan.rules, key=lambda r: (-r.selector.rank[0], -r.selector.rank[1], r.selector.tag,
                                              selector_text(r.selector), -r.order))
    rows: list[Row] = []
    decided_by: dict[Selector, PlanRule] = {}
    for rule in rules:
        winner = decided_by.get(rule.selector)
        if winner is not None:
            status = f"overridden by {plan.origin(winner.order)}"
        elif rule.condition is not None:
            status = "if condition"
        else:
            status = "decides"
            if not rule.excepts:
                decided_by[rule.selector] = rule
        sel = rule.selector
        keyword = keyword_of(sel.tag) if sel.kind in ("tag", "path") else ""
        rows.append(Row(selector_text(sel), keyword, action_text(rule),
                        condition_text(plan.conditions[rule.condition]) if rule.condition is not None else "",
                        ", ".join(selector_text(e) for e in rule.excepts), str(plan.origin(rule.order) or ""),
                        status))
    rows += file_rules(plan)
    rows.append(Row("(anything else)", "", f"{plan.default} (private elements: remove)", "", "", "default", "decides"))
    return rows


def pixel_text(rule: PixelRule) -> str:
    """A pixel rule as written, without its condition: ``blackout 0,0,640,40 complete``."""
    return printing.pixel_text(rule.kind, rule.regions, rule.complete)


def file_rules(plan: Plan) -> list[Row]:
    """The rules about the whole file, in source order: each reject, then each pixel rule (every one
    whose condition holds applies)."""
    rows = []
    for reject in plan.rejects:
        rows.append(Row("(the file)", "", "reject" + (f" because {printing.quote(reject.reason)}" if reject.reason else ""),
                        condition_text(plan.conditions[reject.condition]), "", str(plan.origin(reject.order) or ""),
                        "if condition"))
    for rule in plan.pixel_rules:
        cond = condition_text(plan.conditions[rule.condition]) if rule.condition is not None else ""
        rows.append(Row("(the pixels)", "", pixel_text(rule), cond, "", str(plan.origin(rule.order) or ""),
                        "if condition" if cond else "applies"))
    return rows


def rule_text(plan: Plan, rule: PlanRule) -> str:
    """A rule's action with its condition, e.g. ``remove if Modality == "US"``."""
    cond = f" if {condition_text(plan.conditions[rule.condition])}" if rule.condition is not None else ""
    return action_text(rule) + cond


def top_level_chain(plan: Plan, resolver: Resolver, tag: int, vr: str,
                    creator: str | None = None) -> list[tuple[PlanRule | None, str]]:
    """The rules tried in turn for an element at the top level, up to the first unconditional one, each
    with its text; ``None`` stands for the default when every rule tried can fall through.

    >>> from deidlang.compiler import compile_text
    >>> plan = compile_text('remove PatientName if Modality == "US"')
    >>> [text for _, text in top_level_chain(plan, Resolver(plan), 0x00100010, "PN")]
    ['remove if Modality == "US"', 'keep']
    """
    chain: list[tuple[PlanRule | None, str]] = []
    for rule in resolver.candidates(tag, vr, creator):
        chain.append((rule, rule_text(plan, rule)))
        if rule.condition is None:
            return chain
    return [*chain, (None, resolver.default_action(tag))]


def minimum_table(plan: Plan) -> list[MinimumRow]:
    """The 50 elements of the minimum: what the plan does to each at the top level, and its status."""
    resolver = Resolver(plan)
    waivers = {w.tag: w.reason for w in plan.waivers}
    rows = []
    for e in aryanto50():
        actions = [f"{text} ({plan.origin(rule.order) if rule else 'default'})"
                   for rule, text in top_level_chain(plan, resolver, e.tag, e.vr)]
        if e.tag in waivers:
            status = f"waived: {waivers[e.tag]}"
        elif plan.minimum == "none" and survivals(plan, resolver, e.tag, e.vr):
            status = "NOT PROTECTED (minimum off)"
        else:
            status = "LEAKS" if survivals(plan, resolver, e.tag, e.vr) else "protected"
        rows.append(MinimumRow(format_tag(e.tag), e.keyword, e.kind, "; then ".join(actions), status))
    return rows
