"""Heavy bodies are checked and parsed off the event loop: a real ``mapwire serve`` keeps
acknowledging small webhooks while large, deeply nested batches are being read."""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from server_helpers import INBOUND_TOKEN, reporting_webhook, signed, sink_flows, write_config
from test_serve_command import _start, _stop

from mapwire.server.parse_budget import ParseBudget

HEAVY_SENDERS = 2
#: Bodies of 20 MB (the body limit is raised for them): the depth check of one takes long
#: enough that the requests answered during it outnumber those caught between checks.
HEAVY_BYTES = 20_000_000
#: Small webhooks that must be acknowledged after every heavy body was sent and before
#: the last of them is answered, i.e. while the server is checking them. With the checks
#: on the event loop none is (the loop is blocked for seconds per body); off it, a few are:
#: the checking thread shares the interpreter lock with the loop, so each small request is
#: slow (see benchmarks/heavy_bodies.py for the latencies), but answered.
SMALL_DURING_CHECKS = 1  # before: none; after: 3 to 6 seen


def heavy_body() -> bytes:
    """An Events API batch of ``HEAVY_BYTES``: its padding nests 63 deep, and only its last
    element goes past the limit of 64 (68 deep, with no run of 65 openers that would give
    it away early), so the depth check does all its passes over the whole body."""
    deep = "[" * 61 + "0" + "]" * 61
    padding = ",".join([deep] * (HEAVY_BYTES // (len(deep) + 1)))
    last = "[" * 33 + "[]," + "[" * 33 + "0" + "]" * 66
    head = '{"user_identities":{"customer_id":"heavy"},"events":[]'
    return f'{head},"padding":[{padding},{last}]}}'.encode()


class HeavySender(threading.Thread):
    """Posts one heavy body on a socket of its own; ``sent`` is set once all of it is
    handed to the kernel; the thread ends when the answer came back."""

    def __init__(self, url: str, body: bytes) -> None:
        super().__init__(daemon=True)
        parts = urlsplit(url)
        self.address = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.body = body
        self.sent = threading.Event()
        self.status_line = b""

    def run(self) -> None:
        head = (
            "POST /mparticle/events HTTP/1.1\r\nHost: mapwire\r\n"
            f"Authorization: Bearer {INBOUND_TOKEN}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(self.body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        with socket.create_connection(self.address, timeout=300) as sock:
            sock.sendall(head + self.body)
            self.sent.set()
            answer = sock.makefile("rb").read()
        self.status_line = answer.split(b"\r\n", 1)[0]


def test_small_webhooks_are_answered_while_heavy_bodies_are_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secrets: None
) -> None:
    server = {
        "auth": {"bearer_token": {"env": "TEST_INBOUND_TOKEN"}},
        "max_body_bytes": HEAVY_BYTES + 1_000,
    }
    config = write_config(tmp_path, sink_flows(), server=server)
    process, url = _start(["--config", str(config)], tmp_path)
    body = heavy_body()
    senders = [HeavySender(url, body) for _ in range(HEAVY_SENDERS)]
    during_checks: list[int] = []
    try:
        with httpx.Client(base_url=url, timeout=300) as small:
            for sender in senders:
                sender.start()
            n = 0
            while any(sender.is_alive() for sender in senders):
                all_sent = all(sender.sent.is_set() for sender in senders)
                doc = orjson.dumps(reporting_webhook(f"small-{n}", person=f"p{n}"))
                answer = small.post("/customerio/webhook", content=doc, headers=signed(doc))
                if all_sent and all(sender.is_alive() for sender in senders):
                    during_checks.append(answer.status_code)
                n += 1
            for sender in senders:
                sender.join()
    finally:
        _stop(process)
    assert [s.status_line for s in senders] == [b"HTTP/1.1 400 Bad Request"] * HEAVY_SENDERS
    assert set(during_checks) <= {202}
    assert len(during_checks) >= SMALL_DURING_CHECKS, len(during_checks)


def test_bodies_past_the_parse_budget_wait_their_turn_and_are_parsed() -> None:
    budget = ParseBudget(100_000, inline_bytes=1_000)
    bodies = [orjson.dumps({"n": n, "pad": "x" * 150_000}) for n in range(4)]

    async def parse_all() -> list[object]:
        return list(await asyncio.gather(*(budget.parse(b, 64) for b in bodies)))

    try:
        parsed = asyncio.run(parse_all())
    finally:
        budget.close()
    assert [doc["n"] for doc in parsed] == [0, 1, 2, 3]  # type: ignore[index]
    assert budget.in_flight == 0
