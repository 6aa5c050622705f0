"""Highlighting under editors/: the Pygments lexer and the TextMate grammar read every shipped rule file
the same way, with the grammar's own words, and the VS Code manifest points at files that exist."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, String

from deidlang.actions import ACTIONS

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "editors" / "pygments"))
from deidlang_lexer import ACTIONS as LEXER_ACTIONS  # noqa: E402
from deidlang_lexer import KEYWORDS as LEXER_KEYWORDS  # noqa: E402
from deidlang_lexer import DeidLexer  # noqa: E402

VSCODE = ROOT / "editors" / "vscode"
TEXTMATE = VSCODE / "syntaxes" / "deid.tmLanguage.json"
SHIPPED = sorted([*ROOT.glob("rulesets/*.deid"), *ROOT.glob("examples/**/*.deid")])
#: every word the grammar spells out in quotes
GRAMMAR_WORDS = set(re.findall(r'"([a-z][a-z-]*)"', (ROOT / "grammar" / "deid.lark").read_text()))

_PYGMENTS = [(Comment, "comment"), (String, "string"), (Name.Constant, "tag"), (Number, "number"),
             (Name.Builtin, "action"), (Keyword, "keyword"), (Operator, "operator"), (Name.Variable, "element")]
_SCOPES = [("comment.", "comment"), ("string.", "string"), ("constant.other.tag.", "tag"),
           ("constant.numeric.", "number"), ("support.function.action.", "action"), ("keyword.other.", "keyword"),
           ("keyword.operator.", "operator"), ("variable.other.element.", "element")]


def pygments_tokens(text: str) -> list[tuple[str, str]]:
    out = []
    for kind, value in DeidLexer().get_tokens(text):
        assert kind not in Error, f"error token {value!r}"
        category = next((name for parent, name in _PYGMENTS if kind in parent), None)
        if category:
            out.append((category, value))
    return out


def textmate_tokens(grammar: dict, text: str) -> list[tuple[str, str]]:
    """A small TextMate matcher: at each point the earliest match among the patterns wins (the first
    listed on a tie), as editors do for a grammar of single-line `match` rules."""
    rules = [grammar["repository"][p["include"][1:]] for p in grammar["patterns"]]
    compiled = [re.compile(r["match"], re.M) for r in rules]
    upcoming: list = [None] * len(rules)  # each rule's next match, searched again only once passed
    out, pos = [], 0
    while pos < len(text):
        for i, rx in enumerate(compiled):
            if upcoming[i] is not False and (upcoming[i] is None or upcoming[i].start() < pos):
                upcoming[i] = rx.search(text, pos) or False
        found = [(m.start(), i) for i, m in enumerate(upcoming) if m]
        if not found:
            break
        index = min(found)[1]
        match, rule = upcoming[index], rules[index]
        assert not text[pos:match.start()].strip(), f"unscoped text {text[pos:match.start()]!r}"
        scopes = [(rule["name"], match.group())] if "name" in rule else [
            (c["name"], match.group(int(g))) for g, c in sorted(rule["captures"].items())]
        for scope, value in scopes:
            category = next((name for prefix, name in _SCOPES if scope.startswith(prefix)), None)
            if category:
                out.append((category, value))
        pos = max(match.end(), pos + 1)
    return out


@pytest.fixture(scope="module")
def grammar() -> dict:
    return json.loads(TEXTMATE.read_text())


def test_editor_grammars_are_generated_from_the_declarations():
    result = subprocess.run([sys.executable, "tools/editor_grammars.py", "--check"], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr


def test_lexer_words_are_the_grammars():
    assert set(LEXER_ACTIONS) == set(ACTIONS)
    assert set(LEXER_ACTIONS) | set(LEXER_KEYWORDS) == GRAMMAR_WORDS


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_pygments_reads_every_shipped_file_without_error(path):
    assert pygments_tokens(path.read_text())  # and no error token (checked by pygments_tokens)


def test_pygments_scopes():
    tokens = pygments_tokens('remove (0010,0010), 60xx,3000 if Rows >= 512 # why\nkeep "GEMS" 0043,xx39\n')
    assert ("action", "remove") in tokens and ("tag", "(0010,0010)") in tokens and ("tag", "60xx,3000") in tokens
    assert ("keyword", "if") in tokens and ("number", "512") in tokens and ("comment", "# why") in tokens
    assert ("string", '"GEMS"') in tokens and ("element", "Rows") in tokens
    assert ("number", "1000") in pygments_tokens("blackout 1000,2000,300,40\n")  # a region, not a tag


def test_textmate_grammar_has_every_scope(grammar):
    scopes = {r.get("name", "") for r in grammar["repository"].values()} | {
        c["name"] for r in grammar["repository"].values() for c in r.get("captures", {}).values()}
    for prefix, _ in _SCOPES:
        assert any(s.startswith(prefix) for s in scopes), prefix
    action = grammar["repository"]["action"]["match"]
    keyword = grammar["repository"]["keyword"]["match"]
    assert set(re.search(r"\(\?:([^)]*)\)", action).group(1).split("|")) == set(ACTIONS)
    words = set(re.search(r"\(\?:([^)]*)\)", keyword).group(1).split("|"))
    assert words | set(ACTIONS) == GRAMMAR_WORDS


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_textmate_and_pygments_agree_on_every_shipped_file(grammar, path):
    text = path.read_text()
    assert textmate_tokens(grammar, text) == pygments_tokens(text)


def test_vscode_manifest_points_at_real_files():
    manifest = json.loads((VSCODE / "package.json").read_text())
    (language,) = manifest["contributes"]["languages"]
    (tm,) = manifest["contributes"]["grammars"]
    assert language["extensions"] == [".deid"] and tm["language"] == language["id"]
    assert (VSCODE / tm["path"]).resolve() == TEXTMATE and tm["scopeName"] == json.loads(TEXTMATE.read_text())["scopeName"]
    json.loads((VSCODE / language["configuration"]).read_text())
    assert manifest["contributes"]["configuration"]["properties"]["deidlang.server.command"]["default"] == [
        "deidlang", "lsp"]
    assert (VSCODE / manifest["main"]).is_file() and "vscode-languageclient" in manifest["dependencies"]
