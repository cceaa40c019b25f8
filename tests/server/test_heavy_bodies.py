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

from mapwire.engine.server.parse_budget import ParseBudget

HEAVY_SENDERS = 3
#: Small webhooks that must be acknowledged after every heavy body was sent and before
#: the first of them is answered, i.e. while the server is checking them. With the check on
#: the event loop, nothing else is answered in that window (at most one or two requests
#: caught in the gaps between two checks).
SMALL_DURING_CHECKS = 12


def heavy_body() -> bytes:
    """An Events API batch of about 4.9 MB: its padding nests 63 deep, and only its last
    element goes past the limit of 64 (68 deep, with no run of 65 openers that would give
    it away early), so the depth check does all its passes over the whole body."""
    deep = "[" * 61 + "0" + "]" * 61
    padding = ",".join([deep] * (4_900_000 // (len(deep) + 1)))
    last = "[" * 33 + "[]," + "[" * 33 + "0" + "]" * 66
    head = '{"user_identities":{"customer_id":"heavy"},"events":[]'
    return f'{head},"padding":[{padding},{last}]}}'.encode()


class HeavySender(threading.Thread):
    """Posts one heavy body on a socket of its own; ``sent`` is set once all of it is
    handed to the kernel, ``answered`` once the status line came back."""

    def __init__(self, url: str, body: bytes, first_answer: threading.Event) -> None:
        super().__init__(daemon=True)
        parts = urlsplit(url)
        self.address = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.body = body
        self.sent = threading.Event()
        self.first_answer = first_answer
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
        self.first_answer.set()
        self.status_line = answer.split(b"\r\n", 1)[0]


def test_small_webhooks_are_answered_while_heavy_bodies_are_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secrets: None
) -> None:
    config = write_config(tmp_path, sink_flows())
    process, url = _start(["--config", str(config)], tmp_path)
    body = heavy_body()
    first_answer = threading.Event()
    senders = [HeavySender(url, body, first_answer) for _ in range(HEAVY_SENDERS)]
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
                if all_sent and not first_answer.is_set():
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
