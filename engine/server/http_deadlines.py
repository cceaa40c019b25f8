"""The three deadlines of a connection of ``http_protocol``, on one timer.

The headers of a request must all arrive within ``header_timeout`` seconds of its first
byte (of the connection's opening, for the first request), else the answer is 408 and the
connection is closed; an idle keep-alive connection is closed after ``keep_alive_timeout``
seconds. No such deadline runs while a request is answered or waits its turn. And a client
must take what is written to it: once the transport's buffer is full (``pause_writing``),
it has ``write_timeout`` seconds to read enough for writing to resume, else the connection
is cut (a client that sends requests and reads none of the answers would otherwise hold
its connection and its answer's task for as long as it stays connected; a close waits for
the buffer to drain, so it would not end it either). The timer is not moved per request:
``_arm`` only brings it forward, and when it fires (``_tick``) it checks the deadlines that
apply now and re-arms itself for the next one still to come.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .http_exchange import HEADER_TIMEOUT, stamped

#: Seconds a client may leave the answers written to it unread while more wait to be
#: written (the transport's buffer full), before its connection is cut.
WRITE_TIMEOUT = 30.0


class Deadlines:
    """Mixed into ``HttpProtocol``, whose state it reads."""

    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport | None
    server_state: Any
    answering: Any
    pending: Any
    header_timeout: float
    keep_alive_timeout: float
    write_timeout: float = WRITE_TIMEOUT
    #: a request's line and headers are arriving, since ``head_since``
    in_head: bool
    head_since: float
    #: the last answer was complete then (or the rest of its body last arrived)
    idle_since: float
    timer: asyncio.TimerHandle | None
    timer_due: float
    #: set while the transport's buffer is full (since ``stalled_since``): ``send`` waits
    writable: asyncio.Future[None] | None
    stalled_since: float

    def pause_writing(self) -> None:
        if self.writable is None:
            self.writable = self.loop.create_future()
            self.stalled_since = self.loop.time()
            self._arm(self.stalled_since + self.write_timeout)

    def resume_writing(self) -> None:
        if self.writable is not None:
            if not self.writable.done():
                self.writable.set_result(None)
            self.writable = None

    def _arm(self, due: float) -> None:
        """Make sure the timer fires by ``due`` (it re-arms itself for a later deadline)."""
        if self.timer is not None:
            if self.timer_due <= due:
                return
            self.timer.cancel()
        self.timer_due = due
        self.timer = self.loop.call_at(due, self._tick)

    def _tick(self) -> None:
        self.timer = None
        transport = self.transport
        if transport is None:
            return
        now = self.loop.time()
        if self.writable is not None:  # the client has not read what was written
            stalled = self.stalled_since + self.write_timeout
            if now >= stalled:
                transport.abort()  # what it left unread is dropped with the connection
                return
            self._arm(stalled)
        if transport.is_closing() or self.answering is not None:
            return  # re-armed when the answer is complete
        if self.in_head:
            due = self.head_since + self.header_timeout
            if now >= due:
                transport.write(stamped(HEADER_TIMEOUT, self.server_state.default_headers))
                transport.close()
                return
        elif self.pending:
            return
        else:
            due = self.idle_since + self.keep_alive_timeout
            if now >= due:
                transport.close()
                return
        self._arm(due)
