"""One request and its answer on a connection of ``http_protocol``: the ASGI ``receive``
and ``send`` of the app's call for it (``Exchange``), and the answers the protocol writes
itself (``STATUS_LINES``, ``plain``).

``receive`` hands the app the body as it arrived (whole, for the usual request that came in
one piece), answers ``Expect: 100-continue`` when first called, and waits only when
nothing has arrived yet. ``send`` checks the app's headers (no control characters, no
separators in names), frames the body by its ``Content-Length`` or in chunks, writes the
head and the body together, and tells the connection when the answer is complete. What
the exchange needs of its connection is ``Connection``: nothing else of it is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
import re
from typing import Any, Protocol
from urllib.parse import unquote

import httptools

from .logs import log_event

#: Body bytes received and not yet asked for before reading pauses.
HIGH_WATER = 64 * 1024

_BAD_NAME = re.compile(rb'[\x00-\x20\x7f()<>@,;:\\"/\[\]?={}]')
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def _status_line(status: int) -> bytes:
    try:
        phrase = http.HTTPStatus(status).phrase.encode()
    except ValueError:
        phrase = b""
    return b"HTTP/1.1 %d %s\r\n" % (status, phrase)


STATUS_LINES = {status: _status_line(status) for status in range(100, 600)}


def plain(status: int, text: bytes, media: bytes = b"text/plain; charset=utf-8") -> bytes:
    """A whole answer that closes the connection, for what the protocol refuses itself
    (``stamped`` as it is written)."""
    return (
        STATUS_LINES[status]
        + b"content-type: %s\r\nconnection: close\r\n" % media
        + b"content-length: %d\r\n\r\n%s" % (len(text), text)
    )


def stamped(answer: bytes, server_headers: Any) -> bytes:
    """``answer`` (a ``plain`` one) with the server's own headers after its status line:
    its ``Date``, as every answer of the app carries (RFC 9110 wants it on all of them)."""
    end = answer.index(b"\r\n") + 2
    own = b"".join(name + b": " + value + b"\r\n" for name, value in server_headers)
    return answer[:end] + own + answer[end:]


BAD_REQUEST = plain(400, b"Invalid HTTP request")
HEAD_TOO_LARGE = plain(431, b"Request header fields too large")
SERVER_ERROR = plain(500, b"Internal Server Error")


HEADER_TIMEOUT = plain(
    408,
    b'{"error":{"code":"header_timeout",'
    b'"message":"the request headers were not received in time"}}',
    b"application/json",
)


class Connection(Protocol):
    """What an exchange uses of its connection (``http_protocol.HttpProtocol``)."""

    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport | None
    #: set while the transport's buffer is full: ``send`` waits for it
    writable: asyncio.Future[None] | None
    server_state: Any
    tasks: set[asyncio.Task[None]]

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def answered(self, exchange: Exchange) -> None: ...

    def write_plain(self, answer: bytes) -> None: ...

    def close(self) -> None: ...


class Exchange:
    """One request and its answer: the ASGI ``receive`` and ``send`` of its app call."""

    __slots__ = (
        "buffered",
        "chunked",
        "chunks",
        "complete",
        "disconnected",
        "done",
        "ended",
        "expect_continue",
        "head",
        "keep_alive",
        "protocol",
        "raw_left",
        "remaining",
        "scope",
        "started",
        "task",
        "waiters",
    )

    def __init__(
        self, protocol: Connection, scope: dict[str, Any], keep_alive: bool, expect: bool
    ) -> None:
        self.protocol = protocol
        self.scope = scope
        self.keep_alive = keep_alive
        self.expect_continue = expect
        self.chunks: list[bytes] = []
        self.buffered = 0
        #: the whole body has arrived; ``ended``: and was handed to the app
        self.complete = False
        self.ended = False
        self.disconnected = False
        #: the ``receive`` calls waiting for more (an app may have two: its reader and a
        #: watch for the client leaving)
        self.waiters: list[asyncio.Future[None]] = []
        self.head: bytes | None = None
        self.started = False
        self.done = False
        self.chunked: bool | None = None
        self.remaining = 0
        self.task: asyncio.Task[None] | None = None
        self.raw_left = 0

    # -- the request ----------------------------------------------------------------------
    def take(self, body: bytes) -> None:
        if self.done:
            return
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER:
            self.protocol.pause_reading()
        self._wake()

    def expect_raw(self, length: int) -> None:
        """The parser skipped this body (an upgrade was asked for): its ``length`` bytes
        come through ``take_raw``."""
        self.complete = False  # the parser called it complete; the app has not run yet
        self.raw_left = length

    def take_raw(self, data: bytes) -> bool:
        """The next bytes of a raw body; True once it is whole (the rest is not read)."""
        if self.raw_left:
            self.take(data[: self.raw_left])
            self.raw_left = max(0, self.raw_left - len(data))
        if not self.raw_left:
            self.finish_body()
        return not self.raw_left

    def finish_body(self) -> None:
        self.complete = True
        self._wake()

    def disconnect(self) -> None:
        self.disconnected = True
        self._wake()

    def _wake(self) -> None:
        if self.waiters:
            waiters, self.waiters = self.waiters, []
            for waiter in waiters:
                if not waiter.done():  # a receive cancelled meanwhile
                    waiter.set_result(None)

    async def receive(self) -> dict[str, Any]:
        protocol = self.protocol
        if self.expect_continue:
            self.expect_continue = False
            if protocol.transport is not None and not self.started:
                protocol.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        while not (
            self.disconnected or self.done or self.chunks or (self.complete and not self.ended)
        ):
            protocol.resume_reading()
            waiter = protocol.loop.create_future()
            self.waiters.append(waiter)
            try:
                await waiter
            except BaseException:  # cancelled (a watch for the client leaving, given up)
                with contextlib.suppress(ValueError):
                    self.waiters.remove(waiter)
                raise
        if self.disconnected or self.done:
            return {"type": "http.disconnect"}
        chunks = self.chunks
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self.chunks = []
        self.buffered = 0
        protocol.resume_reading()
        more = not self.complete
        self.ended = not more
        return {"type": "http.request", "body": body, "more_body": more}

    # -- the answer -----------------------------------------------------------------------
    async def send(self, message: dict[str, Any]) -> None:
        protocol = self.protocol
        if protocol.writable is not None and not self.disconnected:
            await protocol.writable
        if self.disconnected or protocol.transport is None:
            return
        kind = message["type"]
        if not self.started:
            if kind != "http.response.start":
                raise RuntimeError(f"expected http.response.start, got {kind!r}")
            self.head = self._head(message["status"], message.get("headers", ()))
            self.started = True
            self.expect_continue = False
            if self.chunked:  # a streamed answer: its client sees the head at once
                protocol.transport.write(self.head)
                self.head = None
            return
        if self.done or kind != "http.response.body":
            raise RuntimeError(f"unexpected ASGI message {kind!r}")
        body: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        if self.scope["method"] == "HEAD":
            out, self.remaining = b"", 0
        elif self.chunked:
            out = b"%x\r\n%s\r\n" % (len(body), body) if body else b""
            if not more:
                out += b"0\r\n\r\n"
        else:
            if len(body) > self.remaining:
                raise RuntimeError("the answer is longer than its Content-Length")
            self.remaining -= len(body)
            out = body
        if self.head is not None:
            out, self.head = self.head + out, None
        if out:
            protocol.transport.write(out)
        if not more:
            if self.remaining:
                raise RuntimeError("the answer is shorter than its Content-Length")
            self.done = True
            self._wake()
            protocol.answered(self)

    @property
    def unwritten(self) -> bool:
        """Nothing of the answer is written yet (a sized answer's head waits for its body)."""
        return not self.started or self.head is not None

    def _head(self, status: int, headers: Any) -> bytes:
        """The status line and headers (the server's ``Date`` first), checked. An answer to
        ``Expect: 100-continue`` given without reading the body closes the connection:
        the client may send that body or the next request, and which cannot be told."""
        protocol = self.protocol
        if self.expect_continue and not self.complete:
            self.keep_alive = False
        head = [STATUS_LINES.get(status) or _status_line(status)]
        for name, value in protocol.server_state.default_headers:  # the server's own
            head += (name, b": ", value, b"\r\n")
        closes = False
        for name, value in headers:
            if _BAD_NAME.search(name) or _BAD_VALUE.search(value):
                raise RuntimeError("invalid HTTP header name or value")
            name = name.lower()
            if name == b"content-length" and self.chunked is None:
                self.remaining = int(value)
                self.chunked = False
            elif name == b"transfer-encoding" and value.lower() == b"chunked":
                self.remaining = 0
                self.chunked = True
            elif name == b"connection" and b"close" in value.lower():
                self.keep_alive = False
                closes = True
            head += (name, b": ", value, b"\r\n")
        if not self.keep_alive and not closes:
            head.append(b"connection: close\r\n")
        if self.chunked is None and self.scope["method"] != "HEAD" and status not in (204, 304):
            self.chunked = True
            head.append(b"transfer-encoding: chunked\r\n")
        head.append(b"\r\n")
        return b"".join(head)

    async def run(self, app: Any) -> None:
        """Call the app; a failure before the answer is a 500, a failure during it closes."""
        try:
            await app(self.scope, self.receive, self.send)
        except Exception as exc:
            log_event(logging.ERROR, "asgi_app_failed", exc=exc)
            self._abandon()
        except BaseException:  # cancelled (a shutdown past its grace period): close, go on
            self._abandon()
            raise
        else:
            if not self.done and not self.disconnected:
                log_event(logging.ERROR, "asgi_app_unanswered", started=self.started)
                self._abandon()
        finally:
            self.protocol.tasks.discard(self.task)

    def _abandon(self) -> None:
        """The app did not complete its answer: 500 if none began, and close."""
        transport = self.protocol.transport
        if transport is None or transport.is_closing() or self.done:
            return
        if self.unwritten:
            self.protocol.write_plain(SERVER_ERROR)
        self.protocol.close()
        self.done = True
        self.protocol.answered(self)


async def unavailable(scope: Any, receive: Any, send: Any) -> None:
    """The app past ``limit_concurrency``: 503, and the connection closed."""
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", b"19"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"Service Unavailable"})


def declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """A request's ``Content-Length`` (-1 when it is chunked instead), None if neither."""
    names = [name for name, _ in headers]
    if b"transfer-encoding" in names:
        return -1
    for name, value in headers:
        if name == b"content-length" and value.isdigit():
            return int(value)
    return None


def request_scope(
    connection: Any, version: str, method: bytes, url: bytes, headers: list[tuple[bytes, bytes]]
) -> dict[str, Any]:
    """The ASGI scope of a request to ``connection`` (its addresses, scheme and lifespan
    state); a target that is no URL, or not ASCII, is the parser's error (400)."""
    try:
        parsed = httptools.parse_url(url)
        raw_path = parsed.path or b"/"  # absolute form without a path: its root
        path = raw_path.decode("ascii")
        method_name = method.decode("ascii")
    except (httptools.HttpParserInvalidURLError, UnicodeDecodeError) as exc:
        raise httptools.HttpParserError("invalid request target") from exc
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": version,
        "server": connection.server,
        "client": connection.client,
        "scheme": connection.scheme,
        "method": method_name,
        "root_path": "",
        "path": unquote(path) if "%" in path else path,
        "raw_path": raw_path,
        "query_string": parsed.query or b"",
        "headers": headers,
        "state": connection.app_state.copy(),
    }


def socket_address(name: Any) -> tuple[str, int] | None:
    """A socket's address as ASGI gives it (host, port), None for other kinds."""
    if isinstance(name, tuple) and len(name) >= 2:
        return str(name[0]), int(name[1])
    return None
