"""The wheel carries the grammar and the shipped rulesets inside the package, and works from there."""

from __future__ import annotations

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
