"""Inputs that failed or were rejected, kept for a person to look at: owner-only copies beside a
reason that holds no PHI."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from ..fileio import PRIVATE_MODE, Input, write_atomically, write_file


def quarantine_dataset(ds, folder: Path, reason: str) -> None:
    """A received instance (the node's input) kept as it came, under a name that says nothing about
    it, beside its reason; both owner-only, whatever the umask."""
    name = f"received-{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(4)}.dcm"
    try:
        write_atomically(lambda f: ds.save_as(f, enforce_file_format=False), folder / name, PRIVATE_MODE)
        write_atomically(lambda f: f.write((reason + "\n").encode()), folder / f"{name}.reason.txt", PRIVATE_MODE)
    except Exception:
        pass  # the failure is answered and counted already


def quarantine_input(source: Path, target: Path, reason: str) -> None:
    """A copy of the input (never moved: the input is not modified), private to its owner, and its
    reason, which holds no PHI. A file that could not be read gets its reason only."""
    try:
        data = Input(source).data
    except OSError:
        data = None
    try:
        if data is not None:
            write_file([data], target, PRIVATE_MODE)
        write_file([(reason + "\n").encode()], target.with_name(target.name + ".reason.txt"), PRIVATE_MODE)
    except OSError:
        pass  # the failure itself is already reported
