"""The group committer on its own: many submissions in one group, each answered exactly,
and a failure in one submission never touching the others."""

from __future__ import annotations

import asyncio
import gc
import io
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from customerio_webhooks import reporting_webhook
from server_helpers import events_batch, sink_flows, write_config

from mapwire.contracts.errors import BacklogFull, InputError, QueueUnavailable
from mapwire.contracts.queue import MAPPING
from mapwire.runtime.config import load_config
from mapwire.runtime.process import Runtime
from mapwire.runtime.submissions import IntakeReport, Submission
from mapwire.server.committer import GroupCommitter, IntakeUnavailable, Part, request_error
from mapwire.server.logs import configure_logging, reset_logging

EVENTS = "mparticle.events_api_batch"
WEBHOOK = "customerio.reporting_webhook"


@pytest.fixture
def runtime(tmp_path: Path, secrets: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.chdir(tmp_path)
    flows = sink_flows()
    flows[0]["delivery"] = {"max_backlog": 1000}
    running = Runtime(load_config(write_config(tmp_path, flows)))
    yield running
    running.close()


async def _commit_together(committer: GroupCommitter, parts: list[list[Part]]) -> list[Any]:
    """Submit everything before the thread starts, so it all lands in one group."""
    futures = [committer.submit(p) for p in parts]
    committer.start()
    try:
        return await asyncio.gather(*futures, return_exceptions=True)
    finally:
        await asyncio.to_thread(committer.close)


def test_one_group_answers_each_submission_exactly(runtime: Runtime) -> None:
    committer = GroupCommitter(runtime.pipeline)
    parts = [[Part(EVENTS, [events_batch(f"u{i}", i + 1)])] for i in range(5)]
    reports = asyncio.run(_commit_together(committer, parts))
    assert [r.queued for r in reports] == [2, 3, 4, 5, 6]
    assert committer.groups == 1 and committer.submissions == 5
    assert runtime.queue.depth("events") == 20
    assert runtime.metrics.snapshot("events")["mapped"] == 20


def test_duplicates_are_counted_for_the_submission_that_repeats(runtime: Runtime) -> None:
    committer = GroupCommitter(runtime.pipeline)
    hook = reporting_webhook("01HXDUP0000000000000000000")
    parts = [
        [Part(WEBHOOK, [hook], only="activity")],
        [Part(EVENTS, [events_batch("a", 1)])],
        [Part(WEBHOOK, [hook], only="activity")],
    ]
    first, plain, again = asyncio.run(_commit_together(committer, parts))
    assert (first.queued, plain.queued, again.queued) == (1, 2, 0)
    assert again.connections["activity"].skipped == {"duplicate": 1}
    assert first.connections["activity"].skipped == {}


def test_requests_with_dedup_keys_share_one_transaction_and_are_counted_apart(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each webhook carries dedup keys; the group's go to the queue in one call (one
    transaction), and each is still answered with its own count."""
    calls: list[list[int]] = []
    queue: Any = runtime.queue
    grouped = queue.enqueue_groups

    def spy(connection: str, groups: Any, **options: Any) -> Any:
        calls.append([len(g) for g in groups])
        return grouped(connection, groups, **options)

    monkeypatch.setattr(queue, "enqueue_groups", spy)
    hooks = [reporting_webhook(f"01HXGRP{i:019d}") for i in range(4)]
    parts = [[Part(WEBHOOK, [hook], only="activity")] for hook in [*hooks, hooks[1]]]
    reports = asyncio.run(_commit_together(GroupCommitter(runtime.pipeline), parts))
    assert [r.queued for r in reports] == [1, 1, 1, 1, 0]
    assert reports[4].connections["activity"].skipped == {"duplicate": 1}
    assert calls == [[1, 1, 1, 1, 1]]


def test_a_document_the_mapping_raises_on_is_held_and_the_rest_queued(runtime: Runtime) -> None:
    """A bug the input exposed fails that document alone: kept as an ``unprocessable``
    mapping dead letter (the document, for replay once the bug is fixed, named by the
    error's type, never its message); its request's other documents are queued."""
    committer = GroupCommitter(runtime.pipeline)
    real = runtime.pipeline._runners["events"]

    def flaky(doc: Any, *args: Any, **kwargs: Any) -> Any:
        if doc.get("boom"):
            raise TypeError("a bug the input exposed, quoting secret@example.com")
        return real(doc, *args, **kwargs)

    runtime.pipeline._runners["events"] = flaky
    boom = {**events_batch("c", 1), "boom": True}
    parts = [
        [Part(EVENTS, [events_batch("a", 1)])],
        [Part(EVENTS, [events_batch("b", 1), boom])],
        [Part(EVENTS, [events_batch("d", 1)])],
    ]
    ok1, held, ok2 = asyncio.run(_commit_together(committer, parts))
    assert all(isinstance(r, IntakeReport) for r in (ok1, held, ok2))
    assert held.queued == 2  # the identify and the event of "b"
    assert held.connections["events"].held == {
        1: [
            "connection 'events', mapping 'mparticle-events-to-customerio': unprocessable: "
            "the mapping could not process this document (TypeError)"
        ]
    }
    assert runtime.queue.depth("events") == 6
    [letter] = runtime.queue.dead_letters(kind=MAPPING)
    assert (letter.code, letter.source) == ("unprocessable", boom)
    assert "secret" not in letter.reason


def test_a_document_its_destination_raises_on_is_held_and_the_rest_queued(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same for a bug in the destination's checks at intake (``prepare_ahead``) or
    its ordering key: that document alone is held, whole, as ``unprocessable``."""
    committer = GroupCommitter(runtime.pipeline)
    destination = runtime.pipeline.destinations["customerio"]
    real_prepare, real_order = destination.prepare_ahead, destination.ordering_key

    def prepare_ahead(action: Any, settings: Any) -> Any:
        if action.payload.get("identifiers") == {"id": "boom"}:
            raise KeyError("secret@example.com")
        return real_prepare(action, settings)

    def ordering_key(name: str, payload: Any) -> str:
        if payload.get("identifiers") == {"id": "order-boom"}:
            raise ValueError("secret@example.com")
        return real_order(name, payload)

    monkeypatch.setattr(destination, "prepare_ahead", prepare_ahead)
    monkeypatch.setattr(destination, "ordering_key", ordering_key)
    boom, order_boom = events_batch("boom", 2), events_batch("order-boom", 1)
    parts = [[Part(EVENTS, [events_batch("a", 1), boom, order_boom, events_batch("b", 1)])]]
    (report,) = asyncio.run(_commit_together(committer, parts))
    assert isinstance(report, IntakeReport)
    assert report.queued == 4  # the identify and the event of "a" and of "b"
    held = report.connections["events"].held
    assert sorted(held) == [1, 2]
    assert "(KeyError)" in held[1][0] and "(ValueError)" in held[2][0]
    assert runtime.queue.depth("events") == 4
    letters = runtime.queue.dead_letters(kind=MAPPING)
    assert sorted(letter.source["user_identities"]["customer_id"] for letter in letters) == [
        "boom",
        "order-boom",
    ]
    assert {letter.code for letter in letters} == {"unprocessable"}
    assert all("secret" not in letter.reason for letter in letters)


def test_a_full_backlog_refuses_only_the_connections_over_it(runtime: Runtime) -> None:
    committer = GroupCommitter(runtime.pipeline)
    asyncio.run(_commit_together(committer, [[Part(EVENTS, [events_batch("big", 999)])]]))
    committer = GroupCommitter(runtime.pipeline)
    hook = reporting_webhook("01HXBACKLOG000000000000000")
    parts = [[Part(EVENTS, [events_batch("x", 1)])], [Part(WEBHOOK, [hook], only="activity")]]
    refused, fine = asyncio.run(_commit_together(committer, parts))
    assert isinstance(refused, BacklogFull) and refused.connection == "events"
    assert fine.queued == 1


def test_a_refused_requests_documents_go_as_soon_as_it_is_answered(runtime: Runtime) -> None:
    """No cycle through the refusal's traceback keeps them for the collector: at the
    backlog limit every request is refused, and memory grew while refusing."""
    committer = GroupCommitter(runtime.pipeline)
    asyncio.run(_commit_together(committer, [[Part(EVENTS, [events_batch("big", 999)])]]))
    document = events_batch("x", 1)
    collecting = gc.isenabled()
    gc.disable()
    try:
        before = sys.getrefcount(document)
        [done] = runtime.pipeline.submit_many([Submission([Part(EVENTS, [document])])])
        assert isinstance(done.error, BacklogFull)
        del done
        assert sys.getrefcount(document) == before
    finally:
        if collecting:
            gc.enable()


def test_a_queue_outages_error_lets_go_of_its_frames_once_logged(
    runtime: Runtime, tmp_path: Path
) -> None:
    """The same for the queue's failure: its frames held the group's requests in a cycle
    with the error; once the error is logged, they are let go, its cause's too."""
    handler = configure_logging("info", io.StringIO())
    conn = sqlite3.connect(tmp_path / "state.db")
    conn.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON queue BEGIN SELECT RAISE(ABORT, 'no'); END"
    )
    conn.close()
    try:
        [done] = runtime.pipeline.submit_many([Submission([Part(EVENTS, [events_batch("x", 1)])])])
        failure = done.error
        assert isinstance(failure, QueueUnavailable) and failure.__traceback__ is not None
        answer = request_error(done)
    finally:
        reset_logging(handler)
    assert isinstance(answer, IntakeUnavailable) and answer.code == "queue_unavailable"
    assert failure.__traceback__ is None
    assert isinstance(failure.__cause__, sqlite3.Error) and failure.__cause__.__traceback__ is None


def test_actions_that_cannot_be_stored_fail_only_their_submission(runtime: Runtime) -> None:
    committer = GroupCommitter(runtime.pipeline)
    real = runtime.pipeline._runners["events"]

    def unstorable(doc: Any, *args: Any, **kwargs: Any) -> Any:
        result = real(doc, *args, **kwargs)
        if doc.get("poison"):
            # not JSON, in a field the destination's intake check takes any value of
            result.actions[0].payload["attributes"]["bad"] = {1j}
        return result

    runtime.pipeline._runners["events"] = unstorable
    runtime.pipeline.destinations = {}  # the payload checks would hold the action back
    parts = [
        [Part(EVENTS, [events_batch("a", 1)])],
        [Part(EVENTS, [{**events_batch("p", 1), "poison": True}])],
        [Part(EVENTS, [events_batch("b", 1)])],
    ]
    first, poisoned, last = asyncio.run(_commit_together(committer, parts))
    assert isinstance(poisoned, InputError) and poisoned.status == 422
    assert (first.queued, last.queued) == (2, 2)
    assert runtime.queue.depth("events") == 4


def test_closing_commits_what_is_waiting_then_refuses(runtime: Runtime) -> None:
    async def scenario() -> tuple[list[Any], Exception | None]:
        committer = GroupCommitter(runtime.pipeline)
        futures = [committer.submit([Part(EVENTS, [events_batch(f"c{i}", 1)])]) for i in range(3)]
        committer.start()
        await asyncio.to_thread(committer.close)
        reports = await asyncio.gather(*futures)
        try:
            committer.submit([Part(EVENTS, [events_batch("late", 1)])])
        except IntakeUnavailable as exc:
            return reports, exc
        return reports, None

    reports, refused = asyncio.run(scenario())
    assert [r.queued for r in reports] == [2, 2, 2]
    assert isinstance(refused, IntakeUnavailable) and refused.code == "shutting_down"


def test_a_full_inbox_is_busy(runtime: Runtime) -> None:
    async def scenario() -> Exception | None:
        committer = GroupCommitter(runtime.pipeline, max_pending=2)
        committer.submit([Part(EVENTS, [])])
        committer.submit([Part(EVENTS, [])])
        try:
            committer.submit([Part(EVENTS, [])])
        except IntakeUnavailable as exc:
            return exc
        finally:
            committer.start()
            await asyncio.to_thread(committer.close)
        return None

    busy = asyncio.run(scenario())
    assert isinstance(busy, IntakeUnavailable) and busy.code == "busy" and busy.retry_after == 1


def test_plans_are_compiled_once_per_process_never_by_the_committer(
    tmp_path: Path, secrets: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mapwire.runtime import pipeline

    compiled: list[str] = []
    real_compile = pipeline.compile_plan

    def counting(plan: Any) -> Any:
        compiled.append(plan.name)
        return real_compile(plan)

    monkeypatch.setattr(pipeline, "compile_plan", counting)
    monkeypatch.chdir(tmp_path)
    running = Runtime(load_config(write_config(tmp_path, sink_flows())))
    try:
        at_start = len(compiled)
        assert at_start == len(running.config.connections)
        committer = GroupCommitter(running.pipeline)
        hook = reporting_webhook("01HXONCE000000000000000000")
        parts = [[Part(EVENTS, [events_batch(f"u{i}", 1)])] for i in range(20)]
        parts.append([Part(WEBHOOK, [hook], only="activity")])
        reports = asyncio.run(_commit_together(committer, parts))
        assert all(isinstance(r, IntakeReport) for r in reports)
        assert len(compiled) == at_start
    finally:
        running.close()


def test_submit_refuses_unstorable_documents_alone_submit_many_whole_requests(
    runtime: Runtime,
) -> None:
    real = runtime.pipeline._runners["events"]

    def unstorable(doc: Any, *args: Any, **kwargs: Any) -> Any:
        result = real(doc, *args, **kwargs)
        if doc.get("poison"):
            # not JSON, in a field the destination's intake check takes any value of
            result.actions[0].payload["attributes"]["bad"] = {1j}
        return result

    runtime.pipeline._runners["events"] = unstorable
    runtime.pipeline.destinations = {}  # the payload checks would hold the action back
    documents = [events_batch("a", 1), {**events_batch("p", 1), "poison": True}]
    report = runtime.pipeline.submit(EVENTS, documents)
    assert report.connections["events"].refused == [1]
    assert report.queued == 2
    whole, fine = runtime.pipeline.submit_many(
        [Submission([Part(EVENTS, documents)]), Submission([Part(EVENTS, documents[:1])])]
    )
    assert isinstance(whole.error, InputError) and whole.error.status == 422
    assert whole.report.connections["events"].refused == [0, 1]
    assert fine.error is None and fine.report.queued == 2
    assert runtime.queue.depth("events") == 4  # nothing of the refused request


def test_a_failing_queue_fails_the_requests_of_its_run_as_queue_unavailable(
    runtime: Runtime, tmp_path: Path
) -> None:
    conn = sqlite3.connect(tmp_path / "state.db")
    conn.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON queue BEGIN SELECT RAISE(ABORT, 'no'); END"
    )
    conn.close()
    results = runtime.pipeline.submit_many(
        [Submission([Part(EVENTS, [events_batch(u, 1)])]) for u in "ab"]
    )
    assert all(isinstance(r.error, QueueUnavailable) for r in results)
    assert isinstance(results[0].error.__cause__, sqlite3.Error)
    committer = GroupCommitter(runtime.pipeline)
    [answer] = asyncio.run(_commit_together(committer, [[Part(EVENTS, [events_batch("c", 1)])]]))
    assert isinstance(answer, IntakeUnavailable) and answer.code == "queue_unavailable"
    assert answer.retry_after == 5
