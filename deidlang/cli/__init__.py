"""Layer 7: the command line. Thin: it parses arguments, calls the library, prints, and maps errors
to exit codes in one place (`_handle_errors`).

Exit codes (DESIGN.md): 0 ok; 1 a verdict the user must act on (invalid rules, files that failed);
2 usage error; 3 internal error.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Iterator, Sequence

from .._version import __version__
from .._walker import describe
from ..collector import collector_paused
from ..errors import DeidError, InputError, RuleError

with collector_paused():  # imported for the process's life, as the package's own modules are (deidlang/__init__.py)
    import click

OK, VERDICT, USAGE, INTERNAL = 0, 1, 2, 3


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


#: Subcommand -> "module:function" in this package, imported only when that subcommand runs, so
#: that `deidlang run` does not pay for the TLS, YAML and review code of the others.
COMMANDS = {
    "run": "run:command", "check": "check:command", "explain": "explain:command",
    "reidentify": "reidentify:reidentify", "lookup": "reidentify:lookup", "scan": "scan:command",
    "fmt": "fmt:command", "diff": "diff:command", "coverage": "coverage:command", "test": "test:command",
    "serve": "serve:command", "pull": "pull:command", "lsp": "lsp:command", "map": "map:group",
    "verify": "verify:command",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, function = COMMANDS[name].split(":")
        with collector_paused():  # as the package's own imports (deidlang/__init__.py)
            return getattr(importlib.import_module(f"{__name__}.{module}"), function)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="deidlang", message=f"%(prog)s, version %(version)s\n{describe()}")
def cli() -> None:
    """Review, prove and run DICOM de-identification rules."""


@contextlib.contextmanager
def _handle_errors() -> Iterator[None]:
    """The one place where exceptions become messages and exit codes."""
    try:
        yield
    except RuleError as err:
        click.echo(err.render(), err=True)
        raise _Exit(VERDICT) from None
    except InputError as err:
        click.echo(err.render(), err=True)
        raise _Exit(USAGE) from None
    except DeidError as err:
        click.echo(err.render(), err=True)
        raise _Exit(VERDICT) from None
    except click.exceptions.Exit as err:
        raise _Exit(err.exit_code) from None
    except click.ClickException as err:
        err.show()
        raise _Exit(USAGE) from None
    except click.Abort:
        click.echo("aborted", err=True)
        raise _Exit(VERDICT) from None
    except Exception as err:  # a bug: say so plainly, without the values that may be in the message
        if os.environ.get("DEIDLANG_DEBUG"):
            raise
        click.echo(f"internal error: {type(err).__name__} (set DEIDLANG_DEBUG=1 for a traceback)", err=True)
        raise _Exit(INTERNAL) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: sys.argv[1:]) and return the exit code."""
    try:
        with _handle_errors():
            result = cli.main(args=list(argv) if argv is not None else None, prog_name="deidlang",
                              standalone_mode=False)
            return result if isinstance(result, int) else OK
    except _Exit as done:
        return done.code


def entrypoint() -> None:
    sys.exit(main())
