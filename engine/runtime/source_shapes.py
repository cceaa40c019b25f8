"""The shape check a mapping's input gets in production, for the commands that only map.

``serve`` and ``send`` read a document through its source's ``split`` (or the
endpoint's), which refuses one whose shape the source cannot take (an envelope field of
the wrong type, a request of another type). ``refusal(plan)`` gives ``map``, ``explain``
and ``test`` the same check, so a dry run or a test case refuses what production refuses
rather than mapping it into errors production never sees (``explain`` says so and
traces it all the same).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..contracts.errors import InputError
from ..language.cases import Refusal
from ..language.plan import Plan
from .registry import Registry, get_registry


def refusal(plan: Plan, registry: Registry | None = None) -> Refusal:
    """Why every source ``plan`` reads would refuse a document, in the first source's
    words; None when one of them takes it. A source is checked by its own ``split`` (as
    ``send`` reads it), else by that of an endpoint ``serve`` takes it at (an Events API
    batch, at the events endpoint); one with neither, or no installed plugin provides,
    takes every document."""
    reg = registry or get_registry()
    sources = reg.sources()
    endpoints = list(reg.endpoints().values())
    splits: list[Callable[[Any], object]] = []
    for name in plan.sources:
        source = sources.get(name)
        split: Callable[[Any], object] | None = None if source is None else source.split
        if split is None:
            split = next((e.split for e in endpoints if name in e.sources), None)
        if split is None:
            return _takes_all
        if split not in splits:  # sources that share one check (one body, two dialects)
            splits.append(split)

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
