"""Reading inputs and writing outputs: only regular files, bounded reads, atomic writes, no link followed."""

from __future__ import annotations

import hashlib
import os
import socket
import threading

import blake3
import pytest

from deidlang.fileio import Changed, Exists, Input, NotRegular, OutputTree, chunks, write_atomically, write_file


def test_parts_and_ranges_make_the_expected_file(tmp_path):
    data = bytes(range(256)) * 300
    out = tmp_path / "new" / "folder" / "out.dcm"  # folders made on demand
    size, digest = write_file(chunks([b"head", range(10, 70_000), b"mid", range(100, 101), b""], data), out)
    assert out.read_bytes() == b"head" + data[10:70_000] + b"mid" + data[100:101]
    assert size == out.stat().st_size
    umask = os.umask(0o022)
    os.umask(umask)
    assert oct(out.stat().st_mode & 0o777) == oct(0o666 & ~umask)  # as cp would make it
    assert [p.name for p in out.parent.iterdir()] == ["out.dcm"]  # no temporary file left


@pytest.mark.parametrize("kind", ["fifo", "device", "socket", "folder"])
def test_only_regular_files_are_read(tmp_path, kind):
    path = tmp_path / "x"
    if kind == "fifo":
        os.mkfifo(path)  # opening it for reading would block: it must not be opened
    elif kind == "device":
        os.symlink("/dev/zero", path)  # a link to an endless device
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
    else:
        path.mkdir()
    with pytest.raises(NotRegular) as err:
        Input(path)
    assert {"fifo": "FIFO", "device": "device", "socket": "socket", "folder": "folder"}[kind] in err.value.strerror


def test_a_file_that_shrinks_or_changes_while_read_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "in.bin"
    path.write_bytes(b"x" * 1000)
    real = os.read

    def short(fd, n):  # as if the file were truncated between the size check and the read
        return real(fd, min(n, 10)) if n == 1000 else b""

    monkeypatch.setattr(os, "read", short)
    with pytest.raises(Changed, match="shorter"):
        Input(path)
    monkeypatch.setattr(os, "read", real)
    real_fstat = os.fstat
    calls = []

    def touched(fd):  # the file is rewritten while it is read: its time differs after the read
        info = real_fstat(fd)
        calls.append(1)
        if len(calls) == 2:
            os.utime(path, ns=(5, 5))
            return real_fstat(fd)
        return info

    monkeypatch.setattr(os, "fstat", touched)
    with pytest.raises(Changed, match="changed"):
        Input(path)


def test_reads_stop_at_the_size_at_open(tmp_path, monkeypatch):
    path = tmp_path / "in.bin"
    path.write_bytes(b"a" * 100)
    real = os.read
    asked = []
    monkeypatch.setattr(os, "read", lambda fd, n: asked.append(n) or real(fd, n))
    assert Input(path).data == b"a" * 100 and asked == [100]


def test_no_link_in_the_output_tree_is_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.dcm").write_bytes(b"precious")
    root = tmp_path / "out"
    root.mkdir()
    os.symlink(outside, root / "study")  # a planted link where a folder will be made
    os.symlink(outside / "victim.dcm", root / "file.dcm")  # and where a file will be written
    tree = OutputTree(root)
    with pytest.raises(OSError):
        tree.place([b"new"], ("study", "series", "x.dcm"), replace=False)
    with pytest.raises(Exists):  # a link in the place of a file is never written through
        tree.place([b"new"], ("file.dcm",), replace=False)
    tree.place([b"new"], ("file.dcm",), replace=True)  # replacing swaps the link itself, not its target
    tree.close()
    assert (outside / "victim.dcm").read_bytes() == b"precious" and list(outside.iterdir()) == [outside / "victim.dcm"]
    assert not (root / "file.dcm").is_symlink() and (root / "file.dcm").read_bytes() == b"new"


def test_an_existing_name_is_kept_when_equal_refused_when_not(tmp_path):
    tree = OutputTree(tmp_path / "out", tmp_path / "state" / "tmp")
    tree.place([b"same"], ("a", "b.dcm"), replace=False)
    tree.place([b"same"], ("a", "b.dcm"), replace=False)  # the same bytes again: fine
    with pytest.raises(Exists):
        tree.place([b"other"], ("a", "b.dcm"), replace=False)
    assert tree.matches(("a", "b.dcm"), 4, f"blake3:{blake3.blake3(b'same').hexdigest()}")
    tree.close()
    assert (tmp_path / "out" / "a" / "b.dcm").read_bytes() == b"same"
    assert not list((tmp_path / "state" / "tmp").iterdir())  # temporary files made there, none left


def test_a_failing_writer_leaves_no_file(tmp_path):
    out = tmp_path / "out.dcm"

    def write(f):
        f.write(b"partial")
        raise RuntimeError("stopped")

    with pytest.raises(RuntimeError):
        write_atomically(write, out)
    assert list(tmp_path.iterdir()) == []
    write_atomically(lambda f: f.write(b"whole"), out)
    assert out.read_bytes() == b"whole"


def test_temporary_names_are_hidden_and_per_thread(tmp_path):
    seen = []

    def parts():
        seen.extend(p.name for p in tmp_path.iterdir())
        yield b"x"

    threading.Thread(target=write_file, args=(parts(), tmp_path / "a.dcm")).start()
    while not (tmp_path / "a.dcm").exists():
        pass
    assert len(seen) == 1 and seen[0].startswith(".deidlang-") and seen[0].endswith(".part")
    assert str(os.getpid()) in seen[0]


def test_a_digest_is_checked_by_the_algorithm_it_names(tmp_path):
    tree = OutputTree(tmp_path / "out", tmp_path / "state" / "tmp")
    size, digest = tree.place([b"same"], ("a", "b.dcm"), replace=False)
    assert (size, digest) == (4, f"blake3:{blake3.blake3(b'same').hexdigest()}")
    assert tree.matches(("a", "b.dcm"), 4, f"sha256:{hashlib.sha256(b'same').hexdigest()}")  # an earlier journal's
    assert not tree.matches(("a", "b.dcm"), 4, f"sha256:{hashlib.sha256(b'other').hexdigest()}")
    assert not tree.matches(("a", "b.dcm"), 4, hashlib.sha256(b"same").hexdigest())  # names no algorithm
    assert not tree.matches(("a", "b.dcm"), 4, f"md5:{hashlib.md5(b'same').hexdigest()}")  # one not known
    tree.close()
