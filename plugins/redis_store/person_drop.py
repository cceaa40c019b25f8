"""Dropping one person's queued entries from a Redis queue (an erasure request).

One script, so atomic: it reads the connection's stream, and deletes every entry of the
ordering key that no worker holds: new to the consumer group, waiting for a retry or a
release (held by ``WAITING``), or whose lease ran out. An entry leased by a live worker
may be in flight already: it is marked (``erased``, see ``queue_index``), and deleted
when it is settled other than by an acknowledgement or when its lease runs out. The
scan is over the connection's whole stream (erasures are rare; the queue is the
backlog, not history). An entry whose action is one the caller keeps (the erasures
themselves) is left alone, held or not.
Then the person's dead letters of the connection are deleted (each records its ordering
key), in one transaction. ``drop_erased`` finds, among a claim's entries not yet sent,
those marked since the claim, and deletes them (one script; nothing is looked up unless
some entry of the connection is marked).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any

from .entries import EntryId, by_connection
from .queue_index import GROUP, PREAMBLE, WAITING

#: KEYS: the ten queue keys. ARGV: group, now, the ordering key, the action names to
#: keep (a JSON array: the erasures themselves, neither dropped nor marked).
DROP_PERSON = (
    PREAMBLE
    + f"""
local dropped = 0
if redis.call('EXISTS', stream) == 0 then return 0 end
local keep = {{}}
for _, name in ipairs(cjson.decode(ARGV[4])) do keep[name] = true end
for _, entry in ipairs(redis.call('XRANGE', stream, '-', '+')) do
  local id, fields = entry[1], entry[2]
  local key, action = nil, nil
  for i = 1, #fields, 2 do
    if fields[i] == 'k' then key = fields[i + 1] end
    if fields[i] == 'a' then action = fields[i + 1] end
  end
  if key == ARGV[3] and next(keep) ~= nil and keep[cjson.decode(action).a] then
    key = nil  -- an erasure itself: left alone
  end
  if key == ARGV[3] then
    local held = false
    local at = redis.call('ZSCORE', due, id)
    if at and tonumber(at) > tonumber(ARGV[2]) then
      local row = redis.call('XPENDING', stream, ARGV[1], id, id, 1)[1]
      held = row ~= nil and row[2] ~= '{WAITING}'
    end
    if held then  -- in flight, maybe: deleted when settled, unless delivered
      redis.call('SADD', erased, id)
      marked = true
    else
      drop(id)
      dropped = dropped + 1
    end
  end
end
refresh(ARGV[2])
return dropped
"""
)


#: KEYS: the ten queue keys. ARGV: group, now, then the ids of a claim's entries. Deletes
#: those marked (their person erased since the claim); returns their ids.
DROP_ERASED = (
    PREAMBLE
    + """
local gone = {}
if not marked then return gone end
for i = 3, #ARGV do
  if is_erased(ARGV[i]) then
    drop(ARGV[i])
    gone[#gone + 1] = ARGV[i]
  end
end
refresh(ARGV[2])
return gone
"""
)


class PersonDrop:
    """``drop_person`` for ``RedisQueue``, which supplies ``_open`` (the client),
    ``_pending_keys`` (the connection's keys) and ``_clock``."""

    _drop_script: Any = None
    _drop_erased_script: Any = None

    def drop_person(self, connection: str, order_key: str, keep: Collection[str] = ()) -> int:
        """Delete the entries of ``order_key`` no live worker holds and mark the others,
        but those whose action is in ``keep``; returns how many were deleted."""
        if not order_key:
            return 0
        queue: Any = self
        client = queue._open()
        if self._drop_script is None:
            self._drop_script = client.register_script(DROP_PERSON)
        keys = queue._pending_keys(connection)
        args = [GROUP, repr(queue._clock()), order_key, json.dumps(sorted(keep))]
        dropped = int(self._drop_script(keys=keys, args=args, client=client))
        return dropped + self._drop_dead_letters(client, connection, order_key, keep)

    def drop_erased(self, ids: Sequence[Any]) -> list[Any]:
        """Of the claimed entries ``ids``, delete those marked since they were claimed
        (their person erased); returns their ids."""
        queue: Any = self
        client = queue._open()
        if self._drop_erased_script is None:
            self._drop_erased_script = client.register_script(DROP_ERASED)
        gone: list[Any] = []
        for connection, sids in by_connection(ids).items():
            keys = queue._pending_keys(connection)
            args = [GROUP, repr(queue._clock()), *sids]
            for sid in self._drop_erased_script(keys=keys, args=args, client=client):
                text = sid.decode() if isinstance(sid, bytes) else str(sid)
                gone.append(EntryId.parse(connection, text))
        return gone

    def _drop_dead_letters(
        self, client: Any, connection: str, order_key: str, keep: Collection[str]
    ) -> int:
        """Delete the connection's dead letters of ``order_key`` but those of an action in
        ``keep``; how many."""
        queue: Any = self
        keys = queue.keys
        numbers = [int(n) for n in client.zrange(keys.dead_of(connection), 0, -1)]
        if not numbers:
            return 0
        with client.pipeline(transaction=False) as pipe:
            for number in numbers:
                pipe.hmget(keys.dead(number), "o", "a")
            found = pipe.execute()
        theirs = [
            n
            for n, (key, action) in zip(numbers, found, strict=True)
            if key == order_key and not (keep and _action_name(action) in keep)
        ]
        if not theirs:
            return 0
        with client.pipeline(transaction=True) as pipe:
            pipe.delete(*(keys.dead(n) for n in theirs))
            pipe.zrem(keys.dead_all, *theirs)
            pipe.zrem(keys.dead_of(connection), *theirs)
            deleted = pipe.execute()[0]
        return int(deleted)


def _action_name(action: str | None) -> str:
    """The action's name in a dead letter's stored action JSON (``a``); "" if unreadable."""
    try:
        name = json.loads(action or "{}").get("a", "")
    except (ValueError, AttributeError):
        return ""
    return name if isinstance(name, str) else ""
