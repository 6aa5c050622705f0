"""Layer 6: the batch runner: resume, quarantine, report, atomic output under kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from pydicom import dcmread

import deidlang
from deidlang.engine import stream
from deidlang.phantom import phantom
from deidlang.runner import run

from .conftest import KEY, ROOT


def make_inputs(folder, n: int = 4):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        ds, _ = phantom(instance=i + 1)
        ds.save_as(folder / f"i{i}.dcm", enforce_file_format=True)
    (folder / "junk.txt").write_text("not dicom")


def test_resume_skips_finished_and_redoes_changed(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    make_inputs(src)
    plan = deidlang.compile("basic-profile")
    first = run(plan, [src], out, KEY)
    assert (first.written, first.failed) == (4, 1)
    again = run(plan, [src], out, KEY, resume=True)
    assert (again.written, again.failed, again.skipped) == (0, 1, 4)  # failures are retried
    os.utime(src / "i0.dcm", ns=(1, 1))  # a changed input is done again
    assert run(plan, [src], out, KEY, resume=True).written == 1
    other = deidlang.compile("aryanto50")  # so is everything under a changed plan
    assert run(other, [src], out, KEY, resume=True).written == 4


def test_an_input_changed_while_it_is_read_is_redone_on_resume(tmp_path, monkeypatch):
    src, out = tmp_path / "in", tmp_path / "out"
    make_inputs(src, 2)
    plan = deidlang.compile("basic-profile")
    real = stream.rewrite_parts

    def rewrite_while_changed(data, *args):
        os.utime(src / "i0.dcm", ns=(7, 7))  # as if a writer touched it mid-read
        return real(data, *args)

    monkeypatch.setattr(stream, "rewrite_parts", rewrite_while_changed)
    run(plan, [src / "i0.dcm"], out, KEY)
    monkeypatch.setattr(stream, "rewrite_parts", real)
    assert run(plan, [src / "i0.dcm"], out, KEY, resume=True).written == 1


def test_quarantine_and_report(tmp_path):
    src, out, quarantine, report = tmp_path / "in", tmp_path / "out", tmp_path / "q", tmp_path / "r.json"
    make_inputs(src, 2)
    ds, canaries = phantom(instance=9)
    ds.BurnedInAnnotation = "YES"
    ds.save_as(src / "burned.dcm", enforce_file_format=True)
    plan = deidlang.compile('include "basic-profile"\nreject if BurnedInAnnotation == "YES" because "burned-in"')
    summary = run(plan, [src], out, KEY, quarantine=quarantine, report_path=report)
    assert (summary.written, summary.failed, summary.rejected) == (2, 1, 1)
    assert (quarantine / "burned.dcm").read_bytes() == (src / "burned.dcm").read_bytes()
    reason = (quarantine / "burned.dcm.reason.txt").read_text()
    assert "burned-in" in reason and not any(v in reason for v in canaries.searchable().values())
    assert (quarantine / "junk.txt.reason.txt").exists() and not (out / "burned.dcm").exists()
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert sorted(line["outcome"] for line in lines) == ["failed", "rejected", "written", "written"]
    assert {line["engine"] for line in lines} == {"fast"}  # the junk file is failed, not passed on
    assert (quarantine / "burned.dcm").stat().st_mode & 0o777 == 0o600  # raw inputs: the user's eyes only
    assert (quarantine / "burned.dcm.reason.txt").stat().st_mode & 0o777 == 0o600


@pytest.mark.integration
def test_kill_9_leaves_no_partial_file_under_a_final_name(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    ds, _ = phantom(size=512)  # 512 KiB of pixels a file: writing takes a while
    ds.save_as(src / "big000.dcm", enforce_file_format=True)
    for i in range(1, 400):  # links: separate inputs to the runner, cheap to make
        os.link(src / "big000.dcm", src / f"big{i:03d}.dcm")
    proc = subprocess.Popen([sys.executable, "-m", "deidlang", "run", str(src), "-o", str(out), "--workers", "2",
                             "--layout", "mirror", "-q"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(out.glob("*.dcm")):
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = list(out.glob("*.dcm"))
    assert 0 < len(finished) < 400
    for path in finished:  # every file under its final name is complete and valid
        assert dcmread(path).PatientIdentityRemoved == "YES"
    # a resumed run finishes the job
    resumed = run(deidlang.compile("basic-profile"), [src], out, KEY, resume=True, layout="mirror")
    assert resumed.written + resumed.skipped == 400 and resumed.failed == 0
    assert len(list(out.glob("*.dcm"))) == 400


@pytest.mark.integration
def test_dask_local_cluster_matches_the_local_runner(tmp_path):
    """Two worker processes on loopback, byte-identical to the local runner with the same key."""
    src = tmp_path / "in"
    make_inputs(src, 6)
    plan = deidlang.compile("basic-profile")
    local = run(plan, [src], tmp_path / "local", KEY, workers=1)
    dask = run(plan, [src], tmp_path / "dask", KEY, workers=2, engine="dask")
    assert (dask.written, dask.failed) == (local.written, local.failed) == (6, 1)
    for path in (tmp_path / "local").rglob("*.dcm"):
        assert path.read_bytes() == (tmp_path / "dask" / path.relative_to(tmp_path / "local")).read_bytes()


def test_inputs_are_listed_as_a_walk_lists_them_and_links_are_known_from_the_listing(tmp_path):
    """`inputs.files` reads each folder's listing once: a folder's files by name, then its folders by
    name; a link to a folder is not followed (nor listed as a file), a link to a file is listed as a link."""
    from deidlang.runner.inputs import files

    root = tmp_path / "in"
    for name in ("b/2.dcm", "b/1.dcm", "a/z/9.dcm", "a/0.dcm", "top.dcm"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    (root / "a" / "to-b").symlink_to(root / "b")
    (root / "link.dcm").symlink_to(root / "top.dcm")
    (root / "dangling.dcm").symlink_to(root / "nowhere")
    listed = [(relative, link) for _, _, relative, link in files([root])]
    walked = []
    for folder, dirs, names in os.walk(root):  # the order runs had before: os.walk, sorted
        dirs.sort()
        under = os.path.relpath(folder, root).split(os.sep) if folder != str(root) else []
        walked += [((*under, name), os.path.islink(os.path.join(folder, name))) for name in sorted(names)]
    assert listed == walked
    assert (("link.dcm",), True) in listed and (("dangling.dcm",), True) in listed
    assert not any("to-b" in relative for relative, _ in listed)
