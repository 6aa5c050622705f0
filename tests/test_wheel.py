"""The wheel carries the grammar and the shipped rulesets inside the package, and works from there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from .conftest import ROOT


@pytest.mark.integration
def test_wheel_contains_grammar_and_rulesets(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("deidlang-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "deidlang/grammar/deid.lark" in names
    assert {"deidlang/rulesets/basic-profile.deid", "deidlang/rulesets/aryanto50.deid"} <= names
    assert "deidlang/data/aryanto50.tsv" in names
    # Unpacked on its own, the package finds its grammar and rulesets inside itself.
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    code = ("import deidlang, deidlang._resources as r; "
            "assert r.shipped_dir('grammar').parent.parent.name == 'site'; "
            "print(deidlang.compile('basic-profile').name)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={"PYTHONPATH": str(tmp_path / "site")}, check=True)
    assert out.stdout.strip() == "basic-profile"
    if shutil.which(os.environ.get("CC", "cc")):  # built where a compiler exists: the compiled walker is inside
        assert any(name.startswith("deidlang/engine/stream.") and name.endswith(".so") for name in names)
        assert "deidlang/_compiled.json" in names
        assert _walker_of(tmp_path / "site").startswith("compiled walker")


@pytest.mark.integration
def test_without_a_compiler_the_wheel_is_pure_python_and_says_so(tmp_path):
    env = {**os.environ, "CC": "false", "CXX": "false"}  # a C compiler that always fails
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True, env=env)
    (wheel,) = tmp_path.glob("deidlang-*-py3-none-any.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert not any(name.endswith(".so") for name in names)
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    assert _walker_of(tmp_path / "site").startswith("pure-Python walker (no compiled extension")


def _walker_of(site) -> str:
    """What ``deidlang --version`` says of the walker, run from an unpacked wheel."""
    out = subprocess.run([sys.executable, "-m", "deidlang", "--version"], cwd=site, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(site)}, check=True)
    return out.stdout.splitlines()[1]
