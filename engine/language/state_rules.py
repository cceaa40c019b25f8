"""The erasure side of a rule's stored state, shared by both evaluators.

A ``state`` may name ``aliases``: other identifiers of the person whose set its ``key``
names, recorded with the set (``StateStore.add_aliases``). A rule's ``forget`` names the
sets an erasing action's person loses; the evaluators only put them on the action
(``Action.forget``): the runtime removes them just after the action is queued, so a
mapping stays a pure function of its input and the state it reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..contracts.actions import Forget
from ..contracts.store import StateStore
from .plan import ForgetPlan
from .value_rules import render_template_value


def key_texts(value: Any) -> tuple[str, ...]:
    """A string, or a list of values, as store keys (as a ``state`` key is written); null
    (also inside the list) gives nothing."""
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    return tuple(dict.fromkeys(render_template_value(v) for v in items if v is not None))


def record_aliases(store: StateStore, namespace: str, key: str, value: Any) -> None:
    """Record the identifiers ``value`` gives (other than ``key`` itself) as aliases of the
    set stored under ``key``."""
    aliases = [a for a in key_texts(value) if a != key]
    if aliases:
        store.add_aliases(namespace, key, aliases)


def forgets(plans: Sequence[ForgetPlan], values: Sequence[Any]) -> tuple[Forget, ...]:
    """A rule's ``forget`` entries with their evaluated ``keys``; those naming no key are
    left out."""
    out = []
    for plan, value in zip(plans, values, strict=True):
        keys = key_texts(value)
        if keys:
            out.append(Forget(plan.set, keys))
    return tuple(out)
