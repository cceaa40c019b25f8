"""The deliverers' HTTP/1.1 transport (``mapwire.runtime.http1``) against a real loopback
server that answers as each path says: the same answers as httpx's own transport, kept
alive connections, and httpx's exceptions for every way an exchange fails."""

from __future__ import annotations

import asyncio
import os
import resource
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
import trustme
from scripted_server import ScriptedServer, answer_seen

from mapwire.runtime import tcp_connect
from mapwire.runtime.http1 import Http1Transport, VendorClient, make_transport
from mapwire.runtime.http1_connection import Connection, answered

LIMITS = httpx.Limits(max_connections=8, max_keepalive_connections=8)


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
        return answer_seen(await client.post(server.url(path), content=b'{"a": 1}'))

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
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
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

        async def two_addresses(host: str, port_: int) -> list[Any]:
            return [
                (socket.AF_INET, ("127.0.0.2", port)),
                (socket.AF_INET, ("127.0.0.1", server.port)),
            ]

        async def post(client: httpx.AsyncClient) -> bytes:
            return (await client.post("http://two.example.test/plain", content=b"hi")).content

        monkeypatch.setattr(tcp_connect, "resolve", two_addresses)
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


def test_a_stalled_upload_is_a_write_timeout_and_its_connection_is_dropped(
    server: ScriptedServer,
) -> None:
    transport = lean()

    async def post(client: httpx.AsyncClient) -> int:
        with pytest.raises(httpx.WriteTimeout):
            await client.post(server.url("/never-reads"), content=b"x" * 20_000_000)
        await asyncio.sleep(0.1)
        return len(transport._open)  # aborted: nothing left to flush, nothing kept open

    assert send(transport, post, timeout=1.0) == 0


def test_the_read_timeout_counts_from_the_end_of_the_upload(server: ScriptedServer) -> None:
    """The server takes 4 s to read the body and answers 0.2 s after: within a 2.5 s read
    timeout of the upload's end (what the kernel's buffers still hold takes the server
    well under a second to read, twice that on a loaded machine), though 4.2 s after the
    request began."""

    async def post(client: httpx.AsyncClient) -> bytes:
        body = b"x" * 40_000_000
        return (await client.post(server.url("/slow-reader"), content=body)).content

    assert send(lean(), post, timeout=2.5) == b"done"


def test_idle_connections_are_reused_past_descriptor_1023(server: ScriptedServer) -> None:
    """select() refuses descriptors from 1024; with that many files open, every request
    took a new connection."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2048:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(2048, hard), hard))
    ballast = [open(os.devnull) for _ in range(1100)]  # noqa: SIM115 - held open on purpose
    try:

        async def posts(client: httpx.AsyncClient) -> list[int]:
            return [
                (await client.post(server.url("/plain"), content=b"x")).status_code
                for _ in range(5)
            ]

        assert send(lean(), posts) == [200] * 5
        assert server.connections == 1
    finally:
        for file in ballast:
            file.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_host_is_resolved_as_the_host_header_names_it(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """IDNA 2008, as httpx writes the Host header: "faß" is xn--fa-hia, where Python's own
    codec (IDNA 2003) would resolve "fass"."""
    asked: list[str] = []

    async def here(host: str, port: int) -> list[Any]:
        asked.append(host)
        return [(socket.AF_INET, ("127.0.0.1", server.port))]

    monkeypatch.setattr(tcp_connect, "resolve", here)

    async def post(client: httpx.AsyncClient) -> int:
        return (await client.post("http://faß.example/plain", content=b"x")).status_code

    assert send(lean(), post) == 200
    assert asked == ["xn--fa-hia.example"]
    assert b"Host: xn--fa-hia.example" in server.requests[0]


def test_closing_the_client_mid_request_is_a_read_error(server: ScriptedServer) -> None:
    async def calls() -> None:
        client = VendorClient(transport=lean(), timeout=5)
        sending = asyncio.create_task(client.post(server.url("/late"), content=b"x"))
        await asyncio.sleep(0.1)
        await client.aclose()
        with pytest.raises(httpx.ReadError):
            await sending

    asyncio.run(calls())


def test_an_address_listed_twice_is_tried_once() -> None:
    four, six = socket.AF_INET, socket.AF_INET6
    a, b, c = (four, ("10.0.0.1", 80)), (four, ("10.0.0.2", 80)), (six, ("::1", 80, 0, 0))
    assert tcp_connect.interleaved([a, a, b, c, a]) == [a, c, b]


def _tls_pair() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for localhost, and a client one trusting it."""
    authority = trustme.CA()
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(served)
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    return served, trusting


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_tls_upload_that_went_is_waited_for_by_the_read_timeout_alone(loop: str) -> None:
    """Over TLS, a 100 KB body written in two pieces once left the connection looking as if
    it were still uploading: a slow answer became a WriteTimeout, and without a write
    timeout a silent server was never given up on."""
    import uvloop

    served, trusting = _tls_pair()
    body = b"x" * 100_000

    async def calls() -> list[str]:
        transport = Http1Transport(limits=LIMITS, verify=trusting)
        slow_answer = httpx.Timeout(5, write=0.2)
        no_write_limit = httpx.Timeout(5, read=0.5, write=None)
        out = []
        async with VendorClient(transport=transport) as client:
            out.append((await client.post(url("/late"), content=body, timeout=slow_answer)).text)
            try:
                await client.post(url("/silent"), content=body, timeout=no_write_limit)
            except httpx.ReadTimeout:
                out.append("read timeout")
        return out

    with ScriptedServer(tls=served) as server:
        url = server.url
        runner = uvloop.run if loop == "uvloop" else asyncio.run
        assert runner(asyncio.wait_for(calls(), 10)) == ["late", "read timeout"]


def test_a_connection_answered_before_its_upload_ended_is_not_reused(
    server: ScriptedServer,
) -> None:
    async def calls(client: httpx.AsyncClient) -> list[int]:
        refused = await client.post(server.url("/refuses-body"), content=b"x" * 20_000_000)
        then = await client.post(server.url("/plain"), content=b"x")
        return [refused.status_code, then.status_code]

    assert send(lean(), calls) == [413, 200]
    assert server.connections == 2


def test_an_answer_that_comes_before_the_request_is_read() -> None:
    """A server that answers 503 as the connection opens (an overloaded proxy, say), its
    answer in before the request is written: it is the request's answer, not bytes nobody
    asked for."""
    greeting = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    with ScriptedServer(greeting=greeting) as server:

        async def exchange() -> int:
            loop = asyncio.get_running_loop()
            _, conn = await loop.create_connection(Connection, "127.0.0.1", server.port)
            await asyncio.sleep(0.2)  # the greeting arrives first
            conn.start(b"POST /plain HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", b"")
            try:
                return (await answered(conn, {"read": 5.0})).status
            finally:
                conn.abort()

        assert asyncio.run(exchange()) == 503
