"""An action that erases its person (Customer.io ``suppress``/``delete``) drops that
person's pending queue entries once it is queued, through the shared intake path."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_helpers import sink_runtime

from mapwire.contracts.errors import InputError, QueueUnavailable
from mapwire.runtime.pipeline import Pipeline
from mapwire.runtime.process import Runtime
from mapwire.runtime.replay import replay
from mapwire.runtime.submissions import Part, Submission
from mapwire.server.logs import event_line

EVENTS = "mparticle.events_api_batch"

#: A person's attributes become an identify; an ``erase`` attribute a suppress instead.
MAPPING = (Path(__file__).parents[1] / "flow_files" / "erase_or_update.yaml").read_text()


@pytest.fixture
def runtime(tmp_path: Path, secrets: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.chdir(tmp_path)
    running = sink_runtime(tmp_path, {"people": MAPPING})
    yield running
    running.close()


def _unavailable(*args: Any, **kwargs: Any) -> Any:
    """A queue method while the queue is away."""
    raise QueueUnavailable("the queue is away")


def _batch(person: str, **attributes: Any) -> dict[str, Any]:
    return {
        "environment": "production",
        "user_identities": {"customer_id": person},
        "user_attributes": attributes,
    }


def test_a_suppress_drops_the_persons_pending_updates_and_only_theirs(runtime: Runtime) -> None:
    pipeline, queue = runtime.pipeline, runtime.queue
    pipeline.submit(EVENTS, [_batch("p1", plan="a"), _batch("p2", plan="b")])
    pipeline.submit(EVENTS, [_batch("p1", plan="c")])
    in_flight = queue.claim("people", 1, 60)  # p1's first update, claimed by a worker
    assert [e.action.payload["attributes"]["plan"] for e in in_flight] == ["a"]
    pipeline.submit(EVENTS, [_batch("p1", erase=True)])
    entries = queue.claim("people", 10, 60)
    left = [(e.action.action, e.action.payload["identifiers"]["id"]) for e in entries]
    assert left == [("identify", "p2")], "p1's waiting update is gone; its suppress waits"
    queue.ack([e.id for e in [*in_flight, *entries]])
    (erasure,) = queue.claim("people", 10, 60)
    assert (erasure.action.action, erasure.action.payload) == (
        "suppress",
        {"identifiers": {"id": "p1"}},
    )


@pytest.fixture
def two_connections(
    tmp_path: Path, secrets: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Runtime]:
    """``people`` and ``updates``: two connections to one Customer.io workspace."""
    monkeypatch.chdir(tmp_path)
    running = sink_runtime(tmp_path, {"people": MAPPING, "updates": MAPPING})
    yield running
    running.close()


def _request(connection: str, doc: dict[str, Any]) -> Submission:
    return Submission([Part(EVENTS, [doc], only=connection)])


def _pending(runtime: Runtime, connection: str) -> list[tuple[str, str]]:
    entries = runtime.queue.claim(connection, 10, 60)
    return [(e.action.action, e.action.payload["identifiers"]["id"]) for e in entries]


def test_an_erasure_drops_the_earlier_updates_of_its_commit_in_every_connection(
    two_connections: Runtime,
) -> None:
    """Requests committed together: one for ``people`` alone, an update of p1 through
    ``updates``, then p1's erasure through ``people``. The update came first, so the
    erasure drops it, even though ``people`` (seen first in the group) is queued first."""
    done = two_connections.pipeline.submit_many(
        [
            _request("people", _batch("p2", plan="a")),
            _request("updates", _batch("p1", plan="b")),
            _request("people", _batch("p1", erase=True)),
        ]
    )
    assert [d.error for d in done] == [None, None, None]
    assert _pending(two_connections, "updates") == [], "p1's update would re-create p1"
    assert _pending(two_connections, "people") == [("identify", "p2"), ("suppress", "p1")]


def test_an_update_after_the_erasure_in_its_commit_stays(two_connections: Runtime) -> None:
    """The other way round: the update came after the erasure (p1 is back), so it stays
    queued, in whichever connection, and the request after it too."""
    done = two_connections.pipeline.submit_many(
        [
            _request("people", _batch("p1", erase=True)),
            _request("updates", _batch("p1", plan="b")),
            _request("people", _batch("p1", plan="c")),
        ]
    )
    assert [d.error for d in done] == [None, None, None]
    assert _pending(two_connections, "updates") == [("identify", "p1")]
    assert _pending(two_connections, "people") == [("suppress", "p1"), ("identify", "p1")]
    assert [d.report.queued for d in done] == [1, 1, 1]


def test_a_bug_after_an_erasure_fails_only_the_requests_after_it(
    two_connections: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The requests up to the erasure are queued when a bug stops the rest: they are
    answered as queued (failing them too would have them sent again), the rest fail."""
    pipeline = two_connections.pipeline
    enqueue = pipeline._enqueue
    last = _request("updates", _batch("p3", plan="c"))

    def buggy(conn: Any, works: Any) -> None:
        if any(w.submission is last for w in works):
            raise RuntimeError("a bug")
        enqueue(conn, works)

    monkeypatch.setattr(pipeline, "_enqueue", buggy)
    done = pipeline.submit_many(
        [
            _request("updates", _batch("p2", plan="a")),
            _request("people", _batch("p1", erase=True)),
            last,
        ]
    )
    assert [d.error for d in done[:2]] == [None, None]
    assert isinstance(done[2].error, QueueUnavailable)
    assert "RuntimeError" in str(done[2].error) and "a bug" not in str(done[2].error)
    assert done[2].error.__traceback__ is not None, "the bug's frames, for the log"
    line = json.loads(event_line(0.0, logging.ERROR, "queue_unavailable", {}, done[2].error))
    assert (line["error_type"], line["cause_type"]) == ("QueueUnavailable", "RuntimeError")
    assert "a bug" not in json.dumps(line)
    assert _pending(two_connections, "updates") == [("identify", "p2")]


def test_nothing_after_a_part_a_bug_stopped_is_queued(
    two_connections: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The erasure whose part failed is sent again by its client: an update that came
    after it must not be queued first, to be dropped by that erasure."""
    pipeline = two_connections.pipeline
    enqueue = pipeline._enqueue
    erase = _request("people", _batch("p1", erase=True))

    def buggy(conn: Any, works: Any) -> None:
        if any(w.submission is erase for w in works):
            raise RuntimeError("a bug")
        enqueue(conn, works)

    monkeypatch.setattr(pipeline, "_enqueue", buggy)
    first = _request("people", _batch("p2", erase=True))
    done = pipeline.submit_many([first, erase, _request("updates", _batch("p1", plan="c"))])
    assert done[0].error is None
    assert [type(d.error) for d in done[1:]] == [QueueUnavailable, QueueUnavailable]
    assert _pending(two_connections, "updates") == []


def test_a_bug_before_any_erasure_raises_as_it_did(
    two_connections: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def buggy(conn: Any, works: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(two_connections.pipeline, "_enqueue", buggy)
    with pytest.raises(RuntimeError):
        two_connections.pipeline.submit_many([_request("updates", _batch("p2", plan="a"))])


def test_an_erasure_drops_the_earlier_update_of_its_commit_in_its_own_connection(
    runtime: Runtime,
) -> None:
    """The erasure goes in a transaction of its own, after the requests before it in its
    commit: it finds p1's update of that commit queued, and drops it."""
    done = runtime.pipeline.submit_many(
        [
            _request("people", _batch("p1", plan="a")),
            _request("people", _batch("p2", plan="b")),
            _request("people", _batch("p1", erase=True)),
        ]
    )
    assert [d.error for d in done] == [None, None, None]
    assert [d.report.queued for d in done] == [1, 1, 1]
    assert _pending(runtime, "people") == [("identify", "p2"), ("suppress", "p1")]


def _deep(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = [value]
    return value


def test_a_refused_erasure_drops_nothing(runtime: Runtime) -> None:
    """The erasing request also carries a document the queue cannot store, so it is
    refused whole (422) and its client told: it has erased nothing, and p1's earlier
    update, acknowledged before, is still queued."""
    runtime.pipeline.submit(EVENTS, [_batch("p1", plan="a")])
    [done] = runtime.pipeline.submit_many(
        [Submission([Part(EVENTS, [_batch("p1", erase=True), _batch("p2", deep=_deep(300))])])]
    )
    assert isinstance(done.error, InputError) and done.error.status == 422
    assert _pending(runtime, "people") == [("identify", "p1")]


def test_an_erasure_drops_the_persons_other_actions_of_its_own_request(runtime: Runtime) -> None:
    """Whatever their place in the erasing request: p1's updates before and after the
    suppress are dropped, p2's stays, and the counts say what was queued."""
    report = runtime.pipeline.submit(
        EVENTS,
        [
            _batch("p1", plan="a"),
            _batch("p1", erase=True),
            _batch("p1", plan="c"),
            _batch("p2", plan="x"),
        ],
    )
    assert report.queued == 4
    assert _pending(runtime, "people") == [("suppress", "p1"), ("identify", "p2")]


def test_an_erasure_queued_but_not_made_fails_its_request_and_is_made_on_its_retry(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The erasure is queued, then dropping p1's update fails: the request is answered
    with that failure, so its client sends it again, and the retry drops the update (the
    first suppress stays: a person's erasures are never dropped)."""
    runtime.pipeline.submit(EVENTS, [_batch("p1", plan="a")])
    drop = runtime.queue.drop_person

    monkeypatch.setattr(runtime.queue, "drop_person", _unavailable)
    with pytest.raises(QueueUnavailable):
        runtime.pipeline.submit(EVENTS, [_batch("p1", erase=True)])
    monkeypatch.setattr(runtime.queue, "drop_person", drop)
    runtime.pipeline.submit(EVENTS, [_batch("p1", erase=True)])
    assert _pending(runtime, "people") == [("suppress", "p1"), ("suppress", "p1")]


class TwoArgumentDrop:
    """The runtime's queue as a plugin written before ``drop_person`` took ``keep``: it
    drops the person's erasures too."""

    def __init__(self, queue: Any) -> None:
        self._queue = queue

    def __getattr__(self, name: str) -> Any:
        return getattr(self._queue, name)

    def drop_person(self, connection: str, order_key: str) -> int:
        return int(self._queue.drop_person(connection, order_key))


def test_with_a_queue_that_drops_erasures_too_the_erasure_is_made_first(
    runtime: Runtime,
) -> None:
    """Made once queued, the erasure would drop itself: it is made before, as it was."""
    old = runtime.pipeline
    pipeline = Pipeline(
        old.config, old.store, TwoArgumentDrop(old.queue), destinations=old.destinations
    )
    assert pipeline.erase_first and not old.erase_first
    pipeline.submit(EVENTS, [_batch("p1", plan="a")])
    pipeline.submit(EVENTS, [_batch("p1", erase=True)])
    assert _pending(runtime, "people") == [("suppress", "p1")]


def test_a_refused_erasing_document_erases_nothing(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Documents refused one by one (``send``): the queue cannot store p1's suppress, so
    that document is refused alone and erases nothing; the one after it is queued."""
    runtime.pipeline.submit(EVENTS, [_batch("p1", plan="a")])
    groups = runtime.queue.enqueue_groups

    def refusing_p1s_suppress(connection: str, batch: Any, **kwargs: Any) -> Any:
        for group in batch:
            if any(a.action == "suppress" and "p1" in str(a.payload) for a in group):
                raise TypeError("not storable")
        return groups(connection, batch, **kwargs)

    monkeypatch.setattr(runtime.queue, "enqueue_groups", refusing_p1s_suppress)
    [done] = runtime.pipeline.submit_many(
        [
            Submission(
                [Part(EVENTS, [_batch("p1", erase=True), _batch("p3", plan="c")])], atomic=False
            )
        ]
    )
    assert done.error is None and done.report.connections["people"].refused == [0]
    assert _pending(runtime, "people") == [("identify", "p1"), ("identify", "p3")]


def test_send_moves_past_an_erasure_only_once_it_is_made(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``send``'s file position goes with the erasing chunk only once the erasure is
    made: queued but not erased, the chunk is read again by the next run."""
    runtime.pipeline.submit(EVENTS, [_batch("p1", plan="a")])
    drop = runtime.queue.drop_person

    mark = ("send:people:people.ndjson", "120")
    monkeypatch.setattr(runtime.queue, "drop_person", _unavailable)
    with pytest.raises(QueueUnavailable):
        runtime.pipeline.submit(EVENTS, [_batch("p1", erase=True)], progress=mark)
    assert runtime.queue.progress(mark[0]) is None
    monkeypatch.setattr(runtime.queue, "drop_person", drop)
    runtime.pipeline.submit(EVENTS, [_batch("p1", erase=True)], progress=mark)
    assert runtime.queue.progress(mark[0]) == "120"
    assert _pending(runtime, "people") == [("suppress", "p1"), ("suppress", "p1")]


#: Only the updates: a flow beside the erasing one that never erases.
UPDATE_ONLY = """\
mapwire: 1
name: update-only
source: mparticle.events_api_batch
destination: customerio
rules:
  - name: update
    when: "!(doc.user_attributes.erase)"
    action: identify
    fields:
      identifiers: "{id: doc.user_identities.customer_id}"
      attributes: doc.user_attributes
"""


def test_the_mark_waits_for_the_erasure_in_connections_that_do_not_erase_too(
    tmp_path: Path, secrets: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection the request goes to without erasing (queued first) does not record the
    progress mark ahead of the erasure: not erased, the chunk is read again."""
    monkeypatch.chdir(tmp_path)
    running = sink_runtime(tmp_path, {"a_updates": UPDATE_ONLY, "people": MAPPING})
    try:
        mark = ("send:people:people.ndjson", "120")
        drop = running.queue.drop_person
        monkeypatch.setattr(running.queue, "drop_person", _unavailable)
        with pytest.raises(QueueUnavailable):
            running.pipeline.submit(EVENTS, [_batch("p1", erase=True, plan="z")], progress=mark)
        assert running.queue.progress(mark[0]) is None
        monkeypatch.setattr(running.queue, "drop_person", drop)
        running.pipeline.submit(EVENTS, [_batch("p1", erase=True, plan="z")], progress=mark)
        assert running.queue.progress(mark[0]) == "120"
    finally:
        running.close()


#: Only the suppress: a second flow erasing p1, whatever else the request carries.
ERASE_ONLY = """\
mapwire: 1
name: erase-only
source: mparticle.events_api_batch
destination: customerio
rules:
  - name: erase
    when: "doc.user_attributes.erase"
    action: suppress
    fields:
      identifiers: "{id: doc.user_identities.customer_id}"
"""


def test_a_request_refused_after_its_erasure_was_queued_still_erases(
    tmp_path: Path, secrets: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``minimal`` queues the request's suppress, then ``people`` refuses the request
    (p2's document cannot be stored): the request is answered 422, but the suppress queued
    in ``minimal`` will be sent, so the erasure is made: p1's update in ``people`` (the
    same workspace) is dropped rather than sent after it."""
    monkeypatch.chdir(tmp_path)
    running = sink_runtime(tmp_path, {"minimal": ERASE_ONLY, "people": MAPPING})
    try:
        running.pipeline.submit(EVENTS, [_batch("p1", plan="a")], only="people")
        [done] = running.pipeline.submit_many(
            [Submission([Part(EVENTS, [_batch("p1", erase=True), _batch("p2", deep=_deep(300))])])]
        )
        assert isinstance(done.error, InputError) and done.error.status == 422
        assert _pending(running, "people") == []
        assert _pending(running, "minimal") == [("suppress", "p1")]
    finally:
        running.close()


def test_a_bug_in_the_erasure_fails_only_the_erasing_request(
    two_connections: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The requests before it in its group commit are queued, and answered so."""

    def buggy(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr(two_connections.queue, "drop_person", buggy)
    done = two_connections.pipeline.submit_many(
        [_request("updates", _batch("p2", plan="a")), _request("people", _batch("p1", erase=True))]
    )
    assert done[0].error is None and done[0].report.queued == 1
    assert isinstance(done[1].error, QueueUnavailable) and "RuntimeError" in str(done[1].error)


def test_a_replayed_erasure_erases_once_queued(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``dlq replay`` of p1's erasure (a document the mapping failed on whole): while the
    queue refuses it, p1's update stays; queued, it drops the update."""

    pipeline = runtime.pipeline
    pipeline.submit(EVENTS, [_batch("p1", plan="a")])
    real = pipeline._runners["people"]

    def buggy(doc: Any, *args: Any, **kwargs: Any) -> Any:
        raise KeyError("a bug")

    pipeline._runners["people"] = buggy
    pipeline.submit(EVENTS, [_batch("p1", erase=True)])
    pipeline._runners["people"] = real
    [letter] = runtime.queue.dead_letters()
    enqueue = runtime.queue.enqueue

    monkeypatch.setattr(runtime.queue, "enqueue", _unavailable)
    with pytest.raises(QueueUnavailable):
        replay(pipeline, [letter])
    assert runtime.queue.depth("people") == 1  # p1's update
    monkeypatch.setattr(runtime.queue, "enqueue", enqueue)
    assert replay(pipeline, [letter]).queued == 1
    assert _pending(runtime, "people") == [("suppress", "p1")]
