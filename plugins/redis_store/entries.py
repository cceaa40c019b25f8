"""How ``RedisQueue`` entries and dead letters are written to Redis and read back."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, NamedTuple

import orjson

from mapwire.engine.actions import Action
from mapwire.engine.queue import DeadLetter, QueueEntry


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


def encode(a: Action) -> str:
    """An action as JSON. Raises ``TypeError`` for what JSON cannot hold."""
    return orjson.dumps({"d": a.destination, "a": a.action, "p": a.payload, "r": a.rule}).decode()


def lenient(obj: Any) -> str:
    return orjson.dumps(obj, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def _action(text: str) -> Action:
    d = orjson.loads(text)
    return Action(d["d"], d["a"], d["p"], rule=d.get("r", ""))


def entry_from(connection: str, stream_id: str, fields: list[str], tries: str) -> QueueEntry:
    values = dict(zip(fields[0::2], fields[1::2], strict=True))
    attempts, _, error = tries.partition("|") if tries else ("0", "", "")
    return QueueEntry(
        EntryId.parse(connection, stream_id),
        connection,
        _action(values["a"]),
        int(attempts),
        float(values["t"]),
        error,
    )


def dead_letter_from(number: int, row: dict[str, str]) -> DeadLetter:
    return DeadLetter(
        number,
        row["c"],
        _action(row["a"]),
        row["r"],
        int(row["n"]),
        float(row["t"]),
        float(row["f"]),
        orjson.loads(row["q"]),
        orjson.loads(row["s"]),
    )
