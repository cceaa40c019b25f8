"""The time limits of reading and committing a request: ``Deadlines.limit`` behaves as
``asyncio.timeout`` (within one tick), on both event loops ``serve`` runs on; and a real
server answers a body that stops arriving 408 and a commit that waits too long 503."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvloop
from server_helpers import RunningServer, bearer, events_batch, sink_flows, write_config

from mapwire.server import handling
from mapwire.server.deadlines import Deadlines

TICK = 0.02
LOOPS = [pytest.param(asyncio.run, id="asyncio"), pytest.param(uvloop.run, id="uvloop")]


def _run(runner: Callable[[Awaitable[Any]], Any], main: Callable[[], Awaitable[Any]]) -> Any:
    return runner(main())


@pytest.mark.parametrize("runner", LOOPS)
def test_a_block_past_its_limit_raises_timeout_error_within_a_tick(runner: Any) -> None:
    async def main() -> float:
        deadlines = Deadlines(tick=TICK)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            async with deadlines.limit(0.1):
                await asyncio.sleep(5)
        assert len(deadlines) == 0
        return time.monotonic() - started

    took = _run(runner, main)
    # uvloop's clock is read once per loop iteration: the deadline, set from it, may fall
    # a few milliseconds before 0.1 s of this clock have passed.
    assert 0.1 - 0.02 <= took < 0.1 + TICK + 0.5


@pytest.mark.parametrize("runner", LOOPS)
def test_a_block_within_its_limit_is_left_alone_and_the_timer_stops(runner: Any) -> None:
    async def main() -> None:
        deadlines = Deadlines(tick=TICK)
        for _ in range(3):
            async with deadlines.limit(0.5) as limit:
                await asyncio.sleep(0.01)
            assert not limit.expired
        assert len(deadlines) == 0
        await asyncio.sleep(3 * TICK)  # the timer found nothing active and was not renewed
        assert deadlines._timer is None
        await asyncio.sleep(0.6)  # nothing fires after the blocks ended
        task = asyncio.current_task()
        assert task is not None and task.cancelling() == 0

    _run(runner, main)


@pytest.mark.parametrize("runner", LOOPS)
def test_only_the_expired_of_many_concurrent_limits_fire(runner: Any) -> None:
    async def main() -> list[str]:
        deadlines = Deadlines(tick=TICK)

        async def one(limit: float, work: float) -> str:
            try:
                async with deadlines.limit(limit):
                    await asyncio.sleep(work)
            except TimeoutError:
                return "timeout"
            return "done"

        cases = [(0.1, 5.0), (5.0, 0.2), (0.15, 5.0), (5.0, 0.01)] * 25
        results = await asyncio.gather(*(one(limit, work) for limit, work in cases))
        assert len(deadlines) == 0
        return results

    assert _run(runner, main) == ["timeout", "done", "timeout", "done"] * 25


@pytest.mark.parametrize("runner", LOOPS)
def test_a_cancellation_from_elsewhere_stays_a_cancellation(runner: Any) -> None:
    async def main() -> None:
        deadlines = Deadlines(tick=TICK)

        async def guarded() -> None:
            async with deadlines.limit(5):
                await asyncio.sleep(5)

        task = asyncio.create_task(guarded())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert len(deadlines) == 0

    _run(runner, main)


@pytest.mark.parametrize("runner", LOOPS)
def test_an_inner_limit_expires_alone_and_the_outer_block_goes_on(runner: Any) -> None:
    async def main() -> str:
        deadlines = Deadlines(tick=TICK)
        async with deadlines.limit(5) as outer:
            try:
                async with deadlines.limit(0.05):
                    await asyncio.sleep(5)
            except TimeoutError:
                pass
            await asyncio.sleep(0.05)  # not cancelled again
        assert not outer.expired
        return "went on"

    assert _run(runner, main) == "went on"


# -- the server's limits ----------------------------------------------------------------


def _answer(sock: socket.socket, within: float) -> bytes:
    sock.settimeout(within)
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        answer += chunk
    return answer


@pytest.fixture
def limited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, serve: Callable[[Path], RunningServer]
) -> Callable[[str], RunningServer]:
    """A server whose time limit ``name`` (of ``handling``) is half a second."""

    def start(name: str) -> RunningServer:
        monkeypatch.setattr(handling, name, 0.5)
        return serve(write_config(tmp_path, sink_flows()))

    return start


def test_a_body_that_stops_arriving_is_answered_408_and_nothing_is_queued(
    limited: Callable[[str], RunningServer],
) -> None:
    running = limited("BODY_TIMEOUT_SECONDS")
    body = json.dumps(events_batch("user-1", 2)).encode()
    head = (
        b"POST /mparticle/events HTTP/1.1\r\nHost: mapwire\r\n"
        b"Authorization: " + bearer()["Authorization"].encode() + b"\r\n"
        b"Content-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    parts = urlsplit(running.url)
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        started = time.monotonic()
        sock.sendall(head + body[: len(body) // 2])  # then nothing more
        answer = _answer(sock, within=10)
        took = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:60]
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "body_timeout"
    assert 0.5 <= took < 5
    assert running.queue.depth() == 0


def test_a_commit_that_waits_too_long_is_answered_503_and_queued_once_it_can_be(
    tmp_path: Path, limited: Callable[[str], RunningServer]
) -> None:
    running = limited("SUBMIT_TIMEOUT_SECONDS")
    body = json.dumps(events_batch("user-1", 2))
    blocker = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # the queue's writer waits for this lock
    try:
        with running.client(headers=bearer()) as client:
            started = time.monotonic()
            waited = client.post("/mparticle/events", content=body)
            took = time.monotonic() - started
    finally:
        blocker.execute("COMMIT")
        blocker.close()
    assert waited.status_code == 503
    assert waited.json()["error"]["code"] == "queue_timeout"
    assert waited.headers["retry-after"] == "5"
    assert 0.5 <= took < 4.5  # answered before the queue's own busy timeout (5 s)
    # "may or may not be queued": here it was, whole, and is delivered (to the sink)
    deadline = time.monotonic() + 15
    while len(_delivered_items(tmp_path)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(_delivered_items(tmp_path)) == ["event", "event", "identify"]


def _delivered_items(folder: Path) -> list[str]:
    """The actions of the Customer.io batches the sink recorded."""
    return [
        item["action"]
        for path in (folder / "out").glob("*.ndjson")
        for line in path.read_text().splitlines()
        for item in json.loads(line)["body"]["batch"]
    ]


def test_a_queue_locked_elsewhere_holds_up_no_answer_that_needs_no_commit(
    tmp_path: Path, serve: Callable[[Path], RunningServer]
) -> None:
    """Delivery's claims wait for the lock in a worker thread, not on the event loop:
    while another process holds the queue's write lock, health checks are answered at
    once (they would wait up to the busy timeout, 5 s, behind a claim)."""
    running = serve(write_config(tmp_path, sink_flows()))
    blocker = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with running.client() as client:
            slowest = 0.0
            until = time.monotonic() + 3  # the deliverer's claims meet the lock meanwhile
            while time.monotonic() < until:
                started = time.monotonic()
                assert client.get("/healthz").status_code == 200
                slowest = max(slowest, time.monotonic() - started)
                time.sleep(0.05)
    finally:
        blocker.execute("COMMIT")
        blocker.close()
    assert slowest < 1.0
