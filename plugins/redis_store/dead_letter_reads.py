"""Reading ``RedisQueue``'s dead letters: by number, a page of them (newest first) for
``dlq list``, and selected by connection, kind and age for ``dlq retry`` and ``dlq purge``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from mapwire import DELIVERY, DeadLetter

from .connection import Keys
from .entries import dead_letter_from

if TYPE_CHECKING:
    import redis


def load_dead_letters(client: redis.Redis, keys: Keys, numbers: Iterable[int]) -> list[DeadLetter]:
    """The dead letters numbered ``numbers`` that exist, in that order."""
    numbers = list(numbers)
    with client.pipeline(transaction=False) as pipe:
        for n in numbers:
            pipe.hgetall(keys.dead(n))
        rows = pipe.execute()
    return [dead_letter_from(n, row) for n, row in zip(numbers, rows, strict=True) if row]


def select_dead_letters(
    client: redis.Redis,
    keys: Keys,
    ids: Sequence[Any] | None,
    connection: str | None,
    failed_before: float | None = None,
    kind: str | None = None,
) -> dict[str, list[int]]:
    """The dead letters named by ``ids`` (or all), filtered, by connection, oldest first."""
    if ids is None:
        index = keys.dead_all if connection is None else keys.dead_of(connection)
        numbers = [int(str(i)) for i in client.zrange(index, 0, -1)]
    else:
        numbers = sorted({int(i) for i in ids if str(i).lstrip("-").isdigit()})
    with client.pipeline(transaction=False) as pipe:
        for n in numbers:
            pipe.hmget(keys.dead(n), ["c", "f", "k"])
        rows = pipe.execute()
    selected: dict[str, list[int]] = defaultdict(list)
    for n, (name, failed_at, its_kind) in zip(numbers, rows, strict=True):
        if name is None or (connection is not None and name != connection):
            continue
        if kind is not None and (its_kind or DELIVERY) != kind:
            continue
        if failed_before is not None and not float(failed_at) < failed_before:
            continue
        selected[name].append(n)
    return selected


def page_of_dead_letters(
    client: redis.Redis,
    keys: Keys,
    connection: str | None,
    limit: int,
    offset: int,
    kind: str | None,
) -> list[DeadLetter]:
    """Dead letters, newest first, of one connection and/or kind if given. A ``kind``
    filter reads the index a page at a time and keeps the matching ones."""
    if limit <= 0:
        return []
    index = keys.dead_all if connection is None else keys.dead_of(connection)
    if kind is None:
        ids = client.zrevrange(index, offset, offset + limit - 1)
        return load_dead_letters(client, keys, [int(str(i)) for i in ids])
    found: list[DeadLetter] = []
    start, page = 0, max(100, limit)
    while len(found) < offset + limit:
        ids = client.zrevrange(index, start, start + page - 1)
        if not ids:
            break
        page_of = load_dead_letters(client, keys, [int(str(i)) for i in ids])
        found += [d for d in page_of if d.kind == kind]
        start += page
    return found[offset : offset + limit]
