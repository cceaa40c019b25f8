"""The shape check a mapping's input gets in production, for the commands that only map.

``serve`` and ``send`` read a document through its source's ``split``, which refuses one
whose shape the source cannot take (an envelope field of the wrong type, a request of
another type). ``refusal(plan)`` gives ``map`` and ``test`` the same check, so a dry run
or a test case refuses what production refuses rather than mapping it into errors
production never sees.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..contracts.errors import InputError
from ..language.plan import Plan
from .registry import Registry, get_registry

#: Why a document would be refused (None: taken).
Refusal = Callable[[Any], str | None]


def refusal(plan: Plan, registry: Registry | None = None) -> Refusal:
    """Why every source ``plan`` reads would refuse a document, in the first source's
    words; None when one of them takes it. A source that checks nothing (no ``split``), or
    one no installed plugin provides, takes every document."""
    sources = (registry or get_registry()).sources()
    splits = []
    for name in plan.sources:
        source = sources.get(name)
        if source is None or source.split is None:
            return _takes_all
        splits.append(source.split)

    def why(doc: Any) -> str | None:
        first: str | None = None
        for split in splits:
            try:
                split(doc)
            except InputError as exc:
                first = first or str(exc)
            else:
                return None
        return first

    return why if splits else _takes_all


def _takes_all(doc: Any) -> str | None:
    return None
