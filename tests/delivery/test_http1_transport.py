"""The deliverers' HTTP/1.1 transport (``mapwire.runtime.http1``) against a real loopback
server that answers as each path says: the same answers as httpx's own transport, kept
alive connections, and httpx's exceptions for every way an exchange fails."""

from __future__ import annotations

import asyncio
import gzip
import socket
import ssl
import struct
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
import trustme

from mapwire.runtime.http1 import Http1Transport, VendorClient, make_transport

LIMITS = httpx.Limits(max_connections=8, max_keepalive_connections=8)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, bytes], Awaitable[bool]]


def _answer(status: str, headers: list[str], body: bytes = b"") -> bytes:
    return (f"HTTP/1.1 {status}\r\n" + "".join(f"{h}\r\n" for h in headers) + "\r\n").encode() + (
        body
    )


async def _plain(_r: asyncio.StreamReader, w: asyncio.StreamWriter, body: bytes) -> bool:
    w.write(_answer("200 OK", [f"Content-Length: {len(body)}", "X-Echo: yes"], body))
    return True


async def _gzip(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _b: bytes) -> bool:
    body = gzip.compress(b'{"ok": true}')
    w.write(_answer("200 OK", ["Content-Encoding: gzip", f"Content-Length: {len(body)}"], body))
    return True


async def _hang_up(_r: asyncio.StreamReader, _w: asyncio.StreamWriter, _b: bytes) -> bool:
    return False  # read the request, close without a word


async def _silent(_r: asyncio.StreamReader, _w: asyncio.StreamWriter, _b: bytes) -> bool:
    await asyncio.sleep(30)
    return False


async def _drip(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _b: bytes) -> bool:
    """Six bytes of body, one each 0.1 s: 0.6 s in all, never 0.3 s without a byte."""
    w.write(_answer("200 OK", ["Content-Length: 6"]))
    for byte in b"drip!!":
        await w.drain()
        await asyncio.sleep(0.1)
        w.write(bytes([byte]))
    return True


async def _late(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _b: bytes) -> bool:
    await asyncio.sleep(0.5)
    w.write(_answer("200 OK", ["Content-Length: 4"], b"late"))
    return True


async def _extra(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _b: bytes) -> bool:
    w.write(_answer("200 OK", ["Content-Length: 2"], b"{}"))
    await w.drain()
    await asyncio.sleep(0.05)
    w.write(_answer("200 OK", ["Content-Length: 5"], b"stale"))  # nobody asked
    return True


async def _two_in_one(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _b: bytes) -> bool:
    """An answer and, in the same segment, a second one nobody asked for."""
    w.write(
        _answer("503 Service Unavailable", ["Content-Length: 0", "Retry-After: 60"])
        + _answer("202 Accepted", ["Content-Length: 2"], b"{}")
    )
    return True


async def _reset(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _b: bytes) -> bool:
    """An answer without a length (it ends when the connection does), cut by a reset."""
    w.write(_answer("200 OK", ["Content-Type: application/json"], b'{"errors": [{"ind'))
    await w.drain()
    await asyncio.sleep(0.1)
    w.get_extra_info("socket").setsockopt(
        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
    )
    w.transport.abort()
    return False


async def _then_silence(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _b: bytes) -> bool:
    w.write(_answer("200 OK", ["Content-Length: 10"], b"x"))
    await asyncio.sleep(30)
    return False


#: Answers written whole, and whether the connection stays open after them.
CANNED: dict[str, tuple[bytes, bool]] = {
    "/chunked": (
        _answer("202 Accepted", ["Transfer-Encoding: chunked"])
        + b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        True,
    ),
    "/until-close": (_answer("200 OK", ["Connection: close"], b"all of it until the end"), False),
    "/close-after": (
        _answer("429 Too Many Requests", ["Content-Length: 0", "Connection: close"]),
        False,
    ),
    "/interim": (
        _answer("100 Continue", []) + _answer("201 Created", ["Content-Length: 2"], b"{}"),
        True,
    ),
    "/no-content": (_answer("204 No Content", []), True),
    "/garbage": (b"SMTP ready\r\n\r\n", False),
    "/cookie": (
        _answer("200 OK", ["Set-Cookie: AWSALB=sticky; Path=/", "Content-Length: 0"]),
        True,
    ),
    "/head": (_answer("200 OK", ["Content-Length: 1000"]), True),  # HEAD: the length, no body
    "/then-close": (_answer("200 OK", ["Content-Length: 2"], b"ok"), False),  # no warning
    "/wording": (b"HTTP/1.0 429 Slow Down Please\r\nContent-Length: 0\r\n\r\n", False),
    "/trailers": (
        _answer("200 OK", ["Transfer-Encoding: chunked", "Trailer: X-Sum"])
        + b"2\r\nok\r\n0\r\nX-Sum: 2\r\n\r\n",
        True,
    ),
}

HANDLERS: dict[str, Handler] = {
    "/plain": _plain,
    "/gzip": _gzip,
    "/hang-up": _hang_up,
    "/silent": _silent,
    "/drip": _drip,
    "/late": _late,
    "/two-in-one": _two_in_one,
    "/reset": _reset,
    "/then-silence": _then_silence,
    "/extra": _extra,
}


class ScriptedServer:
    """An HTTP/1.1 server on loopback in a thread of its own; each request's path picks
    its handler. ``connections`` counts accepted connections, ``requests`` keeps each
    request's raw bytes."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.connections = 0
        self.requests: list[bytes] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: asyncio.Server | None = None

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        started = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls), self.loop
        )
        self.server = started.result(10)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    async def _close(self) -> None:
        assert self.server is not None
        self.server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.server.wait_closed()

    def url(self, path: str) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://localhost:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                body = await _request_body(reader, head)
                self.requests.append(head + body)
                path = head.split(b" ")[1].split(b"?")[0].decode()
                if path in CANNED:
                    answer, keep = CANNED[path]
                    writer.write(answer)
                else:
                    keep = await HANDLERS[path](reader, writer, body)
                await writer.drain()
                if not keep:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _request_body(reader: asyncio.StreamReader, head: bytes) -> bytes:
    """The body after ``head``: its Content-Length's bytes, or its chunks."""
    fields = dict(
        (name.strip().lower(), value.strip())
        for name, _, value in (line.partition(b":") for line in head.split(b"\r\n")[1:])
    )
    if fields.get(b"transfer-encoding") != b"chunked":
        return await reader.readexactly(int(fields.get(b"content-length", b"0")))
    body = b""
    while size := int(await reader.readuntil(b"\r\n"), 16):
        body += (await reader.readexactly(size + 2))[:-2]
    await reader.readuntil(b"\r\n")
    return body


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as running:
        yield running


def send(
    transport: httpx.AsyncBaseTransport,
    calls: Callable[[httpx.AsyncClient], Awaitable[Any]],
    *,
    timeout: float = 5.0,
) -> Any:
    async def run() -> Any:
        async with httpx.AsyncClient(transport=transport, timeout=timeout) as client:
            return await calls(client)

    return asyncio.run(run())


def lean() -> Http1Transport:
    transport = make_transport(LIMITS)
    assert isinstance(transport, Http1Transport)  # httptools is installed with mapwire
    return transport


ANSWERED = [
    "/plain",
    "/chunked",
    "/gzip",
    "/until-close",
    "/close-after",
    "/interim",
    "/wording",
    "/trailers",
]


@pytest.mark.parametrize("path", [*ANSWERED, "/no-content"])
def test_it_reads_every_kind_of_answer_as_httpx_own_transport_does(
    server: ScriptedServer, path: str
) -> None:
    async def post(client: httpx.AsyncClient) -> tuple[Any, ...]:
        response = await client.post(server.url(path), content=b'{"a": 1}')
        return (
            response.status_code,
            response.reason_phrase,
            response.http_version,
            sorted(response.headers.multi_items()),
            response.content,
        )

    ours = send(lean(), post)
    theirs = send(httpx.AsyncHTTPTransport(limits=LIMITS), post)
    assert ours == theirs
    assert ours[0] in (200, 201, 202, 204, 429)
    if path == "/wording":
        assert ours[1:3] == ("Slow Down Please", "HTTP/1.0")


def test_the_request_goes_out_as_httpx_prepared_it(server: ScriptedServer) -> None:
    async def post(client: httpx.AsyncClient) -> None:
        await client.post(
            server.url("/plain?x=1&y=%20"), content=b"[1,2]", headers={"Authorization": "B x"}
        )

    send(lean(), post)
    send(httpx.AsyncHTTPTransport(limits=LIMITS), post)
    ours, theirs = server.requests
    assert ours == theirs
    assert ours.startswith(b"POST /plain?x=1&y=%20 HTTP/1.1\r\n")
    assert ours.endswith(b"\r\n\r\n[1,2]")


def test_a_large_body_goes_whole(server: ScriptedServer) -> None:
    body = bytes(range(256)) * 2000  # 512 KB: written apart from the head

    async def post(client: httpx.AsyncClient) -> bytes:
        return (await client.post(server.url("/plain"), content=body)).content

    assert send(lean(), post) == body


def test_one_connection_carries_many_requests(server: ScriptedServer) -> None:
    async def three(client: httpx.AsyncClient) -> list[int]:
        paths = ["/plain", "/chunked", "/gzip", "/interim", "/no-content"]
        return [(await client.post(server.url(p), content=b"x")).status_code for p in paths]

    assert send(lean(), three) == [200, 202, 200, 201, 204]
    assert server.connections == 1


def test_an_answer_that_ends_the_connection_is_not_reused(server: ScriptedServer) -> None:
    async def calls(client: httpx.AsyncClient) -> list[int]:
        paths = ["/close-after", "/plain", "/until-close", "/plain"]
        return [(await client.post(server.url(p), content=b"x")).status_code for p in paths]

    assert send(lean(), calls) == [429, 200, 200, 200]
    assert server.connections == 3


def test_a_connection_the_server_closed_while_idle_is_not_used(server: ScriptedServer) -> None:
    async def calls(client: httpx.AsyncClient) -> int:
        await client.post(server.url("/plain"), content=b"x")
        for task in list(asyncio.all_tasks(server.loop)):  # the server drops idle ones
            server.loop.call_soon_threadsafe(task.cancel)
        await asyncio.sleep(0.2)
        return (await client.post(server.url("/plain"), content=b"y")).status_code

    assert send(lean(), calls) == 200
    assert server.connections == 2


def test_bytes_nobody_asked_for_retire_the_connection(server: ScriptedServer) -> None:
    async def calls(client: httpx.AsyncClient) -> bytes:
        await client.post(server.url("/extra"), content=b"x")
        await asyncio.sleep(0.2)  # the stray answer arrives while the connection is idle
        return (await client.post(server.url("/plain"), content=b"mine")).content

    assert send(lean(), calls) == b"mine"
    assert server.connections == 2


@pytest.mark.parametrize(
    ("path", "error"),
    [("/hang-up", httpx.RemoteProtocolError), ("/garbage", httpx.RemoteProtocolError)],
)
def test_a_broken_exchange_is_httpx_error(
    server: ScriptedServer, path: str, error: type[Exception]
) -> None:
    async def calls(client: httpx.AsyncClient) -> int:
        with pytest.raises(error):
            await client.post(server.url(path), content=b"x")
        return (await client.post(server.url("/plain"), content=b"x")).status_code

    assert send(lean(), calls) == 200  # and the next request goes on a new connection


def test_the_read_timeout_is_between_reads(server: ScriptedServer) -> None:
    async def calls(client: httpx.AsyncClient) -> bytes:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(server.url("/silent"), content=b"x")
        return (await client.post(server.url("/drip"), content=b"x")).content

    assert send(lean(), calls, timeout=0.3) == b"drip!!"


def test_a_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def post(client: httpx.AsyncClient) -> None:
        await client.post(f"http://127.0.0.1:{port}/plain", content=b"x")

    with pytest.raises(httpx.ConnectError):
        send(lean(), post)


def test_a_cancelled_send_leaves_no_answer_behind(server: ScriptedServer) -> None:
    async def calls(client: httpx.AsyncClient) -> bytes:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await client.post(server.url("/late"), content=b"x")
        await asyncio.sleep(0.6)  # the late answer would be waiting on a reused connection
        return (await client.post(server.url("/plain"), content=b"fresh")).content

    assert send(lean(), calls) == b"fresh"
    assert server.connections == 2


def test_requests_beyond_the_connection_limit_wait_their_turn(server: ScriptedServer) -> None:
    transport = Http1Transport(limits=httpx.Limits(max_connections=1))

    async def calls(client: httpx.AsyncClient) -> list[int]:
        posts = [client.post(server.url("/late"), content=b"x") for _ in range(3)]
        return [r.status_code for r in await asyncio.gather(*posts)]

    assert send(transport, calls) == [200, 200, 200]
    assert server.connections == 1

    async def starved(client: httpx.AsyncClient) -> None:
        first = asyncio.create_task(client.post(server.url("/late"), content=b"x"))
        await asyncio.sleep(0.05)
        with pytest.raises(httpx.PoolTimeout):
            quick = httpx.Timeout(5, pool=0.1)
            await client.post(server.url("/plain"), content=b"x", timeout=quick)
        await first

    send(Http1Transport(limits=httpx.Limits(max_connections=1)), starved)


def test_head_and_streamed_bodies_go_through_httpx_own_transport(server: ScriptedServer) -> None:
    async def chunks() -> Any:
        yield b"streamed "
        yield b"body"

    async def calls(client: httpx.AsyncClient) -> tuple[int, bytes]:
        head = await client.head(server.url("/head"))
        streamed = await client.post(server.url("/plain"), content=chunks())
        return head.status_code, streamed.content

    assert send(lean(), calls) == (200, b"streamed body")


def test_https_with_a_trusted_certificate_and_not_with_another() -> None:
    authority = trustme.CA()
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(served)
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    with ScriptedServer(tls=served) as server:

        async def post(client: httpx.AsyncClient) -> bytes:
            return (await client.post(server.url("/chunked"), content=b"x")).content

        assert send(Http1Transport(limits=LIMITS, verify=trusting), post) == b"hello world"
        with pytest.raises(httpx.ConnectError):
            send(Http1Transport(limits=LIMITS), post)  # the system's trust store: unknown CA


def test_the_vendor_client_keeps_no_cookies(server: ScriptedServer) -> None:
    async def calls() -> dict[str, str]:
        async with VendorClient(transport=lean()) as client:
            for _ in range(2):
                await client.post(server.url("/cookie"), content=b"x")
                await client.send(httpx.Request("POST", server.url("/cookie"), content=b"x"))
            return dict(client.cookies)

    assert asyncio.run(calls()) == {}
    assert not any(b"cookie:" in request.lower() for request in server.requests)


def test_an_answer_is_taken_whole_before_what_follows_it(server: ScriptedServer) -> None:
    """A second answer in the same segment neither changes the first nor is taken for the
    next request's: a 503 stays a 503, and the connection is not used again."""

    async def calls(client: httpx.AsyncClient) -> list[Any]:
        first = await client.post(server.url("/two-in-one"), content=b"x")
        second = await client.post(server.url("/plain"), content=b"mine")
        return [first.status_code, dict(first.headers), second.content]

    status, headers, mine = send(lean(), calls)
    assert (status, headers, mine) == (503, {"content-length": "0", "retry-after": "60"}, b"mine")
    assert server.connections == 2


def test_a_connection_closed_right_after_its_answer_is_not_reused(server: ScriptedServer) -> None:
    """The server's close is in the socket before the event loop has seen it (the loop is
    kept busy meanwhile): the readable socket says the connection is done."""

    async def calls(client: httpx.AsyncClient) -> list[int]:
        statuses = []
        for _ in range(5):
            statuses.append(
                (await client.post(server.url("/then-close"), content=b"x")).status_code
            )
            time.sleep(0.1)  # blocks the loop: the close arrives, unseen
        return statuses

    assert send(lean(), calls) == [200] * 5
    assert server.connections == 5


@pytest.mark.parametrize("host", ["track..example.test", "a" * 64 + ".example.test"])
def test_a_host_name_no_resolver_takes_is_a_connect_error(host: str) -> None:
    async def post(client: httpx.AsyncClient) -> None:
        await client.post(f"http://{host}/x", content=b"x")

    with pytest.raises(httpx.ConnectError):
        send(lean(), post)


def test_a_host_whose_first_address_drops_packets_is_reached_by_its_second(
    server: ScriptedServer,
) -> None:
    """Happy eyeballs: 127.0.0.2's accept queue is full, so its SYNs are dropped; the
    second address, tried a quarter of a second later, answers (within the 5 s connect
    timeout, which trying one address after the other would spend on the first)."""
    with socket.socket() as deaf:
        deaf.bind(("127.0.0.2", 0))
        deaf.listen(0)
        port = deaf.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.2", port))
        time.sleep(0.2)

        async def post(client: httpx.AsyncClient) -> bytes:
            loop = asyncio.get_running_loop()

            async def two_addresses(host: str, port_: int, **_: Any) -> list[Any]:
                return [
                    (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.2", port)),
                    (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", server.port)),
                ]

            loop.getaddrinfo = two_addresses  # type: ignore[method-assign]
            return (await client.post("http://two.example.test/plain", content=b"hi")).content

        try:
            assert send(lean(), post) == b"hi"
        finally:
            for filler in fillers:
                filler.close()


def test_the_read_timeout_counts_from_the_last_byte(server: ScriptedServer) -> None:
    async def post(client: httpx.AsyncClient) -> float:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            await client.post(server.url("/then-silence"), content=b"x")
        return time.monotonic() - started

    waited = send(lean(), post, timeout=1.0)
    assert 0.9 < waited < 1.7  # 1 s after the byte; counting from each check took 2 s


def test_an_answer_cut_by_a_reset_is_a_read_error(server: ScriptedServer) -> None:
    async def post(client: httpx.AsyncClient) -> None:
        await client.post(server.url("/reset"), content=b"x")

    with pytest.raises(httpx.ReadError):
        send(lean(), post)
