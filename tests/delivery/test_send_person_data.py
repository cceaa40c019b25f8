"""The mParticle -> Customer.io flows never lose or corrupt a person's data: the installed
``mapwire send`` script delivers into the Customer.io contract server (which validates every
item against the vendor's Track API spec and limits) and the tests read what arrived.

Each run sends one person per behaviour, so a few runs (one per connection setup) serve
every test of this module.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from contract_servers import CustomerIOServer
from delivery_helpers import cio_connection, mp_connection, write_config, write_ndjson

MS = 1_713_484_800_000


@dataclass
class Run:
    summary: str
    returncode: int
    items: list[dict[str, Any]]

    def of(self, person_id: str) -> list[dict[str, Any]]:
        """The accepted items of one person, in delivery order."""
        return [i for i in self.items if i.get("identifiers") == {"id": person_id}]

    def attributes(self, person_id: str) -> list[dict[str, Any]]:
        """The attributes of each identify of one person."""
        return [i.get("attributes", {}) for i in self.of(person_id) if i["action"] == "identify"]


def send(
    tmp_path: Path,
    docs: list[dict[str, Any]],
    *,
    settings: dict[str, Any] | None = None,
    destination: dict[str, Any] | None = None,
) -> Run:
    """Run ``mapwire send`` over ``docs`` into a fresh Customer.io contract server."""
    with CustomerIOServer() as server:
        connection = cio_connection(server)
        connection["destination"].update(destination or {})
        if settings:
            connection["settings"] = settings
        config = write_config(tmp_path, [connection])
        path = write_ndjson(tmp_path / "in.ndjson", docs)
        exe = Path(sys.executable).parent / "mapwire"
        done = subprocess.run(
            [str(exe), "send", "--config", str(config), "--connection", "cio", str(path)],
            cwd=tmp_path,
            env={**os.environ, "TEST_CIO_API_KEY": server.api_key},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert server.rejected == [], server.rejected
        assert server.server_errors == []
        return Run(done.stderr, done.returncode, server.accepted_items("POST /api/v2/batch"))


def person(customer_id: Any, attributes: dict[str, Any] | None = None, *events: Any) -> Any:
    return {
        "user_identities": {"customer_id": customer_id},
        "user_attributes": attributes or {},
        "events": list(events),
    }


def custom(name: str, ms: float = MS, **attributes: Any) -> dict[str, Any]:
    data = {"event_name": name, "timestamp_unixtime_ms": ms, "custom_attributes": attributes}
    return {"event_type": "custom_event", "data": data}


def change(name: str, new: Any, deleted: bool = False) -> dict[str, Any]:
    data = {"user_attribute_name": name, "new": new, "deleted": deleted}
    return {"event_type": "user_attribute_change", "data": data}


OPT_IN = {"event_type": "opt_out", "data": {"is_opted_out": False}}
OPT_OUT = {"event_type": "opt_out", "data": {"is_opted_out": True}}
PRODUCTS = [{"id": "A", "brand": None, "price": 1}]
COMMERCE = {
    "event_type": "commerce_event",
    "data": {"product_action": {"action": "purchase", "products": PRODUCTS}},
}
MANY = {f"a{n:03}": n for n in range(650)}
OVERSIZED = {"bio": "€" * 400, "n" * 151: "x", "plan": "pro", "list": ["x" * 1000]}

PEOPLE = [
    person("names", {"$FIRSTNAME": "Ann", "$ZIP": "0150"}, change("$firstname", "Anna")),
    person("names2", {}, change("$mobile", "+4712")),
    person("tags", {"vip": None, "plan": "pro"}, change("beta", None), change("plan", 1, True)),
    person("opt", {}, OPT_IN, OPT_OUT),
    person(12345, {}, custom("Buy")),
    person("dates", {"created_at": "2020-01-01"}, custom("A", MS // 1000), custom("B", MS + 5)),
    person("big", OVERSIZED, custom("é" * 60), custom("ok")),
    person("many", MANY, custom("ok")),
    person("blank", {}, custom("   "), custom("")),
    person("shop", {}, COMMERCE),
    person("override", {}, custom("Buy", recipient="x@example.com", reply_to="y@x.com", sku="A")),
]


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return send(tmp_path_factory.mktemp("default"), PEOPLE)


@pytest.fixture(scope="module")
def settings_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return send(
        tmp_path_factory.mktemp("settings"),
        PEOPLE,
        settings={"tags": "true", "forward_opt_ins": True, "date_attributes": ["created_at"]},
        destination={"allow_message_overrides": True},
    )


@pytest.fixture(scope="module")
def dead_letter_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return send(
        tmp_path_factory.mktemp("dead_letter"),
        [person("big", {"bio": "b" * 1001}, custom("ok"))],
        destination={"oversize": "dead_letter"},
    )


def test_every_person_arrives(default_run: Run) -> None:
    assert default_run.returncode == 0, default_run.summary
    assert "dead-lettered: 0" in default_run.summary


def test_reserved_attributes_have_one_name_on_every_path(default_run: Run) -> None:
    assert default_run.attributes("names") == [
        {"first_name": "Ann", "zip": "0150"},
        {"first_name": "Anna"},
    ]
    assert default_run.attributes("names2") == [{}, {"mobile": "+4712"}]


def test_tags_never_remove_attributes_unless_asked(default_run: Run, settings_run: Run) -> None:
    # Only the explicit deletion removes (sent empty); the tags are left out.
    assert default_run.attributes("tags") == [{"plan": "pro"}, {"plan": ""}]
    assert "skipped (tag not forwarded (tags: skip)): 1" in default_run.summary
    assert settings_run.attributes("tags") == [
        {"vip": True, "plan": "pro"},
        {"beta": True},
        {"plan": ""},
    ]


def test_opt_ins_are_forwarded_only_when_asked(default_run: Run, settings_run: Run) -> None:
    assert default_run.attributes("opt") == [{}, {"unsubscribed": True}]
    assert "skipped (opt-in not forwarded): 1" in default_run.summary
    assert settings_run.attributes("opt") == [{}, {"unsubscribed": False}, {"unsubscribed": True}]


def test_integer_identities_are_delivered_as_strings(default_run: Run) -> None:
    assert [i["action"] for i in default_run.of("12345")] == ["identify", "event"]


def test_dates_and_second_timestamps(default_run: Run, settings_run: Run) -> None:
    assert default_run.attributes("dates") == [{"created_at": "2020-01-01"}]
    assert settings_run.attributes("dates") == [{"created_at": 1_577_836_800}]
    events = [i for i in default_run.of("dates") if i["action"] == "event"]
    assert [i["timestamp"] for i in events] == [MS // 1000] * 2
    assert "repaired fields (timestamp in seconds, not milliseconds): 1" in default_run.summary


def test_oversized_fields_are_repaired_not_dead_lettered(default_run: Run) -> None:
    # 333 whole characters (999 bytes): the cut never splits a character.
    assert default_run.attributes("big") == [{"bio": "€" * 333, "plan": "pro"}]
    names = [i["name"] for i in default_run.of("big") if i["action"] == "event"]
    assert names == ["é" * 50, "ok"]
    for line in (
        "repaired fields (attribute value over 1000 bytes: truncated): 1",
        "repaired fields (attribute value over 1000 bytes: left out): 1",
        "repaired fields (attribute name over 150 bytes: left out): 1",
        "repaired fields (event name over 100 bytes: truncated): 1",
    ):
        assert line in default_run.summary


def test_oversize_dead_letter_policy_keeps_the_old_behaviour(dead_letter_run: Run) -> None:
    assert [i["action"] for i in dead_letter_run.of("big")] == ["event"]
    assert "dead-lettered: 1" in dead_letter_run.summary


def test_past_300_attributes_the_rest_are_left_out_and_counted(default_run: Run) -> None:
    """A person holds at most 300 attributes, per the vendor: the first 300 go."""
    parts = default_run.attributes("many")
    assert [len(p) for p in parts] == [300]
    assert [k for p in parts for k in p] == list(MANY)[:300]
    assert [i["action"] for i in default_run.of("many")] == ["identify", "event"]
    left_out = len(MANY) - 300
    assert f"repaired fields (attribute past the 300 a person may have: left out): {left_out}" in (
        default_run.summary
    )


def test_blank_event_names_are_skipped_and_counted(default_run: Run) -> None:
    assert [i["action"] for i in default_run.of("blank")] == ["identify"]
    assert "skipped (empty event name): 2" in default_run.summary


def test_null_product_members_are_left_out(default_run: Run) -> None:
    event = default_run.of("shop")[1]
    assert event["attributes"]["products"] == [{"id": "A", "price": 1}]


def test_message_override_keys_are_left_out_of_event_data(
    default_run: Run, settings_run: Run
) -> None:
    assert default_run.of("override")[1]["attributes"] == {"sku": "A"}
    assert "repaired fields (message override key left out of event data): 2" in (
        default_run.summary
    )
    allowed = settings_run.of("override")[1]["attributes"]
    assert allowed == {"recipient": "x@example.com", "reply_to": "y@x.com", "sku": "A"}


def test_a_long_mparticle_attribute_value_is_cut_not_dead_lettered(
    mparticle_server: Any, tmp_path: Path
) -> None:
    """Customer.io -> mParticle: a bounce's long ``failure_message`` (over mParticle's 4096
    characters) is cut to the limit; the event arrives."""
    hook = {
        "event_id": "01HX0000000000000000000001",
        "object_type": "email",
        "metric": "bounced",
        "timestamp": 1_713_484_800,
        "data": {
            "delivery_id": "d-1",
            "identifiers": {"id": "p1"},
            "recipient": "a@b.co",
            "subject": "s",
            "failure_message": "ü" * 5000,
        },
    }
    config = write_config(tmp_path, [mp_connection(mparticle_server)])
    path = write_ndjson(tmp_path / "hooks.ndjson", [hook])
    exe = Path(sys.executable).parent / "mapwire"
    done = subprocess.run(
        [str(exe), "send", "--config", str(config), "--connection", "mp", str(path)],
        cwd=tmp_path,
        env={**os.environ, "TEST_MP_API_SECRET": mparticle_server.api_secret},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    batches = mparticle_server.accepted_items("POST /v2/bulkevents/historical")  # from 2024
    (event,) = [e for b in batches for e in b["events"]]
    assert event["data"]["custom_attributes"]["failure_message"] == "ü" * 4096
    assert "repaired fields (attribute value over 4096 characters: truncated): 1" in done.stderr
