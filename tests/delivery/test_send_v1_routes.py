"""``mapwire send`` into the Customer.io contract server (real HTTP on loopback, every request
checked against the vendor's Track API spec) for what only the v1 endpoints take or carry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from delivery_helpers import cio_connection, write_config, write_ndjson

Cli = Callable[..., Result]
pytestmark = pytest.mark.usefixtures("secrets")
MS = 1_713_484_800_000


def send(cli: Cli, tmp_path: Path, server: Any, docs: list[Any], **destination: Any) -> Result:
    connection = cio_connection(server)
    connection["destination"].update(destination)
    config = write_config(tmp_path, [connection])
    path = write_ndjson(tmp_path / "in.ndjson", docs)
    result = cli("send", "--config", str(config), "--connection", "cio", str(path))
    assert server.rejected == [], server.rejected
    return result


def person(customer_id: str, attributes: dict[str, Any], *events: Any) -> dict[str, Any]:
    return {
        "user_identities": {"customer_id": customer_id},
        "user_attributes": attributes,
        "events": list(events),
    }


def custom(name: str, **attributes: Any) -> dict[str, Any]:
    data = {"event_name": name, "timestamp_unixtime_ms": MS, "custom_attributes": attributes}
    return {"event_type": "custom_event", "data": data}


MIXED = {"$FirstName": "Ann", "plan": "pro", "visits": 3.0, "score": 1.5, "likes": ["a", "b"]}


def test_v1_identify_leaves_out_what_v1_cannot_take_and_delivers_the_rest(
    cli: Cli, tmp_path: Path, customerio_server: Any
) -> None:
    """With ``api: v1`` a list or a fraction is left out and counted; the person's other
    attributes arrive (they were all dead-lettered with the one bad value)."""
    result = send(cli, tmp_path, customerio_server, [person("p1", MIXED)], api="v1")
    assert result.exit_code == 0, result.output
    (sent,) = customerio_server.accepted_items("PUT /api/v1/customers/p1")
    assert sent == {"first_name": "Ann", "plan": "pro", "visits": 3}
    assert "dead-lettered: 0" in result.stderr
    for kind in ("number", "array"):
        reason = f"attribute value of type {kind}, which v1 does not take: left out"
        assert f"repaired fields ({reason}): 1" in result.stderr


def test_v1_identify_under_dead_letter_is_still_refused(
    cli: Cli, tmp_path: Path, customerio_server: Any
) -> None:
    docs = [person("p1", MIXED)]
    result = send(cli, tmp_path, customerio_server, docs, api="v1", oversize="dead_letter")
    assert customerio_server.accepted_items("PUT /api/v1/customers/p1") == []
    assert "dead-lettered: 1" in result.stderr


def test_an_event_too_large_for_a_v2_entity_arrives_whole_at_the_v1_events_endpoint(
    cli: Cli, tmp_path: Path, customerio_server: Any
) -> None:
    """Default settings: 9 custom attributes of 4,000 characters (about 36 KB, over the
    32,000 bytes of a v2 entity, within the 100,000 of v1 event data) are delivered, not
    dead-lettered; the person's other actions still go in a v2 batch."""
    big = {f"attribute_{n}": chr(ord("a") + n) * 4000 for n in range(9)}
    docs = [person("p2", {"plan": "pro"}, custom("Small"), custom("Big", **big), custom("After"))]
    result = send(cli, tmp_path, customerio_server, docs)
    assert result.exit_code == 0, result.output
    assert "dead-lettered: 0" in result.stderr
    (event,) = customerio_server.accepted_items("POST /api/v1/customers/p2/events")
    assert event["name"] == "Big" and event["type"] == "event"
    assert event["data"] == big
    batched = customerio_server.accepted_items("POST /api/v2/batch")
    assert [(i["action"], i.get("name")) for i in batched] == [
        ("identify", None),
        ("event", "Small"),
        ("event", "After"),
    ]
    routes = [f"{r.method} {r.path}" for r in customerio_server.requests]
    assert routes == [  # in the order the person's actions were accepted
        "POST /api/v2/batch",
        "POST /api/v1/customers/p2/events",
        "POST /api/v2/batch",
    ]
