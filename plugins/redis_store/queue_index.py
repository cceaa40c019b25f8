"""The per-person index of a Redis queue, and the Lua helpers every queue script shares.

What a connection keeps (key names in ``connection.Keys``; ``queue_scripts`` and
``settle_scripts`` are the scripts that change it):

* ``stream``: one entry per unsettled action, fields ``a`` (the action as JSON), ``t``
  (when it was enqueued) and ``k`` (its ordering key, if it has one). A consumer group
  reads it; an entry is deleted once settled.
* ``due``: every *pending* entry (read by the group, not yet settled) -> when it may be
  claimed again: its lease's end, a retry's ``not_before``, or, for an entry read while
  its person was busy (*parked*), the time it was read. So every stream entry is either
  new to the group or in ``due``. ``tries``: entry id -> ``"attempts|last error"``.
* Entries without an ordering key: ``loose``, the same scores as ``due`` for them alone.
* Entries with one (a *person*): ``keyof`` (entry id -> key), ``pending`` (key -> how many
  of its entries are pending), ``keyq`` (every pending entry of every person, in stream
  order per person), ``keyout`` (the entries of a person's last hand-out still pending,
  and any entry of theirs retried or released since: the only ones that can be unready)
  and ``keyfree`` (person -> when all their pending entries are ready: the latest time
  among ``keyout``'s entries, or the time that set emptied). ``keyq`` and ``keyout`` are
  one sorted set each, scored 0 and ordered by member: the person's key with its length
  first, then the stream id padded to a fixed width, so one person's entries are one
  lexicographic range, oldest first.

A claim therefore never scans entries it cannot take: the people it may serve are the
``keyfree`` range up to now, and the entries without a key the ``loose`` range, both
oldest-ready first, at any size of the backlog. A person with parked entries costs one
``keyfree`` member, however many entries wait behind their first.
"""

from __future__ import annotations

#: The consumer group every delivery process reads a connection's stream in.
GROUP = "mapwire"

#: The consumer that holds retried and released entries until they are claimed again.
WAITING = "~waiting"

#: The version of the index above; a connection written by an older version is rebuilt
#: from ``due`` and ``keyof`` (``queue_scripts.REBUILD``) before its first claim.
LAYOUT = "2"

#: Create the consumer group (and the stream) the first time a connection gets an entry.
ENSURE_GROUP = """
local function ensure_group(stream, group)
  if redis.call('EXISTS', stream) == 0 then
    redis.call('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')
  end
end
"""

#: Binds the nine keys every queue script takes first (in ``RedisQueue._pending_keys``
#: order) and defines the helpers. ``touched`` collects the people whose ``keyfree`` time
#: must be worked out again (``refresh``) once the script has changed their entries.
PREAMBLE = """
local stream, due, tries, keyof, pending = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local loose, keyfree, keyq, keyout = KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local touched = {}

local function pad(digits) return string.rep('0', 20 - #digits) .. digits end

-- The range of one person's members in keyq and keyout: lower and upper bound, prefix.
local function range_of(key)
  local p = #key .. ':' .. key .. ':'
  return '[' .. p, '(' .. p .. ';', p
end

local function member(key, id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return #key .. ':' .. key .. ':' .. pad(ms) .. '-' .. pad(seq)
end

local function id_of(m, p)
  local ms, seq = string.match(string.sub(m, #p + 1), '^0*(%d+)-0*(%d+)$')
  return ms .. '-' .. seq
end

local function count_pending(key, by)
  if redis.call('HINCRBY', pending, key, by) <= 0 then
    redis.call('HDEL', pending, key)
    redis.call('ZREM', keyfree, key)
  end
end

-- A pending entry leaves the queue (settled, dropped, or found deleted).
local function forget(id)
  local key = redis.call('HGET', keyof, id)
  if key then
    redis.call('HDEL', keyof, id)
    local m = member(key, id)
    redis.call('ZREM', keyq, m)
    redis.call('ZREM', keyout, m)
    count_pending(key, -1)
    touched[key] = true
  else
    redis.call('ZREM', loose, id)
  end
  redis.call('ZREM', due, id)
  redis.call('HDEL', tries, id)
end

-- A pending entry may be claimed again from ``at`` (a score string). A person's entry
-- joins ``keyout`` (one settled late, by a worker whose lease ran out, may not be in it).
local function schedule(id, at)
  redis.call('ZADD', due, at, id)
  local key = redis.call('HGET', keyof, id)
  if key then
    redis.call('ZADD', keyout, 0, member(key, id))
    touched[key] = true
  else
    redis.call('ZADD', loose, at, id)
  end
end

-- Work out again when each touched person is free: the latest time among the entries
-- of their last hand-out still pending, else ``now``.
local function refresh(now)
  for key in pairs(touched) do
    if redis.call('HEXISTS', pending, key) == 1 then
      local lo, hi, p = range_of(key)
      local at, latest = nil, nil
      for _, m in ipairs(redis.call('ZRANGEBYLEX', keyout, lo, hi)) do
        local score = redis.call('ZSCORE', due, id_of(m, p))
        if score and (latest == nil or tonumber(score) > latest) then
          at, latest = score, tonumber(score)
        end
      end
      redis.call('ZADD', keyfree, at or now, key)
    end
  end
  touched = {}
end
"""
