"""A user named by mpid alone (empty ``user_identities`` in the payload): the batch carries
``mpid`` and no ``user_identities`` (the Events API requires neither), and a payload that
names no user at all is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft7Validator

from mapwire import Action, PermanentDeliveryError
from mapwire.plugins.mparticle.actions import NO_USER
from mapwire.plugins.mparticle.destination import MParticle

#: Real MPIDs are 64-bit signed integers, most beyond 2**53 (where a float rounds them).
MPIDS = [7_346_244_611_012_968_789, -4_263_172_847_210_939_204, 2**63 - 1, -(2**63)]

PAYLOADS: dict[str, dict[str, Any]] = {
    "custom_event": {"event_name": "email_sent", "custom_event_type": "other"},
    "screen_view": {"screen_name": "Home"},
    "user_attributes": {"user_attributes": {"plan": "pro"}},
}


def _sent(
    destination: MParticle, settings: dict[str, Any], action: str, payload: dict[str, Any]
) -> tuple[bytes, list[dict[str, Any]]]:
    """The request body built for one action, prepared at delivery, and its batches."""
    item = destination.prepare(Action("mparticle", action, payload), settings)
    (sent,) = destination.build_requests([item], settings)
    return sent.request.content, json.loads(sent.request.content)


@pytest.mark.parametrize("mpid", MPIDS)
@pytest.mark.parametrize("action", sorted(PAYLOADS))
def test_a_payload_with_mpid_only_goes_as_a_batch_with_mpid_and_no_identities(
    destination: MParticle,
    settings: dict[str, Any],
    bulk_validator: Draft7Validator,
    action: str,
    mpid: int,
) -> None:
    payload = {"user_identities": {}, "mpid": mpid, **PAYLOADS[action]}
    raw, (batch,) = _sent(destination, settings, action, payload)
    assert list(bulk_validator.iter_errors([batch])) == []
    assert batch["mpid"] == mpid
    assert "user_identities" not in batch
    assert f'"mpid":{mpid}'.encode() in raw, "written exactly, as an integer"


def test_empty_identities_with_an_mpid_are_left_out(
    destination: MParticle, settings: dict[str, Any], bulk_validator: Draft7Validator
) -> None:
    payload = {"user_identities": {}, "mpid": MPIDS[0], "event_name": "e"}
    _, (batch,) = _sent(destination, settings, "custom_event", payload)
    assert list(bulk_validator.iter_errors([batch])) == []
    assert "user_identities" not in batch
    assert batch["mpid"] == MPIDS[0]


def test_an_email_goes_with_the_mpid(
    destination: MParticle, settings: dict[str, Any], bulk_validator: Draft7Validator
) -> None:
    payload = {"user_identities": {"email": "a@example.com"}, "mpid": MPIDS[1], "event_name": "e"}
    _, (batch,) = _sent(destination, settings, "custom_event", payload)
    assert list(bulk_validator.iter_errors([batch])) == []
    assert batch["user_identities"] == {"email": "a@example.com"}
    assert batch["mpid"] == MPIDS[1]


@pytest.mark.parametrize("action", sorted(PAYLOADS))
def test_prepared_ahead_the_mpid_only_batch_is_the_one_delivery_renders(
    destination: MParticle, settings: dict[str, Any], action: str
) -> None:
    payload = {
        "user_identities": {},
        "mpid": MPIDS[0],
        "source_message_id": "m-1",
        **PAYLOADS[action],
    }
    problems, wire = destination.prepare_ahead(Action("mparticle", action, payload), settings)
    assert problems == [] and wire is not None
    restored = destination.restore(wire, settings, key=1)
    assert restored is not None
    (ahead,) = destination.build_requests([restored], settings)
    raw, _ = _sent(destination, settings, action, dict(payload))
    assert ahead.request.content == raw


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        # user_identities is always given (empty when the mpid names the user), so that a
        # mapping that never sets it is told so when it loads
        pytest.param(
            {"event_name": "e", "mpid": 1},
            "payload: missing required field user_identities",
            id="no-identities",
        ),
        pytest.param({"user_identities": {}, "event_name": "e"}, NO_USER, id="empty-identities"),
    ],
)
def test_a_payload_that_names_no_user_is_refused_everywhere(
    destination: MParticle, settings: dict[str, Any], payload: dict[str, Any], why: str
) -> None:
    expected = f"mparticle.custom_event: {why}"
    action = Action("mparticle", "custom_event", payload)
    with pytest.raises(PermanentDeliveryError) as caught:
        destination.prepare(action, settings)
    assert str(caught.value) == expected
    assert destination.check_payload("custom_event", payload) == [expected]
    assert destination.prepare_ahead(action, settings) == ([expected], None)
    assert "user_identities" in NO_USER and "mpid" in NO_USER


def test_the_ordering_key_of_a_user_named_by_mpid_alone(destination: MParticle) -> None:
    def key(payload: dict[str, Any]) -> str:
        return destination.ordering_key("custom_event", payload)

    one = key({"user_identities": {}, "mpid": MPIDS[0]})
    other = key({"user_identities": {}, "mpid": MPIDS[1]})
    assert one and other and one != other
    assert key({"mpid": MPIDS[0]}) == one
    assert key({"event_name": "e"}) == ""
    assert key({"user_identities": {}}) == ""
