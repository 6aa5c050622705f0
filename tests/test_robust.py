"""Runs that survive faults and hostile input (issue 14): the input is never written, only regular
files are read, a dead worker costs only its file, a full or read-only disk is a reason per file,
resume needs a key and checks its outputs, and every reason is in words."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from pydicom import dcmread

import deidlang
from deidlang import fileio, runner
from deidlang.cli import main
from deidlang.phantom import phantom
from deidlang.runner import run

from .conftest import KEY, ROOT

PLAN = deidlang.compile("basic-profile")


def make_inputs(folder: Path, n: int = 4, size: int = 16) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        ds, _ = phantom(instance=i + 1, size=size)
        ds.save_as(folder / f"i{i}.dcm", enforce_file_format=True)
        paths.append(folder / f"i{i}.dcm")
    return paths


def snapshot(folder: Path) -> dict:
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- the input is sacred

def test_an_output_folder_holding_an_input_file_is_refused(tmp_path, capsys):
    (path,) = make_inputs(tmp_path / "dir", 1)
    before = snapshot(tmp_path / "dir")
    for layout in ("uid", "mirror"):
        assert main(["run", str(path), "-o", str(tmp_path / "dir"), "--layout", layout]) == 2
        assert "is inside the output folder" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "dir"), "-o", str(tmp_path / "dir" / "out")]) == 2
    link = tmp_path / "link"
    os.symlink(tmp_path / "dir", link)  # the same folder through a link
    assert main(["run", str(link / "i0.dcm"), "-o", str(tmp_path / "dir")]) == 2
    assert main(["run", str(path), "-o", str(path)]) == 2  # an existing file as -o
    err = capsys.readouterr().err
    assert "is inside" in err
    assert snapshot(tmp_path / "dir") == before


def test_an_existing_file_as_output_is_a_usage_error(tmp_path, capsys):
    make_inputs(tmp_path / "in", 1)
    (tmp_path / "file").write_text("x")
    assert main(["run", str(tmp_path / "in"), "-o", str(tmp_path / "file")]) == 2
    assert "is an existing file, not a folder" in capsys.readouterr().err
    assert (tmp_path / "file").read_text() == "x"


def test_state_quarantine_and_map_stay_out_of_the_output_and_inputs(tmp_path):
    make_inputs(tmp_path / "in", 1)
    with pytest.raises(deidlang.errors.InputError, match="inside the output folder"):
        run(PLAN, [tmp_path / "in"], tmp_path / "out", KEY, state=tmp_path / "out" / "state")
    with pytest.raises(deidlang.errors.InputError, match="inside the output folder"):
        run(PLAN, [tmp_path / "in"], tmp_path / "out", KEY, quarantine=tmp_path / "out" / "q")
    with pytest.raises(deidlang.errors.InputError, match="inside the input"):
        run(PLAN, [tmp_path / "in"], tmp_path / "out", KEY, map_path=tmp_path / "in" / "map.sqlite")


def test_a_link_planted_in_the_output_tree_is_not_followed(tmp_path):
    (path,) = make_inputs(tmp_path / "in", 1)
    victim = tmp_path / "victim"
    victim.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    study = dcmread(run(PLAN, [path], tmp_path / "probe", KEY) and next((tmp_path / "probe").rglob("*.dcm")))
    os.symlink(victim, out / study.StudyInstanceUID)  # where the study's folder would be made
    summary = run(PLAN, [path], out, KEY)
    assert summary.failed == 1 and "cannot write the output" in summary.failures[0].reason
    assert list(victim.iterdir()) == []


# ---------------------------------------------------------------- only regular files

@pytest.mark.parametrize("workers", [1, 2])
def test_fifos_devices_and_sockets_are_skipped_with_a_reason(tmp_path, workers):
    src = tmp_path / "in"
    make_inputs(src, 2)
    os.mkfifo(src / "fifo.dcm")
    os.symlink("/dev/zero", src / "zero.dcm")
    results = []
    start = time.monotonic()
    summary = run(PLAN, [src], tmp_path / "out", KEY, workers=workers, on_result=results.append)
    assert time.monotonic() - start < 30  # no hang
    assert (summary.written, summary.skipped, summary.failed) == (2, 2, 0)
    reasons = {Path(r.source).name: r.reason for r in results if r.status == "skipped"}
    assert "FIFO" in reasons["fifo.dcm"] and "character device" in reasons["zero.dcm"]


def test_dry_run_goes_through_every_odd_file(tmp_path, capsys):
    src = tmp_path / "in"
    (path,) = make_inputs(src, 1)
    os.mkfifo(src / "a-fifo")
    (src / "b-junk.dcm").write_bytes(b"\0" * 10)
    (src / "c-truncated.dcm").write_bytes(path.read_bytes()[:300])
    assert main(["run", "--dry-run", str(src)]) == 1
    out = capsys.readouterr().out
    for name in ("a-fifo: would be skipped", "b-junk.dcm: would fail", "c-truncated.dcm: would fail",
                 "i0.dcm: would be written"):
        assert name in out
    assert "unpack" not in out and "buffer" not in out


def test_a_file_changed_while_read_fails_and_is_redone_on_resume(tmp_path, monkeypatch):
    src = tmp_path / "in"
    make_inputs(src, 2)
    real = os.read
    done = []

    def changing(fd, n):  # a writer touches i0 while it is being read
        data = real(fd, n)
        if not done and os.readlink(f"/proc/self/fd/{fd}").endswith("i0.dcm"):
            done.append(os.utime(src / "i0.dcm", ns=(9, 9)))
        return data

    monkeypatch.setattr(os, "read", changing)
    summary = run(PLAN, [src], tmp_path / "out", KEY)
    monkeypatch.setattr(os, "read", real)
    assert summary.failed == 1 and "changed while it was read" in summary.failures[0].reason
    again = run(PLAN, [src], tmp_path / "out", KEY, resume=True)
    assert (again.written, again.skipped) == (1, 1)


# ---------------------------------------------------------------- worker death

def _dying_process(real):
    def process(source, *args, **kwargs):
        source = Path(source)
        if source.name == "killer.dcm":
            os.kill(os.getpid(), signal.SIGKILL)
        if source.name == "flaky.dcm" and not (source.parent / "flaky.seen").exists():
            (source.parent / "flaky.seen").write_text("once")
            os.kill(os.getpid(), signal.SIGKILL)
        return real(source, *args, **kwargs)
    return process


def test_a_dead_worker_fails_only_its_file_and_the_run_goes_on(tmp_path, monkeypatch):
    src = tmp_path / "in"
    paths = make_inputs(src, 20)
    paths[3].rename(src / "killer.dcm")
    paths[11].rename(src / "flaky.dcm")
    monkeypatch.setattr(runner.batch, "process", _dying_process(runner.process))  # what the workers call
    results = []
    summary = run(PLAN, [src], tmp_path / "out", KEY, workers=2, on_result=results.append,
                  report_path=tmp_path / "report.jsonl")
    assert (summary.written, summary.failed) == (19, 1)
    (failure,) = summary.failures
    assert failure.source.endswith("killer.dcm") and "worker process died" in failure.reason
    assert "SIGKILL" in failure.reason
    assert len(results) == 20 and len((tmp_path / "report.jsonl").read_text().splitlines()) == 20
    assert len(list((tmp_path / "out").rglob("*.dcm"))) == 19


def _kill_on(marker: Path, victim: int, once: bool):
    """A pool's work: the job itself, except that ``victim`` kills its worker (only the first time
    when ``once``)."""
    def work(job: int) -> int:
        if job == victim and not (once and marker.exists()):
            marker.write_text("died")
            os.kill(os.getpid(), signal.SIGKILL)
        return job
    return work


@pytest.mark.parametrize("once", [True, False])
def test_a_worker_answering_per_batch_is_blamed_only_for_the_job_it_died_on(tmp_path, once):
    """Workers answer a batch at once; one that dies mid-batch, with jobs of it finished and not yet
    answered, costs only the job it was on: the finished ones are done again, none is lost or answered twice."""
    from deidlang.pool import Pool

    answered, lost = [], []
    pool = Pool(2, lambda: None, (), _kill_on(tmp_path / "marker", 37, once))
    pool.run(iter(range(100)), lambda result, job: answered.append((job, result)),
             lambda job, why: lost.append((job, why)))
    assert sorted(job for job, _ in answered) == [j for j in range(100) if once or j != 37]
    assert all(job == result for job, result in answered)
    assert lost == ([] if once else [(37, lost[0][1])]) and (once or "SIGKILL" in lost[0][1])


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@pytest.mark.integration
def test_workers_die_with_the_main_process(tmp_path):
    src = tmp_path / "in"
    (first,) = make_inputs(src, 1, size=256)
    for i in range(1000):
        os.link(first, src / f"l{i}.dcm")
    proc = subprocess.Popen([sys.executable, "-m", "deidlang", "run", str(src), "-o", str(tmp_path / "out"),
                             "--workers", "2", "--layout", "mirror", "-q"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "err.txt", "w"))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(_children(proc.pid)) < 2 and proc.poll() is None:
        time.sleep(0.01)
    workers = _children(proc.pid)
    assert len(workers) >= 2, (proc.poll(), (tmp_path / "err.txt").read_text())
    proc.kill()  # at once: a worker that has not yet asked the kernel to die with it must see this too
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{w}").exists() and
                                              "State:\tZ" not in Path(f"/proc/{w}/status").read_text()
                                              for w in workers if Path(f"/proc/{w}/status").exists()):
        time.sleep(0.05)
    alive = [w for w in workers if Path(f"/proc/{w}/status").exists()
             and "State:\tZ" not in Path(f"/proc/{w}/status").read_text()]
    assert alive == []


# ---------------------------------------------------------------- disks that refuse

def test_a_full_disk_fails_each_file_with_the_os_reason(tmp_path, monkeypatch, capsys):
    src = tmp_path / "in"
    make_inputs(src, 3)
    real = fileio._write_all

    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(fileio, "_write_all", full)
    assert main(["run", str(src), "-o", str(tmp_path / "out"), "--workers", "1", "-q"]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("cannot write the output: No space left on device (ENOSPC)") == 3
    assert "0 written, 3 failed" in captured.out
    monkeypatch.setattr(fileio, "_write_all", real)
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]


def test_an_output_folder_that_cannot_be_written_is_a_usage_error(tmp_path, monkeypatch, capsys):
    make_inputs(tmp_path / "in", 1)
    real = os.open

    def read_only(path, flags, *args, **kwargs):
        if str(path).startswith(str(tmp_path / "out")) and flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    assert main(["run", str(tmp_path / "in"), "-o", str(tmp_path / "out")]) == 2
    assert "cannot be written: Read-only file system (EROFS)" in capsys.readouterr().err


# ---------------------------------------------------------------- resume

def test_resume_needs_a_site_key(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DEIDLANG_KEY", raising=False)
    make_inputs(tmp_path / "in", 1)
    assert main(["run", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--resume"]) == 2
    assert "--resume needs a site key" in capsys.readouterr().err


def test_resume_redoes_outputs_that_are_missing_or_not_what_was_written(tmp_path):
    src = tmp_path / "in"
    make_inputs(src, 3)
    out = tmp_path / "out"
    assert run(PLAN, [src], out, KEY).written == 3
    clean = snapshot(out)
    first, second, _ = sorted(clean)
    first.unlink()
    second.write_bytes(second.read_bytes()[:-10])
    again = run(PLAN, [src], out, KEY, resume=True)
    assert (again.written, again.skipped) == (2, 1)
    assert snapshot(out) == clean


def _as_an_old_run_left_it(out: Path, state: Path) -> None:
    """Turn a finished mirror run into what deidlang before the state folder left: the journal as
    OUT/.deidlang-journal.sqlite, in that journal's form (absolute output paths, no output hash)."""
    import sqlite3

    rows = sqlite3.connect(state / "journal.sqlite").execute(
        "SELECT source, size, mtime_ns, plan_hash, status, output FROM done").fetchall()
    shutil.rmtree(state)
    old = sqlite3.connect(out / ".deidlang-journal.sqlite")
    old.execute("PRAGMA journal_mode=WAL")
    old.execute("CREATE TABLE done (source TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, plan_hash TEXT, "
                "status TEXT, output TEXT)")
    old.executemany("INSERT INTO done VALUES (?, ?, ?, ?, ?, ?)",
                    [(*row[:5], str(out / row[5]) if row[5] else None) for row in rows])
    old.commit()
    old.close()


def test_resume_of_a_run_started_before_the_state_folder_moves_and_uses_its_journal(tmp_path, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    make_inputs(src, 3)
    assert run(PLAN, [src], out, KEY, layout="mirror").written == 3
    clean = snapshot(out)
    _as_an_old_run_left_it(out, tmp_path / "out.deidlang")
    (out / "i1.dcm").unlink()  # an output lost since: made again
    # the old outputs mirror the inputs: resuming them under the uid layout is refused, nothing moved
    assert main(["run", str(src), "-o", str(out), "--resume", "--key-file", str(_key_file(tmp_path))]) == 2
    assert "--layout mirror" in capsys.readouterr().err and (out / ".deidlang-journal.sqlite").exists()
    again = run(PLAN, [src], out, KEY, layout="mirror", resume=True)
    assert (again.written, again.skipped) == (1, 2)
    assert {r.reason for r in again.failures} == set()
    assert not list(out.glob(".deidlang-journal*")) and (tmp_path / "out.deidlang" / "journal.sqlite").is_file()
    assert {p.relative_to(out): b for p, b in snapshot(out).items()} == {p.relative_to(out): b for p, b in clean.items()}
    # from now on it is today's journal: outputs recorded by size and hash
    (out / "i2.dcm").write_bytes(b"not what was written")
    third = run(PLAN, [src], out, KEY, layout="mirror", resume=True)
    assert (third.written, third.skipped) == (1, 2) and snapshot(out) == clean


def test_a_journal_that_recorded_bare_sha256_digests_is_checked_by_sha256(tmp_path):
    # what deidlang wrote before digests named their algorithm: a column output_sha256 of bare hex digests
    import hashlib
    import sqlite3

    src, out, state = tmp_path / "in", tmp_path / "out", tmp_path / "out.deidlang"
    make_inputs(src, 3)
    assert run(PLAN, [src], out, KEY).written == 3
    clean = snapshot(out)
    db = sqlite3.connect(state / "journal.sqlite")
    db.execute("ALTER TABLE done RENAME COLUMN output_digest TO output_sha256")
    for (output,) in db.execute("SELECT output FROM done").fetchall():
        db.execute("UPDATE done SET output_sha256 = ? WHERE output = ?",
                   (hashlib.sha256((out / output).read_bytes()).hexdigest(), output))
    db.commit()
    db.close()
    changed = sorted(clean)[0]
    changed.write_bytes(b"not what was written")
    again = run(PLAN, [src], out, KEY, resume=True)
    assert (again.written, again.skipped) == (1, 2) and snapshot(out) == clean
    columns = [row[1] for row in sqlite3.connect(state / "journal.sqlite").execute("PRAGMA table_info(done)")]
    assert "output_sha256" not in columns and "output_digest" in columns


def test_journal_records_are_read_back_before_they_are_written_and_kept_at_close(tmp_path):
    """Records wait in memory for the once-a-second commit: a read sees them first, and closing writes
    them; a journal opened again holds every one."""
    from deidlang.journal import Journal

    journal = Journal(tmp_path / "journal.sqlite")
    for i in range(3):
        journal.record(f"/in/{i}.dcm", (10, i), "written", f"o/{i}.dcm", (7, "blake3:00"), "plan")
    assert journal.pending  # not yet written
    assert journal.entry("/in/1.dcm")["output"] == "o/1.dcm" and not journal.pending
    journal.record("/in/3.dcm", (10, 3), "rejected", None, None, "plan")
    journal.close()
    again = Journal(tmp_path / "journal.sqlite")
    assert [again.entry(f"/in/{i}.dcm")["status"] for i in range(4)] == ["written"] * 3 + ["rejected"]
    again.close()


def _key_file(folder: Path) -> Path:
    path = folder / "site.key"
    path.write_bytes(KEY)
    path.chmod(0o600)
    return path


def test_temporaries_beside_outputs_when_the_state_is_on_another_file_system_are_cleaned_next_run(
        tmp_path, monkeypatch):
    """With ``--state`` on another file system a rename cannot cross, temporary files are made beside
    the outputs; a worker killed while writing one leaves it, and the next run removes it."""
    elsewhere = Path("/dev/shm")
    if not elsewhere.is_dir() or elsewhere.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on another file system than the tests' temporary folder")
    src, out = tmp_path / "in", tmp_path / "out"
    make_inputs(src, 6)
    state = Path(tempfile.mkdtemp(dir=elsewhere, prefix="deidlang-test-state-"))
    real = fileio._write_all
    seen = tmp_path / "killed.once"

    def write_then_die(fd, data):  # the first temporary file written: a part of it, then the worker is killed
        if not seen.exists() and os.readlink(f"/proc/self/fd/{fd}").endswith(".part") and len(data) > 16:
            seen.write_text("once")
            real(fd, bytes(data[:16]))
            os.kill(os.getpid(), signal.SIGKILL)
        real(fd, data)

    try:
        monkeypatch.setattr(fileio, "_write_all", write_then_die)
        first = run(PLAN, [src], out, KEY, workers=2, state=state)
        monkeypatch.undo()
        assert first.written == 6  # the killed worker's file was retried by another
        left = list(out.rglob(".deidlang-*.part"))
        # beside an output, not in the state folder (two when the sibling worker's write was cut too, as
        # the pool was rebuilt: seen once on a fresh clone)
        assert 1 <= len(left) <= 2 and not list(state.rglob("*.part"))
        again = run(PLAN, [src], out, KEY, state=state, resume=True)
        assert again.skipped == 6 and not list(out.rglob(".deidlang-*.part"))
        assert all(p.suffix == ".dcm" for p in out.rglob("*") if p.is_file())
    finally:
        shutil.rmtree(state)


# ---------------------------------------------------------------- reasons in words

def test_a_truncated_file_fails_with_a_reason_in_words(tmp_path):
    (path,) = make_inputs(tmp_path / "in", 1)
    data = path.read_bytes()
    for cut in (140, 200, 400, len(data) - 7):
        path.write_bytes(data[:cut])
        for engine in ("auto", "reference"):
            result = runner.deidentify_file(path, tmp_path / "o.dcm", PLAN, KEY, engine=engine)
            if result.status != "written":
                assert result.reason and "unpack" not in result.reason and "buffer" not in result.reason
                assert "Error" not in result.reason, result.reason


# ---------------------------------------------------------------- bounded resources

def test_a_deflate_bomb_fails_at_the_limit(tmp_path, monkeypatch):
    import zlib

    from pydicom.uid import DeflatedExplicitVRLittleEndian

    ds, _ = phantom(size=512)  # 512 KiB of zeros: deflates to almost nothing
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.save_as(tmp_path / "bomb.dcm", enforce_file_format=True)
    assert (tmp_path / "bomb.dcm").stat().st_size < 64 << 10
    monkeypatch.setenv("DEIDLANG_MAX_INFLATED_MIB", "1")
    result = runner.deidentify_file(tmp_path / "bomb.dcm", tmp_path / "o.dcm", PLAN, KEY)
    assert result.status == "written"  # 0.5 MiB inflated: under 1 MiB
    ds, _ = phantom(size=2048)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.save_as(tmp_path / "bomb.dcm", enforce_file_format=True)
    result = runner.deidentify_file(tmp_path / "bomb.dcm", tmp_path / "o2.dcm", PLAN, KEY)
    assert result.status == "failed" and "inflates to more than 1 MiB" in result.reason
    assert not (tmp_path / "o2.dcm").exists()
    assert zlib  # the module the check uses


def test_a_pixel_buffer_past_the_limit_fails_before_decoding(tmp_path, monkeypatch):
    ds, _ = phantom(size=64)
    ds.NumberOfFrames = 100_000  # a header that claims far more than the data holds
    ds.save_as(tmp_path / "big.dcm", enforce_file_format=True)
    plan = deidlang.compile('include "basic-profile"\nblackout 0,0,2,2')
    monkeypatch.setenv("DEIDLANG_MAX_PIXELS_MIB", "64")
    result = runner.deidentify_file(tmp_path / "big.dcm", tmp_path / "o.dcm", plan, KEY)
    assert result.status == "failed" and ("more than the limit of 64 MiB" in result.reason
                                          or "shorter than its image size" in result.reason)  # structure check


@pytest.mark.parametrize("levels", [40, 3000])
def test_deep_nesting_is_a_located_failure_in_both_engines(tmp_path, levels):
    import struct

    ds, _ = phantom()
    del ds.PixelData
    ds.save_as(tmp_path / "deep.dcm", enforce_file_format=True)
    opening = struct.pack("<HH2s2xL", 0x0040, 0xA730, b"SQ", 0xFFFFFFFF) + struct.pack("<HHL", 0xFFFE, 0xE000,
                                                                                      0xFFFFFFFF)
    closing = struct.pack("<HHL", 0xFFFE, 0xE00D, 0) + struct.pack("<HHL", 0xFFFE, 0xE0DD, 0)
    with open(tmp_path / "deep.dcm", "ab") as f:
        f.write(opening * levels + closing * levels)
    plan = deidlang.compile('include "basic-profile"\nkeep ContentSequence')
    for engine in ("auto", "reference"):
        result = runner.deidentify_file(tmp_path / "deep.dcm", tmp_path / "o.dcm", plan, KEY, engine=engine)
        if "out of order" in result.reason:  # appended after the pixel data: failed by the structure check
            continue
        assert result.status == "failed" and "nested" in result.reason and "32 levels" in result.reason
        if levels == 40:
            assert "(0040,A730)[0]/" in result.reason


# ---------------------------------------------------------------- rule files

NONE = 'require minimum none because "a test"\n'


def test_deep_and_long_conditions_compile_without_recursion_limits():
    deidlang.compile(NONE + "remove PatientName if " + "not " * 5000 + 'Modality == "CT"')
    plan = deidlang.compile(NONE + "remove PatientName if " + " or ".join(f'Modality == "M{i}"' for i in range(3000)))
    assert plan.conditions
    deidlang.compile(NONE + "remove PatientName if " + " and ".join(f'Modality != "M{i}"' for i in range(3000)))
    ds, _ = phantom()
    ds.Modality = "M2999"
    assert deidlang.apply(plan, ds, key=KEY).dataset.get("PatientName", "") == ""  # gone (Type 2: written empty)
    with pytest.raises(deidlang.DeidSyntaxError) as err:
        deidlang.compile(NONE + "remove PatientName if " + "not (Modality == \"A\" or " * 100 + 'Modality == "CT"'
                         + ")" * 100)
    assert "more than 64 levels" in err.value.render() and err.value.span.line == 2


def test_short_chains_keep_their_shape():
    """Balancing applies only to long chains, so existing plans (and their hashes) do not change."""
    from deidlang.syntax import parse

    cond = parse('remove PatientName if Modality == "A" or Modality == "B" or Modality == "C"').statements[0].condition
    assert type(cond.left).__name__ == "Or" and type(cond.right).__name__ == "Compare"


def test_rule_files_bom_invalid_utf8_and_numbers(tmp_path, capsys):
    (tmp_path / "bom.deid").write_bytes(b"\xef\xbb\xbf" + b'include "basic-profile"\n')
    assert main(["check", str(tmp_path / "bom.deid")]) == 0
    (tmp_path / "bad.deid").write_bytes(b'include "basic-profile"\nremove Patient\xffName\n')
    assert main(["check", str(tmp_path / "bad.deid")]) == 1
    err = capsys.readouterr().err
    assert "bad.deid:2:15: error: this file is not valid UTF-8" in err and "Patient" not in err
    for number, where in (("100000000000000000000", "2:25"), ("1000000", "2:22")):
        (tmp_path / "n.deid").write_text(f'include "basic-profile"\nshift-date StudyDate by {number} days\n')
        assert main(["check", str(tmp_path / "n.deid")]) == 1
        assert f"n.deid:{where}: error:" in capsys.readouterr().err
    (tmp_path / "r.deid").write_text('include "basic-profile"\nblackout 0,0,99999999,2\n')
    assert main(["check", str(tmp_path / "r.deid")]) == 1
    assert "up to 65535" in capsys.readouterr().err


def test_a_misspelt_shipped_ruleset_suggests_the_name(tmp_path, capsys):
    make_inputs(tmp_path / "in", 1)
    assert main(["run", "-r", "basic_profile", str(tmp_path / "in"), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "no such ruleset or rule file `basic_profile`" in err and "did you mean `basic-profile`?" in err
