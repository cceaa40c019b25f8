"""Heavy bodies never stall the serving process: a real ``mapwire serve`` hands bodies over
``server.offload_bytes`` to its helper process (which parses, maps and queues them) and
keeps acknowledging small webhooks meanwhile; a helper that dies costs one 503, not the
server."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from customerio_webhooks import reporting_webhook
from server_helpers import (
    INBOUND_TOKEN,
    bearer,
    events_batch,
    metric_total,
    signed,
    sink_flows,
    write_config,
)
from test_serve_command import _start, _stop

from mapwire.server.parse_budget import ParseBudget

#: How each of the heavy batch's events shows in the sink's Customer.io requests.
EVENT_OF_HEAVY = '"action":"event","identifiers":{"id":"heavy-1"}'
HEAVY_EVENTS = 6_500  # an Events API batch of about 1.1 MB: over offload_bytes (1 MB)

HEAVY_SENDERS = 2
#: Bodies of 20 MB (the body limit is raised for them): the depth check of one takes long
#: enough that the requests answered during it outnumber those caught between checks.
HEAVY_BYTES = 20_000_000
#: Small webhooks that must be acknowledged after every heavy body was sent and before
#: the last of them is answered, i.e. while they are being checked. With the checks on the
#: event loop none is (the loop is blocked for seconds per body); in a thread of the serving
#: process 3 to 6 were (each slow: the thread holds the interpreter lock for long calls);
#: with the helper process, the loop is free: dozens are (see benchmarks/heavy_bodies.py).
SMALL_DURING_CHECKS = 10


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
    # Warnings only: the server's log goes to a pipe read at the end, which must not fill.
    process, url = _start(["--config", str(config), "--log-level", "warning"], tmp_path)
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


def _helper_pid(process: subprocess.Popen[str]) -> int:
    """The pid of the next helper process the server's log says is ready (read from its
    stderr; the helper logs before it takes its first body)."""
    assert process.stderr is not None
    for line in process.stderr:
        if '"offload_ready"' in line:
            return int(orjson.loads(line)["pid"])
    raise AssertionError("the server's log ended before a helper was ready")


def _wait_for_sink(folder: Path, marker: str, expected: int) -> int:
    """How many times ``marker`` is in the sink's requests, once it reached ``expected``
    (or the bound for a loaded machine passed)."""
    deadline = time.monotonic() + 120
    seen = 0
    while time.monotonic() < deadline:
        seen = sum(p.read_text().count(marker) for p in folder.glob("*.ndjson"))
        if seen >= expected:
            break
        time.sleep(0.2)
    return seen


def _start_with_sinks(tmp_path: Path) -> tuple[subprocess.Popen[str], str]:
    """``mapwire serve`` (log level info) with the shipped flows into sink folders."""
    server = {"auth": {"bearer_token": {"env": "TEST_INBOUND_TOKEN"}}}
    config = write_config(tmp_path, sink_flows(), server=server)
    return _start(["--config", str(config)], tmp_path)


def _post_light(client: httpx.Client) -> httpx.Response:
    body = orjson.dumps(events_batch("light", 2))
    return client.post("/mparticle/events", content=body, headers=bearer())


def _post_heavy(client: httpx.Client, user: str) -> httpx.Response:
    body = orjson.dumps(events_batch(user, HEAVY_EVENTS))
    assert len(body) > 1_000_000
    return client.post("/mparticle/events", content=body, headers=bearer())


def test_a_heavy_batch_is_mapped_and_queued_by_the_helper_process(
    tmp_path: Path, secrets: None
) -> None:
    process, url = _start_with_sinks(tmp_path)
    try:
        with httpx.Client(base_url=url, timeout=120) as client:
            answer = _post_heavy(client, "heavy-1")
            small = _post_light(client)
            metrics = client.get("/metrics").text
            delivered = _wait_for_sink(tmp_path / "out", EVENT_OF_HEAVY, HEAVY_EVENTS)
    finally:
        stderr = _stop(process)
    assert answer.status_code == 202, answer.text
    summary = answer.json()
    assert summary["documents"] == 1
    # identify + one event per event, as the same batch mapped in the serving process
    assert summary["queued"] == small.json()["queued"] + HEAVY_EVENTS - 2
    assert stderr.count('"offload_ready"') == 1  # started for the heavy body, once
    assert metric_total(metrics, "mapwire_mapped_actions_total") >= summary["queued"]
    assert metric_total(metrics, "mapwire_received_documents_total") == 2  # heavy and light
    assert delivered == HEAVY_EVENTS


def test_a_helper_that_dies_costs_one_503_and_the_next_heavy_body_starts_another(
    tmp_path: Path, secrets: None
) -> None:
    process, url = _start_with_sinks(tmp_path)
    try:
        with httpx.Client(base_url=url, timeout=120) as client:
            assert _post_heavy(client, "before").status_code == 202
            helper = _helper_pid(process)
            os.kill(helper, signal.SIGKILL)
            codes = []
            while len(codes) < 5 and 202 not in codes:
                answer = _post_heavy(client, f"after-{len(codes)}")
                codes.append(answer.status_code)
                if answer.status_code == 503:
                    assert answer.json()["error"]["code"] == "offload_failed"
                    assert answer.headers["retry-after"] == "1"
            small = _post_light(client)
            replacement = _helper_pid(process)
    finally:
        _stop(process)
    assert codes[-1] == 202 and set(codes) <= {202, 503} and len(codes) <= 2, codes
    assert small.status_code == 202
    assert replacement != helper
