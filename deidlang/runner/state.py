"""The state folder of a run (``OUT.deidlang`` by default): its lock, the journal that lets a
resumed run skip what an earlier one finished, and the leftovers of killed runs."""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
from pathlib import Path

from ..errors import InputError
from ..fileio import OutputTree, remove_temporaries
from ..journal import Journal
from .inputs import inside
from .reasons import os_reason

#: The reason of an input skipped on resume.
FINISHED = "finished by an earlier run"
#: The journal in the state folder.
JOURNAL = "journal.sqlite"
#: Where deidlang kept a run's journal before the state folder: in the delivered folder itself.
OLD_JOURNAL = ".deidlang-journal.sqlite"


def state_folder(outdir: str | Path) -> Path:
    """The default state folder of a run into ``outdir``: beside it, ``<outdir>.deidlang``."""
    out = Path(outdir).resolve()
    return out.with_name(out.name + ".deidlang")


def prepare(out: Path, state: Path) -> int:
    """Make the output and state folders, check that both can be written, take the state folder's
    lock and clear what killed runs left in it. A folder that cannot be used is an `InputError`."""
    for what, folder in (("output folder", out), ("state folder", state)):
        if os.path.lexists(folder) and not folder.is_dir():
            raise InputError(f"the {what} `{folder}` is an existing file, not a folder", None,
                             "give the name of a folder (it is made if it does not exist)")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / f".deidlang-probe-{os.getpid()}"
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
            probe.unlink()
        except OSError as err:
            raise InputError(f"the {what} `{folder}` cannot be written: {os_reason(err)}") from None
    os.chmod(state, 0o700)
    lock = os.open(state / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a POSIX lock: forked workers do not hold it
    except OSError:
        os.close(lock)
        raise InputError(f"another run is using the state folder `{state}`", None,
                         "wait for it to finish, or give this run another output folder") from None
    remove_temporaries(state / "tmp", out)
    return lock


def finished(journal: Journal, tree: OutputTree, source: str, plan_hash: str) -> bool:
    """Whether the journal says this input, unchanged, was finished with this plan, and its output
    is still the file it recorded. When it is not, an output recorded for it is removed (it is
    made again)."""
    row = journal.entry(source)
    if row is None:
        return False
    try:
        info = os.stat(source)
    except OSError:
        return False
    status, output, written = row["status"], row["output"], row["written"]
    if row["plan_hash"] == plan_hash and row["version"] == (info.st_size, info.st_mtime_ns):
        if status == "rejected":
            return True
        if status == "written" and output and written and tree.matches(Path(output).parts, *written):
            return True
    if output:
        try:
            tree.remove(Path(output).parts)
        except OSError:
            pass
    return False


def old_journal(out: Path, state: Path, layout: str) -> Path | None:
    """The journal that a run by a deidlang from before the state folder left in the delivered folder,
    to be moved into the state folder (`move_old_journal`); None if there is none or the state
    folder has its own. Its outputs mirror the input folders: under another layout it is refused."""
    path = out / OLD_JOURNAL
    if path.is_symlink() or not path.is_file() or (state / JOURNAL).exists():
        return None
    if layout != "mirror":
        raise InputError(f"the output folder `{out}` holds the journal of a run by an earlier deidlang, whose "
                         "outputs mirror the input folders", None,
                         "go on with that run with --layout mirror, or give another output folder")
    return path


def move_old_journal(path: Path, out: Path, state: Path) -> None:
    """Move an old journal into the state folder (its write-ahead log folded in first) and bring its
    rows to today's form: each output named relative to the output folder and recorded by its size
    and digest as it is now. The old journal trusted every output it recorded as complete (each was
    renamed into place whole); one that is missing now, or outside the output folder, is made again."""
    try:
        db = sqlite3.connect(path)
        try:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            db.close()
        shutil.move(path, state / JOURNAL)  # a copy and a removal when the state folder is on another disk
        for suffix in ("-wal", "-shm"):
            try:
                os.unlink(f"{path}{suffix}")
            except FileNotFoundError:
                pass
        journal = Journal(state / JOURNAL)
    except (OSError, sqlite3.Error) as err:
        why = os_reason(err) if isinstance(err, OSError) else "it is not a readable journal"
        raise InputError(f"the journal `{path}` of an earlier run cannot be moved into the state folder: {why}",
                         None, "move it away (the run then starts over)") from None
    tree = OutputTree(out)
    try:
        for source, output in journal.unrecorded_outputs():
            relative = Path(output).relative_to(out).parts if output and inside(Path(output), out) else ()
            written = tree.digest(relative) if relative else None
            journal.set_output(source, os.path.join(*relative) if written else None, written)
    finally:
        journal.close()
        tree.close()
