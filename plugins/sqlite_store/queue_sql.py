"""The SQL behind ``SqliteQueue``: its tables, indexes and statements.

Every statement on a list of ids takes them as one JSON array (``queue_rows.IDS``): one
statement, any count. An acknowledgement of ids that fill a range names its ends instead
(``ACK_RANGE``).
"""

from __future__ import annotations

from .queue_rows import IDS

SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    connection TEXT NOT NULL,
    action TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL DEFAULT 0,
    lease_until REAL NOT NULL DEFAULT 0,
    enqueued_at REAL NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    order_key TEXT NOT NULL DEFAULT '',
    owner TEXT NOT NULL DEFAULT '',
    wire BLOB
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    connection TEXT NOT NULL,
    action TEXT NOT NULL,
    reason TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    enqueued_at REAL NOT NULL,
    failed_at REAL NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'delivery',
    detail TEXT NOT NULL DEFAULT '{}',
    order_key TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS dead_letters_connection ON dead_letters (connection, id);
CREATE TABLE IF NOT EXISTS progress (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS leases (
    id INTEGER PRIMARY KEY,
    lease_until REAL NOT NULL,
    owner TEXT NOT NULL,
    connection TEXT NOT NULL DEFAULT '',
    order_key TEXT NOT NULL DEFAULT '',
    erased INTEGER NOT NULL DEFAULT 0
);
"""

#: Followed by the rows' values (``database.insert_rows``).
INSERT = "INSERT INTO queue (connection, action, enqueued_at, order_key, wire) VALUES"

#: Created once the columns they cover exist (files from before ``order_key`` get them
#: added, and lose ``queue_ready``, the claim index without it). ``lease_until`` in
#: ``queue_claim`` is always 0 since leases have their own table: it costs next to nothing,
#: and a new definition would rebuild the index of every existing file.
#: ``queue_old_leases`` holds the entries leased in their row (by code from before the
#: ``leases`` table): none once ``MOVE_LEASES`` ran, so that check is free at every open.
#: ``leases_key`` finds the holds on a person (see ``CLAIM``); the queue itself has no
#: index by person: writing one entry then updates two indexes, not three, and a person's
#: entries are spread over that index (a group of many people's entries dirtied a page of
#: it per person, at every commit and every acknowledgement).
INDEXES = (
    "DROP INDEX IF EXISTS queue_ready",
    "CREATE INDEX IF NOT EXISTS queue_claim"
    " ON queue (connection, id, not_before, lease_until, order_key)",
    "CREATE INDEX IF NOT EXISTS queue_old_leases ON queue (id) WHERE lease_until > 0",
    "CREATE INDEX IF NOT EXISTS leases_key ON leases (connection, order_key, lease_until)",
    "CREATE INDEX IF NOT EXISTS leases_erased ON leases (connection, lease_until) WHERE erased = 1",
)

#: The index by person that files from before ``leases_key`` have; its presence says that
#: the file's holds must be written (``KEY_OLD_HOLDS``) before it is dropped.
OLD_ORDER_INDEX = "queue_order"

SET_PROGRESS = """
INSERT INTO progress (key, value) VALUES (?, ?)
ON CONFLICT (key) DO UPDATE SET value = excluded.value
"""

# Leases live in their own narrow table, ``leases``, one row per held entry (its id): a
# worker's claim (``owner`` names it) or, with no owner, a retry's delay (``RETRY`` and
# ``RELEASE`` with a ``not_before`` to come write one through ``HOLD``, for entries that
# have a person). Writing a lease there costs a small row, where updating the ``queue`` row
# rewrote the whole record, ``wire`` included, and its index entries. The ``queue`` columns
# ``lease_until`` and ``owner`` stay in old files (SQLite cannot drop them cheaply); they
# are always 0 and '' once ``MOVE_LEASES`` ran at open. A lease row whose ``lease_until``
# has passed holds nothing (the worker crashed, or is slow; the delay is over): the next
# claim replaces it. Settling an entry deletes its lease row in the same transaction; ids
# are never reused, so a lease row can never outlive its entry into a newer one. Each row
# carries its entry's ``connection`` and ``order_key``: the person it holds.
_LEASED = "SELECT 1 FROM leases AS l WHERE l.id = q.id AND l.lease_until > :now"
_HELD = """SELECT 1 FROM leases AS h INDEXED BY leases_key
    WHERE h.connection = :connection AND h.order_key = q.order_key AND h.lease_until > :now"""

# ``queue_claim`` serves claim, depth and next_ready_at from the index alone, a lease by its
# id in ``leases`` (a handful of rows). Claim reads the connection's entries in id order until
# it has ``limit`` ready ones, stepping over the leased or delayed entries before them; depth
# and next_ready_at read all the connection's entries. An entry with an ``order_key`` is ready
# only while no entry of its person is held (leased, or waiting for a retry): ``leases_key``
# finds those holds (the few rows in flight). An earlier entry of the person that is neither
# held nor delayed is ready too and comes first in id order, so a person's entries go out
# oldest first; a later entry that is held (released with a delay, say) makes the earlier
# ones wait for it too, which may delay them, never reorder them. Several entries of one key
# may go in one claim (oldest first, to one worker), never in two at once. ``CLAIM``
# selects, ``LEASE`` writes the leases of what it selected (``:ids``, a JSON array of their
# ids), in one ``BEGIN IMMEDIATE`` transaction: concurrent claimers never get the same entry.
# Each lease row copies its entry's connection and person from the entry's row, just read:
# cheaper than passing them in as JSON pairs and extracting both from every pair.
CLAIM = f"""
SELECT q.id, q.action, q.attempts, q.enqueued_at, q.last_error, q.wire, q.order_key
FROM queue AS q INDEXED BY queue_claim
WHERE q.connection = :connection AND q.not_before <= :now
    AND NOT EXISTS ({_LEASED})
    AND (q.order_key = '' OR NOT EXISTS ({_HELD}))
ORDER BY q.id LIMIT :limit
"""
_LEASE = """
INSERT OR REPLACE INTO leases (id, lease_until, owner, connection, order_key)
SELECT id, :lease, :owner, connection, order_key FROM queue WHERE {}
"""
LEASE = _LEASE.format("id IN (SELECT value FROM json_each(:ids))")
#: ``LEASE`` of a claim whose ids are every integer from ``:first`` to ``:last`` (the
#: claim's rows come in id order, so consecutive ids fill that range and nothing else is in
#: it), as most are: one seek where ``json_each`` parses the list and looks every id up.
LEASE_RANGE = _LEASE.format("id BETWEEN :first AND :last")
#: After ``RETRY`` or ``RELEASE`` (and ``UNLEASE``): the entries of a person that may not go
#: before ``not_before`` hold their person until then.
HOLD = f"""
INSERT OR REPLACE INTO leases (id, lease_until, owner, connection, order_key)
SELECT id, not_before, '', connection, order_key FROM queue
WHERE {IDS} AND order_key != '' AND not_before > ?
"""

# Leased entries of owners that are provably dead (``claim_owner``) are claimable at once.
# Both read ``leases`` alone (the entries in flight: a few).
OWNERS = """
SELECT DISTINCT owner FROM leases WHERE connection = ? AND owner != '' AND lease_until > ?
"""
RECLAIM = """
DELETE FROM leases
WHERE lease_until > ? AND owner IN (SELECT value FROM json_each(?)) AND connection = ?
"""

# Every statement on a list of ids takes them as one JSON array: one statement, any count.
# Each of ``ACK``, ``RETRY`` and ``RELEASE`` goes with ``UNLEASE`` in one transaction.
ACK = f"DELETE FROM queue WHERE {IDS}"
UNLEASE = f"DELETE FROM leases WHERE {IDS}"
RETRY = f"UPDATE queue SET attempts = attempts + 1, not_before = ?, last_error = ? WHERE {IDS}"
RELEASE = f"UPDATE queue SET not_before = ? WHERE {IDS}"
#: ``ACK`` and ``UNLEASE`` for ids that are every integer from the first to the last
#: (``queue_rows.id_range``), as a claim's entries mostly are: the same rows, found by one
#: seek each, where ``json_each`` parses the list and looks every id up.
ACK_RANGE = "DELETE FROM queue WHERE id BETWEEN ? AND ?"
UNLEASE_RANGE = "DELETE FROM leases WHERE id BETWEEN ? AND ?"

#: Leases held in the ``queue`` row by files from before ``leases``, moved there at open in
#: the schema's transaction; then the lease rows of entries gone (settled by such code).
#: A file used at once by code from before ``leases`` and after is not supported: each
#: would ignore the other's leases.
MOVE_LEASES = (
    "INSERT OR REPLACE INTO leases (id, lease_until, owner, connection, order_key)"
    " SELECT id, lease_until, owner, connection, order_key"
    " FROM queue INDEXED BY queue_old_leases WHERE lease_until > 0",
    "UPDATE queue INDEXED BY queue_old_leases SET lease_until = 0, owner = ''"
    " WHERE lease_until > 0",
    "DELETE FROM leases WHERE NOT EXISTS (SELECT 1 FROM queue AS q WHERE q.id = leases.id)",
)

#: Files from before ``leases_key`` (they have ``OLD_ORDER_INDEX``), at open, after
#: ``MOVE_LEASES``: their lease rows learn their entry's person, and the entries of a person
#: waiting for a retry hold it (``HOLD``'s rows), as the claim now expects; then the old
#: index goes. A file used at once by code from before and after is not supported: the old
#: code would write leases naming no person.
KEY_OLD_HOLDS = (
    "UPDATE leases SET (connection, order_key) ="
    " (SELECT connection, order_key FROM queue AS q WHERE q.id = leases.id)",
    "INSERT OR IGNORE INTO leases (id, lease_until, owner, connection, order_key)"
    " SELECT id, not_before, '', connection, order_key FROM queue"
    " WHERE order_key != '' AND not_before > ?",
    f"DROP INDEX IF EXISTS {OLD_ORDER_INDEX}",
)

#: Columns added after the first release, by table, with what old rows get (old entries
#: have no ordering key: each is ordered with no other, as before; and no ``wire``, the
#: item prepared at intake: they are prepared at delivery, as before). Lease rows get their
#: entry's person from ``KEY_OLD_HOLDS``; none was erased (``DROP_PERSON_MARK``).
ADDED_COLUMNS = {
    "dead_letters": {
        "kind": "kind TEXT NOT NULL DEFAULT 'delivery'",
        "detail": "detail TEXT NOT NULL DEFAULT '{}'",
        "order_key": "order_key TEXT NOT NULL DEFAULT ''",
    },
    "leases": {
        "connection": "connection TEXT NOT NULL DEFAULT ''",
        "order_key": "order_key TEXT NOT NULL DEFAULT ''",
        "erased": "erased INTEGER NOT NULL DEFAULT 0",
    },
    "queue": {
        "order_key": "order_key TEXT NOT NULL DEFAULT ''",
        "owner": "owner TEXT NOT NULL DEFAULT ''",
        "wire": "wire BLOB",
    },
}

# The failed delivery counts as an attempt: ``attempts`` of a dead letter is every try,
# over its whole history (computed by the caller from the entry's history).
BURY = """
INSERT INTO dead_letters
    (connection, action, reason, attempts, enqueued_at, failed_at, request, response, order_key)
SELECT connection, ?, ?, ?, enqueued_at, ?, ?, ?, order_key FROM queue WHERE id = ?
"""
RECORD = """
INSERT INTO dead_letters (connection, action, reason, attempts, enqueued_at, failed_at,
    request, response, kind, detail)
VALUES (?, ?, ?, ?, ?, ?, '{}', '{}', 'mapping', ?)
"""
DELETE_ONE = "DELETE FROM queue WHERE id = ?"

NEXT_READY = """
SELECT min(max(q.not_before, coalesce(l.lease_until, 0)))
FROM queue AS q INDEXED BY queue_claim LEFT JOIN leases AS l ON l.id = q.id
WHERE q.connection = ?
"""

DEAD_COLUMNS = (
    "id, connection, action, reason, attempts, enqueued_at, failed_at, request, response, "
    "kind, detail"
)

#: A person's erasure: their entries that no worker holds. ``DROP_PERSON_UNLEASE`` first
#: drops the person's lease rows that ran out and their retries' delays, so every lease row
#: left is a worker's live claim; both run in one transaction. The queue has no index by
#: person: ``DROP_PERSON`` reads the connection's entries in ``queue_claim`` (the person's
#: key is in it), a rare cost an erasure may pay.
#: Entries whose action is named in ``:keep`` (a JSON array: the erasures themselves) are
#: neither dropped nor marked, and one waiting for a retry keeps its delay's hold; nor are
#: the dead letters of such actions (a failed erasure stays for ``dlq retry``).
_NAME = "coalesce(json_extract({}action, '$.a'), '')"
_KEEP = "(SELECT value FROM json_each(:keep))"
_KEPT = f"{_NAME.format('q.')} IN {_KEEP}"
DROP_PERSON_UNLEASE = f"""
DELETE FROM leases INDEXED BY leases_key
WHERE connection = :connection AND order_key = :key AND (lease_until <= :now
    OR owner = '' AND NOT EXISTS (SELECT 1 FROM queue AS q WHERE q.id = leases.id AND {_KEPT}))
"""
DROP_PERSON = f"""
DELETE FROM queue INDEXED BY queue_claim
WHERE connection = :connection AND order_key = :key
    AND NOT EXISTS (SELECT 1 FROM leases AS l WHERE l.id = queue.id)
    AND {_NAME.format("")} NOT IN {_KEEP}
"""
DROP_PERSON_DEAD = f"""
DELETE FROM dead_letters
WHERE connection = :connection AND order_key = :key AND {_NAME.format("")} NOT IN {_KEEP}
"""

# An erasure reaches the person's claimed entries too: ``DROP_PERSON_MARK`` (after
# ``DROP_PERSON_UNLEASE``, in its transaction) marks their live lease rows ``erased``.
# Such an entry is deleted, not given back nor buried, when it is retried, released or
# dead-lettered (``DROP_ERASED``, first in the settle's transaction), and when its lease
# runs out: the next claim deletes it first (``DROP_ERASED_RUN_OUT``, then
# ``UNLEASE_ERASED_RUN_OUT``), as does a restart that finds its owner dead
# (``RECLAIM_ERASED``) or the next ``drop_person`` of the person. An acknowledgement
# deletes it as usual. Marked rows are found through ``leases_erased``, a partial index
# holding them alone: with none (the common case) each of these statements reads an
# empty index, and settling or claiming looks at no entry's mark.
DROP_PERSON_MARK = f"""
UPDATE leases INDEXED BY leases_key SET erased = 1
WHERE connection = :connection AND order_key = :key AND lease_until > :now
    AND NOT EXISTS (SELECT 1 FROM queue AS q WHERE q.id = leases.id AND {_KEPT})
"""
_MARKED = "SELECT id FROM leases INDEXED BY leases_erased WHERE erased = 1"
#: Which of a claim's entries (a JSON array of ids) were marked since: read, no lock taken.
MARKED_AMONG = f"{_MARKED} AND +{IDS}"
DROP_ERASED = f"DELETE FROM queue WHERE id IN ({_MARKED} AND +{IDS})"
DROP_ERASED_RUN_OUT = f"""
DELETE FROM queue WHERE id IN ({_MARKED} AND connection = :connection AND lease_until <= :now)
"""
UNLEASE_ERASED_RUN_OUT = """
DELETE FROM leases INDEXED BY leases_erased
WHERE erased = 1 AND connection = :connection AND lease_until <= :now
"""
RECLAIM_ERASED = f"""
DELETE FROM queue WHERE id IN ({_MARKED}
    AND lease_until > ? AND owner IN (SELECT value FROM json_each(?)) AND connection = ?)
"""

#: ``dlq retry``: delivery dead letters (``{where}``) back to the queue, oldest first. One
#: from before histories were kept has its one failure in its row: it becomes the history
#: the action carries back, so a later failure adds to it.
REQUEUE = """
INSERT INTO queue (connection, action, enqueued_at, order_key)
SELECT connection,
    CASE WHEN json_type(action, '$.h') IS NULL THEN json_set(
        action, '$.h', json_array(json_array(failed_at, reason, attempts))
    ) ELSE action END,
    ?, order_key
FROM dead_letters WHERE {where} ORDER BY id
"""
