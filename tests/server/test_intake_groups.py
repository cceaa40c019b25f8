"""A group commit's requests with dedup keys go to the queue in one call
(``enqueue_groups``); what one request's failure may not do to the others: answer a
request whose actions were queued with an error, or leave keys recorded for actions
never queued (the retry would be skipped as duplicates)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_helpers import sink_runtime

from mapwire.contracts.errors import InputError, QueueUnavailable, StoreUnavailable
from mapwire.contracts.store import MemoryStore
from mapwire.runtime.process import Runtime
from mapwire.runtime.submissions import Part, Submission

EVENTS = "mparticle.events_api_batch"
FLOW = (Path(__file__).parents[1] / "flow_files" / "keyed_update.yaml").read_text()


@pytest.fixture
def runtime(tmp_path: Path, secrets: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.chdir(tmp_path)
    running = sink_runtime(tmp_path, {"people": FLOW})
    yield running
    running.close()


def _request(person: str, key: str, **attributes: Any) -> Submission:
    doc = {
        "environment": "production",
        "user_identities": {"customer_id": person},
        "user_attributes": {"key": key, **attributes},
    }
    return Submission([Part(EVENTS, [doc], only="people")])


def _deep(levels: int = 300) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def _pending(runtime: Runtime) -> list[str]:
    return [e.action.payload["identifiers"]["id"] for e in runtime.queue.claim("people", 50, 60)]


def test_a_request_queued_before_the_queue_failed_is_answered_as_queued(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """p9's request cannot be stored, so the call is split; p1's half goes in, then the
    queue fails for p3's: p1 is answered as queued (and counted), p9 refused, p3 failed."""
    queue: Any = runtime.queue
    grouped = queue.enqueue_groups

    def failing_for_p3(connection: str, groups: Any, **options: Any) -> Any:
        people = {a.payload["identifiers"]["id"] for g in groups for a in g}
        if people == {"p3"}:
            raise QueueUnavailable("database is locked")
        return grouped(connection, groups, **options)

    monkeypatch.setattr(queue, "enqueue_groups", failing_for_p3)
    woken: list[str] = []
    runtime.pipeline.on_queued = woken.append
    first, refused, failed = runtime.pipeline.submit_many(
        [_request("p1", "k1"), _request("p9", "k9", x=_deep()), _request("p3", "k3")]
    )
    assert first.error is None and first.report.connections["people"].queued == 1
    assert isinstance(refused.error, InputError) and refused.error.status == 422
    assert isinstance(failed.error, QueueUnavailable)
    assert woken == ["people"]
    assert runtime.metrics.snapshot("people")["mapped"] == 1
    monkeypatch.setattr(queue, "enqueue_groups", grouped)
    (again,) = runtime.pipeline.submit_many([_request("p3", "k3")])
    assert again.error is None and again.report.connections["people"].queued == 1
    assert _pending(runtime) == ["p1", "p3"]


class KeyByKey:
    """A state store with ``first_seen`` alone (the contract's least), failing once on a
    key: ``first_seen_all`` then records a commit's keys one by one."""

    def __init__(self, failing: str) -> None:
        self.inner, self.failing = MemoryStore(), failing

    def first_seen(self, namespace: str, key: str, ttl: float | None = None) -> bool:
        if key == self.failing:
            self.failing = ""
            raise StoreUnavailable("the store went away")
        return self.inner.first_seen(namespace, key, ttl)

    def forget_seen(self, namespace: str, keys: list[str]) -> None:
        self.inner.forget_seen(namespace, keys)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_store_failing_part_way_leaves_no_key_of_the_refused_requests(
    runtime: Runtime,
) -> None:
    """Both requests are refused (one call); the key recorded for p1 before the store
    failed on p3's goes again, so both retries are queued, not skipped as duplicates."""
    runtime.pipeline.store = KeyByKey("k3")  # type: ignore[assignment]
    done = runtime.pipeline.submit_many([_request("p1", "k1"), _request("p3", "k3")])
    assert all(isinstance(d.error, StoreUnavailable) for d in done)
    again = runtime.pipeline.submit_many([_request("p1", "k1"), _request("p3", "k3")])
    assert [d.report.connections["people"].queued for d in again] == [1, 1]
    assert _pending(runtime) == ["p1", "p3"]
