"""Who each destination orders an action by (``Destination.ordering_key``)."""

from __future__ import annotations

from mapwire.plugins.customerio.destination import CustomerIO
from mapwire.plugins.mparticle.destination import MParticle


def test_customerio_orders_by_the_person_named_in_the_payload() -> None:
    cio = CustomerIO()
    key = cio.ordering_key
    person = key("identify", {"identifiers": {"email": "Ann@Example.com"}})
    assert person == key("event", {"identifiers": {"email": "ann@example.com"}, "name": "x"})
    assert person != key("identify", {"identifiers": {"email": "bob@example.com"}})
    assert person != key("identify", {"identifiers": {"id": "Ann@Example.com"}})
    by_id = key("identify", {"identifiers": {"id": "u1"}})
    assert by_id == key("merge", {"primary": {"id": "u1"}, "secondary": {"id": "u2"}})
    assert by_id != key("identify", {"identifiers": {"id": "U1"}}), "ids are case-sensitive"
    visitor = key("anonymous_event", {"anonymous_id": "a1", "name": "x"})
    assert visitor and visitor != key("anonymous_event", {"anonymous_id": "a2", "name": "x"})
    assert key("identify", {}) == key("identify", {"identifiers": "odd"}) == ""
    assert "u1" not in by_id and "ann" not in person, "no personal data in the key"


def test_mparticle_orders_by_customer_id_else_mpid_else_every_identity() -> None:
    key = MParticle().ordering_key
    user = key("custom_event", {"user_identities": {"customer_id": "c1", "email": "a@x.io"}})
    assert user == key("user_attributes", {"user_identities": {"customer_id": "c1"}})
    assert user == key("custom_event", {"user_identities": {"customer_id": "c1"}, "mpid": 7})
    assert user != key("custom_event", {"user_identities": {"customer_id": "c2"}})
    profile = key("screen_view", {"user_identities": {"email": "a@x.io"}, "mpid": 7})
    assert profile == key("custom_event", {"mpid": 7, "user_identities": {"email": "a@x.io"}})
    # one profile, whichever identities each item carries beside its mpid
    assert profile == key("custom_event", {"mpid": 7, "user_identities": {}})
    assert profile == key("custom_event", {"mpid": 7, "user_identities": {"email": "b@x.io"}})
    assert profile != key("custom_event", {"mpid": 8, "user_identities": {"email": "a@x.io"}})
    by_email = key("custom_event", {"user_identities": {"email": "a@x.io", "other": "o"}})
    assert by_email == key("custom_event", {"user_identities": {"other": "o", "email": "a@x.io"}})
    assert by_email not in (profile, user)
    assert key("custom_event", {"user_identities": {}}) == key("custom_event", {}) == ""
