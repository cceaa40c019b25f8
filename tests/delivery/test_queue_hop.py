"""The deliverer's queue thread (``runtime/queue_hop.py``): each call runs off the event
loop, in order, its result or exception handed back; a cancelled awaiter, a closed loop,
an idle thread ending and a fork lose no call and leave the next one working."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest

from mapwire.runtime import queue_hop
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
        waiting = asyncio.ensure_future(hop(slow))
        await asyncio.sleep(0.01)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        release.set()
        assert await hop(lambda: "next") == "next"
        assert ran == ["slow"]

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
