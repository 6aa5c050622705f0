"""Pinned plans and formatter output (`tests/golden.py`): any change of encoding or layout is a visible diff.

On a failure, if the change is meant: ``PYTHONPATH=. python -m tests.golden`` and commit the diff with
the reason (a changed plan hash changes what every output records).
"""

from __future__ import annotations

import pytest

from . import golden

PINNED = golden.plans()


@pytest.mark.parametrize("name", sorted(golden.plan_sources()))
def test_plan_is_pinned(name):
    text, _ = PINNED[name]
    path = golden.PLANS / f"{name}.plan.json"
    assert path.is_file(), f"no golden plan for {name}: run `python -m tests.golden`"
    assert path.read_text(encoding="utf-8") == text


def test_plan_hashes_are_pinned():
    assert (golden.PLANS / "hashes.txt").read_text(encoding="utf-8") == golden.hashes_text(PINNED)


def test_no_stale_golden_plan():
    names = {p.name.removesuffix(".plan.json") for p in golden.PLANS.glob("*.plan.json")}
    assert names == set(golden.plan_sources())


@pytest.mark.parametrize("path", sorted(golden.formatted()), ids=lambda p: p.name)
def test_formatter_golden_pair(path):
    assert path.read_text(encoding="utf-8") == golden.formatted()[path]


def test_formatted_output_is_a_fixed_point():
    from deidlang.review.fmt import format_text

    for path, text in golden.formatted().items():
        assert format_text(text, path.name) == text
