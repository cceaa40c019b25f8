"""End to end over a real socket: requests built by the destination are sent with
``httpx.Client`` to a small HTTP server on 127.0.0.1, and its real answers are classified."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

# status, extra headers, JSON body
ANSWERS: list[tuple[int, dict[str, str], Any]] = [
    (200, {}, {}),
    (
        207,
        {},
        {
            "errors": [
                {"batch_index": 1, "reason": "invalid", "field": "name", "message": "too long"}
            ]
        },
    ),
    (429, {"Retry-After": "7"}, None),
]


class Vendor(BaseHTTPRequestHandler):
    """Answers each POST with the next scripted answer and records what it received."""

    answers: list[tuple[int, dict[str, str], Any]] = []
    received: list[tuple[str, str, dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.received.append((self.command, self.path, dict(self.headers), body))
        status, headers, answer = self.answers.pop(0)
        content = b"" if answer is None else json.dumps(answer).encode()
        self.send_response(status)
        for name, value in {**headers, "Content-Type": "application/json"}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test asserts on ``received`` instead."""


@pytest.fixture
def vendor() -> Iterator[str]:
    Vendor.answers = list(ANSWERS)
    Vendor.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Vendor)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_real_round_trip(cio: Any, prepare: Any, settings: Any, vendor: str) -> None:
    live = {**settings, "base_url": vendor}
    items = [prepare("event", {"identifiers": {"id": f"u{i}"}, "name": "n"}) for i in range(3)]
    requests = [cio.build_requests(items, live)[0] for _ in ANSWERS]
    with httpx.Client(timeout=5) as client:
        outcomes = [cio.classify(sent, client.send(sent.request)) for sent in requests]

    assert [[o.status for o in batch] for batch in outcomes] == [
        ["delivered"] * 3,
        ["delivered", "failed", "delivered"],
        ["retry"] * 3,
    ]
    assert outcomes[1][1].reason == "reason: invalid, field: name, message: too long"
    assert {o.retry_after for o in outcomes[2]} == {7.0}

    token = base64.b64encode(f"{settings['site_id']}:{settings['api_key']}".encode()).decode()
    for (method, path, headers, body), sent in zip(Vendor.received, requests, strict=True):
        assert (method, path) == ("POST", "/api/v2/batch")
        assert headers["Authorization"] == f"Basic {token}"
        assert body == sent.request.content
        assert len(json.loads(body)["batch"]) == 3
