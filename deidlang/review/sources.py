"""Rule files named on the command line: a path, a shipped name, or ``REV:path`` from git."""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

from ..compiler import compile_file
from ..errors import InputError
from ..plan import Plan


def load(spec: str) -> Plan:
    """Compile ``spec``. ``HEAD~1:rules/site.deid`` takes the file, and what it includes, from that
    git revision (the path is relative to the repository's top, as in `git show`)."""
    if ":" in spec and not Path(spec).exists():
        revision, path = spec.split(":", 1)
        with tempfile.TemporaryDirectory(prefix="deidlang-rev-") as tmp:
            top = _git("rev-parse", "--show-toplevel").decode().strip()
            archive = _git("-C", top, "archive", "--format=tar", revision)
            with tarfile.open(fileobj=BytesIO(archive)) as tar:
                tar.extractall(tmp, filter="data")
            if not (Path(tmp) / path).is_file():
                raise InputError(f"`{path}` does not exist at revision `{revision}`")
            return compile_file(Path(tmp) / path)
    return compile_file(spec)


def _git(*args: str) -> bytes:
    try:
        return subprocess.run(["git", *args], check=True, capture_output=True).stdout
    except FileNotFoundError:
        raise InputError("git is not installed: a `REV:path` argument needs it") from None
    except subprocess.CalledProcessError as err:
        message = err.stderr.decode(errors="replace").strip().splitlines()
        raise InputError(f"git {args[-1]}: {message[-1] if message else 'failed'}") from None
