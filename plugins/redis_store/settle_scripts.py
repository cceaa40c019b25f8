"""The settling scripts of ``RedisQueue`` (Lua, each atomic in Redis): acknowledge, give
back (a retry or a release), dead-letter, free a dead consumer's leases, requeue dead
letters. Each keeps the per-person index of ``queue_index`` in step: a person whose
entries it changed gets their ``keyfree`` time worked out again.
"""

from __future__ import annotations

from .queue_index import ENSURE_GROUP, PREAMBLE, WAITING

__all__ = ["ACK", "DEAD_LETTER", "GIVE_BACK", "RECLAIM", "REQUEUE"]

#: KEYS: the ten queue keys. ARGV: group, not_before, whether to count an attempt
#: (``1``: a retry, with its reason; ``0``: a release), reason, now, then the ids. Pending
#: entries only; they move to the ``WAITING`` consumer, but those whose person was erased
#: while they were claimed are deleted instead. Returns how many were deleted so.
GIVE_BACK = (
    PREAMBLE
    + f"""
local dropped = 0
for i = 6, #ARGV do
  local id = ARGV[i]
  if is_erased(id) then
    drop(id)
    dropped = dropped + 1
  elseif redis.call('ZSCORE', due, id) then
    redis.call('XCLAIM', stream, ARGV[1], '{WAITING}', 0, id, 'JUSTID')
    schedule(id, ARGV[2])
    if ARGV[3] == '1' then
      local old = redis.call('HGET', tries, id)
      local n = 0
      if old then n = tonumber(string.match(old, '^(%d+)')) end
      redis.call('HSET', tries, id, (n + 1) .. '|' .. ARGV[4])
    end
  end
end
refresh(ARGV[5])
return dropped
"""
)

#: KEYS: the ten queue keys. ARGV: group, now, then the ids. Acknowledge and delete
#: delivered entries.
ACK = (
    PREAMBLE
    + """
for i = 3, #ARGV do
  drop(ARGV[i])
end
refresh(ARGV[2])
return 0
"""
)

#: KEYS: the ten queue keys. ARGV: group, now, then the names of dead consumers. Their
#: pending entries (leases: retried ones belong to ``WAITING``) become claimable now,
#: held by ``WAITING``, 10,000 per consumer per call; a consumer left with none is
#: deleted. Returns ``{moved, more}``: ``more`` is 1 while some consumer holds more.
RECLAIM = (
    PREAMBLE
    + f"""
local moved, more = 0, 0
for i = 3, #ARGV do
  local held = redis.call('XPENDING', stream, ARGV[1], '-', '+', 10000, ARGV[i])
  for _, row in ipairs(held) do
    local id = row[1]
    redis.call('XCLAIM', stream, ARGV[1], '{WAITING}', 0, id, 'JUSTID')
    local at = redis.call('ZSCORE', due, id)
    if at and tonumber(at) > tonumber(ARGV[2]) then schedule(id, ARGV[2]) end
    moved = moved + 1
  end
  if #held < 10000 then
    redis.call('XGROUP', 'DELCONSUMER', stream, ARGV[1], ARGV[i])
  else
    more = 1
  end
end
refresh(ARGV[2])
return {{moved, more}}
"""
)

#: KEYS: the ten queue keys, dead_all, dead_of, then one item key per entry.
#: ARGV: group, connection, failed_at, then per entry: stream id, dead id, reason,
#:   request JSON, response JSON, the action JSON (with its history), total attempts.
#:   Entries no longer pending are skipped; those whose person was erased while they
#:   were claimed are deleted, not buried. Returns how many were deleted so.
DEAD_LETTER = (
    PREAMBLE
    + """
local all, of = KEYS[11], KEYS[12]
local dropped, k = 0, 13
for i = 4, #ARGV, 7 do
  local id, dead = ARGV[i], ARGV[i + 1]
  local found = redis.call('XRANGE', stream, id, id)
  if is_erased(id) then
    drop(id)
    dropped = dropped + 1
  elseif redis.call('ZSCORE', due, id) and found[1] then
    local fields, entry = found[1][2], {}
    for j = 1, #fields, 2 do entry[fields[j]] = fields[j + 1] end
    redis.call('HSET', KEYS[k], 'c', ARGV[2], 'a', ARGV[i + 5], 't', entry['t'],
      'n', ARGV[i + 6], 'r', ARGV[i + 2], 'f', ARGV[3], 'q', ARGV[i + 3], 's', ARGV[i + 4])
    if entry['k'] then redis.call('HSET', KEYS[k], 'o', entry['k']) end
    redis.call('ZADD', all, dead, dead)
    redis.call('ZADD', of, dead, dead)
    drop(id)
  end
  k = k + 1
end
refresh(ARGV[3])
return dropped
"""
)

#: KEYS: stream, connections, dead_all, dead_of, then one item key per dead letter.
#: ARGV: group, connection, enqueued_at, then the dead letter ids (oldest first).
#: Only ``delivery`` dead letters move (a ``mapping`` one has no action to queue).
REQUEUE = (
    ENSURE_GROUP
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
