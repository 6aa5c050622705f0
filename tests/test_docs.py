"""The docs' examples are real: rule files compile and pass the minimum, and every shell and Python
example runs as written, with the exit codes and output the text gives."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

import deidlang
from deidlang.actions import ACTIONS

from . import doc_examples
from .conftest import ROOT


def test_rule_examples_compile():
    """Every unfenced-language block of the docs that is a rule file compiles and passes the minimum."""
    rule_blocks = [b.body for page in doc_examples.PAGES if page.is_file() for b in doc_examples.blocks(page)
                   if not b.language and b.body.lstrip("# \n").startswith(("ruleset", "An example"))]
    assert len(rule_blocks) >= 3
    for block in rule_blocks:
        deidlang.compile(block)


def test_the_readme_shows_the_shipped_site_rules_as_they_are():
    assert (ROOT / "examples" / "site.deid").read_text() in (ROOT / "README.md").read_text()


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


# ---- every shell and Python example runs as written (tests/doc_examples.py has the convention) ----


RUNNABLE = [p for p in doc_examples.PAGES if p.is_file() and any(b.runs for b in doc_examples.blocks(p))]


def test_every_code_block_says_whether_it_runs():
    for page in doc_examples.PAGES:
        for block in doc_examples.blocks(page) if page.is_file() else ():
            assert block.marks <= {"no-run", "setup"}, f"{block}: unknown mark {sorted(block.marks)}"


def test_the_readme_test_command_is_the_one_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    setup = [b for b in doc_examples.blocks(ROOT / "README.md") if "setup" in b.marks]
    assert setup and any(ci in b.body.splitlines() for b in setup)
    assert "python3 -m venv .venv && . .venv/bin/activate" in setup[0].body


def _sandbox(tmp_path):
    """A folder like a checkout's top for the examples, and a PATH whose deidlang and python are this
    checkout's."""
    work = tmp_path / "work"
    shutil.copytree(ROOT / "examples", work / "examples")
    shutil.copytree(ROOT / "rulesets" / "tests", work / "rulesets" / "tests")
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    (bin_ / "python").symlink_to(sys.executable)
    (bin_ / "deidlang").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m deidlang "$@"\n')
    (bin_ / "deidlang").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(ROOT),
           "HOME": str(tmp_path), "DEIDLANG_CACHE": "off"}
    env.pop("DEIDLANG_KEY", None)
    return work, env


@pytest.mark.integration  # each page starts deidlang a few times: seconds per page
@pytest.mark.parametrize("page", RUNNABLE, ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_run_as_written(page, tmp_path):
    work, env = _sandbox(tmp_path)
    for block in doc_examples.blocks(page):
        if not block.runs:
            continue
        if block.language == "python":
            result = subprocess.run([sys.executable, "-c", block.body], cwd=work, env=env, capture_output=True,
                                    text=True, timeout=300)
            assert result.returncode == 0, f"{block}: exit {result.returncode}\n{result.stderr[-3000:]}"
            continue
        script = doc_examples.shell_script(block, tmp_path / "out.txt")
        result = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, f"{result.stderr[-3000:]}\n--- output ---\n{result.stdout[-3000:]}"


def test_a_wrong_exit_code_or_output_is_caught(tmp_path):
    page = tmp_path / "page.md"
    page.write_text('```sh\ntrue   # -> exit 1\n```\n```sh\necho hello   # -> "goodbye"\n```\n'
                    '```sh\nfalse   # -> exit 1\necho "a b" \\\n  c   # -> "a b c"\n```\n')
    results = [subprocess.run(["bash", "-c", doc_examples.shell_script(b, tmp_path / "o")], capture_output=True,
                              text=True) for b in doc_examples.blocks(page)]
    assert [r.returncode for r in results] == [99, 99, 0]
    assert "page.md:2: true: exit code 0, the text says 1" in results[0].stderr


def test_the_readme_is_a_short_tour_that_links_to_the_docs():
    """Issue 18: the README is a newcomer's page (at most 150 lines); the reference lives in docs/, and
    every page it links to exists."""
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    links = re.findall(r"\]\(((?:docs/)?[\w./-]+\.md)\)", text)
    assert len(links) >= 8
    assert all((ROOT / link).is_file() for link in links)
