"""``requests.build`` and ``ahead.restore`` take shortcuts (each item's user read once, one
endpoint's claim not split, a request's items sliced, the batch rendered at intake sent as
is, the wire sliced in place): they must give exactly what the plain item-by-item
procedure below gives, for every mix of users, items prepared ahead or at delivery, old
events, sizes and environments."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from mparticle_payloads import NOW_MS, USERS, payload_of

from mapwire import Action, OutboundRequest, PreparedItem
from mapwire.plugins.mparticle import ahead, historical, requests
from mapwire.plugins.mparticle.ahead import AheadItem, user_of
from mapwire.plugins.mparticle.destination import MParticle
from mapwire.plugins.mparticle.settings import Connection, resolve
from mapwire.plugins.mparticle.wire import encode


def reference_is_historical(item: PreparedItem, now_ms: int) -> bool:
    if isinstance(item, AheadItem):
        stamp = item.stamp
    else:
        event = item.body.get("event")
        if event is None:
            return False
        stamp = event["data"].get("timestamp_unixtime_ms")
    return isinstance(stamp, (int, float)) and stamp < now_ms - historical.AGE_MS


def reference_runs(
    items: Sequence[PreparedItem], now_ms: int
) -> list[tuple[str, list[PreparedItem]]]:
    """The endpoint split, item by item (as ``historical.runs`` was written first)."""
    recent, old = historical.RECENT_PATH, historical.HISTORICAL_PATH
    out: list[tuple[str, list[PreparedItem]]] = []
    gathered: dict[str, list[PreparedItem]] = {recent: [], old: []}
    users: dict[str, set[str]] = {recent: set(), old: set()}
    for item in items:
        path = old if reference_is_historical(item, now_ms) else recent
        other = recent if path == old else old
        user = user_of(item)
        if user in users[other]:
            out.append((other, gathered[other]))
            gathered[other], users[other] = [], set()
        gathered[path].append(item)
        users[path].add(user)
    out.extend((path, found) for path, found in gathered.items() if found)
    return out


def reference_build(
    items: Sequence[PreparedItem], connection: Connection, now_ms: int
) -> list[OutboundRequest]:
    """Each run's items rendered one by one from their bodies, each a batch of its own,
    encoded and packed."""
    out: list[OutboundRequest] = []
    for path, run in reference_runs(items, now_ms):
        encoded: list[bytes] = []
        for item in run:
            encoded.append(encode(requests.lone_batch(item.body, connection.environment)))
        for span in requests.pack(encoded):
            request = httpx.Request(
                "POST",
                f"{connection.base_url}{path}",
                content=b"[" + b",".join(encoded[span]) + b"]",
                headers=requests.headers(connection),
            )
            out.append(OutboundRequest(request=request, items=run[span], endpoint=path))
    return out


def described(built: list[OutboundRequest]) -> list[tuple[Any, ...]]:
    return [
        (
            str(r.request.url),
            r.request.method,
            sorted(r.request.headers.items()),
            r.request.content,
            r.endpoint,
            [i.key for i in r.items],
        )
        for r in built
    ]


item_spec = st.tuples(
    st.integers(0, len(USERS) - 1),  # the user
    st.sampled_from(["custom_event", "screen_view", "user_attributes"]),
    st.one_of(st.none(), st.integers(0, 2)),  # the mpid
    st.one_of(st.none(), st.integers(1, 60)),  # the event's age in days
    st.booleans(),  # with a source message id
    st.sampled_from([0, 10, 3000, 60_000]),  # characters of attributes
    st.booleans(),  # prepared ahead (else at delivery)
)


def items_of(
    specs: list[tuple[Any, ...]], cfg: dict[str, Any]
) -> tuple[list[PreparedItem], list[PreparedItem]]:
    """The items ``specs`` describe, twice: as delivery has them (restored from their wire
    when prepared ahead), and as ``prepare`` makes them, for ``reference_build`` (nothing
    of the wire in them: its batch, user and stamp are all held to what ``prepare``
    renders)."""
    mp = MParticle()
    first: list[PreparedItem] = []
    second: list[PreparedItem] = []
    for n, spec in enumerate(specs):
        action, payload = payload_of(n, spec[:6])
        made = mp.prepare(Action("mparticle", action, json.loads(json.dumps(payload))), cfg, key=n)
        if spec[6]:  # prepared ahead
            copy = json.loads(json.dumps(payload))
            _, wire = mp.prepare_ahead(Action("mparticle", action, copy), cfg)
            assert wire is not None
            restored = mp.restore(wire, cfg, key=n)
            assert isinstance(restored, AheadItem)
            first.append(restored)
            second.append(made)
        else:
            first.append(made)
            second.append(mp.prepare(Action("mparticle", action, payload), cfg, key=n))
    return first, second


@settings(max_examples=200, deadline=None)
@given(
    specs=st.lists(item_spec, min_size=0, max_size=60),
    environment=st.sampled_from(["production", "development"]),
)
def test_build_gives_the_requests_of_the_item_by_item_procedure(
    specs: list[tuple[Any, ...]], environment: str
) -> None:
    cfg = {"api_key": "k", "api_secret": "s", "environment": environment}
    fast, slow = items_of(specs, cfg)
    connection = resolve(cfg)
    assert described(requests.build(fast, connection, NOW_MS)) == described(
        reference_build(slow, connection, NOW_MS)
    )


def test_many_batches_fill_several_requests_alike() -> None:
    """Over 100 batches and over 256 KB: split into requests at the same places."""
    cfg = {"api_key": "k", "api_secret": "s"}
    specs: list[tuple[Any, ...]] = []
    for n in range(260):  # every seventh item is its predecessor's user again
        user = (n if n % 7 else n - 1) % len(USERS)
        chars = 3000 if n % 3 else 10
        specs.append((user, "custom_event", None, None, True, chars, n % 2 == 0))
    fast, slow = items_of(specs, cfg)
    built = requests.build(fast, resolve(cfg), NOW_MS)
    assert len(built) > 2
    assert described(built) == described(reference_build(slow, resolve(cfg), NOW_MS))


def test_events_about_thirty_days_old_go_where_the_item_by_item_procedure_sends_them() -> None:
    """At the boundary (exactly 30 days is not older), one user's old and new items mixed."""
    cfg = {"api_key": "k", "api_secret": "s"}
    specs: list[tuple[Any, ...]] = [
        (user, action, None, age, True, 10, early)
        for early in (True, False)
        for age in (29, 30, 31, None)
        for user in (0, 1)
        for action in ("custom_event", "user_attributes")
    ]
    fast, slow = items_of(specs, cfg)
    built = requests.build(fast, resolve(cfg), NOW_MS)
    assert {r.endpoint for r in built} == {"/bulkevents", "/bulkevents/historical"}
    assert described(built) == described(reference_build(slow, resolve(cfg), NOW_MS))


def test_restore_reads_every_field_the_wire_holds() -> None:
    """The positional construction in ``restore`` puts each field where ``wire_for`` meant."""
    mp = MParticle()
    cfg = {"api_key": "k", "api_secret": "s"}
    payload = {
        "user_identities": {"customer_id": "c1"},
        "mpid": 7,
        "source_message_id": "m-1",
        "event_name": "e" * 300,  # repaired: cut to the limit
        "timestamp_unixtime_ms": NOW_MS,
    }
    _, wire = mp.prepare_ahead(Action("mparticle", "custom_event", payload), cfg)
    assert wire is not None
    item = ahead.restore(wire, "production", key="k1")
    head, _, batch = wire.partition(b"\n")
    size, repairs, user, stamp = orjson.loads(head[len(ahead.head("production")) :])
    assert item == AheadItem(
        key="k1",
        body=None,
        size=size,
        route="",
        encoded=batch,
        repairs=repairs,
        user=user,
        stamp=stamp,
    )
    assert repairs and stamp == NOW_MS and user == '["customer_id","c1"]'
    assert ahead.restore(wire, "development", key="k1") is None
    cut = ahead.head("production") + b'[1,[],"u",null]'
    for short in (cut, cut + b"\n"):  # no batch: delivery prepares the item from its action
        assert ahead.restore(short, "production", key=None) is None
