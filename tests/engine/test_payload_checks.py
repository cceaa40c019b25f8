"""At run time, `map`, `test` and `explain` check every action as delivery would, and
`explain` says whether a null came from a missing key or an explicit null."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from mapwire.cli import main
from mapwire.language.cases import Case, check_case
from mapwire.runtime.mapping_files import compile_with_plugins
from mapwire.runtime.registry import get_registry

EVENTS = Path(__file__).parents[2] / "mappings" / "mparticle_events_to_customerio.yaml"
ACTIVITY = Path(__file__).parents[2] / "mappings" / "customerio_activity_to_mparticle.yaml"
# The source schema allows any timestamp; the destination needs a number, so this event
# maps, and delivery would refuse it.
WORDY_TIME = {
    "user_identities": {"customer_id": "c1"},
    "events": [
        {
            "event_type": "custom_event",
            "data": {"event_name": "x", "timestamp_unixtime_ms": "soon"},
        }
    ],
}


def test_a_case_fails_when_delivery_would_dead_letter_an_action() -> None:
    plan = compile_with_plugins(EVENTS)
    produced = [
        {"action": "identify", "payload": {"identifiers": {"id": "c1"}, "attributes": {}}},
        {
            "action": "event",
            "payload": {"identifiers": {"id": "c1"}, "name": "x", "timestamp_ms": "soon"},
        },
    ]
    case = Case("wordy time", [WORDY_TIME], {}, {"actions": produced}, 1)
    failures = check_case(plan, case, get_registry().destinations())
    assert len(failures) == 1, failures
    assert "action 2 (event, rule 'custom event') would be dead-lettered" in failures[0]
    assert "payload.timestamp_ms: expected number, got string" in failures[0]


def test_a_case_whose_actions_would_be_delivered_passes() -> None:
    plan = compile_with_plugins(EVENTS)
    doc = {**WORDY_TIME, "events": [{"event_type": "custom_event", "data": {"event_name": "x"}}]}
    produced = [
        {"action": "identify", "payload": {"identifiers": {"id": "c1"}, "attributes": {}}},
        {"action": "event", "payload": {"identifiers": {"id": "c1"}, "name": "x"}},
    ]
    ok = Case("ok", [doc], {}, {"actions": produced}, 1)
    assert check_case(plan, ok, get_registry().destinations()) == []


def test_the_mparticle_destination_checks_like_its_prepare() -> None:
    destination = get_registry().destinations()["mparticle"]
    found = destination.check_payload("custom_event", {"user_identities": {"email": "a@b.c"}})
    assert found and all("event_name" in f for f in found), found
    assert (
        destination.check_payload(
            "custom_event", {"event_name": "e", "user_identities": {"email": "a"}}
        )
        == []
    )


def test_map_reports_an_action_delivery_would_refuse(tmp_path: Path) -> None:
    batch = tmp_path / "batch.json"
    batch.write_text(json.dumps(WORDY_TIME), "utf-8")
    result = CliRunner().invoke(main, ["map", "--mapping", str(EVENTS), str(batch)])
    assert result.exit_code == 1, result.output
    assert (
        "input line 1: action 2 (event, rule 'custom event') would be dead-lettered at "
        "delivery: invalid event payload: payload.timestamp_ms: expected number, got string"
        in result.stderr
    )
    assert "soon" not in result.stderr  # no input value is quoted


def test_explain_tells_a_missing_key_from_a_null(tmp_path: Path) -> None:
    webhook = {
        "event_id": "01H",
        "object_type": "email",
        "metric": "sent",
        "timestamp": 1700000000,
        "data": {"identifiers": {"id": "p1"}, "delivery_id": "d1", "subject": None},
    }
    path = tmp_path / "hook.json"
    path.write_text(json.dumps(webhook), "utf-8")
    result = CliRunner().invoke(main, ["explain", "--mapping", str(ACTIVITY), str(path)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    subject = next(line for line in lines if line.strip().startswith("custom_attributes.subject"))
    href = next(line for line in lines if line.strip().startswith("custom_attributes.href"))
    assert subject.endswith("null in the input (data.subject)"), subject
    assert href.endswith("no such key in the input (data has no 'href')"), href
    email = next(line for line in lines if line.strip().startswith("email <-"))
    assert "no such key in the input (doc.data.identifiers has no 'email')" in email, email
