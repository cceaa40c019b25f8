"""The built-in dedup/state store: ``sqlite://`` URLs open a ``SqliteStore``.

It is the default (``trylast``): a plugin handling the same URLs takes precedence.
"""

from __future__ import annotations

from typing import Any

from mapwire import StateStore, hookimpl
from mapwire.plugins.sqlite_store.store import open_store


@hookimpl(trylast=True)
def make_state_store(url: str, options: dict[str, Any]) -> StateStore | None:
    """Open a ``SqliteStore`` for ``sqlite:`` URLs; None for any other scheme."""
    return open_store(url, options)
