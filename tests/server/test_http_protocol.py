"""The receiver's own HTTP/1.1 protocol (``http_protocol``), served by uvicorn on loopback
to small ASGI apps and spoken to over raw sockets: keep-alive, pipelining, bodies in pieces
and in chunks, ``Expect: 100-continue``, ``HEAD``, the refusals (400, 431, 408, 500, 503),
the keep-alive deadline, disconnects and the graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn

from mapwire.server.connection_limits import guarded_protocol
from mapwire.server.http_exchange import HIGH_WATER
from mapwire.server.http_protocol import MAX_HEAD_BYTES, MAX_WAITING, SLICE, HttpProtocol

App = Callable[..., Any]
#: What was received after an answer, by socket, for the next ``read_answer``.
_UNREAD: dict[int, bytes] = {}


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers what it was asked, as JSON: method, path, query, headers, the body's size
    and the number of body messages it took."""
    if scope["type"] != "http":
        return
    body, messages = b"", 0
    while True:
        message = await receive()
        messages += 1
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    answer = json.dumps(
        {
            "method": scope["method"],
            "path": scope["path"],
            "query": scope["query_string"].decode(),
            "version": scope["http_version"],
            "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
            "size": len(body),
            "body": body[:64].decode("latin-1"),
            "messages": messages,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(answer)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": answer})


@contextmanager
def serving(
    app: App,
    *,
    header_timeout: float = 10.0,
    keep_alive: float = 5,
    limit: int | None = None,
    write_timeout: float | None = None,
) -> Iterator[tuple[int, uvicorn.Server]]:
    protocol = guarded_protocol(header_timeout, "httptools")
    if write_timeout is not None:
        protocol = type("Timed", (protocol,), {"write_timeout": write_timeout})
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            lifespan="off",
            log_config=None,
            access_log=False,
            proxy_headers=False,
            http=protocol,
            loop="auto",  # uvloop, as serve runs
            timeout_keep_alive=keep_alive,
            timeout_graceful_shutdown=5,
            limit_concurrency=limit,
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield sock.getsockname()[1], server
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    _UNREAD.pop(sock.fileno(), None)
    return sock


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One answer: status, headers (lower-case names), body (by length or chunks); what
    came after it on the socket is kept for the next call."""
    data = _UNREAD.pop(sock.fileno(), b"")

    def more() -> bytes:
        received = sock.recv(65536)
        if not received:
            raise ConnectionError(f"closed after {data!r}")
        return received

    while b"\r\n\r\n" not in data:
        data += more()
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = b""
    if "content-length" in headers:
        length = int(headers["content-length"])
        while len(rest) < length:
            rest += more()
        body, rest = rest[:length], rest[length:]
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            while b"\r\n" not in rest:
                rest += more()
            size_text, _, rest = rest.partition(b"\r\n")
            size = int(size_text, 16)
            while len(rest) < size + 2:
                rest += more()
            body, rest = body + rest[:size], rest[size + 2 :]
            if size == 0:
                break
    if rest:
        _UNREAD[sock.fileno()] = rest
    return status, headers, body


def closed(sock: socket.socket, within: float = 5.0) -> bool:
    """Whether the server closes the connection within ``within`` seconds."""
    sock.settimeout(within)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def last_answer(sock: socket.socket) -> int:
    """The status of an answer that says ``Connection: close`` and is followed by the
    server closing the connection."""
    status, headers, _ = read_answer(sock)
    assert headers["connection"] == "close" and closed(sock)
    assert "date" in headers  # the protocol's own answers carry it too (RFC 9110 6.6.1)
    return status


def post(path: str, body: bytes, extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode()
        + body
    )


def test_auto_and_httptools_pick_it_and_h11_stays_uvicorns() -> None:
    for http in ("auto", "httptools"):
        chosen = guarded_protocol(2.5, http)
        assert issubclass(chosen, HttpProtocol)
        assert chosen.header_timeout == 2.5  # type: ignore[attr-defined]
    assert not issubclass(guarded_protocol(2.5, "h11"), HttpProtocol)


def test_requests_on_one_connection_are_answered_in_turn() -> None:
    with serving(echo) as (port, _), connect(port) as sock:
        for n in range(3):
            sock.sendall(post(f"/a%20b?n={n}", b'{"n":%d}' % n, "X-Trail: v \t\r\n"))
            status, headers, body = read_answer(sock)
            seen = json.loads(body)
            assert status == 200 and "date" in headers and "connection" not in headers
            assert seen["path"] == "/a b" and seen["query"] == f"n={n}"
            assert seen["body"] == f'{{"n":{n}}}' and seen["messages"] == 1
            assert seen["headers"]["x-trail"] == "v"  # trailing whitespace is not the value's


def test_pipelined_requests_are_answered_in_order() -> None:
    with serving(echo) as (port, _), connect(port) as sock:
        sock.sendall(b"".join(post(f"/{n}", b"x" * n) for n in range(1, 6)))
        for n in range(1, 6):
            status, _, body = read_answer(sock)
            assert status == 200 and json.loads(body)["path"] == f"/{n}"
            assert json.loads(body)["size"] == n


def test_a_body_in_pieces_and_one_past_the_high_water_mark_arrive_whole() -> None:
    with serving(echo) as (port, _), connect(port) as sock:
        sock.sendall(b"POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhello")
        time.sleep(0.2)
        sock.sendall(b"world")
        _, _, body = read_answer(sock)
        assert json.loads(body)["body"] == "helloworld"
        big = b"y" * (HIGH_WATER * 8 + 17)
        sock.sendall(post("/big", big))
        _, _, body = read_answer(sock)
        assert json.loads(body)["size"] == len(big)


def test_a_chunked_request_body_is_read() -> None:
    with serving(echo) as (port, _), connect(port) as sock:
        sock.sendall(
            b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        )
        _, _, body = read_answer(sock)
        assert json.loads(body)["body"] == "hello world"


def test_expect_100_continue_is_answered_when_the_body_is_asked_for() -> None:
    with serving(echo) as (port, _), connect(port) as sock:
        sock.sendall(
            b"POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
        )
        interim = sock.recv(65536)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"body")
        status, _, body = read_answer(sock)
        assert status == 200 and json.loads(body)["body"] == "body"


def test_head_answers_carry_headers_and_no_body() -> None:
    with serving(echo) as (port, _), connect(port) as sock:
        sock.sendall(b"HEAD /h HTTP/1.1\r\nHost: t\r\n\r\n" + post("/after", b"1"))
        data = b""
        while data.count(b"\r\n\r\n") < 2 or not data.endswith(b"}"):
            data += sock.recv(65536)
        first, _, second = data.partition(b"\r\n\r\n")
        assert first.startswith(b"HTTP/1.1 200") and b"content-length: " in first
        assert second.startswith(b"HTTP/1.1 200")  # nothing of a body between the two


async def unsized(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An answer in two parts without a length: sent in chunks."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"one,", "more_body": True})
    await send({"type": "http.response.body", "body": b"two"})


def test_an_answer_without_a_length_is_sent_in_chunks() -> None:
    with serving(unsized) as (port, _), connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        status, headers, body = read_answer(sock)
        assert status == 200 and headers["transfer-encoding"] == "chunked"
        assert body == b"one,two"


def test_http_1_0_closes_after_its_answer() -> None:
    with serving(echo) as (port, _), connect(port) as sock:
        sock.sendall(b"GET /old HTTP/1.0\r\n\r\n")
        status, headers, body = read_answer(sock)
        assert status == 200 and headers["connection"] == "close"
        assert json.loads(body)["version"] == "1.0"
        assert closed(sock)


@pytest.mark.parametrize(
    "garbage",
    [
        b"NOT HTTP AT ALL\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        b"GET /\xff HTTP/1.1\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\nabc",
    ],
    ids=["not-http", "bad-header", "bad-target", "bad-chunk-size", "unknown-coding"],
)
def test_a_request_the_parser_refuses_is_400_and_closed(garbage: bytes) -> None:
    """Its head, or the body of the request being answered (the app sees the client gone)."""
    with serving(echo) as (port, _), connect(port) as sock:
        sock.sendall(garbage)
        assert last_answer(sock) == 400


def test_a_head_past_the_limit_is_431_and_closed() -> None:
    with serving(echo) as (port, _), connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")
        filler = b"X-Fill: " + b"f" * 1000 + b"\r\n"
        try:
            for _ in range(MAX_HEAD_BYTES // len(filler) + 2):
                sock.sendall(filler)
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, headers, _ = read_answer(sock)
        assert status == 431 and "date" in headers
        assert closed(sock)


def test_headers_that_never_finish_are_408_and_an_idle_connection_is_closed() -> None:
    with serving(echo, header_timeout=0.5, keep_alive=1) as (port, _):
        with connect(port) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Ty")
            started = time.monotonic()
            status, headers, body = read_answer(sock)
            assert status == 408 and b"header_timeout" in body and "date" in headers
            assert 0.4 < time.monotonic() - started < 5 and closed(sock)
        with connect(port) as sock:  # no byte at all: the first request's deadline
            assert closed(sock, within=5)
        with connect(port) as sock:  # answered, then idle: closed after the keep-alive time
            sock.sendall(post("/", b"1"))
            read_answer(sock)
            started = time.monotonic()
            assert closed(sock, within=5) and 0.8 < time.monotonic() - started < 4


def test_a_connection_kept_busy_is_not_closed_by_the_deadlines() -> None:
    with serving(echo, header_timeout=0.5, keep_alive=1) as (port, _), connect(port) as sock:
        ended = time.monotonic() + 2.5
        while time.monotonic() < ended:
            sock.sendall(post("/", b"1"))
            assert read_answer(sock)[0] == 200
            time.sleep(0.3)


async def failing(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["path"] == "/raise":
        raise ValueError("secret-value-never-logged")
    if scope["path"] == "/midway":
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]}
        )
        raise ValueError("secret-value-never-logged")
    if scope["path"] == "/bad-header":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x", b"a\r\nb")]})
    # "/silent": returns without answering


@pytest.mark.parametrize("path", ["/raise", "/silent", "/bad-header"])
def test_an_app_that_fails_before_answering_is_500_and_closed(
    path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with serving(failing) as (port, _), connect(port) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        status, headers, body = read_answer(sock)
        assert status == 500 and body == b"Internal Server Error" and "date" in headers
        assert headers["connection"] == "close" and closed(sock)
    assert "secret-value-never-logged" not in capsys.readouterr().err


def test_an_app_that_fails_mid_answer_has_its_connection_closed() -> None:
    with serving(failing) as (port, _), connect(port) as sock:
        sock.sendall(b"GET /midway HTTP/1.1\r\nHost: t\r\n\r\n")
        assert closed(sock)


def test_a_client_gone_mid_body_is_a_disconnect_to_the_app() -> None:
    seen: list[dict[str, Any]] = []
    gone = threading.Event()

    async def reader(scope: dict[str, Any], receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            seen.append(message)
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                gone.set()
                return

    with serving(reader) as (port, _):
        with connect(port) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\npart")
            time.sleep(0.2)
        assert gone.wait(5)
    assert seen[-1] == {"type": "http.disconnect"}
    assert b"".join(m.get("body", b"") for m in seen) == b"part"


def test_past_the_concurrency_limit_new_requests_are_503() -> None:
    release = asyncio.Event()

    async def held(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await asyncio.wait_for(release.wait(), 5)
        await echo(scope, receive, send)

    with serving(held, limit=1) as (port, _), connect(port) as first, connect(port) as second:
        first.sendall(post("/", b"1"))
        time.sleep(0.2)
        second.sendall(post("/", b"2"))
        status, headers, _ = read_answer(second)
        assert status == 503 and headers["connection"] == "close"


def test_shutdown_lets_the_request_in_flight_finish_then_closes() -> None:
    entered = threading.Event()

    async def slow(scope: dict[str, Any], receive: Any, send: Any) -> None:
        entered.set()
        await asyncio.sleep(0.5)
        await echo(scope, receive, send)

    with serving(slow) as (port, server), connect(port) as busy, connect(port) as idle:
        busy.sendall(post("/", b"1"))
        assert entered.wait(5)
        server.should_exit = True
        status, headers, _ = read_answer(busy)
        assert status == 200 and headers["connection"] == "close"
        assert closed(busy) and closed(idle)


def test_one_endless_header_line_is_431_too() -> None:
    with serving(echo) as (port, _), connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nX-Endless: ")
        try:
            for _ in range(MAX_HEAD_BYTES // 4096 + 8):
                sock.sendall(b"v" * 4096)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert read_answer(sock)[0] == 431


def test_a_pipelined_flood_is_parsed_no_faster_than_it_is_answered() -> None:
    """No more is fed to the parser while ``MAX_WAITING`` requests wait parsed (it may go
    past by one ``SLICE``'s requests), and every request is answered."""
    deepest = [0]
    servers: list[uvicorn.Server] = []

    async def watched(scope: dict[str, Any], receive: Any, send: Any) -> None:
        waiting = [len(c.pending) for c in servers[0].server_state.connections]
        deepest[0] = max([deepest[0], *waiting])
        await echo(scope, receive, send)

    requests = 20_000
    request = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
    with serving(watched) as (port, server), connect(port) as sock:
        servers.append(server)
        sender = threading.Thread(target=sock.sendall, args=(request * requests,))
        sender.start()
        for _ in range(requests):
            assert read_answer(sock)[0] == 200
        sender.join()
    assert MAX_WAITING <= deepest[0] <= MAX_WAITING + SLICE // len(request) + 1


def test_a_broken_request_after_good_ones_is_refused_after_their_answers() -> None:
    with serving(echo) as (port, _), connect(port) as sock:
        sock.sendall(post("/1", b"a") + post("/2", b"b") + b"NOT HTTP\r\n\r\n")
        assert [read_answer(sock)[0] for _ in range(2)] == [200, 200]
        assert last_answer(sock) == 400  # dated when written, after the answers before it


def test_the_body_of_a_request_asking_for_an_upgrade_is_read() -> None:
    """``curl --http2`` on http:// asks for h2c with every request: not served, the request
    is answered as HTTP/1.1, its body whole, and the connection closed."""
    with serving(echo) as (port, _), connect(port) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\n"
            b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n"
            b'Content-Length: 10\r\n\r\n{"a"'
        )
        time.sleep(0.1)
        sock.sendall(b":1234}GET / HTTP/1.1\r\n\r\n")
        status, headers, body = read_answer(sock)
        assert status == 200 and json.loads(body)["body"] == '{"a":1234}'
        assert headers["connection"] == "close" and closed(sock)


def test_every_receive_waiting_is_woken() -> None:
    """Two watches for the client leaving, started after the body was read, both end when
    the answer is complete."""
    seen: list[str] = []

    async def watching_twice(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "http.request"
        watches = [asyncio.ensure_future(receive()) for _ in range(2)]
        await asyncio.sleep(0.05)
        await refuses_at_once(scope, receive, send)
        for watch in watches:
            seen.append((await asyncio.wait_for(watch, 2))["type"])

    with serving(watching_twice) as (port, _), connect(port) as sock:
        sock.sendall(post("/", b"body"))
        assert read_answer(sock)[0] == 413
        deadline = time.monotonic() + 5
        while len(seen) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert seen == ["http.disconnect", "http.disconnect"]


async def refuses_at_once(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers 413 without reading the body (as intake does past its limit)."""
    await send(
        {"type": "http.response.start", "status": 413, "headers": [(b"content-length", b"0")]}
    )
    await send({"type": "http.response.body", "body": b""})


def test_a_body_still_arriving_after_an_early_answer_is_not_idleness() -> None:
    with serving(refuses_at_once, keep_alive=1) as (port, _), connect(port) as sock:
        total = 600_000
        sock.sendall(f"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: {total}\r\n\r\n".encode())
        for _ in range(20):  # over about 2 s: longer than the keep-alive time
            sock.sendall(b"z" * (total // 20))
            time.sleep(0.1)
        assert read_answer(sock)[0] == 413
        sock.sendall(post("/", b"next"))
        assert read_answer(sock)[0] == 413


async def fails_after_its_head(scope: dict[str, Any], receive: Any, send: Any) -> None:
    headers = [(b"content-length", b"3")] if scope["path"] != "/stream" else []
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if scope["path"] == "/too-long":
        await send({"type": "http.response.body", "body": b"four"})
    if scope["path"] == "/stream":
        await asyncio.sleep(0.5)
        await send({"type": "http.response.body", "body": b"late"})
        return
    raise ValueError("secret-value-never-logged")


@pytest.mark.parametrize("path", ["/fail", "/too-long"])
def test_a_failure_before_any_byte_is_written_is_still_500(path: str) -> None:
    with serving(fails_after_its_head) as (port, _), connect(port) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        assert last_answer(sock) == 500


def test_a_streamed_answer_shows_its_head_at_once() -> None:
    with serving(fails_after_its_head) as (port, _), connect(port) as sock:
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
        sock.settimeout(0.3)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")


def test_an_early_answer_to_expect_100_continue_closes() -> None:
    with serving(refuses_at_once) as (port, _), connect(port) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 9\r\nExpect: 100-continue\r\n\r\n"
        )
        assert last_answer(sock) == 413


def test_trailer_fields_are_not_request_headers() -> None:
    with serving(echo) as (port, _), connect(port) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"2\r\nhi\r\n0\r\nAuthorization: Bearer smuggled\r\n\r\n"
        )
        seen = json.loads(read_answer(sock)[2])
        assert seen["body"] == "hi" and "authorization" not in seen["headers"]


def test_an_absolute_target_without_a_path_is_the_root() -> None:
    with serving(echo) as (port, _), connect(port) as sock:
        sock.sendall(b"GET http://t HTTP/1.1\r\nHost: t\r\n\r\n")
        assert json.loads(read_answer(sock)[2])["path"] == "/"


def test_an_endless_trailer_field_is_431() -> None:
    with serving(echo) as (port, _), connect(port) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-T: "
        )
        try:  # the limit counts from the parser's last callback: up to a read more is taken
            for _ in range(MAX_HEAD_BYTES // 4096 * 12):
                sock.sendall(b"t" * 4096)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert closed(sock)


def test_a_body_trickled_after_an_early_answer_is_cut_off() -> None:
    """The rest of a body answered early is discarded for ``header_timeout`` seconds, then
    the keep-alive time counts: a trickle cannot hold the connection."""
    with (
        serving(refuses_at_once, header_timeout=0.5, keep_alive=1) as (port, _),
        connect(port) as sock,
    ):
        sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n")
        assert read_answer(sock)[0] == 413
        started = time.monotonic()
        with contextlib.suppress(OSError):
            while time.monotonic() - started < 8:
                sock.sendall(b"z")
                time.sleep(0.2)
        assert time.monotonic() - started < 6


def test_a_body_its_app_has_not_asked_for_is_not_read_ahead_without_limit() -> None:
    """Reading pauses once ``HIGH_WATER`` bytes wait for the app: a client sending a large
    body to an app not reading yet is held back by the sockets' buffers."""

    async def late_reader(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await asyncio.sleep(1.5)
        await echo(scope, receive, send)

    size = 16 * 1024 * 1024
    with serving(late_reader) as (port, _), connect(port) as sock:
        sock.sendall(f"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: {size}\r\n\r\n".encode())
        sock.settimeout(0.5)
        sent, piece = 0, b"b" * 65536
        with contextlib.suppress(TimeoutError):
            while sent < size:
                sent += sock.send(piece)
        assert sent < size // 2  # held back: kernel buffers, not the whole body
        sock.settimeout(10)
        sock.sendall(b"b" * (size - sent))
        status, _, body = read_answer(sock)
        assert status == 200 and json.loads(body)["size"] == size


def test_a_bad_target_after_a_good_request_is_refused_after_its_answer() -> None:
    """A target the parser takes and the URL parser refuses is the later request's fault."""
    with serving(echo) as (port, _), connect(port) as sock:
        sock.sendall(post("/1", b"a") + post("/2", b"b") + b"GET http://[ HTTP/1.1\r\n\r\n")
        assert [read_answer(sock)[0] for _ in range(3)] == [200, 200, 400]


def test_a_head_just_past_the_limit_behind_another_request_is_431() -> None:
    """Exact once whole, whatever slices the head was fed in."""
    with serving(echo) as (port, _), connect(port) as sock:
        big = b"GET /b HTTP/1.1\r\nX-Big: " + b"a" * (MAX_HEAD_BYTES + 2000) + b"\r\n\r\n"
        sock.sendall(post("/a", b"1") + big)
        assert [read_answer(sock)[0] for _ in range(2)] == [200, 431]


def _streaming(size: int, ended: threading.Event, piece: int = 65536) -> App:
    """An app answering ``size`` bytes in ``piece``-sized sends (after a second for
    ``/slow``); ``ended`` is set when its last ``send`` returned (at once, once the client
    is gone)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/slow":
            await asyncio.sleep(1.0)
        headers = [(b"content-length", b"%d" % size)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for sent in range(0, size, piece):
            more = sent + piece < size
            body = b"z" * min(piece, size - sent)
            await send({"type": "http.response.body", "body": body, "more_body": more})
        ended.set()

    return app


def _small_window(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.settimeout(10)
    return sock


def _gone(server: uvicorn.Server, within: float = 8.0) -> bool:
    """Whether the server has no connection left within ``within`` seconds."""
    deadline = time.monotonic() + within
    while server.server_state.connections and time.monotonic() < deadline:
        time.sleep(0.05)
    return not server.server_state.connections


def test_a_client_that_reads_none_of_its_answer_is_cut_off() -> None:
    """Its answer fills the transport's buffer; with nothing taken for ``write_timeout``
    the connection is cut: the app's ``send`` returns, the connection is gone."""
    ended = threading.Event()
    app = _streaming(1 << 28, ended)
    with serving(app, write_timeout=0.5) as (port, server), _small_window(port) as sock:
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        assert ended.wait(8), "the app still waits to write"
        assert _gone(server)
        assert closed(sock)  # what the kernel held still arrives, then the end


@pytest.mark.parametrize("last", [b"", b"Connection: close\r\n"])
def test_a_closing_connection_whose_client_reads_nothing_is_cut_off(last: bytes) -> None:
    """Small answers, none read, eight requests at a time until the kernel's buffers are
    full and the transport holds some 8 KB: below the mark where writing would pause. Then the
    connection closes (idle past the keep-alive time, or asked to) and a close waits for
    that buffer to drain: it is cut once nothing is taken for ``write_timeout``."""
    ended = threading.Event()
    app = _streaming(1024, ended)
    with (
        serving(app, keep_alive=1, write_timeout=0.5) as (port, server),
        _small_window(port) as sock,
    ):
        _fill_below_the_mark(server, sock)
        request = b"GET / HTTP/1.1\r\nHost: t\r\n" + last + b"\r\n"
        sock.sendall(request)
        assert _buffered(server) < 65536  # below the mark: writing never paused
        assert _gone(server), "the closing connection is still there"


def _fill_below_the_mark(server: uvicorn.Server, sock: socket.socket) -> int:
    """Requests for 1 KB answers, eight at a time, each eight answered before the next,
    until the transport holds some 8 KB unwritten (the kernel's buffers full before it):
    below the mark where writing pauses. Returns how many were answered."""
    request = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
    sent = 0
    deadline = time.monotonic() + 20
    while _buffered(server) < 8192:
        sock.sendall(request * 8)
        sent += 8
        while server.server_state.total_requests < sent:  # answered: the count is settled
            assert time.monotonic() < deadline, "the server's buffer never filled"
            time.sleep(0.001)
    return sent


@pytest.mark.parametrize(
    ("asks", "reads"),
    [(False, False), (True, False), (False, True)],
    ids=["reads nothing", "asks more, reads nothing", "reads slowly"],
)
def test_a_client_that_half_closes_is_held_to_the_write_deadline(asks: bool, reads: bool) -> None:
    """The client sends its requests and shuts down its side; the transport closes (once
    what is written has gone) as before. Reading nothing, it is cut off; reading slowly,
    after the keep-alive time (its timer's tick would have cut it on a stale deadline,
    while the transport still held some of the answers), it gets every answer. Asking for
    one more answer, slow to come, before half-closing: the timer ticks while that one is
    answered and is not re-armed then, and the close must still be watched."""
    ended = threading.Event()
    app = _streaming(1024, ended)
    with (
        serving(app, keep_alive=0.3, write_timeout=1.0) as (port, server),
        _small_window(port) as sock,
    ):
        answered = _fill_below_the_mark(server, sock)
        if asks:
            sock.sendall(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
            time.sleep(0.5)  # the keep-alive tick passes while it is answered
        sock.shutdown(socket.SHUT_WR)
        if not reads:
            assert _gone(server), "the half-closed connection is still there"
            return
        time.sleep(0.4)  # the keep-alive tick passes before any of it is read
        received = b""
        while chunk := _steadily(sock, 128 * 1024):
            received += chunk
        assert received.count(b"HTTP/1.1 200 OK") == answered


def _steadily(sock: socket.socket, size: int) -> bytes:
    """Up to ``size`` bytes after 50 ms: a steady reader of ``size`` bytes every 50 ms."""
    time.sleep(0.05)
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _buffered(server: uvicorn.Server) -> int:
    """What the server's connections hold unwritten (read from the test's thread: a
    glance, enough for a test)."""
    connections = list(server.server_state.connections)
    return sum(c.transport.get_write_buffer_size() for c in connections if c.transport)


@pytest.mark.parametrize(
    ("size", "piece", "burst", "pause", "write_timeout"),
    [
        pytest.param(12 << 20, 64 << 10, 1 << 20, 0.2, 0.6, id="in pieces, read in bursts"),
        pytest.param(12 << 20, 12 << 20, 1 << 20, 0.2, 0.6, id="in one send, read in bursts"),
        pytest.param(5 << 20, 5 << 20, 64 << 10, 0.05, 0.4, id="in one send, read steadily"),
    ],
)
def test_a_client_that_reads_slowly_gets_its_whole_answer(
    size: int, piece: int, burst: int, pause: float, write_timeout: float
) -> None:
    """An answer read ``burst`` bytes at most every ``pause`` seconds, over several times
    ``write_timeout``: the buffers fill and writing pauses, yet each ``write_timeout``
    sees some taken. Sent in one piece, the transport's buffer holds nearly all of it the
    whole time; read steadily (1.3 MB/s), the kernel takes more from the transport only in
    steps of megabytes, longer apart than ``write_timeout``."""
    ended = threading.Event()
    app = _streaming(size, ended, piece)
    with serving(app, write_timeout=write_timeout) as (port, _), _small_window(port) as sock:
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            data += _received(sock)
        received = len(data.partition(b"\r\n\r\n")[2])
        while received < size:
            time.sleep(pause)
            taken = 0
            while taken < burst and received < size:
                chunk = _received(sock, burst - taken)
                taken += len(chunk)
                received += len(chunk)
        assert received == size and ended.wait(5)


def _received(sock: socket.socket, most: int = 1 << 20) -> bytes:
    data = sock.recv(most)
    assert data, "closed before the whole answer"
    return data
