"""Start the language server on stdio, or say how to install what it needs."""

from __future__ import annotations

from ..contracts.errors import MissingDependency

LSP_DEPENDENCIES = ("pygls", "lsprotocol", "cattrs", "attrs")


def run_stdio() -> None:
    """Serve one editor over stdin/stdout until it sends ``exit``."""
    try:
        from .server import build_server
    except ImportError as exc:
        if (exc.name or "").partition(".")[0] not in LSP_DEPENDENCIES:
            raise
        raise MissingDependency(
            f"mapwire lsp needs the language-server dependencies ({exc.name} is missing): "
            "pip install '.[lsp]' (from a clone; 'mapwire[lsp]' from an index)"
        ) from exc
    build_server().start_io()
