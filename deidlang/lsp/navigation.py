"""Go to definition (an `include` opens its file; an element jumps to the rules that decide it) and
find references (every statement of the include chain that names an element)."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from ..compiler import resolve_ruleset
from ..dictionary import vrs_of
from ..explain import top_level_chain
from ..plan import PlanRule
from .analysis import Analysis, named_elements, span_range, uri_of
from .cursor import before, token_at
from .hover import element_tag


def definition(analysis: Analysis, position: types.Position) -> list[types.Location]:
    token = token_at(analysis.text, position)
    if token is None:
        return []
    if token.kind == "string":
        words = [t.text for t in before(analysis.text, types.Position(position.line, token.start))]
        if words == ["include"]:
            base = analysis.path.parent if analysis.path else Path.cwd()
            found = resolve_ruleset(token.text.strip('"'), base)
            start = types.Range(types.Position(0, 0), types.Position(0, 0))
            return [types.Location(uri_of(found), start)] if found else []
        return []
    tag = element_tag(token)
    if tag is None or analysis.plan is None:
        return []
    resolver = analysis.resolver()
    rules: list[PlanRule] = []
    for vr in sorted(vrs_of(tag)) or ["UN"]:
        rules += [rule for rule, _ in top_level_chain(analysis.plan, resolver, tag, vr) if rule and rule not in rules]
    rules += [rule for rule in resolver.path_rules(tag) if rule not in rules]
    return [loc for rule in rules if (loc := _rule_location(analysis, rule, tag)) is not None]


def references(analysis: Analysis, position: types.Position) -> list[types.Location]:
    token = token_at(analysis.text, position)
    tag = element_tag(token) if token else None
    if tag is None:
        return []
    out = []
    for path in [analysis.path, *dict.fromkeys(analysis.reads)]:
        program = analysis.program_of(path)
        if program is None:
            continue
        uri = uri_of(path) if path else None
        for _, leaf, found in named_elements(program):
            if found == tag and uri:
                out.append(types.Location(uri, span_range(leaf.span)))
    return out


def _rule_location(analysis: Analysis, rule: PlanRule, tag: int) -> types.Location | None:
    """The selector of a rule that names the element, else the rule's statement."""
    origin = analysis.plan.origin(rule.order)
    path = analysis.path_of(origin.source) if origin else None
    if path is None:
        return None
    program = analysis.program_of(path)
    for stmt, leaf, found in named_elements(program) if program else ():
        if found == tag and (stmt.span.line, stmt.span.col) == (origin.line, origin.col):
            return types.Location(uri_of(path), span_range(leaf.span))
    return types.Location(uri_of(path), analysis.origin_range(origin))
