"""How ``RedisQueue`` entries and dead letters are written to Redis and read back."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Sequence
from functools import partial
from typing import Any, NamedTuple

import orjson

from mapwire import (
    DELIVERY,
    MAPPING,
    Action,
    DeadLetter,
    FailedAttempt,
    MappingFailure,
    QueueEntry,
    history_from,
)


class EntryId(NamedTuple):
    """A queue entry's id: its connection and its stream id (``ms-seq``)."""

    connection: str
    ms: int
    seq: int

    @property
    def stream_id(self) -> str:
        return f"{self.ms}-{self.seq}"

    @classmethod
    def parse(cls, connection: str, stream_id: str) -> EntryId:
        ms, seq = stream_id.split("-")
        return cls(connection, int(ms), int(seq))


def by_connection(ids: Sequence[Any]) -> dict[str, list[str]]:
    """Stream ids grouped by connection, from ``EntryId``s (or equal tuples)."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for id_ in ids:
        entry = EntryId(*id_)
        grouped[entry.connection].append(entry.stream_id)
    return grouped


def stream_id_of(id_: Any) -> str:
    return EntryId(*id_).stream_id


def encode(a: Action, history: Sequence[FailedAttempt] = ()) -> str:
    """An action (and its dead-letter history, if any) as JSON: ``d`` destination, ``a``
    action, ``p`` payload, ``r`` rule, ``k`` 1 when it passed its destination's checks at
    intake (``Action.checked``; never with a history: a dead letter put back is checked
    again), ``w`` the item prepared at intake (``Action.wire``, as text when its bytes are
    UTF-8; kept, like ``k``, only without a history), ``h`` the history. Raises
    ``TypeError`` for what JSON cannot hold."""
    d: dict[str, Any] = {"d": a.destination, "a": a.action, "p": a.payload, "r": a.rule}
    if history:
        d["h"] = [h.as_list() for h in history]
    elif a.checked:
        d["k"] = 1
        if a.wire is not None:
            with contextlib.suppress(UnicodeDecodeError):  # else prepared at delivery
                d["w"] = a.wire.decode("utf-8")
    return orjson.dumps(d).decode()


def lenient(obj: Any) -> str:
    return orjson.dumps(obj, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def _action(text: str) -> tuple[Action, list[FailedAttempt]]:
    d = orjson.loads(text)
    wire = d.get("w")
    action = Action(
        d["d"],
        d["a"],
        d["p"],
        rule=d.get("r", ""),
        checked="k" in d,
        wire=None if wire is None else wire.encode("utf-8"),
    )
    h = d.get("h")
    return action, history_from(h) if h else []


def mapping_failure_fields(f: MappingFailure, now: float) -> dict[str, str]:
    """The hash of a ``mapping`` dead letter (fields as ``dead_letter_from`` reads them)."""
    history = f.total_history(now)
    detail = {"m": f.mapping, "f": f.field, "c": f.code, "i": f.item, "s": f.source}
    return {
        "c": f.connection,
        "a": encode(Action("", "", {}, rule=f.rule), history),
        "t": repr(now),
        "n": str(sum(h.attempts for h in history)),
        "r": f.message,
        "f": repr(now),
        "q": "{}",
        "s": "{}",
        "k": MAPPING,
        "x": orjson.dumps(detail).decode(),
    }


def entry_from(connection: str, stream_id: str, fields: list[str], tries: str) -> QueueEntry:
    """A claimed entry; its action is decoded when first read."""
    values = dict(zip(fields[0::2], fields[1::2], strict=True))
    attempts, _, error = tries.partition("|") if tries else ("0", "", "")
    text = values["a"]
    return QueueEntry.deferred(
        EntryId.parse(connection, stream_id),
        connection,
        partial(_action, text),
        _wire_of(text),
        int(attempts),
        float(values["t"]),
        error,
        values.get("k", ""),
    )


_WIRE_MARK = ',"k":1,"w":"'


def _wire_of(text: str) -> bytes | None:
    """The ``w`` of an encoded action without decoding the rest: ``encode`` writes it last,
    right after ``k``, as one JSON string (whose quotes are escaped, so the mark cannot
    occur inside it). Anything else is no wire (the action is then prepared anew)."""
    at = text.rfind(_WIRE_MARK)
    if at < 0 or not text.endswith('"}'):
        return None
    try:
        wire = orjson.loads(text[at + len(_WIRE_MARK) - 1 : -1])
    except orjson.JSONDecodeError:
        return None
    return wire.encode("utf-8") if isinstance(wire, str) else None


def dead_letter_from(number: int, row: dict[str, str]) -> DeadLetter:
    action, history = _action(row["a"])
    detail = orjson.loads(row.get("x", "{}"))
    return DeadLetter(
        number,
        row["c"],
        action,
        row["r"],
        int(row["n"]),
        float(row["t"]),
        float(row["f"]),
        orjson.loads(row["q"]),
        orjson.loads(row["s"]),
        kind=row.get("k", DELIVERY),
        history=history,
        source=detail.get("s"),
        mapping=detail.get("m", ""),
        rule=action.rule,
        field=detail.get("f", ""),
        code=detail.get("c", ""),
        item=detail.get("i", ""),
    )
