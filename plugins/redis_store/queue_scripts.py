"""The intake and claim scripts of ``RedisQueue`` (Lua, each atomic in Redis); the keys
they keep are described in ``queue_index``, the settling scripts are in ``settle_scripts``.

Per-person order: an entry with an ordering key is handed out only when every pending
entry of its key is ready (its lease ran out, its retry time came, or it was parked: read
from the stream while its key was busy, and kept pending, ready, behind the others); a
person's entries go out oldest first, all in one claim, never to two claims at once.
Leased entries belong to the claiming consumer (one per process); retried or released
ones are moved to the ``WAITING`` consumer, so a dead consumer's pending entries are
exactly its leases (``settle_scripts.RECLAIM``).
"""

from __future__ import annotations

from .queue_index import ENSURE_GROUP, GROUP, PREAMBLE, WAITING
from .store import SEEN_LUA

__all__ = ["CLAIM", "ENQUEUE", "GROUP", "NEXT_READY", "REBUILD", "WAITING"]

#: KEYS: stream, connections, progress, then every dedup key in order.
#: ARGV: group, connection, enqueued_at, has_progress, progress key, progress value,
#:   now, expires, px, then per action: its number of dedup keys, its JSON and its
#:   ordering key (``""``: none). Returns the positions (from 0) of the actions queued.
ENQUEUE = (
    SEEN_LUA
    + ENSURE_GROUP
    + """
local stream, group = KEYS[1], ARGV[1]
local now, expires, px = tonumber(ARGV[7]), ARGV[8], ARGV[9]
local keep, kept, k = {}, {}, 4
for i = 10, #ARGV, 3 do
  local new = true
  for _ = 1, tonumber(ARGV[i]) do
    if seen(KEYS[k], now, expires, px) == 0 then new = false end
    k = k + 1
  end
  if new then
    keep[#keep + 1] = i + 1
    kept[#kept + 1] = (i - 10) / 3
  end
end
if #keep > 0 then
  ensure_group(stream, group)
  for _, at in ipairs(keep) do
    if ARGV[at + 1] == '' then
      redis.call('XADD', stream, '*', 'a', ARGV[at], 't', ARGV[3])
    else
      redis.call('XADD', stream, '*', 'a', ARGV[at], 't', ARGV[3], 'k', ARGV[at + 1])
    end
  end
  redis.call('SADD', KEYS[2], ARGV[2])
end
if ARGV[4] == '1' then redis.call('HSET', KEYS[3], ARGV[5], ARGV[6]) end
return kept
"""
)

#: KEYS: the ten queue keys, then the layout hash. ARGV: group, consumer, now,
#: lease_until, limit, park_cap, connection, layout version. Nothing is handed out while
#: the index of the connection is incomplete (``REBUILD``): ``unindexed`` is returned.
#: Returns ``{id, fields, tries}`` per entry, oldest first. First the pending work that is
#: ready, the longest ready first: people whose pending entries are all ready (each with
#: their entries oldest first) and entries without a key; then new entries, read with
#: XREADGROUP: one whose person is busy is parked (at most ``park_cap`` per claim).
CLAIM = (
    PREAMBLE
    + """
local group, consumer, now, lease_until = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local limit, park_cap = tonumber(ARGV[5]), tonumber(ARGV[6])
if redis.call('EXISTS', stream) == 0 then return {} end
if redis.call('HGET', KEYS[11], ARGV[7]) ~= ARGV[8] then return 'unindexed' end
local out, took, done = {}, {}, {}
local function hand_out(entry)
  out[#out + 1] = entry
  redis.call('ZADD', due, lease_until, entry[1])
end
-- A free person's entries, oldest first: those handed out before, then parked ones.
local function take_person(key)
  local lo, hi, p = range_of(key)
  for _, set in ipairs({keyout, keyq}) do
    if #out < limit then
      for _, m in ipairs(redis.call('ZRANGEBYLEX', set, lo, hi, 'LIMIT', 0, limit - #out)) do
        local id = id_of(m, p)
        local gone = is_erased(id)  -- its lease ran out after its person was erased
        local got = gone and {} or redis.call('XCLAIM', stream, group, consumer, 0, id)
        if gone then
          drop(id)
        elseif got[1] then
          hand_out(got[1])
          if set == keyq then
            redis.call('ZREM', keyq, m)
            redis.call('ZADD', keyout, 0, m)
          end
          took[key] = true
        else  -- deleted from the stream: by a process without the index, it may be
          redis.call('ZREM', set, m)
          forget(id)
        end
      end
    end
  end
  if took[key] then
    redis.call('ZADD', keyfree, lease_until, key)
    touched[key] = nil
  elseif redis.call('HEXISTS', pending, key) == 0 then
    redis.call('ZREM', keyfree, key)  -- left by a process without the index
  end
end
local function take_loose(id)
  local got = redis.call('XCLAIM', stream, group, consumer, 0, id)
  if got[1] then
    hand_out(got[1])
    redis.call('ZADD', loose, lease_until, id)
  else
    forget(id)
  end
end
while #out < limit do
  local want = limit - #out
  local people = redis.call(
    'ZRANGEBYSCORE', keyfree, '-inf', now, 'WITHSCORES', 'LIMIT', 0, want)
  local singles = redis.call(
    'ZRANGEBYSCORE', loose, '-inf', now, 'WITHSCORES', 'LIMIT', 0, want)
  local i, j, progressed = 1, 1, false
  while #out < limit and (i < #people or j < #singles) do
    local person = i < #people and (
      j >= #singles or tonumber(people[i + 1]) <= tonumber(singles[j + 1]))
    local name = person and 'p' .. people[i] or 'e' .. singles[j]
    if not done[name] then
      done[name] = true
      progressed = true
      if person then take_person(people[i]) else take_loose(singles[j]) end
    end
    if person then i = i + 2 else j = j + 2 end
  end
  if not progressed then break end
end
local ready_taken, parked = #out, 0
while #out < limit do
  local got = redis.call(
    'XREADGROUP', 'GROUP', group, consumer, 'COUNT', limit - #out, 'STREAMS', stream, '>')
  if not got or #got[1][2] == 0 then break end
  for _, entry in ipairs(got[1][2]) do
    local id, fields, key = entry[1], entry[2], nil
    for j = 1, #fields, 2 do
      if fields[j] == 'k' then key = fields[j + 1] end
    end
    if not key then
      hand_out(entry)
      redis.call('ZADD', loose, lease_until, id)
    else
      local first = count_pending(key, 1) == 1
      local m = member(key, id)
      redis.call('HSET', keyof, id, key)
      if first or took[key] then
        if not took[key] then
          took[key] = true
          redis.call('ZADD', keyfree, lease_until, key)
        end
        hand_out(entry)
        redis.call('ZADD', keyout, 0, m)
      else
        redis.call('ZADD', keyq, 0, m)
        redis.call('ZADD', due, now, id)
        parked = parked + 1
      end
    end
  end
  if parked >= park_cap then break end
end
refresh(now)
if ready_taken > 0 and #out > 1 then  -- new entries alone come in stream order already
  local order = {}
  for _, entry in ipairs(out) do
    local ms, seq = string.match(entry[1], '^(%d+)-(%d+)$')
    order[entry] = {tonumber(ms), tonumber(seq)}
  end
  table.sort(out, function(a, b)
    local x, y = order[a], order[b]
    return x[1] < y[1] or (x[1] == y[1] and x[2] < y[2])
  end)
end
local result = {}
for i, entry in ipairs(out) do
  result[i] = {entry[1], entry[2], redis.call('HGET', tries, entry[1]) or ''}
end
return result
"""
)

#: KEYS: the ten queue keys. Returns when the next entry is claimable (as a string),
#: ``0`` if an entry new to the group is waiting, or nil if there are none.
NEXT_READY = (
    PREAMBLE
    + """
local kept = redis.call('ZSCORE', due, KEEP) and 1 or 0
if redis.call('XLEN', stream) > redis.call('ZCARD', due) - kept then return '0' end
local person = redis.call('ZRANGEBYSCORE', keyfree, '-inf', '(inf', 'WITHSCORES', 'LIMIT', 0, 1)[2]
local single = redis.call('ZRANGEBYSCORE', loose, '-inf', '(inf', 'WITHSCORES', 'LIMIT', 0, 1)[2]
if person and single then
  if tonumber(single) < tonumber(person) then return single end
  return person
end
return person or single or false
"""
)

#: KEYS: the ten queue keys, then the layout hash. ARGV: connection, layout version,
#: page size. One step of building ``loose``, ``keyq``, ``keyout`` and ``keyfree`` from
#: ``due`` and ``keyof`` (a queue written by a version without them): a page of ``due``
#: per call, so Redis is never held long, from a cursor kept in the layout hash
#: (``building:<cursor>``), so any process can take the build over. Claims wait until it
#: is done (``CLAIM`` hands out nothing meanwhile); settling keeps the pages built up to
#: date, and a page keeps each person's ``keyfree`` the latest of what it saw. Every
#: pending entry of a person goes to ``keyout`` (as if handed out: a parked one, ready,
#: changes nothing). A complete index whose counts disagree with ``due`` (a process of a
#: version without it ran since) is built again. Returns 1 once the index is complete.
REBUILD = (
    PREAMBLE
    + """
local state = redis.call('HGET', KEYS[11], ARGV[1])
if state == ARGV[2] then
  -- Every pending entry is in exactly one of keyout, keyq and loose (each also holds the
  -- member KEEP, as due does): a count that differs means a process of a version without
  -- the index read or settled entries since (a rollback), so the index is built again.
  local indexed = redis.call('ZCARD', keyout) + redis.call('ZCARD', keyq)
    + redis.call('ZCARD', loose) - 2
  if redis.call('ZCARD', due) == indexed then return 1 end
  state = nil
end
local cursor = '0'
if state and string.sub(state, 1, 9) == 'building:' then
  cursor = string.sub(state, 10)
else
  redis.call('DEL', loose, keyfree, keyq, keyout)
  keep_skiplists()
end
local page = redis.call('ZSCAN', due, cursor, 'COUNT', ARGV[3])
local rows = page[2]
for i = 1, #rows, 2 do
  local id, at = rows[i], rows[i + 1]
  local key = redis.call('HGET', keyof, id)
  if id == KEEP then  -- the member keeping ``due`` a skiplist: not an entry
  elseif key then
    redis.call('ZADD', keyout, 0, member(key, id))
    local free = redis.call('ZSCORE', keyfree, key)
    if not free or tonumber(at) > tonumber(free) then redis.call('ZADD', keyfree, at, key) end
  else
    redis.call('ZADD', loose, at, id)
  end
end
if page[1] == '0' then
  redis.call('HSET', KEYS[11], ARGV[1], ARGV[2])
  return 1
end
redis.call('HSET', KEYS[11], ARGV[1], 'building:' .. page[1])
return 0
"""
)
