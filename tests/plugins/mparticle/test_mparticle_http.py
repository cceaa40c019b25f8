"""End to end over a real socket: built requests sent with httpx to a loopback server."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from jsonschema import Draft7Validator

from mapwire import PreparedItem
from mapwire.plugins.mparticle.destination import MParticle
from mapwire.plugins.mparticle.errors import check_result

Prepare = Callable[..., PreparedItem]


@dataclass
class Received:
    """What the server saw, and the answers it gives in turn."""

    answers: list[tuple[int, dict[str, str], bytes]]
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        seen = self.server.received
        seen.requests.append((self.command, self.path, dict(self.headers.items()), body))
        status, headers, content = seen.answers[min(len(seen.requests), len(seen.answers)) - 1]
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads what was received instead."""


class _Server(ThreadingHTTPServer):
    received: Received


@pytest.fixture
def serve() -> Iterator[Callable[..., tuple[str, Received]]]:
    """``serve((status, headers, body), ...)``: a base URL on 127.0.0.1 and its log."""
    servers: list[tuple[_Server, threading.Thread]] = []

    def start(*answers: tuple[int, dict[str, str], bytes]) -> tuple[str, Received]:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.received = Received(list(answers))
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}/v2", server.received

    yield start
    for server, thread in servers:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def test_a_real_request_round_trip(
    destination: MParticle,
    settings: dict[str, Any],
    prepare: Prepare,
    bulk_validator: Draft7Validator,
    serve: Callable[..., tuple[str, Received]],
) -> None:
    base_url, received = serve((202, {}, b""))
    items = [
        prepare("custom_event", user="u1", event_name="Signed Up", source_message_id="m1"),
        prepare("screen_view", user="u1", screen_name="Home", source_message_id="m2"),
        prepare("user_attributes", user="u2", user_attributes={"plan": "pro"}),
    ]
    (sent,) = destination.build_requests(items, settings | {"base_url": base_url})
    with httpx.Client(timeout=5) as client:
        response = client.send(sent.request)
    outcomes = destination.classify(sent, response)

    assert [o.status for o in outcomes] == ["delivered"] * 3
    ((method, path, headers, body),) = received.requests
    assert (method, path) == ("POST", "/v2/bulkevents")
    credentials = base64.b64decode(headers["Authorization"].removeprefix("Basic ")).decode()
    assert credentials == f"{settings['api_key']}:{settings['api_secret']}"
    assert headers["User-Agent"] == "mapwire/0.1.0"
    assert headers["Content-Type"] == "application/json"
    batches = json.loads(body)
    assert list(bulk_validator.iter_errors(batches)) == []
    assert [b["user_identities"] for b in batches] == [
        {"customer_id": "u1"},
        {"customer_id": "u1"},
        {"customer_id": "u2"},
    ]


@pytest.mark.parametrize(
    ("answer", "status", "retry_after", "reason"),
    [
        pytest.param(
            (429, {"Retry-After": "12"}, b""), "retry", 12.0, "rate limited (429)", id="429"
        ),
        pytest.param(
            (
                400,
                {"Content-Type": "application/json"},
                b'{"errors":[{"code":"BAD_REQUEST","message":"No."}]}',
            ),
            "failed",
            None,
            "rejected by mParticle (400): BAD_REQUEST: No.",
            id="400",
        ),
        pytest.param(
            (403, {}, b""), "credentials_refused", None, "credentials rejected (403)", id="403"
        ),
        pytest.param((503, {}, b"busy"), "retry", None, "mParticle unavailable (503)", id="503"),
    ],
)
def test_real_error_answers_are_classified(
    destination: MParticle,
    settings: dict[str, Any],
    prepare: Prepare,
    serve: Callable[..., tuple[str, Received]],
    answer: tuple[int, dict[str, str], bytes],
    status: str,
    retry_after: float | None,
    reason: str,
) -> None:
    base_url, _ = serve(answer)
    items = [prepare("custom_event", user=f"u{i}", event_name="e") for i in range(3)]
    (sent,) = destination.build_requests(items, settings | {"base_url": base_url})
    with httpx.Client(timeout=5) as client:
        outcomes = destination.classify(sent, client.send(sent.request))
    assert {(o.status, o.retry_after, o.reason) for o in outcomes} == {
        (status, retry_after, reason)
    }


def test_check_request_over_a_real_socket(
    destination: MParticle, settings: dict[str, Any], serve: Callable[..., tuple[str, Received]]
) -> None:
    base_url, received = serve((400, {}, b'{"errors":[]}'))
    request = destination.check_request(settings | {"base_url": base_url})
    assert request is not None
    with httpx.Client(timeout=5) as client:
        response = client.send(request)
    assert check_result(response) == (True, "credentials accepted (400)")
    ((method, path, _, body),) = received.requests
    assert (method, path) == ("POST", "/v2/events")
    assert json.loads(body) == {"environment": "development", "events": [{"data": {}}]}
