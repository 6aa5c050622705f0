"""The state folder of a run (``OUT.deidlang`` by default): its lock, the journal that lets a
resumed run skip what an earlier one finished, and the leftovers of killed runs."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from ..errors import InputError
from ..fileio import OutputTree, remove_temporaries
from ..journal import Journal
from .reasons import os_reason

#: The reason of an input skipped on resume.
FINISHED = "finished by an earlier run"


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
    remove_temporaries(state / "tmp")
    return lock


def finished(journal: Journal, tree: OutputTree, source: Path, plan_hash: str) -> bool:
    """Whether the journal says this input, unchanged, was finished with this plan, and its output
    is still the file it recorded. When it is not, an output recorded for it is removed (it is
    made again)."""
    row = journal.entry(source)
    if row is None:
        return False
    try:
        info = source.stat()
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
