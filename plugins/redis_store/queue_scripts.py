"""The server-side (Lua) scripts behind ``RedisQueue``; each runs atomically in Redis.

The data they keep, per connection (key names in ``connection.Keys``):

* ``stream``: one entry per unsettled action, fields ``a`` (the action as JSON) and ``t``
  (when it was enqueued). A consumer group reads it; entries are deleted once settled.
* ``due``: a sorted set holding every *pending* entry (delivered to a consumer, not yet
  settled), scored by the time it may be claimed again: its lease's end, or a retry's
  ``not_before``. Every stream entry is therefore either new to the group or in ``due``,
  which makes ``next_ready_at`` two O(1) counts and a lookup.
* ``tries``: entry id -> ``"attempts|last error"``, only for entries retried before.
* ``keyof``: pending entry id -> its ordering key (entries with one; field ``k`` of the
  stream entry). ``pending``: ordering key -> how many of its entries are pending.

Per-person order: an entry with an ordering key is handed out only when every pending
entry of its key is ready (its lease ran out, its retry time came, or it was parked: read
from the stream while its key was busy, and kept pending, ready, behind the others);
pending entries are taken oldest first, so a key's entries go out in stream order and
never to two claims at once. Leased entries belong to the claiming consumer (one per
process); retried or released ones are moved to the ``WAITING`` consumer, so a dead
consumer's pending entries are exactly its leases (``RECLAIM``).
"""

from __future__ import annotations

from .store import SEEN_LUA

#: The consumer group every delivery process reads a connection's stream in.
GROUP = "mapwire"

#: The consumer that holds retried and released entries until they are claimed again.
WAITING = "~waiting"

#: Count one more (``1``) or one fewer (``-1``) pending entry of an ordering key.
_COUNT_PENDING = """
local function count_pending(pending, key, by)
  if redis.call('HINCRBY', pending, key, by) <= 0 then redis.call('HDEL', pending, key) end
end
"""

#: Forget a pending entry that leaves the queue (settled, or found deleted).
_FORGET = (
    _COUNT_PENDING
    + """
local function forget(due, tries, keyof, pending, id)
  local key = redis.call('HGET', keyof, id)
  if key then
    redis.call('HDEL', keyof, id)
    count_pending(pending, key, -1)
  end
  redis.call('ZREM', due, id)
  redis.call('HDEL', tries, id)
end
"""
)

#: Create the consumer group (and the stream) the first time a connection gets an entry.
_ENSURE_GROUP = """
local function ensure_group(stream, group)
  if redis.call('EXISTS', stream) == 0 then
    redis.call('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')
  end
end
"""

#: KEYS: stream, connections, progress, then every dedup key in order.
#: ARGV: group, connection, enqueued_at, has_progress, progress key, progress value,
#:   now, expires, px, then per action: its number of dedup keys, its JSON and its
#:   ordering key (``""``: none).
ENQUEUE = (
    SEEN_LUA
    + _ENSURE_GROUP
    + """
local stream, group = KEYS[1], ARGV[1]
local now, expires, px = tonumber(ARGV[7]), ARGV[8], ARGV[9]
local keep, k = {}, 4
for i = 10, #ARGV, 3 do
  local new = true
  for _ = 1, tonumber(ARGV[i]) do
    if seen(KEYS[k], now, expires, px) == 0 then new = false end
    k = k + 1
  end
  if new then keep[#keep + 1] = i + 1 end
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
return #keep
"""
)

#: KEYS: stream, due, tries, keyof, pending.
#: ARGV: group, consumer, now, lease_until, limit, scan_cap, park_cap.
#: Returns ``{id, fields, tries}`` per entry, oldest first: ready pending entries (all
#: older than any new entry) whose key is free are taken over with XCLAIM, the rest read
#: with XREADGROUP; a new entry whose key is busy is parked (at most ``park_cap``).
CLAIM = (
    _FORGET
    + """
local stream, due, tries, keyof, pending = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local group, consumer, now, lease_until = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local limit, park_cap = tonumber(ARGV[5]), tonumber(ARGV[7])
if redis.call('EXISTS', stream) == 0 then return {} end
local function older(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if am ~= bm then return tonumber(am) < tonumber(bm) end
  return tonumber(as) < tonumber(bs)
end
local ready = redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, ARGV[6])
table.sort(ready, older)
local key_of, ready_of = {}, {}
for i = 1, #ready, 500 do
  local ids = {}
  for j = i, math.min(i + 499, #ready) do ids[#ids + 1] = ready[j] end
  local keys = redis.call('HMGET', keyof, unpack(ids))
  for j, id in ipairs(ids) do
    local key = keys[j]
    if key then
      key_of[id] = key
      ready_of[key] = (ready_of[key] or 0) + 1
    end
  end
end
-- A key is free when all its pending entries are ready (then they are all in ``ready``,
-- oldest first, and this claim takes them in order); decided once per claim.
local free = {}
local function is_free(key)
  if free[key] == nil then
    free[key] = (tonumber(redis.call('HGET', pending, key)) or 0) <= (ready_of[key] or 0)
  end
  return free[key]
end
local out = {}
for _, id in ipairs(ready) do
  if #out >= limit then break end
  local key = key_of[id]
  if not key or is_free(key) then
    local got = redis.call('XCLAIM', stream, group, consumer, 0, id)
    if got[1] then out[#out + 1] = got[1] else forget(due, tries, keyof, pending, id) end
  end
end
local parked = 0
while #out < limit do
  local got = redis.call(
    'XREADGROUP', 'GROUP', group, consumer, 'COUNT', limit - #out, 'STREAMS', stream, '>')
  if not got or #got[1][2] == 0 then break end
  for _, entry in ipairs(got[1][2]) do
    local fields, key = entry[2], nil
    for j = 1, #fields, 2 do
      if fields[j] == 'k' then key = fields[j + 1] end
    end
    if not key then
      out[#out + 1] = entry
    else
      local take = is_free(key)
      redis.call('HSET', keyof, entry[1], key)
      count_pending(pending, key, 1)
      if take then
        out[#out + 1] = entry
      else
        redis.call('ZADD', due, now, entry[1])
        parked = parked + 1
      end
    end
  end
  if parked >= park_cap then break end
end
local result = {}
for i, entry in ipairs(out) do
  redis.call('ZADD', due, lease_until, entry[1])
  result[i] = {entry[1], entry[2], redis.call('HGET', tries, entry[1]) or ''}
end
return result
"""
)

#: KEYS: stream, due, tries. ARGV: group, not_before, reason, then the ids. Pending
#: entries only; they move to the ``WAITING`` consumer.
RETRY = f"""
local stream, due, tries = KEYS[1], KEYS[2], KEYS[3]
for i = 4, #ARGV do
  local id = ARGV[i]
  if redis.call('ZSCORE', due, id) then
    redis.call('XCLAIM', stream, ARGV[1], '{WAITING}', 0, id, 'JUSTID')
    redis.call('ZADD', due, ARGV[2], id)
    local old = redis.call('HGET', tries, id)
    local n = 0
    if old then n = tonumber(string.match(old, '^(%d+)')) end
    redis.call('HSET', tries, id, (n + 1) .. '|' .. ARGV[3])
  end
end
return 0
"""

#: KEYS: stream, due. ARGV: group, not_before, then the ids. Pending entries only; they
#: move to the ``WAITING`` consumer.
RELEASE = f"""
for i = 3, #ARGV do
  local id = ARGV[i]
  if redis.call('ZSCORE', KEYS[2], id) then
    redis.call('XCLAIM', KEYS[1], ARGV[1], '{WAITING}', 0, id, 'JUSTID')
    redis.call('ZADD', KEYS[2], ARGV[2], id)
  end
end
return 0
"""

#: KEYS: stream, due, tries, keyof, pending. ARGV: group, then the ids. Acknowledge and
#: delete delivered entries.
ACK = (
    _FORGET
    + """
for i = 2, #ARGV do
  local id = ARGV[i]
  redis.call('XACK', KEYS[1], ARGV[1], id)
  redis.call('XDEL', KEYS[1], id)
  forget(KEYS[2], KEYS[3], KEYS[4], KEYS[5], id)
end
return 0
"""
)

#: KEYS: stream, due. ARGV: group, now, then the names of dead consumers. Their pending
#: entries (leases: retried ones belong to ``WAITING``) become claimable now, held by
#: ``WAITING``; a consumer left with none is deleted.
RECLAIM = f"""
local moved = 0
for i = 3, #ARGV do
  local held = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 10000, ARGV[i])
  for _, row in ipairs(held) do
    local id = row[1]
    redis.call('XCLAIM', KEYS[1], ARGV[1], '{WAITING}', 0, id, 'JUSTID')
    local at = redis.call('ZSCORE', KEYS[2], id)
    if at and tonumber(at) > tonumber(ARGV[2]) then redis.call('ZADD', KEYS[2], ARGV[2], id) end
    moved = moved + 1
  end
  if #held < 10000 then redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[i]) end
end
return moved
"""

#: KEYS: stream, due, tries, dead_all, dead_of, keyof, pending, then one item key per entry.
#: ARGV: group, connection, failed_at, then per entry: stream id, dead id, reason,
#:   request JSON, response JSON, the action JSON (with its history), total attempts.
#:   Entries no longer pending are skipped.
DEAD_LETTER = (
    _FORGET
    + """
local stream, due, tries, all, of = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local moved, k = 0, 8
for i = 4, #ARGV, 7 do
  local id, dead = ARGV[i], ARGV[i + 1]
  local found = redis.call('XRANGE', stream, id, id)
  if redis.call('ZSCORE', due, id) and found[1] then
    local fields, entry = found[1][2], {}
    for j = 1, #fields, 2 do entry[fields[j]] = fields[j + 1] end
    redis.call('HSET', KEYS[k], 'c', ARGV[2], 'a', ARGV[i + 5], 't', entry['t'],
      'n', ARGV[i + 6], 'r', ARGV[i + 2], 'f', ARGV[3], 'q', ARGV[i + 3], 's', ARGV[i + 4])
    if entry['k'] then redis.call('HSET', KEYS[k], 'o', entry['k']) end
    redis.call('ZADD', all, dead, dead)
    redis.call('ZADD', of, dead, dead)
    redis.call('XACK', stream, ARGV[1], id)
    redis.call('XDEL', stream, id)
    forget(due, tries, KEYS[6], KEYS[7], id)
    moved = moved + 1
  end
  k = k + 1
end
return moved
"""
)

#: KEYS: stream, connections, dead_all, dead_of, then one item key per dead letter.
#: ARGV: group, connection, enqueued_at, then the dead letter ids (oldest first).
#: Only ``delivery`` dead letters move (a ``mapping`` one has no action to queue).
REQUEUE = (
    _ENSURE_GROUP
    + """
local stream, all, of = KEYS[1], KEYS[3], KEYS[4]
local moved = 0
for i = 4, #ARGV do
  local item = KEYS[i + 1]
  local action = redis.call('HGET', item, 'a')
  local kind = redis.call('HGET', item, 'k') or 'delivery'
  if action and kind == 'delivery' and redis.call('HGET', item, 'c') == ARGV[2] then
    ensure_group(stream, ARGV[1])
    if not string.find(action, '"h":', 1, true) then
      -- From before histories were kept: its one failure (in its fields) becomes the
      -- history, written into the JSON text (never decoded: numbers stay as they are).
      local failure = '[' .. (redis.call('HGET', item, 'f') or '0') .. ','
        .. cjson.encode(redis.call('HGET', item, 'r') or '') .. ','
        .. (redis.call('HGET', item, 'n') or '1') .. ']'
      action = string.sub(action, 1, -2) .. ',"h":[' .. failure .. ']}'
    end
    local key = redis.call('HGET', item, 'o')
    if key then
      redis.call('XADD', stream, '*', 'a', action, 't', ARGV[3], 'k', key)
    else
      redis.call('XADD', stream, '*', 'a', action, 't', ARGV[3])
    end
    redis.call('SADD', KEYS[2], ARGV[2])
    redis.call('DEL', item)
    redis.call('ZREM', all, ARGV[i])
    redis.call('ZREM', of, ARGV[i])
    moved = moved + 1
  end
end
return moved
"""
)

#: KEYS: stream, due. Returns when the next entry is claimable (as a string), ``0`` if
#: an entry new to the group is waiting, or nil if there are none.
NEXT_READY = """
if redis.call('XLEN', KEYS[1]) > redis.call('ZCARD', KEYS[2]) then return '0' end
local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if first[1] then return first[2] end
return false
"""
