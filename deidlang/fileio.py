"""Reading inputs and writing outputs: no partial file under a final name, no needless copies.

An output is written to a temporary name beside its final one and renamed into place when complete,
so a run killed at any moment (kill -9 included) leaves no partial file under a final name. The
temporary name depends only on the process and thread, so making it costs no extra system calls;
the output folder is created on the first write that needs it.

A large input is mapped rather than read, so only the header pages the fast path looks at are
touched; the large values it keeps (pixel data) are copied from the input file to the output file
inside the kernel (`os.copy_file_range`), or through memory where that is not possible. Inputs must
not be truncated while a run reads them (as with any reader of a mapped file, that ends the worker).
"""

from __future__ import annotations

import mmap
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

#: Inputs at least this large are mapped instead of read.
MAP_FROM = 1 << 18


class Input:
    """An input file, open: its content (bytes, or a read-only map of a large file) and descriptor."""

    def __init__(self, path: str | Path) -> None:
        self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            info = os.fstat(self.fd)
            size = info.st_size
            #: (size, mtime_ns) as it was opened
            self.version = (size, info.st_mtime_ns)
            if size >= MAP_FROM:
                self.data: bytes | mmap.mmap = mmap.mmap(self.fd, 0, access=mmap.ACCESS_READ)
            else:
                with open(self.fd, "rb", closefd=False) as f:
                    self.data = f.read()
        except BaseException:
            os.close(self.fd)
            raise

    def close(self) -> None:
        if isinstance(self.data, mmap.mmap):
            self.data.close()
        os.close(self.fd)

    def __enter__(self) -> "Input":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_atomically(write: Callable[[BinaryIO], object], destination: Path) -> None:
    """Call ``write(file)`` on a temporary file beside ``destination``, then rename it into place."""
    with _temporary(destination) as fd, open(fd, "wb", closefd=False) as f:
        write(f)


def write_parts_atomically(parts: Iterable[bytes | range], source: Input, destination: Path) -> None:
    """Write encoded parts and ranges of ``source`` to ``destination``, atomically."""
    with _temporary(destination) as fd:
        pending: list[bytes] = []
        for part in parts:
            if isinstance(part, range):
                _write_all(fd, b"".join(pending))
                pending.clear()
                _copy_range(source, fd, part)
            else:
                pending.append(part)
        _write_all(fd, b"".join(pending))


@contextmanager
def _temporary(destination: Path) -> Iterator[int]:
    tmp = destination.parent / f".deidlang-{os.getpid()}-{threading.get_ident()}.part"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
    try:
        fd = os.open(tmp, flags, 0o600)
    except FileNotFoundError:
        destination.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, flags, 0o600)
    try:
        try:
            yield fd
        finally:
            os.close(fd)
        os.replace(tmp, destination)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _copy_range(source: Input, fd: int, span: range) -> None:
    offset, left = span.start, len(span)
    try:
        while left:
            copied = os.copy_file_range(source.fd, fd, left, offset)
            if not copied:
                break
            offset, left = offset + copied, left - copied
    except (OSError, AttributeError):  # not between these file systems, or not on this platform
        pass
    if left:
        rest = source.data[offset:offset + left]
        if len(rest) != left:
            raise OSError("the input became shorter while it was being read")
        _write_all(fd, rest)
