"""The server-side (Lua) scripts behind ``RedisQueue``; each runs atomically in Redis.

The data they keep, per connection (key names in ``connection.Keys``):

* ``stream``: one entry per unsettled action, fields ``a`` (the action as JSON) and ``t``
  (when it was enqueued). A consumer group reads it; entries are deleted once settled.
* ``due``: a sorted set holding every *pending* entry (delivered to a consumer, not yet
  settled), scored by the time it may be claimed again: its lease's end, or a retry's
  ``not_before``. Every stream entry is therefore either new to the group or in ``due``,
  which makes ``next_ready_at`` two O(1) counts and a lookup.
* ``tries``: entry id -> ``"attempts|last error"``, only for entries retried before.
"""

from __future__ import annotations

from .store import SEEN_LUA

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
#:   now, expires, px, then per action: its number of dedup keys and its JSON.
ENQUEUE = (
    SEEN_LUA
    + _ENSURE_GROUP
    + """
local stream, group = KEYS[1], ARGV[1]
local now, expires, px = tonumber(ARGV[7]), ARGV[8], ARGV[9]
local keep, k = {}, 4
for i = 10, #ARGV, 2 do
  local new = true
  for _ = 1, tonumber(ARGV[i]) do
    if seen(KEYS[k], now, expires, px) == 0 then new = false end
    k = k + 1
  end
  if new then keep[#keep + 1] = ARGV[i + 1] end
end
if #keep > 0 then
  ensure_group(stream, group)
  for _, action in ipairs(keep) do
    redis.call('XADD', stream, '*', 'a', action, 't', ARGV[3])
  end
  redis.call('SADD', KEYS[2], ARGV[2])
end
if ARGV[4] == '1' then redis.call('HSET', KEYS[3], ARGV[5], ARGV[6]) end
return #keep
"""
)

#: KEYS: stream, due, tries. ARGV: group, consumer, now, lease_until, limit, scan_cap.
#: Returns ``{id, fields, tries}`` per entry, oldest first: ready pending entries (all
#: older than any new entry) are taken over with XCLAIM, the rest read with XREADGROUP.
CLAIM = """
local stream, due, tries = KEYS[1], KEYS[2], KEYS[3]
local group, consumer, lease_until = ARGV[1], ARGV[2], ARGV[4]
local limit = tonumber(ARGV[5])
if redis.call('EXISTS', stream) == 0 then return {} end
local function older(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if am ~= bm then return tonumber(am) < tonumber(bm) end
  return tonumber(as) < tonumber(bs)
end
local out = {}
local ready = redis.call('ZRANGEBYSCORE', due, '-inf', ARGV[3], 'LIMIT', 0, ARGV[6])
table.sort(ready, older)
local wanted = {}
for i = 1, math.min(limit, #ready) do
  local id = ready[i]
  wanted[id] = true
  local got = redis.call('XCLAIM', stream, group, consumer, 0, id)
  if got[1] then out[#out + 1] = got[1] end
end
for _, entry in ipairs(out) do wanted[entry[1]] = nil end
for id in pairs(wanted) do
  redis.call('ZREM', due, id)
  redis.call('HDEL', tries, id)
end
if #out < limit then
  local got = redis.call(
    'XREADGROUP', 'GROUP', group, consumer, 'COUNT', limit - #out, 'STREAMS', stream, '>')
  if got then
    for _, entry in ipairs(got[1][2]) do out[#out + 1] = entry end
  end
end
local result = {}
for i, entry in ipairs(out) do
  redis.call('ZADD', due, lease_until, entry[1])
  result[i] = {entry[1], entry[2], redis.call('HGET', tries, entry[1]) or ''}
end
return result
"""

#: KEYS: due, tries. ARGV: not_before, reason, then the ids. Pending entries only.
RETRY = """
local due, tries = KEYS[1], KEYS[2]
for i = 3, #ARGV do
  local id = ARGV[i]
  if redis.call('ZSCORE', due, id) then
    redis.call('ZADD', due, ARGV[1], id)
    local old = redis.call('HGET', tries, id)
    local n = 0
    if old then n = tonumber(string.match(old, '^(%d+)')) end
    redis.call('HSET', tries, id, (n + 1) .. '|' .. ARGV[2])
  end
end
return 0
"""

#: KEYS: stream, due, tries, dead_all, dead_of, then one item key per entry.
#: ARGV: group, connection, failed_at, then per entry: stream id, dead id, reason,
#:   request JSON, response JSON, the action JSON (with its history), total attempts.
#:   Entries no longer pending are skipped.
DEAD_LETTER = """
local stream, due, tries, all, of = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local moved, k = 0, 6
for i = 4, #ARGV, 7 do
  local id, dead = ARGV[i], ARGV[i + 1]
  local found = redis.call('XRANGE', stream, id, id)
  if redis.call('ZSCORE', due, id) and found[1] then
    local fields, entry = found[1][2], {}
    for j = 1, #fields, 2 do entry[fields[j]] = fields[j + 1] end
    redis.call('HSET', KEYS[k], 'c', ARGV[2], 'a', ARGV[i + 5], 't', entry['t'],
      'n', ARGV[i + 6], 'r', ARGV[i + 2], 'f', ARGV[3], 'q', ARGV[i + 3], 's', ARGV[i + 4])
    redis.call('ZADD', all, dead, dead)
    redis.call('ZADD', of, dead, dead)
    redis.call('XACK', stream, ARGV[1], id)
    redis.call('XDEL', stream, id)
    redis.call('ZREM', due, id)
    redis.call('HDEL', tries, id)
    moved = moved + 1
  end
  k = k + 1
end
return moved
"""

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
    redis.call('XADD', stream, '*', 'a', action, 't', ARGV[3])
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
