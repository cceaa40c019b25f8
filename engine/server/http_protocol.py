"""The receiver's HTTP/1.1 connections: httptools' C parser, under uvicorn's server.

uvicorn runs the server: the listening sockets, the signals, the lifespan and the graceful
shutdown (it calls ``shutdown`` on every connection, then waits for them to close). This
protocol takes each connection, and costs a request less than uvicorn's own (about 7 µs
of CPU, measured): no per-request event, timer, wrapper coroutine or done callback, and
a sized answer's head and body written together. It is an ordinary ASGI server to the app:

* each request's scope, ``receive`` and ``send`` (``Exchange``), the body streamed to
  ``receive`` as it arrives, reading paused past ``HIGH_WATER`` bytes not yet asked for;
  ``Expect: 100-continue`` answered when the body is first asked for (an answer given
  without asking closes the connection); a chunked body's trailer fields are dropped,
  never taken for headers;
* pipelined requests answered in order, one at a time, about ``MAX_WAITING`` parsed
  ahead (one ``SLICE`` of requests more at most: a flood is parsed no faster than it is
  answered);
* a request line and headers over ``MAX_HEAD_BYTES`` (counted as they arrive, one endless
  line included) answered 431, a request the parser refuses (its body too, while the app
  answers it, unless the app's answer has begun) answered 400, and the connection
  closed; past ``limit_concurrency`` 503;
* the header, keep-alive and write deadlines on one timer (``http_deadlines``); the rest
  of a body answered early is discarded for ``header_timeout`` seconds, not counted as idle;
* an app that fails before any byte of its answer is written is answered 500 (logged as
  its type and frames, never its message), one that fails mid-answer has its connection
  closed.

``connection_limits.guarded_protocol`` picks it (``server.http``: ``httptools`` or
``auto``); the pure-Python ``h11`` stays uvicorn's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any, cast

import httptools

from .http_deadlines import Deadlines
from .http_exchange import (
    BAD_REQUEST,
    HEAD_TOO_LARGE,
    HIGH_WATER,
    Exchange,
    declared_length,
    request_scope,
    socket_address,
    unavailable,
)
from .logs import log_event

#: The request line and headers of one request, at most (431 past it).
MAX_HEAD_BYTES = 64 * 1024
#: Pipelined requests parsed and waiting their turn: no more is fed to the parser until
#: fewer wait (it may go past by the requests of one ``SLICE``).
MAX_WAITING = 64
#: What is read is fed to the parser this many bytes at a time (one piece when no more).
SLICE = 4096


class _HeadTooLarge(Exception):
    """Raised in a parser callback: the request line and headers passed ``MAX_HEAD_BYTES``."""


class HttpProtocol(Deadlines, asyncio.Protocol):
    """One client connection (uvicorn makes one per connection, with its ``config``)."""

    #: Seconds from a request's first byte to its last header; ``guarded_protocol`` sets it.
    header_timeout: float = 10.0

    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if not config.loaded:
            config.load()
        self.app = config.loaded_app
        self.loop = _loop or asyncio.get_event_loop()
        self.keep_alive_timeout = float(config.timeout_keep_alive)
        self.limit = config.limit_concurrency
        self.server_state = server_state
        self.connections: set[Any] = server_state.connections
        self.tasks: set[asyncio.Task[None]] = server_state.tasks
        self.app_state = app_state
        self.parser = httptools.HttpRequestParser(self)
        # Answer a request even when more follows "Connection: close" (not in old httptools).
        with contextlib.suppress(AttributeError):
            self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
        self.transport: asyncio.Transport | None = None
        self.server: tuple[str, int] | None = None
        self.client: tuple[str, int] | None = None
        self.scheme = "http"
        #: the request being parsed, the one being answered, and those parsed meanwhile
        self.incoming: Exchange | None = None
        self.answering: Exchange | None = None
        self.pending: deque[tuple[Exchange, Any]] = deque()
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        #: the head's bytes as the parser hands them over (checked once it is whole)
        self.head_bytes = 0
        #: bytes fed since the parser last handed over a head, body or message: what a head
        #: (or a trailer) is made of so far, give or take a ``SLICE``
        self.head_fed = 0
        self.expect_continue = False
        #: a request's line and headers are arriving (since ``head_since``)
        self.in_head = True
        self.head_since = self.idle_since = self.loop.time()
        self.timer: asyncio.TimerHandle | None = None
        self.timer_due = 0.0
        self.read_paused = False
        self.writable: asyncio.Future[None] | None = None
        #: no more is read (``_halt``); ``refusal``: written once those before are answered
        self.halted = False
        self.refusal: bytes | None = None
        #: the rest of a body answered early is discarded until then (``header_timeout``)
        self.linger_until = 0.0
        #: what was read and not yet fed to the parser: ``unfed[fed:]`` (``_feed``)
        self.unfed = b""
        self.fed = 0
        #: the request whose body the parser skipped, taken raw (``_upgrade_refused``)
        self.raw_body: Exchange | None = None

    # -- the connection -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.connections.add(self)
        # uvloop's transports are not ``asyncio.Transport`` subclasses, but have its methods
        self.transport = cast(asyncio.Transport, transport)
        self.server = socket_address(transport.get_extra_info("sockname"))
        self.client = socket_address(transport.get_extra_info("peername"))
        if transport.get_extra_info("sslcontext") is not None:
            self.scheme = "https"
        self._arm(self.head_since + self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.discard(self)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.pending.clear()
        for exchange in (self.incoming, self.answering):
            if exchange is not None:
                exchange.disconnect()
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        if self.halted:  # nothing more is read: those before are answered, then it closes
            return
        if self.raw_body is not None:
            self.halted = self.raw_body.take_raw(data)
            return
        if self.unfed:  # read while requests wait parsed (reading pauses, a read may land)
            self.unfed = bytes(memoryview(self.unfed)[self.fed :]) + data
            self.fed = 0
        else:
            self.unfed = data
        self._feed()

    def _feed(self) -> None:
        """Feed what was read to the parser, in slices of ``SLICE`` bytes past one, and
        stop while ``MAX_WAITING`` requests wait parsed: the rest is fed as they are
        answered (reading stays paused meanwhile), so a flood of small pipelined requests
        is parsed no faster than it is answered."""
        data = self.unfed
        while self.fed < len(data) and not self.halted and not self._closing:
            if len(self.pending) >= MAX_WAITING:
                self.pause_reading()
                return
            start = self.fed
            chunk = data if start == 0 and len(data) <= SLICE else data[start : start + SLICE]
            self.fed = start + len(chunk)
            self._feed_one(chunk, data, start)
        self.unfed, self.fed = b"", 0
        self.resume_reading()

    def _feed_one(self, chunk: bytes, data: bytes, start: int) -> None:
        """One slice (``data[start:]`` from where it begins) to the parser, its refusals.
        A head is held to its limit exactly once whole (``on_headers_complete``), and on the
        way by the bytes fed: the parser holds a header (or a trailer field) until its line
        ends, so an endless line is caught too, give or take a ``SLICE``."""
        self.head_fed += len(chunk)
        try:
            self.parser.feed_data(chunk)
        except httptools.HttpParserUpgrade as upgrade:  # not served: answered as HTTP, closed
            self.fed = len(data)
            if self.incoming is not None:
                self._upgrade_refused(self.incoming, data[start + upgrade.args[0] :])
            return
        except httptools.HttpParserError as exc:
            # What a callback raised comes back as the context of the parser's error.
            cause = exc.__context__
            if isinstance(cause, _HeadTooLarge):
                self._refuse(HEAD_TOO_LARGE, "head_too_large")
                return
            if cause is not None and not isinstance(cause, httptools.HttpParserError):
                log_event(logging.ERROR, "http_protocol_failed", exc=cause)
            self._refuse(BAD_REQUEST, "bad_request")
            return
        if self.head_fed > MAX_HEAD_BYTES:
            self._refuse(HEAD_TOO_LARGE, "head_too_large")

    def _upgrade_refused(self, exchange: Exchange, rest: bytes) -> None:
        """The parser skips the body of a request asking for an upgrade (``curl --http2``
        asks for h2c on every request): its ``Content-Length`` bytes are taken here, and
        nothing after them is read. A chunked one cannot be: 400."""
        exchange.keep_alive = False
        length = declared_length(exchange.scope["headers"])
        if length is None or exchange.scope["method"] == "CONNECT":
            exchange.finish_body()
            self.halted = True
        elif length < 0:
            self._refuse(BAD_REQUEST, "bad_request")
        else:
            self.raw_body = exchange
            exchange.expect_raw(length)
            self.halted = exchange.take_raw(rest)

    def _refuse(self, answer: bytes, reason: str) -> None:
        """Answer a request the protocol cannot take, and close the connection. If it is
        the one being answered (its body is broken), the app sees the client gone and the
        answer is written unless the app's has begun; if it comes after the one being
        answered, those before it are answered first (``_halt``)."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        log_event(logging.WARNING, "http_request_refused", reason=reason)
        answering = self.answering
        if answering is not None and answering is self.incoming and not self.in_head:
            answering.disconnect()
            if answering.unwritten:
                self.write_plain(answer)
        elif answering is not None:
            if self.pending and self.pending[-1][0] is self.incoming and not self.in_head:
                self.pending.pop()  # its head was taken and its body is broken: never run
            self._halt(answer)
            return
        else:
            self.write_plain(answer)
        self.close()

    def _halt(self, answer: bytes | None) -> None:
        """Read no more: answer the requests parsed so far, then write ``answer`` (if any)
        and close."""
        self.halted = True
        self.refusal = answer
        self.pause_reading()

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown: close when idle, else after the current answer."""
        if self.transport is None:
            return
        self.pending.clear()
        if self.answering is None:
            self.close()
        else:
            self.answering.keep_alive = False

    # -- flow control ---------------------------------------------------------------------
    def pause_reading(self) -> None:
        if not self.read_paused and self.transport is not None:
            self.read_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        """Read on, unless parsed requests wait their turn (each read could queue more)."""
        if self.read_paused and self.transport is not None and not self.holding:
            self.read_paused = False
            self.transport.resume_reading()

    @property
    def _closing(self) -> bool:
        return self.transport is None or self.transport.is_closing()

    @property
    def holding(self) -> bool:
        """Reading stays paused: requests wait parsed, read bytes wait to be fed, no more is
        read (``_halt``), or the body arriving is ``HIGH_WATER`` ahead of its app."""
        incoming = self.incoming
        return bool(self.pending or self.unfed or self.halted) or (
            incoming is not None and not incoming.done and incoming.buffered > HIGH_WATER
        )

    # -- the parser's callbacks -----------------------------------------------------------
    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = []
        self.head_bytes = 0
        self.expect_continue = False
        if not self.in_head:
            self.in_head = True
            self.head_since = self.loop.time()
            self._arm(self.head_since + self.header_timeout)

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.in_head:  # a trailer field of a chunked body: never a request header
            return
        self.head_bytes += len(name) + len(value)
        name = name.lower()
        value = value.rstrip(b" \t")  # the parser keeps trailing whitespace; RFC 9110 does not
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_continue = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self.head_bytes + len(self.url) > MAX_HEAD_BYTES:
            raise _HeadTooLarge
        parser = self.parser
        version = parser.get_http_version()
        # First: a target refused here is this request's fault, while ``in_head`` says so.
        scope = request_scope(self, version, parser.get_method(), self.url, self.headers)
        self.in_head = False
        self.head_fed = 0
        keep_alive = version != "1.0" and parser.should_keep_alive()
        exchange = Exchange(self, scope, keep_alive, self.expect_continue)
        self.incoming = exchange
        app = self.app
        if self.limit is not None and (
            len(self.connections) >= self.limit or len(self.tasks) >= self.limit
        ):
            app = unavailable
        if self.answering is None:
            self._start(exchange, app)
        else:  # pipelined: answered once the one before is
            self.pending.append((exchange, app))
            self.pause_reading()

    def on_body(self, body: bytes) -> None:
        self.head_fed = 0
        exchange = self.incoming
        if exchange is None:
            return
        if exchange.done:  # answered early: the rest of its body is discarded, for a while
            self.idle_since = min(self.loop.time(), self.linger_until)
        else:
            exchange.take(body)

    def on_message_complete(self) -> None:
        self.head_fed = 0
        exchange = self.incoming
        if exchange is not None:
            exchange.finish_body()

    # -- requests in turn -----------------------------------------------------------------
    def _start(self, exchange: Exchange, app: Any) -> None:
        self.answering = exchange
        # In the server's tasks while it runs (its shutdown waits for them); ``run`` takes
        # it out as it ends: cheaper than a done callback, which costs a turn of the loop.
        exchange.task = task = self.loop.create_task(exchange.run(app))
        self.tasks.add(task)

    def answered(self, exchange: Exchange) -> None:
        """``exchange``'s answer is complete: close, or go on to the next request."""
        self.server_state.total_requests += 1
        if self.answering is exchange:
            self.answering = None
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if not exchange.keep_alive:
            self.close()
            return
        if not exchange.complete:  # answered early: the rest of its body has this long
            self.linger_until = self.loop.time() + self.header_timeout
        if self.unfed:  # a turn of the loop later: what was read waits for the answers
            self.loop.call_soon(self._feed)
        if self.pending:
            self._start(*self.pending.popleft())
        elif self.halted:
            if self.refusal is not None:
                self.write_plain(self.refusal)
            self.close()
            return
        elif self.in_head:  # the next request has begun to arrive
            self._arm(self.head_since + self.header_timeout)
        else:
            self.idle_since = self.loop.time()
            self._arm(self.idle_since + self.keep_alive_timeout)
        self.resume_reading()  # once no parsed request waits (``resume_reading``)
