"""The deliverers' HTTP/1.1 transport: what sends every vendor request, under httpx.

httpx's own transport (httpcore over anyio) costs about 300 µs of CPU per request on
these machines, most of it in cancel scopes, locks and per-event objects; a deliverer
sends a request per 100-500 actions, so that is 0.6-3 µs of every action. This transport
keeps httpx's client (its API, its timeouts, its exceptions) and replaces only the part
that talks to the socket: a connection per request in flight (``http1_connection``), the
request written in one piece, the answer parsed by ``httptools`` (the C parser the
receiver already uses), connections kept alive per origin and opened as httpx opens them,
happy eyeballs included (``tcp_connect``). It costs about a third.

What it does not handle goes to httpx's own transport, unchanged: ``HEAD`` (an answer
without the body its headers announce), a streamed request body, and everything when
``httptools`` is missing (``make_transport``). It speaks to no proxy: a request a proxy
from the environment applies to goes through httpx's own transport for that proxy
(``vendor_client``, ``env_proxies``).

Failures are httpx's exceptions, as httpcore would raise them: ``ConnectError`` and
``ConnectTimeout`` before the request went out, ``ReadTimeout`` when the answer stops
coming for the ``read`` timeout, ``ReadError`` when the connection breaks,
``RemoteProtocolError`` when the server closes it before answering or answers something
that is not HTTP/1.1, ``PoolTimeout`` when every connection stays busy for the ``pool``
timeout; anything else that goes wrong is a ``TransportError`` too, never an exception a
deliverer would not expect. A connection whose answer was not read to its end (a
failure, a cancelled send) is closed, never reused.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import defaultdict
from typing import Any

import httpx

from .env_proxies import proxy_mounts
from .http1_connection import HAVE_HTTPTOOLS, Connection, answered
from .tcp_connect import connect_socket
from .vendor_client import VendorClient

#: Origins are (scheme, host, port).
Origin = tuple[str, str, int]

_DEFAULT_PORTS = {"http": 80, "https": 443}

#: A vendor client's connections: at most 8 at once, all of them kept alive.
LIMITS = httpx.Limits(max_connections=8, max_keepalive_connections=8)


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
    ) -> None:
        self._limits = limits
        self._ssl = verify
        self._fallback: httpx.AsyncBaseTransport | None = None  # made when first needed:
        # importing httpcore is not cheap
        self._idle: defaultdict[Origin, list[Connection]] = defaultdict(list)
        self._open: set[Connection] = set()  # until their sockets are closed
        self._slots = asyncio.Semaphore(limits.max_connections or 1_000_000)
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        try:
            body = request.content  # given as bytes (``content=``), or read already
        except httpx.RequestNotRead:  # a streamed body
            return await self._httpx().handle_async_request(request)
        if request.method == "HEAD" or url.scheme not in _DEFAULT_PORTS:
            return await self._httpx().handle_async_request(request)
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        # The host as it goes on the wire (IDNA 2008, as httpx wrote the Host header), not
        # as Python's own codec (IDNA 2003) would encode it for the resolver.
        host = url.raw_host.decode("ascii")
        origin = (url.scheme, host, url.port or _DEFAULT_PORTS[url.scheme])
        try:
            async with asyncio.timeout(timeouts.get("pool")):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no connection became free in time") from None
        try:
            return await self._exchange(origin, request, body, timeouts)
        except httpx.HTTPError:
            raise
        except Exception as exc:  # whatever else: a failed send, never a stopped deliverer
            raise httpx.TransportError(f"the request failed ({type(exc).__name__})") from exc
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
            conn = await self._connect(origin, timeouts.get("connect"))
        finished = False
        try:
            conn.start(_head(request), body)
            answer = await answered(conn, timeouts)
            finished = True
        finally:
            if not finished:  # failed or cancelled midway: the connection's state is unknown
                conn.abort()
        response = httpx.Response(
            answer.status,
            headers=answer.headers,
            stream=httpx.ByteStream(answer.body),
            extensions={"http_version": answer.version, "reason_phrase": answer.reason},
        )
        self._keep(origin, conn, loop.time())
        return response

    def _idle_connection(self, origin: Origin, now: float) -> Connection | None:
        idle = self._idle.get(origin)
        expiry = self._limits.keepalive_expiry
        while idle:
            conn = idle.pop()
            if (expiry is None or now - conn.idle_since < expiry) and conn.looks_idle():
                return conn
            conn.close()
        return None

    async def _connect(self, origin: Origin, timeout: float | None) -> Connection:
        scheme, host, port = origin
        context = None
        if scheme == "https":
            context = self._ssl or httpx.create_ssl_context()
            self._ssl = context  # made once: loading the trust store is not cheap
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                sock = await connect_socket(host, port)
                try:
                    name = host if context else None  # SNI, and the name the certificate proves
                    _, conn = await loop.create_connection(
                        Connection, sock=sock, ssl=context, server_hostname=name
                    )
                except BaseException:
                    sock.close()
                    raise
        except TimeoutError:
            raise httpx.ConnectTimeout("no connection in time") from None
        except (OSError, ValueError) as exc:  # refused, unreachable, unknown host, bad name, TLS
            raise httpx.ConnectError(f"no connection ({type(exc).__name__})") from None
        if self._closed:  # closed while this connection was being made
            conn.abort()
            raise httpx.ConnectError("the client was closed")
        self._open.add(conn)
        conn.lost.add_done_callback(lambda _: self._open.discard(conn))
        return conn

    def _keep(self, origin: Origin, conn: Connection, now: float) -> None:
        most = self._limits.max_keepalive_connections  # None: no limit, as httpx reads it
        if conn.uploading():  # answered before its upload ended: the rest would come first
            conn.abort()
            return
        if not conn.usable or (most is not None and len(self._idle[origin]) >= most):
            conn.close()
            return
        conn.idle_since = now
        conn.waiter = None
        self._idle[origin].append(conn)

    async def aclose(self) -> None:
        """Close every connection at once (no TLS goodbye) and wait until their sockets
        are (a second at most)."""
        self._closed = True
        closing = [conn.lost for conn in self._open]
        for conn in list(self._open):
            conn.abort()
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


def vendor_client(
    choice: str, timeout: float, transport: httpx.AsyncBaseTransport | None = None
) -> VendorClient:
    """The client a connection's requests go through: ``transport`` (a plugin's, e.g. a
    sink) for every request, with no proxy in front of it; else the one its
    ``delivery.http`` names (``make_transport``), except for the URLs a proxy from the
    environment applies to: those go through httpx's own transport for that proxy, as a
    plain httpx client would send them (``env_proxies``, read once here).

    Raises:
        ConfigError: a proxy variable holds a URL that cannot be used.
    """
    if transport is not None:
        return VendorClient(transport=transport, timeout=timeout)
    mounts = proxy_mounts(LIMITS)
    return VendorClient(transport=make_transport(LIMITS, choice), mounts=mounts, timeout=timeout)


def make_transport(limits: httpx.Limits, choice: str = "auto") -> httpx.AsyncBaseTransport:
    """The deliverers' transport (a connection's ``delivery.http``): ``auto`` is
    ``Http1Transport`` where ``httptools`` is installed, ``httpx`` (or no httptools) is
    httpx's own."""
    if choice == "httpx" or not HAVE_HTTPTOOLS:
        return httpx.AsyncHTTPTransport(limits=limits)
    return Http1Transport(limits=limits)
