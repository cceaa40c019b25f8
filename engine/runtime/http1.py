"""The deliverers' HTTP/1.1 transport: what sends every vendor request, under httpx.

httpx's own transport (httpcore over anyio) costs about 300 µs of CPU per request on
these machines, most of it in cancel scopes, locks and per-event objects; a deliverer
sends a request per 100-250 actions, so that is 1-3 µs of every action. This transport
keeps httpx's client (its API, its timeouts, its exceptions, its proxies) and replaces
only the part that talks to the socket: an ``asyncio.Protocol`` per connection, the
request written in one piece, the answer parsed by ``httptools`` (the C parser the
receiver already uses), connections kept alive per origin. It costs about a third.

What it does not handle goes to httpx's own transport, unchanged: ``HEAD`` (an answer
without the body its headers announce), a streamed request body, and everything when
``httptools`` is missing (``make_transport``). Proxies never reach it: httpx sends a
proxied URL through the proxy's own transport.

Failures are httpx's exceptions, as httpcore would raise them: ``ConnectError`` and
``ConnectTimeout`` before the request went out, ``ReadTimeout`` when the answer stops
coming for the ``read`` timeout, ``RemoteProtocolError`` when the server closes the
connection or answers something that is not HTTP/1.1, ``PoolTimeout`` when every
connection stays busy for the ``pool`` timeout. A connection whose answer was not read
to its end (a failure, a cancelled send) is closed, never reused.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import defaultdict
from typing import Any, cast

import httpx

try:  # CPython wheels everywhere; elsewhere httpx's own transport does all of it
    import httptools

    HAVE_HTTPTOOLS = True
except ImportError:  # pragma: no cover - exercised where httptools is not installed
    HAVE_HTTPTOOLS = False

#: Origins are (scheme, host, port).
Origin = tuple[str, str, int]

_DEFAULT_PORTS = {"http": 80, "https": 443}


class _Answer(asyncio.Protocol):
    """One connection: writes a request, parses its answer, tells the waiting send."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser: Any = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[None] | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.status = 0
        self.received = 0  # bytes so far: a read timeout looks for progress
        self.until_close = False  # an answer with neither length nor chunks ends at EOF
        self.usable = True  # False once closed, broken, or answered out of turn
        self.idle_since = 0.0
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # -- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        if self.waiter is None or self.waiter.done():  # bytes nobody asked for
            self.usable = False
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("the server switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"the answer is not HTTP/1.1 ({exc})"))

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.usable = False
        if not self.lost.done():
            self.lost.set_result(None)
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if self.until_close and self.status:
            waiter.set_result(None)  # the answer's body was everything until the close
        else:
            waiter.set_exception(
                httpx.RemoteProtocolError("the server closed the connection before answering")
            )

    # -- httptools callbacks ----------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
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
            self.headers, self.body, self.status = [], [], 0
            return
        if not self.parser.should_keep_alive():
            self.usable = False
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    # -- use --------------------------------------------------------------------------------
    def start(self, head: bytes, body: bytes, loop: asyncio.AbstractEventLoop) -> None:
        """Write one request; ``waiter`` resolves when its whole answer is in."""
        self.waiter = loop.create_future()
        self.headers, self.body, self.status, self.until_close = [], [], 0, False
        assert self.transport is not None
        self.transport.write(head + body if len(body) < 65_536 else head)
        if len(body) >= 65_536:
            self.transport.write(body)  # not copied into the head's bytes

    def _fail(self, exc: Exception) -> None:
        self.usable = False
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
        self.close()

    def close(self) -> None:
        self.usable = False
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


class Http1Transport(httpx.AsyncBaseTransport):
    """httpx's ``AsyncBaseTransport`` over lean HTTP/1.1 connections (module doc).

    ``limits`` as httpx reads them: at most ``max_connections`` requests at once, at most
    ``max_keepalive_connections`` idle connections kept, each for ``keepalive_expiry``
    seconds."""

    def __init__(
        self,
        *,
        limits: httpx.Limits,
        verify: ssl.SSLContext | None = None,
        fallback: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._limits = limits
        self._ssl = verify
        self._fallback = fallback  # made when first needed: it imports httpcore
        self._idle: defaultdict[Origin, list[_Answer]] = defaultdict(list)
        self._open: set[_Answer] = set()
        self._slots = asyncio.Semaphore(limits.max_connections or 1_000_000)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        try:
            body = request.content  # given as bytes (``content=``), or read already
        except httpx.RequestNotRead:  # a streamed body
            return await self._httpx().handle_async_request(request)
        if request.method == "HEAD" or url.scheme not in _DEFAULT_PORTS:
            return await self._httpx().handle_async_request(request)
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        origin = (url.scheme, url.host, url.port or _DEFAULT_PORTS[url.scheme])
        try:
            async with asyncio.timeout(timeouts.get("pool")):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no connection became free in time") from None
        try:
            return await self._exchange(origin, request, body, timeouts)
        finally:
            self._slots.release()

    def _httpx(self) -> httpx.AsyncBaseTransport:
        """httpx's own transport, for what this one does not handle."""
        if self._fallback is None:
            self._fallback = httpx.AsyncHTTPTransport(limits=self._limits)
        return self._fallback

    async def _exchange(
        self, origin: Origin, request: httpx.Request, body: bytes, timeouts: dict[str, Any]
    ) -> httpx.Response:
        loop = asyncio.get_running_loop()
        conn = self._idle_connection(origin, loop.time())
        if conn is None:
            conn = await self._connect(origin, timeouts.get("connect"), loop)
        finished = False
        try:
            conn.start(_head(request), body, loop)
            await _answered(conn, timeouts.get("read"), loop)
            finished = True
        finally:
            if not finished:  # failed or cancelled midway: the connection's state is unknown
                conn.close()
        response = httpx.Response(
            conn.status,
            headers=conn.headers,
            stream=httpx.ByteStream(b"".join(conn.body)),
            extensions={"http_version": b"HTTP/1.1"},
        )
        self._keep(origin, conn, loop.time())
        return response

    def _idle_connection(self, origin: Origin, now: float) -> _Answer | None:
        idle = self._idle.get(origin)
        expiry = self._limits.keepalive_expiry
        while idle:
            conn = idle.pop()
            if conn.usable and (expiry is None or now - conn.idle_since < expiry):
                return conn
            conn.close()
        return None

    async def _connect(
        self, origin: Origin, timeout: float | None, loop: asyncio.AbstractEventLoop
    ) -> _Answer:
        scheme, host, port = origin
        context = None
        if scheme == "https":
            context = self._ssl or httpx.create_ssl_context()
            self._ssl = context  # made once: loading the trust store is not cheap
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(
                    _Answer, host, port, ssl=context, server_hostname=host if context else None
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"no connection to {host}:{port} in time") from None
        except OSError as exc:  # refused, unreachable, unknown host, a TLS failure
            raise httpx.ConnectError(f"{type(exc).__name__}: {exc}") from None
        self._open.add(conn)  # until its socket is closed (``aclose`` waits for that)
        conn.lost.add_done_callback(lambda _: self._open.discard(conn))
        return conn

    def _keep(self, origin: Origin, conn: _Answer, now: float) -> None:
        most = self._limits.max_keepalive_connections  # None: no limit, as httpx reads it
        if not conn.usable or (most is not None and len(self._idle[origin]) >= most):
            conn.close()
            return
        conn.idle_since = now
        conn.waiter = None
        self._idle[origin].append(conn)

    async def aclose(self) -> None:
        """Close every connection and wait (a second at most) until their sockets are."""
        closing = [conn.lost for conn in self._open]
        for conn in list(self._open):
            conn.close()
        self._idle.clear()
        if closing:
            await asyncio.wait(closing, timeout=1.0)
        if self._fallback is not None:
            await self._fallback.aclose()


def _head(request: httpx.Request) -> bytes:
    """The request line and headers, as httpx prepared them (Host, Content-Length, the
    client's defaults)."""
    lines = [b"%s %s HTTP/1.1\r\n" % (request.method.encode("ascii"), request.url.raw_path)]
    lines += [b"%s: %s\r\n" % pair for pair in request.headers.raw]
    lines.append(b"\r\n")
    return b"".join(lines)


async def _answered(conn: _Answer, read: float | None, loop: asyncio.AbstractEventLoop) -> None:
    """Wait for ``conn``'s whole answer; ``ReadTimeout`` after ``read`` seconds without a
    byte of it (httpx's meaning of a read timeout: between reads, not in all)."""
    waiter = conn.waiter
    assert waiter is not None
    if read is None:
        await waiter
        return
    seen = conn.received
    timers: list[asyncio.TimerHandle] = []

    def check() -> None:
        nonlocal seen
        if waiter.done():
            return
        if conn.received == seen:
            waiter.set_exception(httpx.ReadTimeout(f"no answer within {read:g} s"))
        else:
            seen = conn.received
            timers.append(loop.call_later(read, check))

    timers.append(loop.call_later(read, check))
    try:
        await waiter
    finally:
        timers[-1].cancel()


def make_transport(limits: httpx.Limits, choice: str = "auto") -> httpx.AsyncBaseTransport:
    """The deliverers' transport (a connection's ``delivery.http``): ``auto`` is
    ``Http1Transport`` where ``httptools`` is installed, ``httpx`` (or no httptools) is
    httpx's own."""
    if choice == "httpx" or not HAVE_HTTPTOOLS:
        return httpx.AsyncHTTPTransport(limits=limits)
    return Http1Transport(limits=limits)


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps nothing (``VendorClient``)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class VendorClient(httpx.AsyncClient):
    """httpx's client for vendor requests, without a cookie jar.

    The vendors' APIs authenticate each request by its headers, and a request built apart
    from the client, as every destination builds theirs, is sent without the client's
    cookies anyway: the jar was only ever written, at half the client's CPU per request."""

    @property  # type: ignore[override]
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        return None


_NO_COOKIES = _NoCookies()
