"""The three deadlines of a connection of ``http_protocol``, on one timer.

The headers of a request must all arrive within ``header_timeout`` seconds of its first
byte (of the connection's opening, for the first request), else the answer is 408 and the
connection is closed; an idle keep-alive connection is closed after ``keep_alive_timeout``
seconds. No such deadline runs while a request is answered or waits its turn.

And a client must take what is written to it. While the transport's buffer is full
(``pause_writing``), or while a connection closing (``close``, or the client's half-close:
a close waits for the buffer to drain) still has bytes to write, each ``write_timeout``
seconds must see the client take some, else the connection is cut: a client that sends
requests and reads none of the answers would otherwise hold its connection, its buffer
and its answer's task for as long as it stays connected. A slow reader is not cut: only
one that takes nothing for that long. What it has taken is counted from the transport's
buffer and the socket's send queue together (``unsent``): the kernel refills its queue
from the transport's buffer only in large steps, so that buffer alone stands still for
seconds while a slow reader reads.

The timer is not moved per request: ``_arm`` only brings it forward, and when it fires
(``_tick``) it checks the deadlines that apply now and re-arms itself for the next one
still to come.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

from .http_exchange import HEADER_TIMEOUT, stamped

try:  # the socket's send queue: Linux (SIOCOUTQ is TIOCOUTQ) and most POSIX systems
    import fcntl
    import termios

    SEND_QUEUE: int | None = termios.TIOCOUTQ
except (ImportError, AttributeError):  # pragma: no cover - the transport's buffer alone
    SEND_QUEUE = None

#: Seconds within which a client must take some of what waits to be written to it (the
#: transport's buffer full, or a closing connection's not empty), else it is cut off.
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
    #: set while the transport's buffer is full: ``send`` waits for it
    writable: asyncio.Future[None] | None
    #: the bytes written and not yet taken when they last shrank (or began to wait), and
    #: when; ``watching``: since the stall or the close began (else they are stale)
    write_left: int = 0
    stalled_since: float = 0.0
    watching: bool = False

    def pause_writing(self) -> None:
        if self.writable is None:
            self.writable = self.loop.create_future()
            self._watch_writes()

    def resume_writing(self) -> None:
        if self.writable is not None:
            if not self.writable.done():
                self.writable.set_result(None)
            self.writable = None
            self.watching = False

    def write_plain(self, answer: bytes) -> None:
        """Write one of the protocol's own answers (``plain``), dated now."""
        assert self.transport is not None
        self.transport.write(stamped(answer, self.server_state.default_headers))

    def close(self) -> None:
        """Close the connection once what is written has gone (within the write deadline)."""
        transport = self.transport
        if transport is None:
            return
        transport.close()
        if not self.watching and transport.get_write_buffer_size():
            self._watch_writes()

    def eof_received(self) -> bool:
        """The client's half-close: closed as the transport would close itself, watched
        (False: the transport's own close then finds it closing; True would make a TLS
        transport warn that it has no effect)."""
        self.close()
        return False

    def _watch_writes(self) -> None:
        assert self.transport is not None
        self.write_left = unsent(self.transport)
        self.stalled_since = self.loop.time()
        self.watching = True
        self._arm(self.stalled_since + self.write_timeout)

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
        waiting = self.writable is not None or transport.is_closing()
        if waiting and transport.get_write_buffer_size():  # some taken since, or it is cut
            left = unsent(transport)
            if not self.watching or left < self.write_left:
                self.write_left, self.stalled_since, self.watching = left, now, True
            elif now >= self.stalled_since + self.write_timeout:
                transport.abort()  # what is buffered here goes with the connection
                return
            self._arm(self.stalled_since + self.write_timeout)
        if transport.is_closing() or self.answering is not None:
            return  # re-armed when the answer is complete
        if self.in_head:
            due = self.head_since + self.header_timeout
            if now >= due:
                self.write_plain(HEADER_TIMEOUT)
                self.close()
                return
        elif self.pending:
            return
        else:
            due = self.idle_since + self.keep_alive_timeout
            if now >= due:
                self.close()
                return
        self._arm(due)


def unsent(transport: asyncio.Transport) -> int:
    """Bytes written and not yet taken by the client: the transport's buffer and, where the
    system tells, what the socket's send queue holds (sent or not, not yet acknowledged)."""
    buffered = transport.get_write_buffer_size()
    sock = transport.get_extra_info("socket")
    if SEND_QUEUE is None or sock is None:
        return buffered
    try:
        (queued,) = struct.unpack("i", fcntl.ioctl(sock.fileno(), SEND_QUEUE, b"\0\0\0\0"))
    except (OSError, ValueError):
        return buffered
    return buffered + int(queued)
