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
* pipelined requests answered in order, one at a time, reading paused while any waits
  parsed (so a flood is parsed no faster than it is answered);
* a request line and headers over ``MAX_HEAD_BYTES`` (counted as they arrive, one endless
  line included) answered 431, a request the parser refuses (its body too, while the app
  answers it, unless the app's answer has begun) answered 400, and the connection
  closed; past ``limit_concurrency`` 503;
* one timer per connection, for both deadlines: the headers of a request must all arrive
  within ``header_timeout`` seconds of its first byte (of the connection's opening, for
  the first request), else 408 and close; an idle keep-alive connection is closed after
  ``timeout_keep_alive`` seconds (the rest of a body answered early still arriving is
  not idleness);
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
from urllib.parse import unquote

import httptools

from .http_exchange import (
    BAD_REQUEST,
    HEAD_TOO_LARGE,
    TIMEOUT_ANSWER,
    TIMEOUT_BODY,
    Exchange,
    unavailable,
)
from .logs import log_event

#: The request line and headers of one request, at most (431 past it).
MAX_HEAD_BYTES = 64 * 1024


class _HeadTooLarge(Exception):
    """Raised in a parser callback: the request line and headers passed ``MAX_HEAD_BYTES``."""


class HttpProtocol(asyncio.Protocol):
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
        # Answer a request even when the client sends more after "Connection: close" (an
        # older httptools has no such setting).
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
        self.head_bytes = 0
        #: bytes received while the current head was incomplete
        self.head_fed = 0
        self.expect_continue = False
        #: a request's line and headers are arriving (since ``head_since``)
        self.in_head = True
        self.head_since = self.idle_since = self.loop.time()
        self.timer: asyncio.TimerHandle | None = None
        self.timer_due = 0.0
        self.read_paused = False
        self.writable: asyncio.Future[None] | None = None

    # -- the connection -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.connections.add(self)
        # uvloop's transports are not ``asyncio.Transport`` subclasses, but have its methods
        self.transport = cast(asyncio.Transport, transport)
        self.server = _address(transport.get_extra_info("sockname"))
        self.client = _address(transport.get_extra_info("peername"))
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

    def eof_received(self) -> bool | None:
        return None  # the transport closes itself

    def data_received(self, data: bytes) -> None:
        # The parser hands a header over only once its line ends: one endless line is held
        # to the limit by the bytes that arrive while a head is incomplete.
        if self.in_head:
            self.head_fed += len(data)
        try:
            self.parser.feed_data(data)
            if self.in_head and self.head_fed > MAX_HEAD_BYTES:
                raise _HeadTooLarge
        except _HeadTooLarge:
            self._refuse(HEAD_TOO_LARGE, "head_too_large")
        except httptools.HttpParserUpgrade:  # no upgrade is served: answered as HTTP, closed
            if self.incoming is not None:
                self.incoming.keep_alive = False
                self.incoming.finish_body()
        except httptools.HttpParserError as exc:
            # What a callback raised comes back as the context of the parser's error.
            cause = exc.__context__
            if isinstance(cause, _HeadTooLarge):
                self._refuse(HEAD_TOO_LARGE, "head_too_large")
                return
            if cause is not None and not isinstance(cause, httptools.HttpParserError):
                log_event(logging.ERROR, "http_protocol_failed", exc=cause)
            self._refuse(BAD_REQUEST, "bad_request")

    def _refuse(self, answer: bytes, reason: str) -> None:
        """Answer a request the protocol cannot take and close the connection. If it is the
        one being answered (its body is broken), the app sees the client gone; the answer
        is written unless the app's has begun."""
        log_event(logging.WARNING, "http_request_refused", reason=reason)
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        answering = self.answering
        if answering is not None and answering is self.incoming and not self.in_head:
            answering.disconnect()
            if answering.unwritten:
                answering = None
        if answering is None:
            transport.write(answer)
        transport.close()

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown: close when idle, else after the current answer."""
        if self.transport is None:
            return
        self.pending.clear()
        if self.answering is None:
            self.transport.close()
        else:
            self.answering.keep_alive = False

    # -- flow control ---------------------------------------------------------------------
    def pause_reading(self) -> None:
        if not self.read_paused and self.transport is not None:
            self.read_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        """Read on, unless parsed requests wait their turn (each read could queue more)."""
        if self.read_paused and self.transport is not None and not self.pending:
            self.read_paused = False
            self.transport.resume_reading()

    def pause_writing(self) -> None:
        if self.writable is None:
            self.writable = self.loop.create_future()

    def resume_writing(self) -> None:
        if self.writable is not None:
            if not self.writable.done():
                self.writable.set_result(None)
            self.writable = None

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
        self._count(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        if not self.in_head:  # a trailer field of a chunked body: never a request header
            return
        name = name.lower()
        value = value.rstrip(b" \t")  # the parser keeps trailing whitespace; RFC 9110 does not
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_continue = True
        self.headers.append((name, value))

    def _count(self, size: int) -> None:
        self.head_bytes += size
        if self.head_bytes > MAX_HEAD_BYTES:
            raise _HeadTooLarge

    def on_headers_complete(self) -> None:
        self.in_head = False
        self.head_fed = 0
        parser = self.parser
        version = parser.get_http_version()
        try:
            method = parser.get_method().decode("ascii")
            parsed = httptools.parse_url(self.url)
            raw_path = parsed.path or b"/"  # absolute form without a path: its root
            path = raw_path.decode("ascii")
        except (httptools.HttpParserInvalidURLError, UnicodeDecodeError) as exc:
            raise httptools.HttpParserError("invalid request target") from exc
        if "%" in path:
            path = unquote(path)
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": version,
            "server": self.server,
            "client": self.client,
            "scheme": self.scheme,
            "method": method,
            "root_path": "",
            "path": path,
            "raw_path": raw_path,
            "query_string": parsed.query or b"",
            "headers": self.headers,
            "state": self.app_state.copy(),
        }
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
        exchange = self.incoming
        if exchange is None:
            return
        if exchange.done:  # answered early, the rest of its body discarded: not idleness
            self.idle_since = self.loop.time()
        else:
            exchange.take(body)

    def on_message_complete(self) -> None:
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
            transport.close()
            return
        if self.pending:
            self._start(*self.pending.popleft())
        elif self.in_head:  # the next request has begun to arrive
            self._arm(self.head_since + self.header_timeout)
        else:
            self.idle_since = self.loop.time()
            self._arm(self.idle_since + self.keep_alive_timeout)
        self.resume_reading()  # once no parsed request waits (``resume_reading``)

    # -- the deadlines --------------------------------------------------------------------
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
                transport.write(TIMEOUT_ANSWER % (len(TIMEOUT_BODY), TIMEOUT_BODY))
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


def _address(name: Any) -> tuple[str, int] | None:
    if isinstance(name, tuple) and len(name) >= 2:
        return str(name[0]), int(name[1])
    return None
