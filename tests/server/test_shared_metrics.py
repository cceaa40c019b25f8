"""``shared_metrics``: the metrics of ``serve``'s processes, published to one folder and
added up by whichever process answers ``/metrics``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.parser import text_string_to_metric_families

from mapwire.server.shared_metrics import (
    STOPPED,
    MetricsFolder,
    Publisher,
    live_gauge,
    render_merged,
)


class Process:
    """The metrics one process of ``serve`` keeps (a few of mapwire's own kinds)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.delivered = Counter("delivered_actions", "Delivered.", ["connection"], registry=r)
        self.depth = Gauge("queue_depth", "Waiting.", ["connection"], registry=r)
        self.paused = Gauge("connection_paused", "Paused.", ["connection"], registry=r)
        self.latency = Histogram("latency_seconds", "Latency.", buckets=(0.1, 1), registry=r)


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the Prometheus text, by name and labels; each family named once."""
    found = {}
    names = []
    for family in text_string_to_metric_families(text.decode()):
        names.append(family.name)
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    assert len(names) == len(set(names)), f"a family twice: {names}"
    return found


CIO = (("connection", "cio"),)


@pytest.fixture
def folder(tmp_path: Path) -> MetricsFolder:
    return MetricsFolder(tmp_path)


DEPTH = frozenset({"queue_depth"})


def test_counters_and_histograms_add_up_and_gauges_are_the_largest_of_the_running_ones(
    folder: MetricsFolder,
) -> None:
    me, worker, deliverer = Process(), Process(), Process()
    me.delivered.labels("cio").inc(0)
    me.depth.labels("cio").set(7)  # read at this moment
    me.paused.labels("cio").set(0)  # this process delivers too, and is not paused
    me.latency.observe(0.05)
    worker.depth.labels("cio").set(100)  # an old reading: not used
    worker.latency.observe(0.5)
    deliverer.delivered.labels("cio").inc(30)
    deliverer.delivered.labels("other").inc(4)
    deliverer.paused.labels("cio").set(1)
    deliverer.latency.observe(2)
    folder.publish(worker.registry, pid=101)
    folder.publish(deliverer.registry, pid=102)

    got = samples(render_merged(me.registry, folder, DEPTH))

    assert got[("delivered_actions_total", CIO)] == 30
    assert got[("delivered_actions_total", (("connection", "other"),))] == 4
    assert got[("queue_depth", CIO)] == 7
    assert got[("connection_paused", CIO)] == 1  # paused by any: paused
    assert got[("latency_seconds_count", ())] == 3
    assert got[("latency_seconds_bucket", (("le", "0.1"),))] == 1
    assert got[("latency_seconds_bucket", (("le", "1.0"),))] == 2
    assert got[("latency_seconds_bucket", (("le", "+Inf"),))] == 3
    assert got[("latency_seconds_sum", ())] == pytest.approx(2.55)


def test_a_fresh_gauge_the_answering_process_lacks_is_the_largest_of_the_running_ones(
    folder: MetricsFolder,
) -> None:
    me, worker = Process(), Process()
    worker.depth.labels("cio").set(5)
    folder.publish(worker.registry, pid=101)

    assert samples(render_merged(me.registry, folder, DEPTH))[("queue_depth", CIO)] == 5


def test_the_earliest_created_time_is_kept(folder: MetricsFolder) -> None:
    me, peer = Process(), Process()
    me.delivered.labels("cio").inc()
    peer.delivered.labels("cio").inc()
    folder.publish(peer.registry, pid=101)
    first = min(
        s.value
        for p in (me, peer)
        for m in p.registry.collect()
        for s in m.samples
        if s.name == "delivered_actions_created"
    )

    got = samples(render_merged(me.registry, folder))

    assert got[("delivered_actions_created", CIO)] == first
    assert got[("delivered_actions_total", CIO)] == 2


def test_exited_processes_keep_their_counts_in_one_file_but_not_their_gauges(
    folder: MetricsFolder,
) -> None:
    me = Process()
    for pid in range(101, 111):  # ten children that came and went
        gone = Process()
        gone.delivered.labels("cio").inc(5)
        gone.paused.labels("cio").set(1)
        gone.latency.observe(0.5)
        folder.publish(gone.registry, pid=pid)
        folder.retire(pid)
    folder.retire(999)  # never published: nothing to do

    assert sorted(p for p in os.listdir(folder.path) if not p.startswith(".")) == [STOPPED]
    got = samples(render_merged(me.registry, folder))
    assert got[("delivered_actions_total", CIO)] == 50
    assert got[("latency_seconds_count", ())] == 10
    assert ("connection_paused", CIO) not in got
    assert live_gauge(folder, "connection_paused") == {}


def test_a_pid_used_again_adds_to_the_earlier_process_s_counts(folder: MetricsFolder) -> None:
    first, again = Process(), Process()
    first.delivered.labels("cio").inc(500)
    folder.publish(first.registry, pid=4242)
    folder.retire(4242)
    again.delivered.labels("cio").inc(3)
    folder.publish(again.registry, pid=4242)
    folder.retire(4242)

    got = samples(render_merged(Process().registry, folder))

    assert got[("delivered_actions_total", CIO)] == 503


def test_totals_never_fall_whichever_process_answers(
    folder: MetricsFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two intake processes answer in turn, each counting more meanwhile and publishing
    only when it answers: every answer is made of files, each of which only grows."""
    workers = {101: Process(), 102: Process()}
    totals = []
    for turn in range(6):
        for pid, worker in workers.items():
            worker.delivered.labels("cio").inc(10 * pid + turn)  # counted, not yet published
        answering = 101 + turn % 2
        monkeypatch.setattr(os, "getpid", lambda pid=answering: pid)
        got = samples(render_merged(workers[answering].registry, folder))
        totals.append(got[("delivered_actions_total", CIO)])

    assert totals == sorted(totals), totals


def test_files_that_are_not_snapshots_are_left_out(folder: MetricsFolder) -> None:
    me, peer = Process(), Process()
    peer.delivered.labels("cio").inc(2)
    folder.publish(peer.registry, pid=101)
    (folder.path / "102.json").write_text("{not json")
    (folder.path / "103.json").write_text('[["x", "counter", "", [["x_total", {}, null]]]]')
    (folder.path / "notes.txt").write_text("hello")
    (folder.path / ".104.json.partial").write_text("[")

    got = samples(render_merged(me.registry, folder))

    assert got[("delivered_actions_total", CIO)] == 2
    assert not any(name.startswith("x") for name, _ in got)


def test_a_folder_that_is_gone_leaves_the_answering_process_s_own_metrics(
    folder: MetricsFolder,
) -> None:
    me = Process()
    me.delivered.labels("cio").inc(4)
    me.paused.labels("cio").set(1)
    folder.remove()

    got = samples(render_merged(me.registry, folder))

    assert got[("delivered_actions_total", CIO)] == 4
    assert got[("connection_paused", CIO)] == 1
    assert live_gauge(folder, "connection_paused") == {}
    folder.retire(101)  # nothing to fold, no error


def test_the_publisher_publishes_at_start_while_running_and_at_stop(
    folder: MetricsFolder,
) -> None:
    me = Process()
    publisher = Publisher(folder, me.registry, every=0.01).start()
    try:
        (first,) = folder.peers()
        assert all(not family[3] or family[0] != "delivered_actions" for family in first.families)
        me.delivered.labels("cio").inc(1)
        deadline = 200
        while deadline and not _delivered_in(folder, 1):
            deadline -= 1
            publisher._stopped.wait(0.01)
        assert _delivered_in(folder, 1), "published while running"
        me.delivered.labels("cio").inc(1)
    finally:
        publisher.stop()
    assert _delivered_in(folder, 2), "published once more at the stop"


def _delivered_in(folder: MetricsFolder, n: float) -> bool:
    return any(
        name == "delivered_actions_total" and value == n
        for snapshot in folder.peers()
        for family in snapshot.families
        for name, _, value in family[3]
    )


def test_a_created_and_removed_folder() -> None:
    folder = MetricsFolder.create()
    assert folder.path.is_dir() and folder.path.name.startswith("mapwire-metrics-")
    folder.remove()
    assert not folder.path.exists()
