"""The pygls wiring of ``mapwire lsp``: documents in, diagnostics, hovers and completions
out over stdio. Everything it answers comes from ``diagnose``, ``hover`` and
``completion``; this module only translates to and from the protocol's types.

Diagnostics are published when a document opens and, ``DEBOUNCE_SECONDS`` after the last
change, from its unsaved text. A change to a mapping re-checks the open test-case files
too (they read the mapping from the editor).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.workspace import TextDocument

from ..language.mapping_names import is_cases_file
from ..runtime.registry import get_registry
from .completion import Completion, complete
from .diagnose import Diagnostic, diagnose
from .hover import hover
from .positions import Span

DEBOUNCE_SECONDS = 0.25
logger = logging.getLogger(__name__)
LANGUAGES = ("yaml", "json")

_KINDS = {
    "field": lsp.CompletionItemKind.Field,
    "function": lsp.CompletionItemKind.Function,
    "variable": lsp.CompletionItemKind.Variable,
    "key": lsp.CompletionItemKind.Property,
    "action": lsp.CompletionItemKind.EnumMember,
    "value": lsp.CompletionItemKind.Value,
}


def _range(span: Span) -> lsp.Range:
    return lsp.Range(
        start=lsp.Position(line=span.start_line, character=span.start_char),
        end=lsp.Position(line=span.end_line, character=span.end_char),
    )


def _client_range(doc: TextDocument | None, span: Span) -> lsp.Range:
    """``span`` (characters) in the client's position units (UTF-16 by default)."""
    if doc is None:
        return _range(span)
    return doc.position_codec.range_to_client_units(doc.lines, _range(span))


def _server_position(doc: TextDocument, position: lsp.Position) -> tuple[int, int]:
    """The client's position as (line, character)."""
    at = doc.position_codec.position_from_client_units(doc.lines, position)
    return at.line, at.character


def to_lsp_diagnostic(d: Diagnostic, doc: TextDocument | None = None) -> lsp.Diagnostic:
    message = f"{d.message}\nsuggestion: {d.suggestion}" if d.suggestion else d.message
    severity = lsp.DiagnosticSeverity.Warning
    if d.severity != "warning":
        severity = lsp.DiagnosticSeverity.Error
    return lsp.Diagnostic(
        range=_client_range(doc, d.span),
        message=message,
        severity=severity,
        code=d.code,
        source="mapwire",
        data={"suggestion": d.suggestion} if d.suggestion else None,
    )


def to_lsp_completion(c: Completion) -> lsp.CompletionItem:
    return lsp.CompletionItem(
        label=c.label,
        kind=_KINDS.get(c.kind, lsp.CompletionItemKind.Text),
        detail=c.detail or None,
        documentation=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=c.documentation)
        if c.documentation
        else None,
    )


class MappingServer(LanguageServer):
    """A pygls server that remembers the pending (debounced) check of each document."""

    def __init__(self) -> None:
        try:
            release = version("mapwire")
        except PackageNotFoundError:  # running from a source tree
            release = "0"
        super().__init__("mapwire", release)
        self.pending: dict[str, asyncio.Task[None]] = {}

    def text_of(self, path: Path) -> str | None:
        """The editor's text of ``path`` if it is open, else None."""
        for doc in list(self.workspace.text_documents.values()):
            if doc.path and Path(doc.path).resolve() == path.resolve():
                return str(doc.source)
        return None

    def publish(self, uri: str) -> None:
        doc = self.workspace.get_text_document(uri)
        if not doc.path:
            return
        found = diagnose(doc.source, Path(doc.path), open_text=self.text_of)
        self.text_document_publish_diagnostics(
            lsp.PublishDiagnosticsParams(
                uri=uri,
                diagnostics=[to_lsp_diagnostic(d, doc) for d in found],
                version=doc.version,
            )
        )

    def publish_with_cases(self, uri: str) -> None:
        """Check ``uri``, then every open test-case file (one may be about it)."""
        self.publish(uri)
        for other, doc in list(self.workspace.text_documents.items()):
            if other != uri and doc.path and is_cases_file(Path(doc.path)):
                self.publish(other)

    def schedule(self, uri: str) -> None:
        """Check ``uri`` once its text has not changed for ``DEBOUNCE_SECONDS``."""
        previous = self.pending.pop(uri, None)
        if previous is not None:
            previous.cancel()

        async def later() -> None:
            await asyncio.sleep(DEBOUNCE_SECONDS)
            self.pending.pop(uri, None)
            try:
                self.publish_with_cases(uri)
            except Exception:  # a bug must not end the editor's session; say it on stderr
                logger.exception("checking %s failed", uri)

        self.pending[uri] = asyncio.get_running_loop().create_task(later())


def build_server() -> MappingServer:
    """The language server with its features registered."""
    server = MappingServer()

    @server.feature(lsp.INITIALIZED)
    def initialized(ls: MappingServer, params: lsp.InitializedParams) -> None:
        get_registry()  # load the plugins now, not on the first keystroke

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: MappingServer, params: lsp.DidOpenTextDocumentParams) -> None:
        ls.publish_with_cases(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: MappingServer, params: lsp.DidChangeTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: MappingServer, params: lsp.DidSaveTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: MappingServer, params: lsp.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        task = ls.pending.pop(uri, None)
        if task is not None:
            task.cancel()
        with contextlib.suppress(Exception):
            ls.text_document_publish_diagnostics(
                lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[])
            )

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    def on_hover(ls: MappingServer, params: lsp.HoverParams) -> lsp.Hover | None:
        doc = ls.workspace.get_text_document(params.text_document.uri)
        found = hover(doc.source, *_server_position(doc, params.position))
        if found is None:
            return None
        return lsp.Hover(
            contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=found.markdown),
            range=_client_range(doc, found.span),
        )

    @server.feature(
        lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=[".", " "])
    )
    def on_completion(ls: MappingServer, params: lsp.CompletionParams) -> lsp.CompletionList:
        doc = ls.workspace.get_text_document(params.text_document.uri)
        items = complete(doc.source, *_server_position(doc, params.position))
        return lsp.CompletionList(is_incomplete=False, items=[to_lsp_completion(c) for c in items])

    return server
