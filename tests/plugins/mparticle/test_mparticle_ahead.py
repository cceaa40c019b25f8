"""Items prepared ahead (``ahead``: each one's batch alone, rendered at intake) build the
very requests that items prepared at delivery build: the same bodies, byte for byte, to the
same endpoints, carrying the same items in the same order, whatever mix of users, lone and
shared batches, attributes, ids and old events a claim holds."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from mparticle_payloads import NOW_MS, USERS, payload_of

from mapwire import Action, PreparedItem
from mapwire.plugins.mparticle import requests
from mapwire.plugins.mparticle.ahead import AheadItem
from mapwire.plugins.mparticle.destination import MParticle
from mapwire.plugins.mparticle.settings import resolve

item_spec = st.tuples(
    st.integers(0, len(USERS) - 1),  # the user
    st.sampled_from(["custom_event", "screen_view", "user_attributes"]),
    st.one_of(st.none(), st.integers(0, 3)),  # the mpid
    st.one_of(st.none(), st.integers(1, 60)),  # the event's age in days
    st.booleans(),  # with a source message id
    st.integers(0, 3000),  # characters of attributes
)


def bodies(built: list[Any]) -> list[tuple[str, bytes, list[Any]]]:
    return [(str(r.request.url), r.request.content, [i.key for i in r.items]) for r in built]


@settings(max_examples=150, deadline=None)
@given(
    specs=st.lists(item_spec, min_size=1, max_size=40),
    environment=st.sampled_from(["production", "development"]),
)
def test_items_prepared_ahead_build_the_requests_of_items_prepared_at_delivery(
    specs: list[tuple[Any, ...]], environment: str
) -> None:
    mp = MParticle()
    cfg = {"api_key": "k", "api_secret": "s", "environment": environment}
    ahead: list[PreparedItem] = []
    made: list[PreparedItem] = []
    for n, spec in enumerate(specs):
        action, payload = payload_of(n, spec)
        problems, wire = mp.prepare_ahead(Action("mparticle", action, payload), cfg)
        assert problems == [] and wire is not None
        restored = mp.restore(wire, cfg, key=n)
        assert isinstance(restored, AheadItem)
        ahead.append(restored)
        copy = json.loads(json.dumps(payload))
        made.append(mp.prepare(Action("mparticle", action, copy, checked=True), cfg, key=n))
    connection = resolve(cfg)
    assert bodies(requests.build(ahead, connection, NOW_MS)) == bodies(
        requests.build(made, connection, NOW_MS)
    )


def test_every_item_goes_as_its_batch_of_intake_without_being_read_back() -> None:
    mp = MParticle()
    cfg = {"api_key": "k", "api_secret": "s"}
    items = []
    for n, user in enumerate(["a", "b", "b", "c"]):
        payload = {"user_identities": {"customer_id": user}, "event_name": f"e{n}"}
        _, wire = mp.prepare_ahead(Action("mparticle", "custom_event", payload), cfg)
        items.append(mp.restore(wire, cfg, key=n))
    (sent,) = requests.build(items, resolve(cfg), NOW_MS)
    assert [i.body is None for i in items] == [True] * 4, "none read back"
    batches = json.loads(sent.request.content)
    assert [len(b["events"]) for b in batches] == [1, 1, 1, 1]
    assert sent.request.content == b"[" + b",".join(i.encoded for i in items) + b"]"
