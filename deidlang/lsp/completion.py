"""Completion: what may come next where the cursor is, from the project's own vocabularies.

Statements and actions, element keywords (with their tags), VR names, shipped rulesets in `include`,
private creators (PS3.15 Table E.3.10-1 and the TCIA knowledge base) and their elements, and the words
a statement continues with. The context is read from the tokens of the current statement before the
cursor (`cursor.before`): the text being typed seldom parses yet.
"""

from __future__ import annotations

import functools

from lsprotocol import types
from pydicom.datadict import get_entry, keyword_dict

from ..actions import ACTIONS
from ..compiler import MINIMUMS, shipped_rulesets
from ..dictionary import ALL_VRS, aryanto50, cid7050, format_tag, safe_private, tcia_creators
from .analysis import Analysis
from .cursor import Token, before

LIMIT = 100  # keyword items sent at a time; the client asks again as the word grows
STATEMENTS = ("ruleset", "include", "require", "waive", "default", "code", "reject", "blackout", "burn")
SELECTOR_WORDS = ("group", "vr", "private", "overlays", "curves")
COMPARISONS = ("==", "!=", "<", "<=", ">", ">=", "contains", "startswith", "in", "exists")
#: words that can follow a statement's selectors, by the statement's first word
CONTINUATIONS = {**{a.name: a.argument.LEADS for a in ACTIONS.values() if a.argument is not None},
                 "waive": ("because",)}
_K = types.CompletionItemKind


def completion(analysis: Analysis, position: types.Position) -> types.CompletionList:
    toks = before(analysis.text, position)
    partial = toks[-1] if toks and toks[-1].end == position.character and toks[-1].kind in (
        "word", "tag", "string") and not (toks[-1].kind == "string" and toks[-1].closed) else None
    context = toks[:-1] if partial else toks
    if any(t.kind == "comment" for t in toks):
        return types.CompletionList(False, [])
    items, complete = _items(analysis, context, partial)
    if partial is not None:
        for item in items:
            item.text_edit = types.TextEdit(partial.range, item.insert_text or item.label)
            item.filter_text = item.filter_text or item.insert_text or item.label
    return types.CompletionList(not complete, items)


def _items(analysis: Analysis, context: list[Token], partial: Token | None) -> tuple[list, bool]:
    words = [t.text for t in context]
    typed = partial.text if partial else ""
    if not words:
        actions = [types.CompletionItem(a.name, kind=_K.Function, detail=a.summary) for a in ACTIONS.values()]
        return _words(STATEMENTS, _K.Keyword) + actions, True
    first, last = words[0], words[-1]
    if first == "include" and len(words) == 1:
        return _rulesets(analysis), True
    if partial is not None and partial.kind == "string":  # a creator, where a selector goes; else free text
        selector_place = last in (",", "except") or len(words) == 1 and (first in ACTIONS or first == "waive")
        return (_creators() if selector_place else []), True
    if first == "require":
        return (_words(MINIMUMS, _K.Value) if last == "minimum" else _words(["minimum"], _K.Keyword)), True
    if first == "default":
        return _words(["keep", "remove"], _K.Function), True
    if first == "code":
        return [types.CompletionItem(str(code), kind=_K.Value, detail=meaning) for code, meaning in cid7050().items()], True
    if first == "blackout" and len(words) == 1:
        return _words(["detected-text"], _K.Keyword), True
    if first == "burn":
        return _words(["overlays"], _K.Keyword), True
    if "if" in words:
        if last in ("if", "and", "or", "not", "("):
            return _keywords(typed)
        if context[-1].kind in ("word", "tag") and words[-2:-1] in (["if"], ["and"], ["or"], ["not"], ["("]):
            return _words(COMPARISONS, _K.Operator), True
        return _words(["and", "or"], _K.Keyword), True
    if last == "vr" or last == "," and len(words) >= 3 and words[-3] == "vr":
        return _words(sorted(ALL_VRS), _K.EnumMember, "VR"), True
    units = getattr(ACTIONS[first].argument, "UNITS", None) if first in ACTIONS else None
    if last == "to" and units:  # truncate-date to year|month, truncate-time to hour|minute
        return _words(units, _K.Value), True
    if last == "by" and first == "shift-date":
        return _words(["patient"], _K.Keyword), True
    if context[-1].kind == "string" and (first in ACTIONS or first == "waive"):
        return _creator_elements(context[-1].text.strip('"')), True
    if first in ACTIONS or first == "waive":
        if last in (",", "except") or len(words) == 1:
            keywords, complete = _keywords(typed)
            return _words(SELECTOR_WORDS, _K.Keyword) + keywords, complete
        return _words(["except", "if", *CONTINUATIONS.get(first, ())], _K.Keyword), True
    return [], True


def _words(words, kind: types.CompletionItemKind, detail: str | None = None) -> list[types.CompletionItem]:
    return [types.CompletionItem(w, kind=kind, detail=detail) for w in words]


@functools.cache
def _all_keywords() -> tuple[tuple[str, int, str], ...]:
    """(keyword, tag, detail), the minimum's 50 first, then alphabetical."""
    first = {e.keyword for e in aryanto50()}
    out = []
    for keyword, tag in keyword_dict.items():
        vr, _, name, retired, _ = get_entry(tag)
        out.append((keyword, tag, f"{format_tag(tag)} {vr} {name}" + (" (retired)" if retired else "")))
    return tuple(sorted(out, key=lambda k: (k[0] not in first, k[0])))


def _keywords(typed: str) -> tuple[list[types.CompletionItem], bool]:
    """Element keywords that start with (else contain) what is typed, at most `LIMIT`."""
    low = typed.lower()
    found = [k for k in _all_keywords() if k[0].lower().startswith(low)]
    if len(found) < LIMIT:
        found += [k for k in _all_keywords() if low in k[0].lower() and not k[0].lower().startswith(low)]
    items = [types.CompletionItem(keyword, kind=_K.Field, detail=detail, sort_text=f"{i:05d}",
                                  tags=[types.CompletionItemTag.Deprecated] if detail.endswith("(retired)") else None)
             for i, (keyword, _, detail) in enumerate(found[:LIMIT])]
    return items, len(found) <= LIMIT


def _rulesets(analysis: Analysis) -> list[types.CompletionItem]:
    """Shipped rulesets by name, and the rule files beside this document by relative path."""
    items = [types.CompletionItem(name, kind=_K.Module, detail="shipped ruleset", insert_text=f'"{name}"',
                                  filter_text=f'"{name}"') for name in shipped_rulesets()]
    if analysis.path is not None:
        folder = analysis.path.parent
        for path in sorted([*folder.glob("*.deid"), *folder.glob("*/*.deid")]):
            if path != analysis.path:
                rel = path.relative_to(folder).as_posix()
                items.append(types.CompletionItem(rel, kind=_K.File, detail="rule file",
                                                  insert_text=f'"{rel}"', filter_text=f'"{rel}"'))
    return items


@functools.cache
def _creator_names() -> tuple[tuple[str, str], ...]:
    standard = sorted({row["private_creator"] for row in safe_private()})
    tcia = [c for c in tcia_creators() if c not in standard]
    return tuple([(c, "PS3.15 Table E.3.10-1 (safe private)") for c in standard]
                 + [(c, "TCIA private tag knowledge base") for c in tcia])


def _creators() -> list[types.CompletionItem]:
    return [types.CompletionItem(name, kind=_K.Constant, detail=source, insert_text=f'"{name}"',
                                 filter_text=f'"{name}"', sort_text=f"{i:05d}")
            for i, (name, source) in enumerate(_creator_names())]


def _creator_elements(creator: str) -> list[types.CompletionItem]:
    """The safe private elements of Table E.3.10-1 that a creator reserves, as ``gggg,xxEE``."""
    return [types.CompletionItem(f"{row['group']},xx{row['element'][2:].upper()}", kind=_K.Field,
                                 detail=f"VR {row['vr']}, safe private (E.3.10-1)")
            for row in safe_private() if row["private_creator"] == creator]

