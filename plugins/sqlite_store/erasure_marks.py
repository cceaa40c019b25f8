"""An erasure in the SQLite queue: ``drop_person`` deletes a person's entries no worker
holds and marks those claimed (``leases.erased``); ``drop_erased`` finds, among a claim's
entries not yet sent, those marked since the claim, and deletes them.

A ``SqliteQueue`` part (it supplies ``_connection`` and ``_clock``); the statements and
how settling treats a marked entry are in ``queue_sql`` (``DROP_PERSON_MARK`` on).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from . import queue_sql as sql
from .database import immediate
from .queue_rows import dumps, id_list


class ErasureMarks:
    """``drop_person`` and ``drop_erased`` of ``SqliteQueue`` (which supplies ``_clock``
    and ``_connection``)."""

    def drop_person(self, connection: str, order_key: str, keep: Collection[str] = ()) -> int:
        """Delete, in one transaction, the entries of ``order_key`` no worker holds (new,
        waiting for a retry, or whose lease ran out) and its dead letters, and mark its
        leased ones (they may be in flight), which settling deletes unless acknowledged
        (``sql.DROP_PERSON_MARK``); entries and dead letters whose action is in ``keep``
        are left alone. Returns how many were deleted."""
        if not order_key:
            return 0
        queue: Any = self
        keeps = dumps(sorted(keep))
        args = {"connection": connection, "key": order_key, "now": queue._clock(), "keep": keeps}
        with queue._connection() as conn, immediate(conn):
            conn.execute(sql.DROP_PERSON_UNLEASE, args)
            dropped = int(conn.execute(sql.DROP_PERSON, args).rowcount)
            conn.execute(sql.DROP_PERSON_MARK, args)
            return dropped + int(conn.execute(sql.DROP_PERSON_DEAD, args).rowcount)

    def drop_erased(self, ids: Sequence[Any]) -> list[Any]:
        """Of the claimed entries ``ids``, delete those marked since they were claimed
        (their person erased) and their leases; returns their ids. The look for marks
        takes no write lock (it reads the empty ``leases_erased`` index when no person was
        erased); only a mark found deletes, in one transaction."""
        if not ids:
            return []
        queue: Any = self
        with queue._connection() as conn:
            marked = [row[0] for row in conn.execute(sql.MARKED_AMONG, (id_list(ids),))]
            if marked:
                gone = id_list(marked)
                with immediate(conn):
                    conn.execute(sql.ACK, (gone,))
                    conn.execute(sql.UNLEASE, (gone,))
        return marked
