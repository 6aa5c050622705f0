"""Reading inputs and writing outputs: only regular files read, no partial file under a final name,
no symlink ever followed inside the output tree.

An input is opened without blocking, checked to be a regular file (a FIFO, device or socket, or a
link to one, is refused with `NotRegular` before anything is read), and read into memory: exactly
the size it had when opened, never more. A file that shrinks, grows or is rewritten while it is read
is refused with `Changed` (the run fails it and a resumed run tries it again). It is read rather
than mapped: a mapped file truncated by another process would kill the reader (SIGBUS).

An output is written to a temporary file and linked or renamed to its final name when complete, so
a run killed at any moment (kill -9 included) leaves no partial file under a final name. Under an
`OutputTree` every folder is opened relative to the one above it with ``O_NOFOLLOW``, and files are
created with ``O_EXCL | O_NOFOLLOW``: a symlink planted in the output tree is never followed, so no
write can land outside it (or on an input). Temporary files live in a folder of their own (the
run's state folder), so that a killed run leaves nothing stray in the delivered folder. When that
folder is on another file system (a rename cannot cross one), they are made beside each output
instead, and every folder that receives one is listed first in the state folder (`BESIDE`), so that
the next run finds and removes what a killed run left there (`remove_temporaries`).

Each output's digest is computed as it is written, for the journal that lets `--resume` check it.
A digest names its algorithm (``blake3:<hex>``, `DIGEST`: about a fifth of sha256's time on a CT
slice), so that one recorded by another algorithm (``sha256:<hex>``, an earlier deidlang's) is still
checked by the algorithm it names.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

import blake3

#: Delivered outputs are created like `cp` creates files: the umask decides who may read them.
SHARED_MODE = 0o666
#: What holds originals or secrets (quarantine, cache, status), and outputs on request: the owner only.
PRIVATE_MODE = 0o600

#: In a temporary folder on another file system than the outputs: the output folders (one JSON list
#: of names a line) where temporary files were made beside the outputs.
BESIDE = "beside-outputs.jsonl"

#: The algorithm of the digests made now, and every algorithm a recorded digest may name.
DIGEST = "blake3"
_ALGORITHMS = {"blake3": lambda: blake3.blake3(max_threads=1), "sha256": hashlib.sha256}

#: A part of an output: encoded bytes, or a range of the input's bytes to copy as they are.
Part = bytes | range

_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


class NotRegular(OSError):
    """The path is not a regular file; the message says what it is."""


class Changed(OSError):
    """The file changed while it was read."""


class Exists(OSError):
    """Another file, with other content, already holds the final name."""


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


class Input:
    """An input file, read whole: its bytes and its (size, mtime_ns) as they were when opened."""

    def __init__(self, path: str | Path) -> None:
        info = os.stat(path)  # follows links, never blocks: a link to /dev/zero is seen for what it is
        if not stat.S_ISREG(info.st_mode):
            raise NotRegular(errno.EINVAL, f"{kind_of(info.st_mode)}, not a regular file")
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):  # swapped between the check and the open
                raise NotRegular(errno.EINVAL, f"{kind_of(info.st_mode)}, not a regular file")
            size = info.st_size
            data = os.read(fd, size) if size else b""
            if len(data) < size:  # a short read: go on in pieces, never past the size at open
                pieces = [data]
                while (got := sum(map(len, pieces))) < size:
                    piece = os.read(fd, size - got)
                    if not piece:
                        raise Changed(errno.EIO, "the file became shorter while it was read")
                    pieces.append(piece)
                data = b"".join(pieces)
            after = os.fstat(fd)
            if (after.st_size, after.st_mtime_ns) != (size, info.st_mtime_ns):
                raise Changed(errno.EIO, "the file changed while it was read")
        finally:
            os.close(fd)
        self.data = data
        #: (size, mtime_ns) as it was opened
        self.version = (size, info.st_mtime_ns)


def chunks(parts: Iterable[Part], data: bytes) -> Iterable[bytes | memoryview]:
    """The bytes of an output made of parts (ranges refer to ``data``)."""
    view = memoryview(data)
    return (view[p.start:p.stop] if isinstance(p, range) else p for p in parts)


def write_atomically(write: Callable[[BinaryIO], object], destination: Path, mode: int = PRIVATE_MODE) -> None:
    """Call ``write(file)`` on a temporary file beside ``destination``, then rename it into place."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    folder = os.open(destination.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd, name = _create_temporary(folder, mode)
        try:
            with open(fd, "wb") as f:
                write(f)
            os.replace(name, destination.name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            os.unlink(name, dir_fd=folder)
            raise
    finally:
        os.close(folder)


def write_file(chunks_: Iterable[bytes | memoryview], destination: Path,
               mode: int = SHARED_MODE) -> tuple[int, str]:
    """Write an output at an explicit path, atomically (replacing what is there); its size and `digest`."""
    destination = Path(destination).absolute()
    tree = OutputTree(destination.parent, mode=mode)
    try:
        return tree.place(chunks_, (destination.name,), replace=True)
    finally:
        tree.close()


class OutputTree:
    """A folder that receives outputs; nothing under it is reached through a symlink.

    ``temporary``: where temporary files are made when it is on the same file system; else they are
    made beside each output, and each folder that receives one is listed in ``temporary/BESIDE``
    first. Without ``temporary``: beside each output, unlisted. ``mode``: the files' mode before the
    umask (`SHARED_MODE`, or `PRIVATE_MODE`)."""

    def __init__(self, root: Path, temporary: Path | None = None, mode: int = SHARED_MODE) -> None:
        self.root = Path(root)
        self.mode = mode
        self.root.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self.temporary = None
        self._beside: Path | None = None  # the list of folders holding temporary files, when they are beside
        if temporary is not None:
            temporary.mkdir(parents=True, exist_ok=True, mode=0o700)
            if temporary.stat().st_dev == os.fstat(self.fd).st_dev:
                self.temporary = os.open(temporary, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            else:
                self._beside = temporary / BESIDE
        self._folders: dict[tuple[str, ...], int] = {}
        self._listed: set[tuple[str, ...]] = set()

    def close(self) -> None:
        for fd in [*self._folders.values(), self.fd, self.temporary]:
            if fd is not None:
                os.close(fd)
        self._folders.clear()

    def place(self, chunks_: Iterable[bytes | memoryview], relative: tuple[str, ...], replace: bool) -> tuple[int, str]:
        """Write an output at ``relative`` (folder names, then the file name), made complete under a
        temporary name first. Without ``replace``, a file already there is left alone: it is fine if it
        holds the same bytes (a run done again), else `Exists`. Returns the size and digest (`DIGEST`)."""
        folder = self._folder(relative[:-1])
        tmp_dir = folder if self.temporary is None else self.temporary
        if self._beside is not None and relative[:-1] not in self._listed:
            _append_line(self._beside, json.dumps(relative[:-1]))  # listed before anything is made there
            self._listed.add(relative[:-1])
        fd, name = _create_temporary(tmp_dir, self.mode)
        try:
            digest, size = _ALGORITHMS[DIGEST](), 0
            try:
                for chunk in _coalesced(chunks_):
                    digest.update(chunk)
                    size += len(chunk)
                    _write_all(fd, chunk)
            finally:
                os.close(fd)
            if replace:
                os.replace(name, relative[-1], src_dir_fd=tmp_dir, dst_dir_fd=folder)
            else:
                try:
                    os.link(name, relative[-1], src_dir_fd=tmp_dir, dst_dir_fd=folder, follow_symlinks=False)
                except FileExistsError:
                    if _existing(folder, relative[-1], DIGEST) != (size, f"{DIGEST}:{digest.hexdigest()}"):
                        raise Exists(errno.EEXIST, "another file is already there") from None
                os.unlink(name, dir_fd=tmp_dir)
        except BaseException:
            try:
                os.unlink(name, dir_fd=tmp_dir)
            except FileNotFoundError:
                pass
            raise
        return size, f"{DIGEST}:{digest.hexdigest()}"

    def matches(self, relative: tuple[str, ...], size: int, digest: str) -> bool:
        """Whether the regular file at ``relative`` (no link followed) has this size and digest, by
        the algorithm the digest names (one it names no known algorithm for never matches)."""
        algorithm = digest.partition(":")[0]
        return algorithm in _ALGORITHMS and self.digest(relative, algorithm) == (size, digest)

    def digest(self, relative: tuple[str, ...], algorithm: str = DIGEST) -> tuple[int, str] | None:
        """The size and digest of the regular file at ``relative`` (no link followed), else None."""
        try:
            folder = self._folder(relative[:-1], create=False)
        except OSError:
            return None
        return _existing(folder, relative[-1], algorithm)

    def remove(self, relative: tuple[str, ...]) -> None:
        """Remove an output this tree holds (a link is removed, never followed); absent is fine."""
        try:
            os.unlink(relative[-1], dir_fd=self._folder(relative[:-1], create=False))
        except FileNotFoundError:
            pass

    def _folder(self, names: tuple[str, ...], create: bool = True) -> int:
        """A descriptor of the folder at ``names`` under the root, made if needed, each step opened
        without following a link."""
        if not names:
            return self.fd
        fd = self._folders.get(names)
        if fd is not None:
            return fd
        parent = self._folder(names[:-1], create)
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(names[-1], flags, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                raise
            try:
                os.mkdir(names[-1], 0o755, dir_fd=parent)
            except FileExistsError:
                pass
            fd = os.open(names[-1], flags, dir_fd=parent)
        if len(self._folders) >= 256:  # a long run goes folder by folder: keep the recent ones
            for old in list(self._folders)[:128]:
                os.close(self._folders.pop(old))
        self._folders[names] = fd
        return fd


def _create_temporary(folder: int, mode: int) -> tuple[int, str]:
    """A new temporary file in ``folder`` (a descriptor), its name hidden and unique to this process
    and thread; a leftover of an earlier process with the same number is replaced."""
    name = f".deidlang-{os.getpid()}-{threading.get_ident()}.part"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(name, flags, mode, dir_fd=folder), name
    except FileExistsError:
        os.unlink(name, dir_fd=folder)
        return os.open(name, flags, mode, dir_fd=folder), name


def remove_temporaries(folder: Path, root: Path | None = None) -> int:
    """Delete the temporary files that killed runs left in ``folder`` and, when ``root`` is given, in
    the folders under it that ``folder/BESIDE`` lists (no link followed); how many."""
    count = _remove_parts(folder)
    listed = folder / BESIDE
    if root is None or not listed.is_file():
        return count
    tree = OutputTree(root)
    try:
        for line in set(listed.read_text(encoding="utf-8").splitlines()):
            try:
                count += _remove_parts(tree._folder(tuple(json.loads(line)), create=False))
            except (OSError, ValueError, TypeError):
                continue  # a folder since removed, or a line cut short by the kill
    finally:
        tree.close()
    listed.unlink()
    return count


def _remove_parts(folder: Path | int) -> int:
    """Delete the temporary files in one folder (a path, or a descriptor); how many."""
    count = 0
    try:
        with os.scandir(folder) as scan:
            entries = [e.name for e in scan if e.name.startswith(".deidlang-") and e.name.endswith(".part")
                       and e.is_file(follow_symlinks=False)]
    except FileNotFoundError:
        return 0
    for name in entries:
        if isinstance(folder, int):
            os.unlink(name, dir_fd=folder)
        else:
            os.unlink(Path(folder) / name)
        count += 1
    return count


def _append_line(path: Path, line: str) -> None:
    """One line appended whole (O_APPEND: lines from several processes never interleave)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        _write_all(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def _existing(folder: int, name: str, algorithm: str) -> tuple[int, str] | None:
    """The size and digest of the regular file there, None for anything else (a link, a folder)."""
    try:
        return _digest(folder, name, algorithm)
    except OSError:
        return None


def _digest(folder: int, name: str, algorithm: str) -> tuple[int, str]:
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegular(errno.EINVAL, "not a regular file")
        digest, size = _ALGORITHMS[algorithm](), 0
        while block := os.read(fd, 1 << 20):
            digest.update(block)
            size += len(block)
        return size, f"{algorithm}:{digest.hexdigest()}"
    finally:
        os.close(fd)


#: Chunks shorter than this are joined before they are hashed and written (one write, not one per element).
_JOIN_BELOW = 1 << 16


def _coalesced(chunks_: Iterable[bytes | memoryview]) -> Iterable[bytes | memoryview]:
    """The same bytes in fewer chunks: runs of short ones joined, long ones (pixel data) as they are."""
    pending: list[bytes | memoryview] = []
    for chunk in chunks_:
        if len(chunk) < _JOIN_BELOW:
            pending.append(chunk)
            continue
        if pending:
            yield b"".join(pending)
            pending = []
        yield chunk
    if pending:
        yield b"".join(pending)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
