"""How ``SqliteQueue`` writes actions and dead letters to rows and reads them back.

An action is stored as compact JSON: ``d`` destination, ``a`` action, ``p`` payload, ``r``
rule, ``k`` 1 when it passed its destination's checks at intake (``Action.checked``; never
written with a history: a dead letter put back is checked again), and ``h`` its
dead-letter history (``[at, reason, attempts]`` lists) once it has one. A dead letter's
``detail`` column holds what a mapping failure adds: ``m`` mapping, ``f`` field, ``c``
code, ``i`` item and ``s`` the source document.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from mapwire import Action, DeadLetter, FailedAttempt, history_from

#: A list of ids as one JSON array argument: one statement, any count.
IDS = "id IN (SELECT value FROM json_each(?))"


def _dumps_std(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _dumps_lenient_std(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str)


try:
    import orjson
except ImportError:  # pragma: no cover - the standard library is the fallback
    dumps = _dumps_std
    dumps_lenient = _dumps_lenient_std
    loads: Callable[[str], Any] = json.loads
else:

    def dumps(obj: Any) -> str:
        return orjson.dumps(obj).decode()

    def dumps_lenient(obj: Any) -> str:
        return orjson.dumps(obj, default=str, option=orjson.OPT_NON_STR_KEYS).decode()

    loads = orjson.loads


def encode(a: Action, history: Sequence[FailedAttempt] = ()) -> str:
    d: dict[str, Any] = {"d": a.destination, "a": a.action, "p": a.payload, "r": a.rule}
    if history:
        d["h"] = [h.as_list() for h in history]
    elif a.checked:
        d["k"] = 1
    return dumps(d)


def action_and_history(text: str, wire: bytes | None = None) -> tuple[Action, list[FailedAttempt]]:
    """The action of ``text`` (with its ``wire``, from its own column) and its history."""
    d = loads(text)
    action = Action(d["d"], d["a"], d["p"], rule=d.get("r", ""), checked="k" in d, wire=wire)
    h = d.get("h")
    return action, history_from(h) if h else []


def dead_letter_row(row: tuple[Any, ...]) -> DeadLetter:
    """``row``: the ``_DEAD_COLUMNS``."""
    i, conn, act, why, tries, queued, failed, req, resp, kind, detail = row
    action, history = action_and_history(act)
    extra = loads(detail)
    return DeadLetter(
        i,
        conn,
        action,
        why,
        tries,
        queued,
        failed,
        loads(req),
        loads(resp),
        kind=kind,
        history=history,
        source=extra.get("s"),
        mapping=extra.get("m", ""),
        rule=action.rule,
        field=extra.get("f", ""),
        code=extra.get("c", ""),
        item=extra.get("i", ""),
    )


def id_list(ids: Sequence[Any]) -> str:
    return dumps([int(i) for i in ids])


def id_range(ids: Sequence[Any]) -> tuple[int, int] | None:
    """``(first, last)`` when ``ids`` (not empty) are every integer from ``first`` to
    ``last``, in any order: a statement on that range touches exactly these ids."""
    ints = {int(i) for i in ids}
    first, last = min(ints), max(ints)
    return (first, last) if last - first + 1 == len(ints) else None


def dead_filter(
    ids: Sequence[Any] | None,
    connection: str | None,
    failed_before: float | None,
    kind: str | None = None,
) -> tuple[str, tuple[Any, ...]]:
    """A WHERE clause (built from fixed fragments only) and its arguments."""
    parts = [
        (IDS, None if ids is None else id_list(ids)),
        ("connection = ?", connection),
        ("failed_at < ?", failed_before),
        ("kind = ?", kind),
    ]
    used = [(clause, arg) for clause, arg in parts if arg is not None]
    return " AND ".join(c for c, _ in used) or "1", tuple(a for _, a in used)
