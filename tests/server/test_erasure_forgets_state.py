"""An mParticle erasure through ``mapwire serve``'s Firehose endpoint removes what mapwire
keeps of the person for the same Customer.io workspace, in every connection to it: the
audience flow's stored memberships (kept by MPID, found through the Customer ID and
email recorded with them) and the person's updates still waiting in the queue. A
connection to another workspace keeps both.

The server here only takes in (as ``serve`` does when deliverer processes deliver), so
what is queued stays queued and the test reads it from the queue."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_helpers import RunningServer, bearer, write_config

from mapwire.runtime.config import load_config
from mapwire.runtime.process import Runtime
from mapwire.runtime.submissions import Part, Submission

AUDIENCES = "mparticle-audiences-to-customerio"
LIST = {"one_attribute_per_segment": False}  # the single membership list is sent
MEMBERSHIP = "mparticle.firehose_audience_membership"
DSR = "mparticle.firehose_dsr"


def _workspace(site_id: str) -> dict[str, Any]:
    return {"site_id": site_id, "api_key": {"env": "TEST_CIO_API_KEY"}}


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secrets: None) -> Iterator[Any]:
    monkeypatch.chdir(tmp_path)
    flows = [
        {"name": "audiences", "flow": AUDIENCES, "settings": LIST, "destination": _workspace("a")},
        {
            "name": "erasures",
            "flow": "mparticle-dsr-to-customerio",
            "destination": _workspace("a"),
        },
        {"name": "elsewhere", "flow": AUDIENCES, "settings": LIST, "destination": _workspace("b")},
    ]
    running = RunningServer(load_config(write_config(tmp_path, flows)))
    running.app.state.delivers = False  # intake only: deliverer processes would deliver
    running.start()
    yield running
    running.stop()


def _profile(mpid: str, customer_id: str, email: str, *added: int) -> dict[str, Any]:
    return {
        "mpid": mpid,
        "user_identities": [
            {"type": "customer", "encoding": "raw", "value": customer_id},
            {"type": "email", "encoding": "raw", "value": email},
        ],
        "audiences": [{"audience_id": a, "audience_name": f"A{a}", "action": "add"} for a in added],
    }


def _memberships(at: int, *profiles: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "audience_membership_change_request",
        "id": f"m-{at}",
        "timestamp_ms": at,
        "user_profiles": list(profiles),
    }


ERASURE = {
    "type": "dsr_processing_request",
    "id": "417977b5-1df0-4f3e-908a-dc5a4953f11c",
    "timestamp_ms": 1714592744067,
    "firehose_version": "3.2.0",
    "account": {"account_id": 1},
    "subject_request_id": "1e2c8cf4-f985-4398-b482-a520860d3bf6",
    "subject_request_type": "erasure",
    "subject_identities": {
        "controller_customer_id": {"encoding": "raw", "value": "c1"},
        "email": {"encoding": "raw", "value": "jane@example.com"},
    },
    "regulation": "gdpr",
}


def _post(server: RunningServer, message: dict[str, Any]) -> None:
    with server.client(headers=bearer()) as client:
        answer = client.post("/mparticle/firehose", content=json.dumps(message))
    assert answer.status_code == 200, answer.text


def _pending(server: RunningServer, connection: str) -> list[tuple[str, str, Any]]:
    """What waits in ``connection``'s queue: (action, person, membership list); claimed
    and released, so it stays queued."""
    entries = server.queue.claim(connection, 100, 60)
    server.queue.release([e.id for e in entries])
    return [
        (
            e.action.action,
            e.action.payload["identifiers"]["id"],
            e.action.payload.get("attributes", {}).get("Segment Membership"),
        )
        for e in entries
    ]


def _stored(namespace: str, text: str) -> int:
    """Rows of the state store's sets and aliases in ``namespace`` that hold ``text``."""
    with sqlite3.connect("state.db") as conn:
        members = conn.execute(
            "SELECT COUNT(*) FROM members WHERE ns = ? AND key = ?", (namespace, text)
        ).fetchone()[0]
        aliases = conn.execute(
            "SELECT COUNT(*) FROM aliases WHERE ns = ? AND (key = ? OR alias = ?)",
            (namespace, text, text),
        ).fetchone()[0]
    return int(members) + int(aliases)


def test_an_erasure_forgets_the_persons_memberships_and_pending_updates_in_the_workspace(
    server: RunningServer,
) -> None:
    jane = ("1", "c1", "Jane@Example.com")
    _post(server, _memberships(100, _profile(*jane, 11, 12), _profile("2", "c2", "b@x.io", 11)))
    before = [("identify", "c1", "'11','12'"), ("identify", "c2", "'11'")]
    assert _pending(server, "audiences") == _pending(server, "elsewhere") == before

    _post(server, ERASURE)

    assert _pending(server, "erasures") == [("suppress", "c1", None)]
    assert _pending(server, "audiences") == [("identify", "c2", "'11'")], "only Jane's is gone"
    assert _pending(server, "elsewhere") == before, "another workspace keeps everything"
    for text in ("1", "c1", "jane@example.com", "Jane@Example.com"):
        assert _stored("audiences:audience_membership", text) == 0, text
    assert _stored("elsewhere:audience_membership", "1") > 0

    # Jane joins another audience: the list starts afresh from what is known now.
    _post(server, _memberships(300, _profile(*jane, 13)))
    assert _pending(server, "audiences") == [
        ("identify", "c2", "'11'"),
        ("identify", "c1", "'13'"),
    ]
    assert _pending(server, "elsewhere") == [*before, ("identify", "c1", "'11','12','13'")]


def test_an_erasure_committed_with_other_requests_acts_in_their_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secrets: None
) -> None:
    """Jane's memberships, her erasure and her next membership, taken in one commit (as
    ``serve`` groups requests that arrive together): the erasure drops the update queued
    before it and forgets the memberships stored before it, and only those: the request
    after it is mapped once they are gone, so its list starts afresh."""
    monkeypatch.chdir(tmp_path)
    flows = [
        {"name": "audiences", "flow": AUDIENCES, "settings": LIST, "destination": _workspace("a")},
        {"name": "erasures", "flow": "mparticle-dsr-to-customerio", "destination": _workspace("a")},
    ]
    runtime = Runtime(load_config(write_config(tmp_path, flows)))
    try:
        jane = ("1", "c1", "jane@example.com")
        done = runtime.pipeline.submit_many(
            [
                Submission([Part(MEMBERSHIP, [_memberships(100, _profile(*jane, 11, 12))])]),
                Submission([Part(DSR, [ERASURE])]),
                Submission([Part(MEMBERSHIP, [_memberships(300, _profile(*jane, 13))])]),
            ]
        )
        assert [d.error for d in done] == [None, None, None]
        pending = runtime.queue.claim("audiences", 100, 60)
        lists = [e.action.payload["attributes"]["Segment Membership"] for e in pending]
        assert lists == ["'13'"], "the update before the erasure is dropped, the one after kept"
    finally:
        runtime.close()
