"""`deidlang lsp`: the language server for rule files, over stdio (needs the `lsp` extra)."""

from __future__ import annotations

import click


@click.command("lsp")
@click.option("--stdio", is_flag=True, help="talk over stdin and stdout (the default, and the only transport)")
def command(stdio: bool) -> int:
    """Run the language server: diagnostics, hover, completion, definitions and fixes in your editor."""
    try:
        from ..lsp.server import serve
    except ImportError as err:
        raise click.UsageError(f"the language server needs {err.name}: pip install 'deidlang[lsp]'") from None
    serve()
    return 0
