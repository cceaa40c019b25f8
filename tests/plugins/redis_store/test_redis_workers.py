"""Several worker processes share one Redis queue and one rate limit."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import Counter
from pathlib import Path

import pytest
from queue_contract import claim_and_hang
from redis_helpers import prefix_for
from redis_workers import LEASE, acquire_for, deliver_until_drained, fill, opener_for
from store_contract import MP_TIMEOUT, run_workers

ENTRIES = 1500


@pytest.mark.parametrize("workers", [2, 3])
def test_workers_deliver_every_entry_exactly_once(tmp_path: Path, workers: int) -> None:
    opener = opener_for(tmp_path)
    fill(opener, ENTRIES)
    results = run_workers([(deliver_until_drained, (opener, i)) for i in range(workers)])
    counts = Counter(n for delivered in results for n in delivered)
    assert set(counts) == set(range(ENTRIES)), "nothing lost"
    assert set(counts.values()) == {1}, "nothing delivered twice"
    assert all(results), "every worker got a share"


@pytest.mark.parametrize("workers", [2, 3])
def test_a_killed_workers_entries_go_to_the_others_after_its_lease(
    tmp_path: Path, workers: int
) -> None:
    """One worker claims a batch and is killed (-9) holding it; the others drain the
    queue, the dead worker's batch included once its lease has run out."""
    opener = opener_for(tmp_path)
    fill(opener, ENTRIES)
    ctx = multiprocessing.get_context("spawn")
    report = ctx.Queue()
    victim = ctx.Process(target=claim_and_hang, args=(opener, "w", 40, LEASE, report))
    victim.start()
    try:
        _, held = report.get(timeout=MP_TIMEOUT)
    finally:
        assert victim.pid is not None
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(MP_TIMEOUT)
    assert victim.exitcode == -signal.SIGKILL and held == list(range(40))
    jobs = [(deliver_until_drained, (opener, i)) for i in range(workers - 1)]
    results = run_workers(jobs)
    counts = Counter(n for delivered in results for n in delivered)
    assert set(counts) == set(range(ENTRIES)), "nothing lost, the killed worker's too"
    assert set(counts.values()) == {1}


def test_the_rate_limit_holds_across_worker_processes(tmp_path: Path) -> None:
    rate, burst, seconds = 20.0, 4.0, 2.0
    prefix = prefix_for(tmp_path)  # computed here: each child has its own session token
    granted = run_workers([(acquire_for, (rate, burst, prefix, seconds)) for _ in range(3)])
    total = sum(granted)
    assert total <= rate * seconds + burst, granted
    assert total >= rate * seconds * 0.85, granted
    assert all(granted), "every worker gets turns"
