"""Slow and idle clients cannot exhaust a real ``mapwire serve``: connections whose headers
never finish are answered 408 and closed, and a connection past ``server.max_connections``
is answered 503 while the others are held."""

from __future__ import annotations

import selectors
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from server_helpers import sink_flows, write_config
from test_serve_command import _start, _stop

STALLED = 50
#: Far above the 1 s header timeout configured, far below "never".
CLOSE_WITHIN_SECONDS = 15.0
PARTIAL = b"POST /mparticle/events HTTP/1.1\r\nHost: mapwire\r\nContent-Ty"
#: Both HTTP stacks ``server.http``/``server.loop`` choose from: the C parser on uvloop
#: (installed with mapwire), and the pure-Python parser on asyncio.
STACKS = [
    pytest.param({"http": "httptools", "loop": "uvloop"}, id="httptools-uvloop"),
    pytest.param({"http": "h11", "loop": "asyncio"}, id="h11-asyncio"),
]


def _server(tmp_path: Path, **options: object) -> tuple[object, str]:
    server = {"auth": {"bearer_token": {"env": "TEST_INBOUND_TOKEN"}}, **options}
    config = write_config(tmp_path, sink_flows(), server=server)
    return _start(["--config", str(config)], tmp_path)


def _stall(url: str, first: bytes = b"") -> socket.socket:
    """A connection that sends ``first`` (whole requests), then half a header, then waits."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=30)
    if first:
        sock.sendall(first)
        answer = b""
        while not answer.endswith(b"}"):  # the whole JSON answer
            answer += sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200"), answer[:40]
    sock.sendall(PARTIAL)
    return sock


def _wait_closed(socks: list[socket.socket], within: float) -> dict[socket.socket, bytes]:
    """What each connection received until the server closed it; raises if one stays open."""
    received = {sock: b"" for sock in socks}
    selector = selectors.DefaultSelector()
    for sock in socks:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    open_ = set(socks)
    deadline = time.monotonic() + within
    while open_ and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.5):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if data:
                received[sock] += data
            else:
                selector.unregister(sock)
                open_.discard(sock)
    selector.close()
    assert not open_, f"{len(open_)} of {len(socks)} stalled connections still open"
    return received


@pytest.mark.parametrize("stack", STACKS)
def test_connections_that_never_finish_their_headers_are_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secrets: None, stack: dict[str, str]
) -> None:
    process, url = _server(tmp_path, header_timeout_seconds=1, **stack)
    socks: list[socket.socket] = []
    try:
        keep_alive = b"GET /healthz HTTP/1.1\r\nHost: mapwire\r\n\r\n"
        socks = [_stall(url) for _ in range(STALLED - 1)] + [_stall(url, keep_alive)]
        assert httpx.get(url + "/healthz", timeout=10).status_code == 200
        received = _wait_closed(socks, CLOSE_WITHIN_SECONDS)
        assert httpx.get(url + "/healthz", timeout=10).status_code == 200
    finally:
        for sock in socks:
            sock.close()
        _stop(process)  # type: ignore[arg-type]
    for data in received.values():
        assert data.startswith(b"HTTP/1.1 408 ") and b'"header_timeout"' in data, data[:200]
        assert b"\r\ndate: " in data.partition(b"\r\n\r\n")[0], data[:200]  # both stacks


@pytest.mark.parametrize("stack", STACKS)
def test_a_connection_past_max_connections_is_answered_503(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secrets: None, stack: dict[str, str]
) -> None:
    process, url = _server(tmp_path, max_connections=3, **stack)
    socks: list[socket.socket] = []
    try:
        socks = [_stall(url) for _ in range(3)]
        refused = httpx.get(url + "/healthz", timeout=10)
        for sock in socks:
            sock.close()
        socks = []
        time.sleep(0.2)  # the server sees the three closes
        served = httpx.get(url + "/healthz", timeout=10)
    finally:
        for sock in socks:
            sock.close()
        _stop(process)  # type: ignore[arg-type]
    assert refused.status_code == 503
    assert served.status_code == 200
