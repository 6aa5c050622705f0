"""A newcomer's first hour (issue 22): one key policy, honest banners and help, file modes that
follow the umask, and a `.gitignore` for what the README's commands create."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest
from pydicom import dcmread

import deidlang
from deidlang.cli import main
from deidlang.engine.keys import MIN_KEY_BYTES
from deidlang.errors import InputError

from .conftest import KEY, ROOT

STUDY = ROOT / "examples" / "dicom"


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.parametrize("key", [b"short", b"x" * (MIN_KEY_BYTES - 1), "a str key that is long enough", None])
def test_the_api_refuses_what_the_command_line_refuses(key):
    plan = deidlang.compile("basic-profile")
    with pytest.raises(deidlang.KeyPolicyError) as err:
        deidlang.apply(plan, dcmread(STUDY / "study1" / "ct1.dcm"), key=key)
    assert isinstance(err.value, ValueError) and "Traceback" not in err.value.render()
    assert err.value.help  # says what to pass instead


def test_one_minimum_length_for_key_files_the_environment_and_the_api(tmp_path):
    short = "k" * (MIN_KEY_BYTES - 1)
    path = tmp_path / "site.key"
    path.write_text(short)
    path.chmod(0o600)
    for load in (lambda: deidlang.load_key(path), lambda: deidlang.load_key(None, {"DEIDLANG_KEY": short})):
        with pytest.raises(InputError, match=f"fewer than {MIN_KEY_BYTES} bytes"):
            load()
    path.write_text(short + "k")
    assert deidlang.load_key(path).secret == deidlang.Key.of((short + "k").encode()).secret


def test_a_map_without_a_key_is_refused_before_the_banner(tmp_path, capsys):
    assert main(["run", str(STUDY), "-o", str(tmp_path / "out"), "--map", str(tmp_path / "m.map")]) == 2
    err = capsys.readouterr().err
    assert "a map needs a site key" in err and "random one-run key" not in err
    assert not (tmp_path / "out").exists()


def test_run_help_names_the_output_option(capsys):
    assert main(["run", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "-o, --output FOLDER" in out and "OUTDIR" not in out and "into the folder given by -o/--output" in out


def test_a_missing_rule_file_is_a_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["check", "site.deid"]) == 2
    assert "no rule file `site.deid`" in capsys.readouterr().err


def _modes(folder):
    return {stat.S_IMODE(p.stat().st_mode) for p in folder.rglob("*") if p.is_file()}


def test_outputs_follow_the_umask_and_private_makes_them_owner_only(tmp_path, umask_022):
    key = tmp_path / "site.key"
    key.write_bytes(KEY)
    key.chmod(0o600)
    assert main(["run", str(STUDY), "-o", str(tmp_path / "shared"), "-q", "--workers", "1"]) == 0
    assert _modes(tmp_path / "shared") == {0o644}
    assert main(["run", str(STUDY), "-o", str(tmp_path / "private"), "-q", "--workers", "1", "--private",
                 "--key-file", str(key), "--map", str(tmp_path / "study.map")]) == 0
    assert _modes(tmp_path / "private") == {0o600}
    assert stat.S_IMODE((tmp_path / "study.map").stat().st_mode) == 0o600


def test_quarantine_stays_owner_only(tmp_path, umask_022):
    src = tmp_path / "in"
    src.mkdir()
    (src / "junk.dcm").write_bytes(b"\0" * 300)
    assert main(["run", str(src), "-o", str(tmp_path / "out"), "-q", "--quarantine", str(tmp_path / "q")]) == 1
    assert _modes(tmp_path / "q") == {0o600} and len(list((tmp_path / "q").iterdir())) == 2


def test_gitignore_covers_what_the_readme_makes():
    made = ["deid-out/x.dcm", "deid-out.deidlang/journal.sqlite", ".venv/bin/python", "site.key", "study.map",
            "review.html", "run.json", "site-out/a/b/c.dcm", "pseudo-out.deidlang/lock", "decisions.json",
            "ct1-deid.dcm"]
    ignored = subprocess.run(["git", "check-ignore", "--no-index", *made], cwd=ROOT, capture_output=True, text=True)
    assert sorted(ignored.stdout.split()) == sorted(made)
