"""The language server: pygls wiring of the analysis to the protocol, over stdio.

Each open document is analysed on open at once and on change after `DEBOUNCE` seconds of quiet, and
its diagnostics are published with the version they describe. Included files are read from the open
buffers when the editor has them, else from disk; after a document is analysed, every other open
document that read it is analysed again, so an edit to an included file shows up in its includers.
The client may pass ``{"profile": "basic-profile"}`` as initialization options to also prove the
Basic Profile, as ``deidlang check --profile`` does.

The answers count columns in characters (code points), as the compiler's spans do; positions from the
client and ranges to it are converted here, at the edge, to the units the client and server agreed on
(UTF-16 for most editors, UTF-8 for some).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import attrs
from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from .._version import __version__
from ..compiler import display_name
from ..validate import PROFILES
from .analysis import Analysis, analyse, read_disk
from .completion import completion
from .diagnostics import diagnostics
from .fixes import code_actions, formatting
from .hover import hover
from .navigation import definition, references

DEBOUNCE = 0.08  # seconds of quiet after a change before the document is checked again


class DeidServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("deidlang", __version__)
        self.analyses: dict[str, Analysis] = {}
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.profile: str | None = None

    # ------------------------------------------------------------ documents

    def path(self, uri: str) -> Path | None:
        fs_path = to_fs_path(uri) if uri.startswith("file:") else None
        return Path(fs_path).resolve() if fs_path else None

    def read(self, path: Path) -> str:
        """An included file: the editor's buffer when it is open (saved or not), else the disk's text."""
        for uri in self.workspace.text_documents:
            if self.path(uri) == path:
                return self.workspace.get_text_document(uri).source
        return read_disk(path)

    def check(self, uri: str, includers: bool = True) -> Analysis:
        """Analyse an open document, publish its diagnostics, then re-check the open files that include it."""
        self.cancel(uri)
        document = self.workspace.get_text_document(uri)
        path = self.path(uri)
        analysis = analyse(path, document.source, self.read, self.profile)
        self.analyses[uri] = analysis
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri, self.outward(uri, diagnostics(analysis)), document.version))
        if includers and path is not None:
            for other, known in list(self.analyses.items()):
                if other != uri and path in known.depends_on:
                    self.check(other, includers=False)
        return analysis

    def later(self, uri: str) -> None:
        self.cancel(uri)
        self.timers[uri] = asyncio.get_running_loop().call_later(DEBOUNCE, self.check, uri)

    def cancel(self, uri: str) -> None:
        timer = self.timers.pop(uri, None)
        if timer is not None:
            timer.cancel()

    def current(self, uri: str) -> Analysis:
        """The analysis of the document as it is now (checked at once if an edit is still waiting)."""
        known = self.analyses.get(uri)
        if known is not None and known.text == self.workspace.get_text_document(uri).source:
            return known
        return self.check(uri)

    # ------------------------------------------------------------ positions: the client's units at the edge

    def lines(self, uri: str) -> list[str]:
        if uri in self.workspace.text_documents:
            return self.workspace.get_text_document(uri).lines
        path = self.path(uri)
        try:
            return read_disk(path).splitlines(True) if path else []
        except OSError:
            return []

    def inward(self, uri: str, position: types.Position) -> types.Position:
        """A position the client sent, in characters (a line of plain ASCII, or past the end, as it is)."""
        lines = self.lines(uri)
        if position.line >= len(lines) or lines[position.line].isascii():
            return position
        found = self.workspace.position_codec.position_from_client_units(lines, position)
        return types.Position(found.line, found.character)

    def outward(self, uri: str, value):
        """An answer with every range in the client's units, each for the file it lies in."""
        codec = self.workspace.position_codec
        if codec.encoding == types.PositionEncodingKind.Utf32:
            return value
        lines: dict[str, list[str]] = {}

        def convert(uri: str, value):
            if isinstance(value, list):
                return [convert(uri, v) for v in value]
            if isinstance(value, types.Range):
                if uri not in lines:
                    lines[uri] = self.lines(uri)
                return codec.range_to_client_units(lines[uri], value)
            if isinstance(value, types.Location):
                return types.Location(value.uri, convert(value.uri, value.range))
            if isinstance(value, types.WorkspaceEdit):
                return types.WorkspaceEdit(changes={u: convert(u, e) for u, e in (value.changes or {}).items()})
            if attrs.has(type(value)):
                for name in attrs.fields_dict(type(value)):
                    setattr(value, name, convert(uri, getattr(value, name)))
            return value

        return convert(uri, value)

    def inward_diagnostics(self, uri: str, diagnostics: list[types.Diagnostic]) -> list[types.Diagnostic]:
        for diagnostic in diagnostics:
            diagnostic.range = types.Range(self.inward(uri, diagnostic.range.start), self.inward(uri, diagnostic.range.end))
        return diagnostics

    def unchecked(self, uri: str) -> Analysis:
        """The document's text and place, not compiled: enough for completion and formatting."""
        path = self.path(uri)
        return Analysis(path, self.workspace.get_text_document(uri).source,
                        display_name(path) if path else "<untitled>")


server = DeidServer()


@server.feature(types.INITIALIZE)
def _initialize(ls: DeidServer, params: types.InitializeParams) -> None:
    options = params.initialization_options if isinstance(params.initialization_options, dict) else {}
    profile = options.get("profile")
    ls.profile = profile if profile in PROFILES else None


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def _did_open(ls: DeidServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.check(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def _did_change(ls: DeidServer, params: types.DidChangeTextDocumentParams) -> None:
    ls.later(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def _did_close(ls: DeidServer, params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    ls.cancel(uri)
    closed = ls.analyses.pop(uri, None)
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri, []))
    path = ls.path(uri)
    for other, known in list(ls.analyses.items()):  # they read its buffer: now they read the disk
        if closed is not None and path in known.depends_on:
            ls.check(other, includers=False)


@server.feature(types.TEXT_DOCUMENT_HOVER)
def _hover(ls: DeidServer, params: types.HoverParams) -> types.Hover | None:
    uri = params.text_document.uri
    return ls.outward(uri, hover(ls.current(uri), ls.inward(uri, params.position)))


@server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=['"', ","]))
def _completion(ls: DeidServer, params: types.CompletionParams) -> types.CompletionList:
    uri = params.text_document.uri
    return ls.outward(uri, completion(ls.unchecked(uri), ls.inward(uri, params.position)))


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
def _definition(ls: DeidServer, params: types.DefinitionParams) -> list[types.Location]:
    uri = params.text_document.uri
    return ls.outward(uri, definition(ls.current(uri), ls.inward(uri, params.position)))


@server.feature(types.TEXT_DOCUMENT_REFERENCES)
def _references(ls: DeidServer, params: types.ReferenceParams) -> list[types.Location]:
    uri = params.text_document.uri
    return ls.outward(uri, references(ls.current(uri), ls.inward(uri, params.position)))


@server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(
    code_action_kinds=[types.CodeActionKind.QuickFix, types.CodeActionKind.Source]))
def _code_action(ls: DeidServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    uri = params.text_document.uri
    return ls.outward(uri, code_actions(ls.current(uri), uri, ls.inward_diagnostics(uri, params.context.diagnostics)))


@server.feature(types.TEXT_DOCUMENT_FORMATTING)
def _formatting(ls: DeidServer, params: types.DocumentFormattingParams) -> list[types.TextEdit]:
    uri = params.text_document.uri
    return ls.outward(uri, formatting(ls.unchecked(uri)))


def serve() -> None:
    """Speak LSP over stdin/stdout until the client says exit."""
    server.start_io()
