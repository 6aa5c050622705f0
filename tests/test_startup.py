"""What `deidlang run` loads: only what the run needs (issue 20's start target), checked by the
modules a run leaves in ``sys.modules``, not by a timing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from deidlang import pool
from deidlang.phantom import phantom
from deidlang.plancache import installed_version
from deidlang.runner import run

from .conftest import KEY, ROOT

#: Modules a run whose plan is cached must not import: the parser, the compiler, the review tools.
NOT_LOADED = ("lark", "deidlang.syntax", "deidlang.ast", "deidlang.compiler", "deidlang.review", "deidlang.explain")
#: What a run of plain header-only files the fast path takes must not import either: pydicom (whose import
#: alone takes several times Python's start: numpy, its pixel handlers, requests) and numpy; nor the
#: pixel and OCR modules; nor `logging`, there only to silence pydicom's logger; nor
#: `deidlang.engine.identifying`, which only --verify-pixels needs; nor importlib.abc (with importlib.resources
#: and tempfile, a few milliseconds where nothing else imports them).
NOT_LOADED_PLAIN = ("pydicom", "numpy", "PIL", "requests", "deidlang.engine.pixels", "deidlang.engine.ocr",
                    "deidlang.engine.encode", "tqdm", "deidlang.pool", "importlib.metadata", "logging",
                    "deidlang.engine.identifying", "importlib.abc")

_PROBE = """
import json, sys
from deidlang.cli import main
code = main(sys.argv[1:])
print(json.dumps([code, sorted(sys.modules)]))
"""


def _run_in_process(args: list[str], env: dict) -> tuple[int, list[str]]:
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=300)
    code, modules = json.loads(done.stdout.splitlines()[-1])
    return code, modules


def test_a_run_with_a_cached_plan_loads_no_compiler(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    phantom(instance=1)[0].save_as(src / "a.dcm", enforce_file_format=True)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "DEIDLANG_CACHE": str(tmp_path / "cache"),
           "HOME": str(tmp_path)}
    first, loaded = _run_in_process(["run", str(src), "-o", str(tmp_path / "out1"), "-q"], env)
    assert first == 0 and "deidlang.compiler" in loaded  # nothing cached yet: the rules were compiled
    second, loaded = _run_in_process(["run", str(src), "-o", str(tmp_path / "out2"), "-q"], env)
    assert second == 0 and (tmp_path / "out2").is_dir()
    assert [m for m in loaded if m.split(".")[0] == "lark" or m.startswith(NOT_LOADED)] == []


def _top(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return [m for m in modules if m.split(".")[0] in names or m.startswith(tuple(n + "." for n in names)) or m in names]


def test_a_cached_run_of_a_plain_file_imports_no_pydicom_or_numpy(tmp_path):
    """Issue 20's start: a small CT (the phantom's; no pixel rule applies, so its pixels are copied as
    bytes) with the basic profile, plan cached, is done by the fast path without pydicom or numpy; a file it does not take (deflated) still is, by the
    reference engine, which imports pydicom then."""
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    src, odd = tmp_path / "in", tmp_path / "odd"
    src.mkdir()
    odd.mkdir()
    phantom(instance=1)[0].save_as(src / "a.dcm", enforce_file_format=True)
    ds = phantom(instance=2)[0]
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian  # the fast path leaves it to the reference
    ds.save_as(odd / "b.dcm", enforce_file_format=True)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "DEIDLANG_CACHE": str(tmp_path / "cache"),
           "HOME": str(tmp_path)}
    assert _run_in_process(["run", str(src), "-o", str(tmp_path / "out0"), "-q"], env)[0] == 0  # caches the plan
    code, loaded = _run_in_process(["run", str(src), "-o", str(tmp_path / "out1"), "-q", "--report",
                                    str(tmp_path / "r1.json")], env)
    assert code == 0 and json.loads((tmp_path / "r1.json").read_text())["engine"] == "fast"
    assert _top(loaded, NOT_LOADED_PLAIN) == []
    code, loaded = _run_in_process(["run", str(odd), "-o", str(tmp_path / "out2"), "-q", "--report",
                                    str(tmp_path / "r2.json")], env)
    assert code == 0 and json.loads((tmp_path / "r2.json").read_text())["engine"] == "reference"
    assert "pydicom" in loaded and len(list((tmp_path / "out2").rglob("*.dcm"))) == 1


@pytest.mark.parametrize("first", ["pydicom", "deidlang"])
def test_pydicom_logs_nothing_whether_imported_before_or_after_it_is_quieted(first):
    """`quiet_pydicom` silences pydicom's logger (its warnings can quote values) before pydicom is
    imported as well as after, without importing `logging` until pydicom is."""
    probe = f"""
import sys
if {first!r} == "pydicom":
    import pydicom
from deidlang.runner import quiet_pydicom
quiet_pydicom()
assert ("logging" in sys.modules) == ({first!r} == "pydicom")
import pydicom
pydicom.config.logger.warning("DOE^JANE")
import logging
logging.getLogger("pydicom.pixels").error("DOE^JANE")
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_a_cached_run_imports_and_loads_its_plan_with_the_collector_paused(tmp_path):
    """What `deidlang run` imports and the plan it reads from the cache live as long as the process and
    hold no garbage: the cyclic collector runs not once meanwhile (it did 35 times, 6 ms)."""
    probe = """
import gc, sys
before = sum(s["collections"] for s in gc.get_stats())
from deidlang.cli import cli
cli.get_command(None, "run")
from deidlang.plancache import compile_cached
compile_cached("basic-profile")
print(sum(s["collections"] for s in gc.get_stats()) - before, gc.isenabled())
"""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "DEIDLANG_CACHE": str(tmp_path / "cache"),
           "HOME": str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, env=env,
                           timeout=300).stdout.split() for _ in range(2)]
    assert runs[1] == ["0", "True"]  # the first compiled the rules and filled the cache


def test_importing_deidlang_loads_no_compiler_or_engine():
    """`import deidlang` (as the command line does first) loads neither the compiler nor the engines, nor
    difflib, which only "did you mean" help needs (click imports it anyway for a short option such as -o)."""
    done = subprocess.run([sys.executable, "-c", "import deidlang, sys, json; print(json.dumps(sorted(sys.modules)))"],
                          capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                          timeout=120)
    loaded = json.loads(done.stdout)
    assert [m for m in loaded if m.startswith(("lark", "deidlang.compiler", "deidlang.engine", "deidlang.runner"))] == []
    assert "difflib" not in loaded


def test_one_file_is_done_in_this_process_whatever_the_workers(tmp_path, monkeypatch):
    """No worker processes are started for fewer files than workers: one file, none at all."""
    def no_pool(*args, **kwargs):
        raise AssertionError("a pool was started")

    src = tmp_path / "in"
    src.mkdir()
    phantom(instance=1)[0].save_as(src / "a.dcm", enforce_file_format=True)
    monkeypatch.setattr(pool, "Pool", no_pool)  # `batch` imports it where it starts workers
    summary = run(__import__("deidlang").compile("basic-profile"), [src], tmp_path / "out", KEY, workers=2)
    assert summary.written == 1


def test_installed_versions_are_importlib_metadatas():
    """The plan cache's stamp reads pydicom's and lark's versions without importlib.metadata."""
    from importlib.metadata import version

    assert installed_version("pydicom") == version("pydicom") and installed_version("lark") == version("lark")
    assert installed_version("click") == version("click")
