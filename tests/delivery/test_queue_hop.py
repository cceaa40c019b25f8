"""The deliverer's queue thread (``runtime/queue_hop.py``): each call runs off the event
loop, in order, its result or exception handed back; a cancelled awaiter, a closed loop,
an idle thread ending and a fork lose no call and leave the next one working."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from delivery_helpers import cio_connection, write_config

from mapwire import Action
from mapwire.plugins.sqlite_store.queue import SqliteQueue
from mapwire.runtime import queue_hop
from mapwire.runtime.config import load_config
from mapwire.runtime.process import Runtime
from mapwire.runtime.queue_hop import QueueHop


def test_calls_run_in_order_off_the_loop_with_their_results_and_errors() -> None:
    hop = QueueHop()
    ran: list[tuple[int, int]] = []

    def call(n: int) -> int:
        ran.append((n, threading.get_ident()))
        if n == 3:
            raise LookupError("no entry 3")
        return n * 10

    async def main() -> None:
        loop_thread = threading.get_ident()
        assert await hop(call, 1) == 10
        futures = [hop(call, n) for n in (2, 3, 4)]
        results = await asyncio.gather(*futures, return_exceptions=True)
        assert results[0] == 20 and results[2] == 40
        assert isinstance(results[1], LookupError) and str(results[1]) == "no entry 3"
        assert [n for n, _ in ran] == [1, 2, 3, 4]
        assert loop_thread not in {thread for _, thread in ran}
        assert len({thread for _, thread in ran}) == 1

    asyncio.run(main())


def test_a_cancelled_awaiter_s_call_still_runs_and_the_next_one_works() -> None:
    hop = QueueHop()
    release = threading.Event()
    ran: list[str] = []

    def slow() -> str:
        release.wait(5)
        ran.append("slow")
        return "slow"

    async def main() -> None:
        errors: list[dict[str, Any]] = []
        asyncio.get_running_loop().set_exception_handler(lambda _, context: errors.append(context))
        waiting = asyncio.ensure_future(hop(slow))
        await asyncio.sleep(0.01)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        release.set()
        assert await hop(lambda: "next") == "next"
        assert ran == ["slow"]
        assert errors == []  # the dropped outcome is not set on the cancelled future

    asyncio.run(main())


def test_a_loop_closed_before_the_outcome_leaves_the_thread_working() -> None:
    hop = QueueHop()
    release = threading.Event()

    async def leave_a_call_behind() -> None:
        hop(release.wait, 5)  # never awaited: its loop closes first

    asyncio.run(leave_a_call_behind())
    release.set()

    async def main() -> str:
        return await asyncio.wait_for(hop(lambda: "after"), timeout=5)

    assert asyncio.run(main()) == "after"


def test_an_idle_thread_ends_and_no_call_is_stranded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queue_hop, "IDLE", 0.002)
    hop = QueueHop()
    threads: set[threading.Thread] = set()  # the objects: a thread's ident may be reused

    def call(n: int) -> int:
        threads.add(threading.current_thread())
        return n

    async def main() -> None:
        for n in range(200):  # calls land before, at and after the thread's idle end
            assert await asyncio.wait_for(hop(call, n), timeout=5) == n
            await asyncio.sleep(0.002 * (n % 3))

    asyncio.run(main())
    assert len(threads) > 1  # it did end, and calls after it started another
    deadline = time.monotonic() + 5
    while any(thread.is_alive() for thread in threads):
        assert time.monotonic() < deadline, "the idle thread did not end"
        time.sleep(0.01)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_a_thread_of_its_own() -> None:
    hop = QueueHop()

    async def call() -> int:
        return await asyncio.wait_for(hop(os.getpid), timeout=5)

    assert asyncio.run(call()) == os.getpid()  # the parent's thread is running now
    child = os.fork()
    if child == 0:  # the child: the parent's thread is not here
        try:
            ok = asyncio.run(call()) == os.getpid()
        except BaseException:
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_the_thread_ends_only_with_nothing_left_to_do() -> None:
    """The thread's wait for a call times out just as a call is made: it looks again under
    the lock, finds the call and runs it, rather than end with it queued."""
    hop = QueueHop()
    calls = hop._calls

    class TimingOutFirst:
        """The hop's queue, whose first wait for a call times out at once."""

        timed_out = False

        def get(self, timeout: float) -> Any:
            if not self.timed_out:
                self.timed_out = True
                raise Empty
            return calls.get(timeout=timeout)

        def put(self, call: Any) -> None:
            calls.put(call)

        def empty(self) -> bool:
            return calls.empty()

    racing = TimingOutFirst()
    hop._calls = racing  # type: ignore[assignment]

    async def main() -> str:
        return await asyncio.wait_for(hop(lambda: "made"), timeout=5)

    assert asyncio.run(main()) == "made"
    assert racing.timed_out


def test_a_thread_that_cannot_start_fails_the_call_and_the_next_one_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hop = QueueHop()
    start = threading.Thread.start
    refusals = [RuntimeError("can't start new thread")]

    def refuse_once(thread: threading.Thread) -> None:
        if refusals:
            raise refusals.pop()
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", refuse_once)

    async def main() -> str:
        with pytest.raises(RuntimeError, match="can't start new thread"):
            hop(lambda: "never queued")
        return await asyncio.wait_for(hop(lambda: "next"), timeout=5)

    assert asyncio.run(main()) == "next"
    assert hop.wait(5)


def test_wait_lets_a_cancelled_acknowledgement_finish_before_the_queue_closes(
    tmp_path: Path,
) -> None:
    """A stop cancels a settling hop's awaiter; the acknowledgement it asked for is still
    made before the queue is closed (``Runtime.close`` waits), so nothing delivered is
    claimed again."""
    queue = SqliteQueue(tmp_path / "queue.db")
    queue.enqueue("c", [Action("customerio", "event", {"n": n}) for n in range(3)])
    entries = queue.claim("c", 10, 60)
    hop = QueueHop()

    def settle() -> None:
        time.sleep(0.3)
        queue.ack([entries[0].id, entries[1].id])
        queue.release([entries[2].id])

    async def stop_while_settling() -> None:
        settling = asyncio.ensure_future(hop(settle))
        await asyncio.sleep(0.05)
        settling.cancel()

    asyncio.run(stop_while_settling())
    assert hop.wait(5)
    queue.close()
    with SqliteQueue(tmp_path / "queue.db") as reopened:
        assert [e.action.payload["n"] for e in reopened.claim("c", 10, 60)] == [2]


@pytest.mark.usefixtures("secrets")
def test_closing_the_runtime_waits_for_its_deliverers_queue_calls(
    tmp_path: Path, customerio_server: Any
) -> None:
    """``Runtime.close`` lets a deliverer's queue call still running (its awaiter cancelled
    by a stop) finish before it closes the queue under it."""
    runtime = Runtime(load_config(write_config(tmp_path, [cio_connection(customerio_server)])))
    deliverer = runtime.deliverer(runtime.config.connections[0])
    finished: list[int] = []

    def slow_call() -> None:
        time.sleep(0.3)
        finished.append(runtime.queue.depth())  # the queue still open

    async def stop_during_the_call() -> None:
        calling = asyncio.ensure_future(deliverer.hop(slow_call))
        await asyncio.sleep(0.05)
        calling.cancel()
        await runtime.aclose()

    asyncio.run(stop_during_the_call())
    runtime.close()
    assert finished == [0]
