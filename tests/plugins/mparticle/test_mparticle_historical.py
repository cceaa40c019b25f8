"""Events older than 30 days go to ``/bulkevents/historical``; the rest to ``/bulkevents``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mapwire import PreparedItem
from mapwire.plugins.mparticle.destination import MParticle
from mapwire.plugins.mparticle.requests import build
from mapwire.plugins.mparticle.settings import resolve

Prepare = Callable[..., PreparedItem]

NOW_MS = 1_800_000_000_000
DAY_MS = 24 * 3600 * 1000


def _names(body: list[dict[str, Any]]) -> list[list[str]]:
    return [[e["data"]["event_name"] for e in b.get("events", [])] for b in body]


def test_a_mixed_run_is_split_by_endpoint_in_order(
    settings: dict[str, Any], prepare: Prepare
) -> None:
    """Items of different users: each endpoint's in one request, in their order."""
    items = [
        prepare(
            "custom_event", user="a", event_name="old1", timestamp_unixtime_ms=NOW_MS - 31 * DAY_MS
        ),
        prepare(
            "custom_event", user="b", event_name="new1", timestamp_unixtime_ms=NOW_MS - 29 * DAY_MS
        ),
        prepare("user_attributes", user="c", user_attributes={"plan": "pro"}),
        prepare(
            "custom_event", user="d", event_name="old2", timestamp_unixtime_ms=NOW_MS - 400 * DAY_MS
        ),
        prepare("custom_event", user="e", event_name="unstamped"),
    ]
    recent, old = build(items, resolve(settings), now_ms=NOW_MS)
    assert str(recent.request.url).endswith("/v2/bulkevents")
    assert str(old.request.url).endswith("/v2/bulkevents/historical")
    assert (recent.endpoint, old.endpoint) == ("/bulkevents", "/bulkevents/historical")
    recent_body = json.loads(recent.request.content)
    assert _names(recent_body) == [["new1"], [], ["unstamped"]]
    assert recent_body[1]["user_attributes"] == {"plan": "pro"}
    assert _names(json.loads(old.request.content)) == [["old1"], ["old2"]]
    assert old.items == [items[0], items[3]]
    assert recent.items == [items[1], items[2], items[4]]


def test_one_users_items_go_out_in_their_order_across_the_endpoints(
    settings: dict[str, Any], prepare: Prepare
) -> None:
    """A user's item never goes before one of theirs queued earlier: what the other
    endpoint gathered so far is sent first (other users' items ride along)."""
    old = NOW_MS - 31 * DAY_MS
    items = [
        prepare("custom_event", user="u1", event_name="old1", timestamp_unixtime_ms=old),
        prepare("custom_event", user="u2", event_name="other", timestamp_unixtime_ms=NOW_MS),
        prepare("custom_event", user="u1", event_name="new1", timestamp_unixtime_ms=NOW_MS),
        prepare("custom_event", user="u1", event_name="old2", timestamp_unixtime_ms=old),
    ]
    requests = build(items, resolve(settings), now_ms=NOW_MS)
    sent = [
        (r.endpoint, [i.body["event"]["data"]["event_name"] for i in r.items]) for r in requests
    ]
    assert sent == [
        ("/bulkevents/historical", ["old1"]),
        ("/bulkevents", ["other", "new1"]),
        ("/bulkevents/historical", ["old2"]),
    ]


def test_a_profiles_items_keep_their_order_whichever_identities_each_carries(
    settings: dict[str, Any], prepare: Prepare
) -> None:
    """Items of one mpid are one user (as their ordering key says), with or without an
    email beside it; a ``customer_id`` names the user whatever else an item carries."""
    old = NOW_MS - 31 * DAY_MS
    mpid, email = {"mpid": 8_876_543_210_123_456}, {"email": "a@example.com"}
    items = [
        prepare(
            "custom_event",
            user_identities=email,
            event_name="old1",
            **mpid,
            timestamp_unixtime_ms=old,
        ),
        prepare(
            "custom_event",
            user_identities={},
            event_name="new1",
            **mpid,
            timestamp_unixtime_ms=NOW_MS,
        ),
        prepare("custom_event", user="c1", event_name="old2", timestamp_unixtime_ms=old),
        prepare(
            "custom_event",
            user_identities={"customer_id": "c1", **email},
            event_name="new2",
            timestamp_unixtime_ms=NOW_MS,
        ),
    ]
    requests = build(items, resolve(settings), now_ms=NOW_MS)
    sent = [
        (r.endpoint, [i.body["event"]["data"]["event_name"] for i in r.items]) for r in requests
    ]
    # each user's new item waits for their old one (told apart by their identities alone,
    # both new items would have gone first, in the recent request gathered before)
    assert sent == [
        ("/bulkevents/historical", ["old1"]),
        ("/bulkevents/historical", ["old2"]),
        ("/bulkevents", ["new1", "new2"]),
    ]


def test_recent_traffic_alone_makes_no_historical_request(
    settings: dict[str, Any], prepare: Prepare
) -> None:
    items = [prepare("custom_event", event_name="e", timestamp_unixtime_ms=NOW_MS - DAY_MS)]
    (only,) = build(items, resolve(settings), now_ms=NOW_MS)
    assert only.endpoint == "/bulkevents"


def test_a_backfill_alone_goes_to_historical_batches_valid_for_the_schema(
    destination: MParticle, settings: dict[str, Any], prepare: Prepare, batch_validator: Any
) -> None:
    items = [
        prepare(
            "custom_event", user=f"u{i}", event_name="e", timestamp_unixtime_ms=1_600_000_000_000
        )
        for i in range(3)
    ]
    (only,) = destination.build_requests(items, settings)
    assert only.endpoint == "/bulkevents/historical"
    body = json.loads(only.request.content)
    assert len(body) == 3
    for batch in body:
        batch_validator.validate(batch)
