"""One HTTP/1.1 connection of the deliverers' transport (``http1``): writes a request,
parses its answer with ``httptools`` and hands the waiting send a copy of it.

An answer is copied out (``Answer``) the moment its last byte is parsed: bytes after it in
the same read (a second answer nobody asked for) can neither change it nor be taken for
the next request's; they retire the connection. So does anything that arrives while the
connection is idle, and an idle connection whose socket is readable (the server closed it,
or sent something) is not reused (``looks_idle``).
"""

from __future__ import annotations

import asyncio
import select
from dataclasses import dataclass
from typing import Any, cast

import httpx

try:  # CPython wheels everywhere; elsewhere httpx's own transport does all of it
    import httptools

    HAVE_HTTPTOOLS = True
except ImportError:  # pragma: no cover - exercised where httptools is not installed
    HAVE_HTTPTOOLS = False


@dataclass(frozen=True, slots=True)
class Answer:
    """A whole answer, as read."""

    status: int
    reason: bytes
    version: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes


class _Stray(Exception):
    """A second answer began where none was asked for."""


class Connection(asyncio.Protocol):
    """One connection's protocol: ``start`` writes a request; ``waiter`` then resolves with
    its ``answer``, or fails with httpx's exception."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser: Any = httptools.HttpResponseParser(self)
        # What h11 (httpx's own parser) takes and llhttp would refuse: a Content-Length
        # beside chunked encoding (the chunks win), a bare LF ending a line.
        self.parser.set_dangerous_leniencies(
            lenient_chunked_length=True, lenient_optional_cr_before_lf=True
        )
        self.waiter: asyncio.Future[None] | None = None
        self.answer: Answer | None = None
        self._reset()
        self.received_at = 0.0  # loop time of the last bytes read: the read timeout's start
        self.uploaded_at = 0.0  # loop time the request's last byte left the write buffer
        self.early: list[bytes] | None = []  # bytes before the first request (None after)
        self.closed_here = False  # closed by this side (a failure, a cancel, ``aclose``)
        self.usable = True  # False once closed, broken, or answered out of turn
        self.idle_since = 0.0
        self.lost: asyncio.Future[None] = self.loop.create_future()
        self.lost_to: Exception | None = None  # why the connection was lost, if it was

    def _reset(self) -> None:
        self.status, self.reason = 0, b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.in_headers = True  # trailers after a chunked body are not headers
        self.until_close = False  # neither a length nor chunks: the body ends at EOF

    # -- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        # Told when the write buffer empties: the upload's end, which the read timeout
        # counts from. (``high=1``: TLS transports pause at ``size >= high``, so 0 would
        # pause with nothing buffered.) Whether the upload is still going is read from
        # the buffer itself (``uploading``), never from these calls.
        self.transport.set_write_buffer_limits(high=1, low=0)

    def resume_writing(self) -> None:
        self.uploaded_at = self.loop.time()

    def data_received(self, data: bytes) -> None:
        self.received_at = self.loop.time()
        if self.early is not None:  # a server may answer (a 503, say) before it is asked
            self.early.append(data)
            return
        if self.waiter is None or self.waiter.done():  # bytes nobody asked for
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("the server switched protocols"))
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, _Stray) or self.waiter.done():
                self.close()  # the answer was taken; what followed it retires the connection
            else:
                self._fail(httpx.RemoteProtocolError(f"the answer is not HTTP/1.1 ({exc})"))

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.usable = False
        if not self.lost.done():
            self.lost.set_result(None)
        self.lost_to = exc
        self._ended()

    def _ended(self) -> None:
        """The connection is gone: the answer is whole (read until the close) or failed."""
        exc = self.lost_to
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if exc is None and self.until_close and not self.in_headers:
            self._complete()  # the body was everything until the server closed
        elif exc is not None:
            waiter.set_exception(httpx.ReadError(f"the connection broke ({type(exc).__name__})"))
        elif self.closed_here:
            waiter.set_exception(httpx.ReadError("the client closed the connection"))
        else:
            waiter.set_exception(
                httpx.RemoteProtocolError("the server closed the connection before answering")
            )

    # -- httptools callbacks ----------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self.answer is not None:  # its answer is in: this one was not asked for
            self.usable = False
            raise _Stray
        self._reset()

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.in_headers:
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.in_headers = False
        self.status = self.parser.get_status_code()
        names = {name.lower() for name, _ in self.headers}
        self.until_close = (
            b"content-length" not in names
            and b"transfer-encoding" not in names
            and self.status >= 200
            and self.status not in (204, 304)
        )

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200:  # an interim answer: the real one follows
            return
        if not self.parser.should_keep_alive():
            self.usable = False
        self._complete()

    # -- use --------------------------------------------------------------------------------
    def start(self, head: bytes, body: bytes) -> None:
        """Write one request; ``waiter`` resolves when its whole answer is in."""
        self.waiter = self.loop.create_future()
        self.answer = None
        self._reset()
        self.received_at = self.uploaded_at = self.loop.time()
        assert self.transport is not None
        if len(body) < 65_536:
            self.transport.write(head + body)
        else:  # not copied into the head's bytes
            self.transport.write(head)
            self.transport.write(body)
        early, self.early = self.early, None
        for data in early or ():  # what the server said before it was asked
            self.data_received(data)
        if self.lost.done():  # and the server has gone since
            self._ended()

    def looks_idle(self) -> bool:
        """Usable, and nothing to read on the socket: the server neither closed it nor sent
        anything since the last answer (httpcore looks the same way before a reuse)."""
        if not self.usable or self.transport is None or self.transport.is_closing():
            return False
        sock = self.transport.get_extra_info("socket")
        if sock is None:
            return True
        try:
            return not _readable(sock.fileno())
        except (OSError, ValueError):
            return False

    def buffered(self) -> int:
        """Bytes of the request still waiting to be written."""
        return self.transport.get_write_buffer_size() if self.transport is not None else 0

    def uploading(self) -> bool:
        """Some of the request is still waiting to be written (its upload goes on)."""
        return self.buffered() > 0

    def _complete(self) -> None:
        version = b"HTTP/" + self.parser.get_http_version().encode("ascii")
        body = b"".join(self.body)
        self.answer = Answer(self.status, self.reason, version, self.headers, body)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def _fail(self, exc: Exception) -> None:
        self.usable = False
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
        self.abort()

    def close(self) -> None:
        """Close once what is written has gone (an answered connection not kept)."""
        self.usable, self.closed_here = False, True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def abort(self) -> None:
        """Close now: nothing buffered is sent, no TLS goodbye is waited for (a connection
        whose exchange failed or was cancelled, whose peer may answer nothing)."""
        self.usable, self.closed_here = False, True
        if self.transport is not None:
            self.transport.abort()


def _readable(fd: int) -> bool:
    """Whether ``fd`` has something to read (or was closed by its peer), at once."""
    if hasattr(select, "poll"):  # any descriptor number, where select() stops at 1023
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    readable, _, _ = select.select([fd], [], [], 0)  # pragma: no cover - no poll: Windows
    return bool(readable)


async def answered(conn: Connection, timeouts: dict[str, float | None]) -> Answer:
    """``conn``'s whole answer, with httpx's timeouts: ``WriteTimeout`` when the upload has
    not moved for ``write`` seconds, ``ReadTimeout`` once ``read`` seconds pass without a
    byte of the answer (between reads, not in all), counted from the end of the upload."""
    waiter = conn.waiter
    assert waiter is not None
    read, write = timeouts.get("read"), timeouts.get("write")
    loop = conn.loop
    timers: list[asyncio.TimerHandle] = []
    moved = [conn.buffered(), loop.time()]  # the write buffer's size, and when it last fell

    def check() -> None:
        if waiter.done():
            return
        now = loop.time()
        if conn.uploading():
            size = conn.buffered()
            if size < moved[0]:
                moved[:] = [size, now]
            if write is not None and now - moved[1] >= write:
                waiter.set_exception(httpx.WriteTimeout(f"the upload stalled for {write:g} s"))
            else:
                timers.append(loop.call_at(now + min(write or 1.0, 1.0), check))
            return
        if read is None:
            return  # no read timeout; the upload is done
        due = max(conn.received_at, conn.uploaded_at) + read
        if now >= due:
            waiter.set_exception(httpx.ReadTimeout(f"no answer within {read:g} s"))
        else:
            timers.append(loop.call_at(due, check))

    if read is not None or write is not None:
        first = min(write or 1.0, 1.0) if conn.uploading() else (read or 0.0)
        timers.append(loop.call_at(loop.time() + first, check))
    try:
        await waiter
    finally:
        if timers:
            timers[-1].cancel()
    assert conn.answer is not None
    return conn.answer
