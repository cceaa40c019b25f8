"""Robust intake: size, depth, content type, malformed and misshapen bodies are clear 4xx
answers that change nothing; a full backlog is a 503 the sender retries."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from customerio_webhooks import reporting_webhook
from server_helpers import (
    INBOUND_TOKEN,
    RunningServer,
    bearer,
    cio_destination,
    events_batch,
    serve_config,
    set_secrets,
    signed,
    sink_flows,
    write_config,
)

Serve = Callable[[Path], RunningServer]
LIMITS = {
    "auth": {"bearer_token": {"env": "TEST_INBOUND_TOKEN"}},
    "max_body_bytes": 4096,
    "max_json_depth": 8,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server for the module: every test leaves it as it found it (nothing queued)."""
    folder = tmp_path_factory.mktemp("limits")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        set_secrets(patch)
        running = serve_config(write_config(folder, sink_flows(), server=LIMITS))
        yield running
        running.stop()


@pytest.fixture(autouse=True)
def drained(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "server" in request.fixturenames:
        request.getfixturevalue("server").wait_delivered()


def _error(
    server: RunningServer, path: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    with server.client() as client:
        response = client.post(path, content=body, headers=headers or bearer())
    assert response.headers["content-type"] == "application/json"
    return response.status_code, response.json()["error"]["code"]


def _still_serving(server: RunningServer) -> None:
    with server.client(headers=bearer()) as client:
        response = client.post("/mparticle/events", content=json.dumps(events_batch("ok", 1)))
    assert response.status_code == 202 and response.json()["queued"] == 2


def _nested(depth: int) -> bytes:
    return b'{"events": [], "x": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


@pytest.mark.parametrize(
    "path", ["/mparticle/events", "/mparticle/firehose", "/customerio/webhook"]
)
def test_oversize_bodies_are_413(server: RunningServer, path: str) -> None:
    body = json.dumps({"type": "event_processing_request", "id": "x", "pad": "x" * 5000}).encode()
    headers = {**bearer(), **signed(body)}
    assert _error(server, path, body, headers) == (413, "body_too_large")
    _still_serving(server)


def test_a_streamed_body_is_cut_off_at_the_limit(server: RunningServer) -> None:
    """No Content-Length (chunked): the server stops reading once past the limit."""
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(
            b"POST /mparticle/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {INBOUND_TOKEN}\r\n".encode()
            + b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"[" + b" " * 999
        for _ in range(5):
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        sock.settimeout(10)
        answer = b""
        while b"body_too_large" not in answer:
            more = sock.recv(65536)
            if not more:
                break
            answer += more
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"body_too_large" in answer
    _still_serving(server)


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/mparticle/events", _nested(9), (400, "too_deep")),
        (
            "/mparticle/firehose",
            b'{"type": "event_processing_request", "id": "x", "a": ' + b"[" * 9 + b"]" * 9 + b"}",
            (400, "too_deep"),
        ),
        ("/mparticle/events", b"[" * 3000, (400, "too_deep")),
        ("/mparticle/events", b'{"events": [', (400, "malformed_json")),
        ("/mparticle/events", b"", (400, "malformed_json")),
        ("/mparticle/events", b"\xff\xfe{}", (400, "malformed_json")),
        ("/mparticle/events", b"1e400", (400, "malformed_json")),
        # beyond 64 bits the parser would make a float of it: refused, never changed
        (
            "/mparticle/events",
            b'{"user_identities": {"customer_id": "c"}, "mpid": 123456789012345678901234567}',
            (400, "number_out_of_range"),
        ),
        (
            "/mparticle/events",
            b'{"user_identities": {"customer_id": "c"}, "mpid": -9223372036854775809}',
            (400, "number_out_of_range"),
        ),
        ("/mparticle/events", b'"a string"', (400, "invalid_shape")),
        ("/mparticle/events", b'{"events": "no"}', (400, "invalid_shape")),
        ("/mparticle/events", b'{"events": [1]}', (400, "invalid_shape")),
        ("/mparticle/events", b'{"user_identities": 7}', (400, "invalid_shape")),
        ("/mparticle/events", b"[{}, 2]", (400, "invalid_shape")),
        ("/mparticle/firehose", b"[]", (400, "invalid_shape")),
        ("/mparticle/firehose", b'{"type": "event_processing_request"}', (400, "invalid_shape")),
        ("/mparticle/firehose", b'{"type": "nonsense", "id": "x"}', (400, "unsupported_type")),
        (
            "/mparticle/firehose",
            b'{"type": "event_processing_request", "id": "x", "events": {}}',
            (400, "invalid_shape"),
        ),
        (
            "/mparticle/firehose",
            b'{"type": "audience_membership_change_request", "id": "x", "user_profiles": [3]}',
            (400, "invalid_shape"),
        ),
    ],
)
def test_bad_bodies_are_400(
    server: RunningServer, path: str, body: bytes, expected: tuple[int, str]
) -> None:
    assert _error(server, path, body) == expected
    assert server.queue.depth() == 0
    _still_serving(server)


def test_depth_at_the_limit_is_fine(server: RunningServer) -> None:
    with server.client(headers=bearer()) as client:
        assert client.post("/mparticle/events", content=_nested(8)).status_code == 202


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
def test_wrong_content_types_are_415(server: RunningServer, content_type: str | None) -> None:
    headers = {"Authorization": f"Bearer {INBOUND_TOKEN}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    body = json.dumps(events_batch("c", 1)).encode()
    for path in ("/mparticle/events", "/mparticle/firehose"):
        assert _error(server, path, body, headers) == (415, "unsupported_media_type")
    unsigned_type = {k: v for k, v in signed(body).items() if k != "Content-Type"}
    assert _error(server, "/customerio/webhook", body, {**unsigned_type, **headers}) == (
        415,
        "unsupported_media_type",
    )
    if content_type is None:
        return
    with server.client(
        headers={**headers, "Content-Type": "application/json; charset=UTF-8"}
    ) as client:
        assert client.post("/mparticle/events", content=body).status_code == 202


def test_webhook_envelope_is_checked(server: RunningServer) -> None:
    for broken in (
        {"event_id": 5},
        {**reporting_webhook("x"), "data": []},
        {**reporting_webhook("x"), "timestamp": "1"},
    ):
        body = json.dumps(broken).encode()
        assert _error(server, "/customerio/webhook", body, signed(body)) == (400, "invalid_shape")


@pytest.fixture
def stalled(
    serve: Serve, tmp_path: Path, vendor_secrets: None, customerio_server: Any
) -> Iterator[RunningServer]:
    """A server whose Customer.io is down, with a backlog limit of 3 actions."""
    connection = {
        "name": "events",
        "flow": "mparticle-events-to-customerio",
        "destination": cio_destination(customerio_server),
        "delivery": {"max_backlog": 3},
    }
    customerio_server.down()
    yield serve(write_config(tmp_path, [connection]))
    customerio_server.up()


def test_a_full_backlog_is_503_with_retry_after(stalled: RunningServer) -> None:
    with stalled.client(headers=bearer()) as client:
        assert (
            client.post("/mparticle/events", content=json.dumps(events_batch("b1", 4))).status_code
            == 202
        )
        refused = client.post("/mparticle/events", content=json.dumps(events_batch("b2", 1)))
        ready = client.get("/readyz")
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "5"
    assert refused.json()["error"]["code"] == "backlog_full"
    assert ready.status_code == 503 and ready.json() == {
        "status": "backlog_full",
        "connection": "events",
    }
    assert stalled.queue.depth("events") == 5  # the refused batch queued nothing
