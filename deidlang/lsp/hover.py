"""Hover: what an element is (dictionary, minimum, Table E.1-1) and what this file does to it; what an
action does."""

from __future__ import annotations

import re

from lsprotocol import types
from pydicom.datadict import get_entry

from ..actions import ACTIONS, PIXEL_KINDS
from ..dictionary import OPTION_COLUMNS, aryanto50, e1_1, format_tag, parse_tag, safe_private, tag_for_keyword, vrs_of
from ..explain import rule_text, selector_text, top_level_chain
from ..plan import is_private
from .analysis import Analysis
from .cursor import Token, line_of, token_at, tokens


def hover(analysis: Analysis, position: types.Position) -> types.Hover | None:
    token = token_at(analysis.text, position)
    if token is None:
        return None
    text = None
    if token.kind == "word" and token.text in ACTIONS:
        text = action_markdown(token.text)
    elif token.kind == "word" and token.text in ("blackout", "burn", "detected-text"):
        text = pixel_markdown(token.text)
    elif (tag := element_tag(token)) is not None:
        text = element_markdown(analysis, tag)
    elif token.kind == "tag" and (creator := _creator_before(analysis.text, token)) is not None:
        text = creator_markdown(analysis, creator, token.text)
    if text is None:
        return None
    return types.Hover(types.MarkupContent(types.MarkupKind.Markdown, text), token.range)


def element_tag(token: Token) -> int | None:
    """The exact tag a keyword or tag token names, if it names one."""
    if token.kind == "word":
        return tag_for_keyword(token.text)
    if token.kind == "tag" and "x" not in token.text.lower():
        return parse_tag(token.text)
    return None


def element_markdown(analysis: Analysis, tag: int) -> str:
    """Keyword, tag, VR, VM, retired; in the minimum and in E.1-1; then what the file does, where."""
    try:
        vr, vm, name, retired, keyword = get_entry(tag)
    except KeyError:
        vr, vm, name, retired, keyword = "", "", "private element" if is_private(tag) else "unknown element", "", ""
    head = f"**{keyword or format_tag(tag)}** {format_tag(tag)}" + (f" — {name}" if name else "")
    facts = [f"VR {vr}" if vr else "VR unknown", f"VM {vm}" if vm else None, "**retired**" if retired else None]
    out = [head, "", ", ".join(f for f in facts if f)]
    minimum = {e.tag: e for e in aryanto50()}.get(tag)
    out.append("- aryanto50 minimum: " + (f"**yes** ({minimum.kind})" if minimum else "no"))
    out.append("- PS3.15 Table E.1-1: " + _e1_1(tag))
    out += ["", _what_file_does(analysis, tag, sorted(vrs_of(tag)) or ["UN"])]
    return "\n".join(out)


def _creator_before(text: str, token: Token) -> str | None:
    """The creator string right before a ``gggg,xxEE`` private element, if there is one."""
    previous = [t for t in tokens(line_of(text, token.line), token.line) if t.end <= token.start]
    return previous[-1].text.strip('"') if previous and previous[-1].kind == "string" and previous[-1].closed else None


def creator_markdown(analysis: Analysis, creator: str, written: str) -> str | None:
    """A private element named by creator: Table E.3.10-1's entry, and what this file does to it."""
    digits = written.strip("()").replace(",", "")
    if not re.fullmatch(r"[0-9A-Fa-f]{4}[xX]{2}[0-9A-Fa-f]{2}", digits):
        return None
    group, offset = int(digits[:4], 16), int(digits[6:], 16)
    row = next((r for r in safe_private() if r["private_creator"] == creator and int(r["group"], 16) == group
                and int(r["element"][2:], 16) == offset), None)
    out = [f"**{creator}** {group:04X},xx{offset:02X} (private element)", "",
           f"- PS3.15 Table E.3.10-1: safe private, VR {row['vr']}" if row else "- PS3.15 Table E.3.10-1: not listed"]
    plan = analysis.plan
    if plan is None:
        return "\n".join(out)
    tag = group << 16 | 0x1000 | offset  # in whichever block the creator reserved; 10 stands for any
    steps = [f"`{text}`" + (f" — {_where(plan.origin(rule.order))}" if rule else " (private elements with no rule)")
             for rule, text in top_level_chain(plan, analysis.resolver(), tag, row["vr"] if row else "UN", creator)]
    return "\n".join([*out, "", f"**This file** (ruleset `{plan.name}`): {'; else '.join(steps)}"])


def _e1_1(tag: int) -> str:
    row = next((r for r in e1_1() if r["tag"] == format_tag(tag).strip("()")), None)
    if row is None:
        return "not listed"
    options = [f"{name} {row[column]}" for column, (_, name) in OPTION_COLUMNS.items() if row[column]]
    return f"basic profile **{row['basic_profile']}**" + (f"; with options: {', '.join(options)}" if options else "")


def _what_file_does(analysis: Analysis, tag: int, vrs: list[str]) -> str:
    plan = analysis.plan
    if plan is None:
        return "_This file does not compile yet: fix its errors to see what it does to this element._"
    resolver = analysis.resolver()
    lines = [f"**This file** (ruleset `{plan.name}`), at every depth unless a path says otherwise:"]
    for vr in vrs:
        steps = [f"`{text}`" + (f" — {_where(plan.origin(rule.order))}" if rule else " (default)")
                 for rule, text in top_level_chain(plan, resolver, tag, vr)]
        lines.append(f"- {'VR ' + vr + ': ' if len(vrs) > 1 else ''}{'; else '.join(steps)}")
    for rule in resolver.path_rules(tag):
        lines.append(f"- at `{selector_text(rule.selector)}`: `{rule_text(plan, rule)}` — {_where(plan.origin(rule.order))}")
    if tag in {w.tag for w in plan.waivers}:
        waiver = next(w for w in plan.waivers if w.tag == tag)
        lines.append(f"- waived: “{waiver.reason}” — {_where(plan.origin(waiver.order))}")
    return "\n".join(lines)


def _where(origin) -> str:
    return f"{origin.source}:{origin.line} `{origin.text}`" if origin else "?"


def action_markdown(name: str) -> str:
    """An action's declaration (`deidlang.actions`): what it does, how it is written, what it fits."""
    action = ACTIONS[name]
    written = "` or `".join(f"{name} SELECTORS {form}" for form in action.forms) or f"{name} SELECTORS"
    facts = ["applies to " + ("any VR" if action.applies_to is None else "VR " + ", ".join(sorted(action.applies_to))),
             "always changes or removes the value" if action.changes else
             "can leave a value as it was: an element of the minimum it decides needs a `waive`",
             f"result: {action.result}",
             f"a date or time it decides is {action.date_effect}"]
    return "\n".join([f"**{name}** (action) — {action.summary}", "", f"`{written}`", "", *(f"- {f}" for f in facts)])


def pixel_markdown(word: str) -> str | None:
    """A pixel rule kind, by the word its statement starts with."""
    kinds = [k for k in PIXEL_KINDS.values() if k.head.split()[0] == word or k.name == word]
    if not kinds:
        return None
    return "\n\n".join(f"**{k.head}** (pixel rule) — {k.summary}" for k in kinds)
