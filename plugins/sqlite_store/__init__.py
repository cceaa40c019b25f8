"""The built-in dedup/state store and delivery queue: ``sqlite://`` URLs open a
``SqliteStore`` or a ``SqliteQueue`` (both may share one file).

They are the defaults (``trylast``): a plugin handling the same URLs takes precedence.
"""

from __future__ import annotations

from typing import Any

from mapwire import Queue, StateStore, hookimpl

from .queue import open_queue
from .store import open_store


@hookimpl(trylast=True)
def make_state_store(url: str, options: dict[str, Any]) -> StateStore | None:
    """Open a ``SqliteStore`` for ``sqlite:`` URLs; None for any other scheme."""
    return open_store(url, options)


@hookimpl(trylast=True)
def make_queue(url: str, options: dict[str, Any]) -> Queue | None:
    """Open a ``SqliteQueue`` for ``sqlite:`` URLs; None for any other scheme."""
    return open_queue(url, options)
