"""Reading inputs and writing outputs: atomic, complete, and the same with or without kernel copies."""

from __future__ import annotations

import mmap
import os

import pytest

from deidlang.fileio import MAP_FROM, Input, write_atomically, write_parts_atomically


@pytest.fixture
def big(tmp_path):
    path = tmp_path / "in.bin"
    path.write_bytes(bytes(range(256)) * (MAP_FROM // 256 + 7))
    return path


def test_large_inputs_are_mapped_small_ones_read(tmp_path, big):
    small = tmp_path / "small.bin"
    small.write_bytes(b"abc")
    with Input(small) as a, Input(big) as b:
        assert a.data == b"abc" and isinstance(b.data, mmap.mmap)
        assert b.data[:4] == big.read_bytes()[:4]


@pytest.mark.parametrize("kernel_copy", [True, False])
def test_parts_and_ranges_make_the_expected_file(tmp_path, big, monkeypatch, kernel_copy):
    if not kernel_copy:  # a platform or file system pair without copy_file_range
        monkeypatch.setattr(os, "copy_file_range", lambda *a: (_ for _ in ()).throw(OSError(18, "EXDEV")),
                            raising=False)
    data = big.read_bytes()
    out = tmp_path / "new" / "folder" / "out.dcm"  # folders made on demand
    with Input(big) as source:
        write_parts_atomically([b"head", range(10, 70_000), b"mid", range(100, 101), b""], source, out)
    assert out.read_bytes() == b"head" + data[10:70_000] + b"mid" + data[100:101]
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in out.parent.iterdir()] == ["out.dcm"]  # no temporary file left


def test_an_input_that_shrank_fails_and_leaves_nothing(tmp_path, monkeypatch):
    path = tmp_path / "in.bin"
    path.write_bytes(b"x" * 100)
    monkeypatch.setattr(os, "copy_file_range", lambda *a: 0, raising=False)  # as at the end of a file
    out = tmp_path / "out.dcm"
    with Input(path) as source, pytest.raises(OSError, match="shorter"):
        write_parts_atomically([b"a", range(50, 200)], source, out)
    assert list(tmp_path.iterdir()) == [path]


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

    def write(f):
        seen.extend(p.name for p in tmp_path.iterdir())

    write_atomically(write, tmp_path / "a.dcm")
    assert len(seen) == 1 and seen[0].startswith(".deidlang-") and seen[0].endswith(".part")
    assert str(os.getpid()) in seen[0]
