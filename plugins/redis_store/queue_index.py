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
  of its entries are pending), ``keyout`` (a person's pending entries that were handed out
  at least once: leased, waiting for a retry, released, or given back by a lease that ran
  out; the only ones that can be unready), ``keyq`` (their parked entries, never handed
  out yet: all newer than those in ``keyout``) and ``keyfree`` (person -> when all their
  pending entries are ready: the latest time among ``keyout``'s entries, or when that set
  emptied). ``keyout`` and ``keyq`` are one sorted set each, scored 0 and ordered by
  member: the person's key with its length first, then the stream id padded to a fixed
  width, so one person's entries are one lexicographic range, oldest first.
* ``erased``: the pending entries whose person was erased while a worker held them
  (``person_drop``). Retrying, releasing or dead-lettering one deletes it instead, and so
  does a claim that finds its lease ran out; acknowledging it deletes it as usual. Each
  script asks once whether the set exists, and looks an entry up in it only if it does.

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

#: Binds the ten keys every queue script takes first (in ``Keys.queue_keys`` order) and
#: defines the helpers. ``touched`` collects the people whose ``keyfree`` time must be
#: worked out again (``refresh``) once the script has changed their entries.
PREAMBLE = """
local stream, due, tries, keyof, pending = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local loose, keyfree, keyq, keyout, erased = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local touched = {}
-- Whether any entry is marked erased: looked at once, so settling an entry looks at no
-- mark unless some person was erased while their entries were claimed.
local marked = redis.call('EXISTS', erased) == 1

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

-- A member longer than Redis's listpack limit (64 bytes) that is never a person or an
-- entry (scored +inf, or outside every person's range): it keeps each sorted set a
-- skiplist and each hash a hash table, whose inserts and removals cost O(log n) or O(1),
-- where a small one's listpack costs a copy each time (about three times slower at a
-- hundred members). ``due`` counts it: NEXT_READY takes it off.
local KEEP = '~mapwire~keeps~this~set~a~skiplist~' .. string.rep('~', 40)
local function keep_skiplists()
  redis.call('ZADD', due, 'inf', KEEP)
  redis.call('HSET', keyof, KEEP, '-')
  redis.call('HSET', pending, KEEP, '-')
  redis.call('ZADD', keyfree, 'inf', KEEP)
  redis.call('ZADD', loose, 'inf', KEEP)
  redis.call('ZADD', keyout, 0, KEEP)
  redis.call('ZADD', keyq, 0, KEEP)
end

-- One more or one fewer pending entry of a person; how many they have now.
local function count_pending(key, by)
  local n = redis.call('HINCRBY', pending, key, by)
  if n <= 0 then
    redis.call('HDEL', pending, key)
    redis.call('ZREM', keyfree, key)
  end
  return n
end

-- A pending entry leaves the queue (settled, dropped, or found deleted).
local function forget(id)
  local key = redis.call('HGET', keyof, id)
  if key then
    redis.call('HDEL', keyof, id)
    local m = member(key, id)
    if redis.call('ZREM', keyout, m) == 0 then redis.call('ZREM', keyq, m) end
    if count_pending(key, -1) > 0 then touched[key] = true else touched[key] = nil end
  else
    redis.call('ZREM', loose, id)
  end
  redis.call('ZREM', due, id)
  redis.call('HDEL', tries, id)
  if marked then redis.call('SREM', erased, id) end
end

-- Whether a pending entry's person was erased while it was claimed (``erased``).
local function is_erased(id)
  return marked and redis.call('SISMEMBER', erased, id) == 1
end

-- Acknowledge and delete a pending entry (ARGV[1] is the group): settled, or dropped.
local function drop(id)
  redis.call('XACK', stream, ARGV[1], id)
  redis.call('XDEL', stream, id)
  forget(id)
end

-- A pending entry that was handed out may be claimed again from ``at`` (a score string).
local function schedule(id, at)
  redis.call('ZADD', due, at, id)
  local key = redis.call('HGET', keyof, id)
  if key then touched[key] = true else redis.call('ZADD', loose, at, id) end
end

-- Work out again when each touched person is free: the latest time among the entries
-- of their last hand-out still pending, else ``now``.
local function refresh(now)
  for key in pairs(touched) do
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
  touched = {}
end
"""
