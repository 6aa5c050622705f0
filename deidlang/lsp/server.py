"""The language server: pygls wiring of the analysis to the protocol, over stdio.

Each open document is analysed on open at once and on change after `DEBOUNCE` seconds of quiet, and
its diagnostics are published with the version they describe. Included files are read from the open
buffers when the editor has them, else from disk; after a document is analysed, every other open
document that read it is analysed again, so an edit to an included file shows up in its includers.
The client may pass ``{"profile": "basic-profile"}`` as initialization options to also prove the
Basic Profile, as ``deidlang check --profile`` does.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

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
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri, diagnostics(analysis),
                                                                              document.version))
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
    return hover(ls.current(params.text_document.uri), params.position)


@server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=['"', ","]))
def _completion(ls: DeidServer, params: types.CompletionParams) -> types.CompletionList:
    return completion(ls.unchecked(params.text_document.uri), params.position)


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
def _definition(ls: DeidServer, params: types.DefinitionParams) -> list[types.Location]:
    return definition(ls.current(params.text_document.uri), params.position)


@server.feature(types.TEXT_DOCUMENT_REFERENCES)
def _references(ls: DeidServer, params: types.ReferenceParams) -> list[types.Location]:
    return references(ls.current(params.text_document.uri), params.position)


@server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(
    code_action_kinds=[types.CodeActionKind.QuickFix, types.CodeActionKind.Source]))
def _code_action(ls: DeidServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    uri = params.text_document.uri
    return code_actions(ls.current(uri), uri, params.context.diagnostics)


@server.feature(types.TEXT_DOCUMENT_FORMATTING)
def _formatting(ls: DeidServer, params: types.DocumentFormattingParams) -> list[types.TextEdit]:
    return formatting(ls.unchecked(params.text_document.uri))


def serve() -> None:
    """Speak LSP over stdin/stdout until the client says exit."""
    server.start_io()
