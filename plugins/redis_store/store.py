"""``RedisStore``: a ``StateStore`` in Redis, shared by every process of a deployment.

* ``first_seen`` is one server-side script: the key is new if it is absent or its expiry
  has passed. The key's value is that expiry, on the caller's clock (``inf`` without a
  TTL), and Redis also expires the key after ``ttl`` seconds of its own time, so memory is
  reclaimed without a purge. Reading the expiry from the value rather than trusting Redis
  alone keeps the store's notion of time the caller's: the same as ``SqliteStore``, and
  testable with an injected clock. Hosts are expected to keep their clocks in sync (NTP).
* ``update_membership`` is one script over a hash ``member -> "present:version"``: each
  change is applied last-writer-wins (an equal version applied later wins), tombstones
  are kept, and the present members come back in the same round trip. Versions are
  integers, compared exactly as decimal text (never as Lua numbers, doubles).

* ``forget_seen`` deletes the keys' entries (one ``DEL``), so each is new again.
* ``add_aliases`` adds the alias to a set per alias (the keys it names) and to a set per
  key (its aliases); ``forget`` is one script that removes the named keys' hashes, those
  of the keys their aliases name, and every alias of those keys.

All are atomic: Redis runs a script without interleaving any other command.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from mapwire import Change, ChangeOutcome, MembershipUpdate, StoreUnavailable

from .connection import (
    DEFAULT_PREFIX,
    RedisClient,
    is_redis_url,
    split_prefix,
)

#: Shared by the store's and the queue's scripts: record one dedup key; 1 if it was new.
#: ``expires`` is the expiry on the caller's clock (``inf``: never); ``px`` the lifetime in
#: Redis (milliseconds; empty: none; ``0``: the key expired at once, so nothing is kept).
SEEN_LUA = """
local function seen(key, now, expires, px)
  local v = redis.call('GET', key)
  if v and (v == 'inf' or tonumber(v) > now) then return 0 end
  if px == '' then
    redis.call('SET', key, expires)
  elseif px ~= '0' then
    redis.call('SET', key, expires, 'PX', px)
  end
  return 1
end
"""

_FIRST_SEEN = (
    SEEN_LUA
    + """
local now, expires, px = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local out = {}
for i = 1, #KEYS do out[i] = seen(KEYS[i], now, expires, px) end
return out
"""
)

#: Returns ``{members, outcomes}``; each outcome is ``<applied 1|0><before 1|0|->``.
#: Versions are integers written in decimal, compared exactly (a Lua number is a double,
#: exact only up to 2**53).
_UPDATE_MEMBERSHIP = """
local h = KEYS[1]
local outcomes = {}
local function not_older(a, b)
  local a_neg, b_neg = string.sub(a, 1, 1) == '-', string.sub(b, 1, 1) == '-'
  if a_neg ~= b_neg then return b_neg end
  if a_neg then a, b = string.sub(b, 2), string.sub(a, 2) end
  if #a ~= #b then return #a > #b end
  return a >= b
end
for i = 1, #ARGV, 3 do
  local member, present, version = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local old = redis.call('HGET', h, member)
  local before = old and string.sub(old, 1, 1) or '-'
  if not old or not_older(version, string.match(old, ':(.*)$')) then
    redis.call('HSET', h, member, present .. ':' .. version)
    outcomes[#outcomes + 1] = '1' .. before
  else
    outcomes[#outcomes + 1] = '0' .. before
  end
end
local all = redis.call('HGETALL', h)
local out = {}
for i = 1, #all, 2 do
  if string.sub(all[i + 1], 1, 1) == '1' then out[#out + 1] = all[i] end
end
return {out, outcomes}
"""
_BEFORE = {"1": True, "0": False, "-": None}

#: KEYS: the key's aliases set, then each alias's keys set. ARGV: the key, the aliases.
_ADD_ALIASES = """
for i = 2, #KEYS do
  redis.call('SADD', KEYS[i], ARGV[1])
  redis.call('SADD', KEYS[1], ARGV[i])
end
return 0
"""

#: ARGV: the name prefixes of membership hashes, alias sets and aliases-of-key sets, then
#: the named keys. The names of the keys an alias leads to are known only inside the
#: script, so it builds them from the prefixes (one script keeps the erasure atomic).
_FORGET = """
local mp, ap, rp = ARGV[1], ARGV[2], ARGV[3]
local targets, listed = {}, {}
local function add(k)
  if not listed[k] then listed[k] = true; targets[#targets + 1] = k end
end
for i = 4, #ARGV do
  add(ARGV[i])
  for _, k in ipairs(redis.call('SMEMBERS', ap .. ARGV[i])) do add(k) end
end
local removed = 0
for _, k in ipairs(targets) do
  removed = removed + redis.call('DEL', mp .. k)
  for _, a in ipairs(redis.call('SMEMBERS', rp .. k)) do redis.call('SREM', ap .. a, k) end
  redis.call('DEL', rp .. k)
end
for i = 4, #ARGV do redis.call('DEL', ap .. ARGV[i]) end
return removed
"""


def expiry_args(now: float, ttl: float | None) -> tuple[str, str, str]:
    """``(now, expires, px)`` for the ``seen`` script function."""
    if ttl is None:
        return repr(now), "inf", ""
    if ttl <= 0:
        return repr(now), repr(now), "0"
    return repr(now), repr(now + ttl), str(max(1, int(ttl * 1000 + 0.999)))


def open_store(url: str, options: dict[str, Any]) -> RedisStore | None:
    """A ``RedisStore`` for a Redis URL (None for other schemes).

    Known options: ``prefix`` (of every key, default ``mapwire``; a ``?prefix=`` in the
    URL wins) and ``timeout_seconds``.
    """
    if not is_redis_url(url):
        return None
    url, prefix = split_prefix(url, options)
    return RedisStore(url, prefix=prefix, options=options)


class RedisStore(RedisClient):
    """A ``StateStore`` in Redis; safe across processes, threads and ``fork()``.

    Args:
        url: ``redis://[:password@]host:port/db`` (or ``rediss://``, ``unix://``).
        prefix: the first part of every key name.
        clock: the time source for TTLs, in seconds (``time.time``; inject one in tests).
        options: client settings (``timeout_seconds``).

    A Redis error raises ``StoreUnavailable`` (see ``connection``).
    """

    unavailable = StoreUnavailable

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        clock: Callable[[], float] = time.time,
        options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(url, prefix, options)
        self.clock = clock
        client = self._open()
        self._first_seen = client.register_script(_FIRST_SEEN)
        self._update = client.register_script(_UPDATE_MEMBERSHIP)
        self._add_aliases = client.register_script(_ADD_ALIASES)
        self._forget = client.register_script(_FORGET)

    # -- the StateStore protocol --------------------------------------------------------
    def first_seen(self, namespace: str, key: str, ttl: float | None = None) -> bool:
        """Record ``key`` in ``namespace``; True if it was not there (or had expired)."""
        return self.first_seen_many(namespace, [key], ttl)[0]

    def first_seen_many(
        self, namespace: str, keys: Sequence[str], ttl: float | None = None
    ) -> list[bool]:
        """``first_seen`` for each key, in order, in one script (one round trip).

        A key repeated within ``keys`` sees its earlier occurrence (so it is not new
        again unless ``ttl`` is zero or less).
        """
        if not keys:
            return []
        self._check_open()
        names = [self.keys.seen(namespace, k) for k in keys]
        flags = self._first_seen(keys=names, args=expiry_args(self.clock(), ttl))
        return [bool(flag) for flag in flags]

    def forget_seen(self, namespace: str, keys: Sequence[str]) -> None:
        """Remove dedup keys ``first_seen`` recorded, in one command: each is new again.
        Keys not recorded are ignored."""
        if keys:
            self._open().delete(*{self.keys.seen(namespace, k) for k in keys})

    def update_membership(
        self, namespace: str, key: str, changes: Sequence[tuple[str, bool, int]]
    ) -> list[str]:
        """Apply ``(member, present, version)`` changes; return the sorted present members."""
        return self.apply_membership(namespace, key, changes).members

    def apply_membership(
        self, namespace: str, key: str, changes: Sequence[Change]
    ) -> MembershipUpdate:
        """``update_membership``, saying what each change did (applied or stale, and the
        member's stored state before it), in the same script."""
        self._check_open()
        args: list[str] = []
        for member, present, version in changes:
            args += [member, "1" if present else "0", str(int(version))]
        members, flags = self._update(keys=[self.keys.members(namespace, key)], args=args)
        outcomes = [
            ChangeOutcome(member, present, _text(flag)[0] == "1", _BEFORE[_text(flag)[1]])
            for (member, present, _), flag in zip(changes, flags, strict=True)
        ]
        return MembershipUpdate(sorted(_text(m) for m in members), outcomes)

    def add_aliases(self, namespace: str, key: str, aliases: Sequence[str]) -> None:
        """Record ``aliases`` as other names of the set stored under ``key``."""
        if not aliases:
            return
        self._check_open()
        names = [self.keys.aliased(namespace, key)]
        names += [self.keys.alias(namespace, alias) for alias in aliases]
        self._add_aliases(keys=names, args=[key, *aliases])

    def forget(self, namespace: str, keys: Sequence[str]) -> int:
        """Remove the sets stored under ``keys`` or under a key one of them is an alias
        of, with their aliases, in one script; how many sets were removed."""
        named = list(dict.fromkeys(keys))
        if not named:
            return 0
        self._check_open()
        k = self.keys
        prefixes = [k.members(namespace, ""), k.alias(namespace, ""), k.aliased(namespace, "")]
        return int(self._forget(keys=[], args=[*prefixes, *named]))

    def _check_open(self) -> None:
        self._open()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
