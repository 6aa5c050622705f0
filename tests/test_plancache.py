"""The compiled-plan cache: used only while everything the plan was made from is unchanged."""

from __future__ import annotations

import stat

import pytest

import deidlang
from deidlang import plancache
from deidlang.errors import ObligationError


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("DEIDLANG_CACHE", str(folder))
    monkeypatch.chdir(tmp_path)
    return folder


@pytest.fixture
def compiles(monkeypatch):
    """How many times rules were really compiled."""
    calls = []
    real = plancache._compile
    monkeypatch.setattr(plancache, "_compile", lambda path: calls.append(path) or real(path))
    return calls


def test_a_cached_plan_is_the_compiled_plan(cache, compiles):
    first = plancache.compile_cached("basic-profile")
    second = plancache.compile_cached("basic-profile")
    assert len(compiles) == 1
    assert second == first == deidlang.compile("basic-profile")
    assert second.plan_hash == first.plan_hash and second.origins == first.origins
    [entry] = cache.iterdir()
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600 and stat.S_IMODE(cache.stat().st_mode) == 0o700


def test_an_edited_include_is_compiled_again(cache, compiles, tmp_path):
    (tmp_path / "base.deid").write_text('include "basic-profile"\nkeep StudyDescription\n')
    (tmp_path / "site.deid").write_text('include "base.deid"\n')
    before = plancache.compile_cached("site.deid")
    (tmp_path / "base.deid").write_text('include "basic-profile"\nremove StudyDescription\n')
    after = plancache.compile_cached("site.deid")
    assert len(compiles) == 2
    assert after == deidlang.compile("site.deid") != before


def test_invalid_rules_are_never_cached(cache, compiles, tmp_path):
    (tmp_path / "leaky.deid").write_text("keep PatientName\n")
    for _ in range(2):
        with pytest.raises(ObligationError):
            plancache.compile_cached("leaky.deid")
    assert len(compiles) == 2 and not any(cache.glob("*.json"))


def test_a_damaged_or_foreign_entry_is_compiled_again(cache, compiles, monkeypatch):
    plancache.compile_cached("basic-profile")
    [entry] = cache.iterdir()
    entry.write_text("{not json")
    assert plancache.compile_cached("basic-profile") == deidlang.compile("basic-profile")
    monkeypatch.setattr(plancache, "_build", lambda: "another deidlang")
    plancache.compile_cached("basic-profile")
    assert len(compiles) == 3


def test_the_cache_can_be_turned_off(tmp_path, monkeypatch):
    monkeypatch.setenv("DEIDLANG_CACHE", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert plancache.compile_cached("basic-profile") == deidlang.compile("basic-profile")
    assert not any(tmp_path.rglob("*.json"))


def test_rule_text_is_compiled_as_given(cache):
    plan = plancache.compile_cached('include "basic-profile"\nkeep StudyDescription')
    assert plan == deidlang.compile('include "basic-profile"\nkeep StudyDescription')
    assert not cache.exists()


def test_without_a_home_nothing_is_cached(tmp_path, monkeypatch):
    monkeypatch.delenv("DEIDLANG_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # not absolute: ignored, as the XDG spec says
    monkeypatch.setenv("HOME", "")
    monkeypatch.chdir(tmp_path)
    assert plancache.compile_cached("basic-profile") == deidlang.compile("basic-profile")
    assert not any(tmp_path.iterdir())


def test_an_entry_others_could_write_is_not_used(cache, compiles):
    plancache.compile_cached("basic-profile")
    [entry] = cache.iterdir()
    entry.chmod(0o666)
    plancache.compile_cached("basic-profile")
    assert len(compiles) == 2
    cache.chmod(0o777)
    plancache.compile_cached("basic-profile")
    assert len(compiles) == 3


@pytest.mark.parametrize("rehash", [False, True])
def test_an_entry_edited_on_disk_is_never_used_unproved(cache, compiles, rehash):
    """Issue 13: a cached plan edited to keep PatientName used to be used while `check` said valid.
    Edited with its stored hash updated too, it still fails the proof it is put to again."""
    import hashlib
    import json

    plancache.compile_cached("basic-profile")
    [entry] = cache.glob("*.json")
    head, canonical = entry.read_text().split("\n")
    data, plan = json.loads(head), json.loads(canonical)
    for rule in plan["rules"]:
        if rule["selector"]["kind"] == "tag" and rule["selector"]["tag"] == 0x00100010:
            rule["action"] = "keep"
    canonical = json.dumps(plan, sort_keys=True, separators=(",", ":"))
    if rehash:
        data["plan_hash"] = hashlib.sha256(canonical.encode()).hexdigest()
    entry.write_text(f"{json.dumps(data)}\n{canonical}")
    plan = plancache.compile_cached("basic-profile")
    assert plan == deidlang.compile("basic-profile") and len(compiles) == 2
    assert [r.action for r in plan.rules if r.selector.tag == 0x00100010 and r.selector.kind == "tag"] != ["keep"]


def test_an_entry_holds_the_plan_as_hashed(cache):
    """The entry keeps the canonical JSON the hash was taken of, so a run reads the hash rather than writing
    the plan's JSON again; the plan read from it writes that same JSON."""
    plancache.compile_cached("basic-profile")
    [entry] = cache.glob("*.json")
    canonical = entry.read_text().split("\n")[1]
    plan = plancache.compile_cached("basic-profile")
    assert "plan_hash" in plan.__dict__ and plan.canonical_json() == canonical
    assert plan.plan_hash == deidlang.compile("basic-profile").plan_hash
