"""Items prepared at intake (``Destination.prepare_ahead``, kept as ``Action.wire``) are
restored at delivery exactly as ``prepare`` would make them then: the same bytes (so the
same Customer.io event ULID and mParticle message ids), size and repair notes; and not at
all once a setting that shapes them changed (delivery then prepares them again)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from mparticle_bodies import body_of

from mapwire import Action
from mapwire.plugins.customerio.ulid import event_ulid
from mapwire.plugins.mparticle.requests import lone_batch
from mapwire.runtime.intake_check import held_back
from mapwire.runtime.registry import get_registry

CIO = {"site_id": "site", "api_key": "key-for-tests"}
MP = {"api_key": "mp-key", "api_secret": "mp-secret"}
PERSON = {"identifiers": {"id": "p1"}}

CIO_CASES = [
    ("event", {**PERSON, "name": "viewed", "event_id": "src-1", "timestamp": 1_713_484_800}),
    ("event", {**PERSON, "name": "n" * 120, "data": {"recipient": "x@example.com", "k": 1}}),
    ("event", {**PERSON, "name": "ms", "timestamp_ms": 1_713_484_800_123, "event_id": "e2"}),
    ("identify", {**PERSON, "attributes": {"plan": "pro", "long": "v" * 1200}, "created_at": 5}),
    ("page", {**PERSON, "name": "checkout page", "data": {"é": "ü"}}),
    ("add_device", {**PERSON, "device": {"token": "t", "platform": "ios", "last_used": 7.0}}),
    ("merge", {"primary": {"id": "a"}, "secondary": {"email": "b@example.com"}}),
]
CIO_SETTINGS = [
    {},
    {"oversize": "drop_field"},
    {"allow_message_overrides": True},
]


def destination(name: str) -> Any:
    return get_registry().destinations()[name]


def compare(dest: Any, name: str, action: str, payload: dict[str, Any], cfg: Any) -> None:
    problems, wire = dest.prepare_ahead(Action(name, action, payload), cfg)
    assert problems == [] and wire is not None
    key = object()
    restored = dest.restore(wire, cfg, key=key)
    made = dest.prepare(Action(name, action, json.loads(json.dumps(payload)), checked=True), cfg)
    assert restored is not None and restored.key is key
    assert (restored.size, restored.route, restored.repairs) == (
        made.size,
        made.route,
        made.repairs,
    )
    return restored, made


@pytest.mark.parametrize("extra", CIO_SETTINGS)
@pytest.mark.parametrize(("action", "payload"), CIO_CASES)
def test_customerio_restores_the_very_bytes_prepare_makes(
    action: str, payload: dict[str, Any], extra: dict[str, Any]
) -> None:
    cfg = {**CIO, **extra}
    restored, made = compare(destination("customerio"), "customerio", action, payload, cfg)
    assert restored.encoded == made.encoded
    assert json.loads(restored.encoded) == made.body, "a dead letter's item decodes the same"


def test_customerio_ulid_and_repairs_survive_the_round_trip() -> None:
    cio = destination("customerio")
    payload = {**PERSON, "name": "n" * 120, "event_id": "src-1", "timestamp": 1_713_484_800}
    _, wire = cio.prepare_ahead(Action("customerio", "event", payload), CIO)
    item = cio.restore(wire, CIO)
    body = json.loads(item.encoded)
    assert body["id"] == event_ulid("src-1", 1_713_484_800)
    assert item.repairs == ["event name over 100 bytes: truncated"]


@pytest.mark.parametrize(
    "changed",
    [{"oversize": "drop_field"}, {"api": "v1"}, {"allow_message_overrides": True}],
)
def test_customerio_prepares_again_once_a_shaping_setting_changed(changed: dict[str, Any]) -> None:
    cio = destination("customerio")
    _, wire = cio.prepare_ahead(Action("customerio", "event", {**PERSON, "name": "x"}), CIO)
    assert cio.restore(wire, {**CIO, **changed}) is None
    moved = {**CIO, "site_id": "other", "base_url": "http://127.0.0.1:9"}
    assert cio.restore(wire, moved) is not None, "where items go does not shape them"


def test_customerio_leaves_to_delivery_what_only_settings_refuse_or_v1_sends() -> None:
    cio = destination("customerio")
    long_name = Action("customerio", "event", {**PERSON, "name": "n" * 120})
    assert cio.prepare_ahead(long_name, {**CIO, "oversize": "dead_letter"}) == ([], None)
    assert cio.prepare_ahead(long_name, {**CIO, "api": "v1"}) == ([], None)
    bad = Action("customerio", "event", {**PERSON, "name": "x", "unknown_field": 1})
    problems, wire = cio.prepare_ahead(bad, CIO)
    assert problems == cio.check_payload("event", bad.payload) and problems and wire is None


MP_CASES = [
    (
        "custom_event",
        {
            "event_name": "e" * 300,
            "source_message_id": "m-1",
            "user_identities": {"customer_id": "c1", "email": "c1@example.com"},
            "timestamp_unixtime_ms": 1_713_484_800_000,
        },
    ),
    ("user_attributes", {"user_identities": {"customer_id": "c1"}, "user_attributes": {"a": 1}}),
]


@pytest.mark.parametrize(("action", "payload"), MP_CASES)
def test_mparticle_restores_the_body_prepare_makes(action: str, payload: dict[str, Any]) -> None:
    restored, made = compare(destination("mparticle"), "mparticle", action, payload, MP)
    alone = lone_batch(made.body, "production")
    assert restored.body is None and json.loads(restored.encoded) == alone, "its batch alone"
    assert body_of(restored, made.body.get("source_message_id")) == made.body


def test_mparticle_prepares_again_under_another_oversize_policy_or_environment() -> None:
    mp = destination("mparticle")
    action, payload = MP_CASES[0]
    _, wire = mp.prepare_ahead(Action("mparticle", action, payload), MP)
    assert mp.restore(wire, {**MP, "oversize": "drop_field"}) is None
    assert mp.restore(wire, {**MP, "environment": "development"}) is None
    older = b"mp1 truncate [7,[]]\n" + wire.partition(b"\n")[2]  # the form before batches
    assert mp.restore(older, MP) is None
    keyed_otherwise = b"mp2" + wire.removeprefix(b"mp4")  # its user: identities and mpid
    assert mp.restore(keyed_otherwise, MP) is None
    head, _, batch = wire.partition(b"\n")
    with_message_id = b"mp3" + head.removeprefix(b"mp4")[:-1] + b',"m"]\n' + batch
    assert mp.restore(with_message_id, MP) is None  # the form that kept the message id
    other = Action("mparticle", action, payload)
    assert mp.prepare_ahead(other, {**MP, "oversize": "dead_letter"}) == ([], None)


def test_the_intake_check_keeps_the_wire_of_the_actions_it_passes() -> None:
    conn: Any = SimpleNamespace(name="cio", plan=SimpleNamespace(name="flow"), destination=CIO)
    good = Action("customerio", "event", {**PERSON, "name": "x"})
    bad = Action("customerio", "event", {**PERSON, "name": "x", "unknown_field": 1})
    kept, held = held_back(conn, {}, [good, bad], get_registry().destinations())
    assert kept == [good] and good.checked and good.wire is not None
    assert held and bad.wire is None


def test_latency_observed_per_batch_counts_as_observed_one_by_one() -> None:
    from prometheus_client import CollectorRegistry, Histogram

    from mapwire.runtime.metrics import observe_all

    values = [0.0, 0.004, 0.005, 0.3, 7.0, 1e9, 0.005]
    one, batched = (
        Histogram("h", "h", registry=CollectorRegistry(), buckets=(0.005, 0.5, 10))
        for _ in range(2)
    )
    for value in values:
        one.observe(value)
    observe_all(batched, values)
    got = [(s.name, s.labels, s.value) for s in batched.collect()[0].samples]
    want = [(s.name, s.labels, s.value) for s in one.collect()[0].samples]
    assert [g[:2] for g in got] == [w[:2] for w in want]
    assert [g[2] for g in got] == pytest.approx([w[2] for w in want])  # the sum's rounding
