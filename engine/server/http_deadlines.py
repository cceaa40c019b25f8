"""The two deadlines of a connection of ``http_protocol``, on one timer.

The headers of a request must all arrive within ``header_timeout`` seconds of its first
byte (of the connection's opening, for the first request), else the answer is 408 and the
connection is closed; an idle keep-alive connection is closed after ``keep_alive_timeout``
seconds. No deadline runs while a request is answered or waits its turn. The timer is not
moved per request: ``_arm`` only brings it forward, and when it fires (``_tick``) it
checks the deadline that applies now and re-arms itself for it if it is still to come.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .http_exchange import HEADER_TIMEOUT


class Deadlines:
    """Mixed into ``HttpProtocol``, whose state it reads."""

    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport | None
    answering: Any
    pending: Any
    header_timeout: float
    keep_alive_timeout: float
    #: a request's line and headers are arriving, since ``head_since``
    in_head: bool
    head_since: float
    #: the last answer was complete then (or the rest of its body last arrived)
    idle_since: float
    timer: asyncio.TimerHandle | None
    timer_due: float

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
        if transport is None or transport.is_closing() or self.answering is not None:
            return  # re-armed when the answer is complete
        now = self.loop.time()
        if self.in_head:
            due = self.head_since + self.header_timeout
            if now >= due:
                transport.write(HEADER_TIMEOUT)
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
