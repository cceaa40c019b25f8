"""``shared_metrics``: the metrics of ``serve``'s processes, published to one folder and
added up by whichever process answers ``/metrics``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.parser import text_string_to_metric_families

from mapwire.server.shared_metrics import MetricsFolder, Publisher, render_merged


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


def test_counters_and_histograms_add_up_and_gauges_are_the_answering_process_s_own(
    folder: MetricsFolder,
) -> None:
    me, worker, deliverer = Process(), Process(), Process()
    me.delivered.labels("cio").inc(0)
    me.depth.labels("cio").set(7)  # read at this moment
    me.latency.observe(0.05)
    worker.depth.labels("cio").set(100)  # an old reading: not used
    worker.latency.observe(0.5)
    deliverer.delivered.labels("cio").inc(30)
    deliverer.delivered.labels("other").inc(4)
    deliverer.paused.labels("cio").set(1)
    deliverer.latency.observe(2)
    folder.publish(worker.registry, pid=101)
    folder.publish(deliverer.registry, pid=102)

    got = samples(render_merged(me.registry, folder))

    assert got[("delivered_actions_total", CIO)] == 30
    assert got[("delivered_actions_total", (("connection", "other"),))] == 4
    assert got[("queue_depth", CIO)] == 7
    assert got[("connection_paused", CIO)] == 1  # only a peer has it: theirs counts
    assert got[("latency_seconds_count", ())] == 3
    assert got[("latency_seconds_bucket", (("le", "0.1"),))] == 1
    assert got[("latency_seconds_bucket", (("le", "1.0"),))] == 2
    assert got[("latency_seconds_bucket", (("le", "+Inf"),))] == 3
    assert got[("latency_seconds_sum", ())] == pytest.approx(2.55)


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


def test_a_stopped_process_keeps_its_counts_but_not_its_gauges(folder: MetricsFolder) -> None:
    me, gone = Process(), Process()
    gone.delivered.labels("cio").inc(5)
    gone.paused.labels("cio").set(1)
    folder.publish(gone.registry, pid=101)

    folder.retire(101)
    folder.retire(999)  # never published: nothing to do

    assert sorted(os.listdir(folder.path)) == ["101.stopped.json"]
    got = samples(render_merged(me.registry, folder))
    assert got[("delivered_actions_total", CIO)] == 5
    assert ("connection_paused", CIO) not in got


def test_the_answering_process_s_own_file_is_not_counted_twice(folder: MetricsFolder) -> None:
    me = Process()
    me.delivered.labels("cio").inc(3)
    folder.publish(me.registry)  # this process's pid

    assert samples(render_merged(me.registry, folder))[("delivered_actions_total", CIO)] == 3


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


def test_a_file_retired_while_the_folder_is_read_is_read_under_its_new_name(
    folder: MetricsFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    peer = Process()
    peer.delivered.labels("cio").inc(9)
    folder.publish(peer.registry, pid=101)
    listed = os.listdir(folder.path)
    folder.retire(101)  # between the listing and the read
    monkeypatch.setattr(os, "listdir", lambda path: listed)

    (snapshot,) = folder.peers()

    assert snapshot.stopped
    assert ["delivered_actions_total", {"connection": "cio"}, 9.0] in [
        [n, labels, v] for family in snapshot.families for n, labels, v in family[3]
    ]


def test_the_publisher_publishes_at_start_while_running_and_at_stop(
    folder: MetricsFolder,
) -> None:
    me = Process()
    publisher = Publisher(folder, lambda: me.registry, every=0.01).start()
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
