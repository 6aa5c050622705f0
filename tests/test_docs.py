"""The README's examples are real: its rule files compile and pass the minimum."""

from __future__ import annotations

import re
import subprocess
import sys

import deidlang
from deidlang.actions import ACTIONS

from .conftest import ROOT


def test_readme_rule_examples_compile():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"^```(\w*)\n(.*?)^```", text, re.S | re.M)
    rule_blocks = [body for lang, body in blocks if not lang and body.startswith("ruleset")]
    assert len(rule_blocks) >= 2
    for block in rule_blocks:
        deidlang.compile(block)


def test_example_site_ruleset_is_valid(monkeypatch):
    monkeypatch.chdir(ROOT)
    plan = deidlang.compile("examples/site.deid", profile="basic-profile")
    assert plan.name == "example-site" and {113100, 113107, 113108} <= set(plan.codes)


def test_actions_table_is_generated_from_the_declarations():
    result = subprocess.run([sys.executable, "tools/actions_table.py", "--check"], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr  # the script itself, as a contributor runs it
    table = (ROOT / "docs" / "actions.md").read_text()
    assert all(f"| `{name}` |" in table for name in ACTIONS)
