"""The vendors' surface beyond the common case, end to end: the installed ``mapwire send``
script maps each document with a shipped flow and delivers into the contract servers,
which check every request against the vendors' own specs; the tests read what the vendor
stand-in accepted (web page views, devices with their attributes, merges, anonymous
activity, audience identities and names, the feed's event names)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from contract_servers import CustomerIOServer, MParticleServer

MS = 1_713_484_800_000
MAPWIRE = str(Path(sys.executable).parent / "mapwire")


def _send(
    tmp_path: Path,
    server: Any,
    flow: str,
    docs: list[Any],
    settings: dict[str, Any],
    destination_settings: dict[str, Any] | None = None,
    delivery: dict[str, Any] | None = None,
) -> str:
    """``mapwire send`` ``docs`` through ``flow`` into ``server``; the summary on stderr."""
    if isinstance(server, CustomerIOServer):
        destination = {"site_id": server.site_id, "api_key": {"env": "TEST_API_KEY"}}
        secret = server.api_key
    else:
        destination = {"api_key": server.api_key, "api_secret": {"env": "TEST_API_KEY"}}
        secret = server.api_secret
    destination["base_url"] = (
        server.base_url if isinstance(server, MParticleServer) else server.origin
    )
    destination.update(destination_settings or {})
    connection = {"name": "c", "flow": flow, "destination": destination, "settings": settings}
    config = {
        "mapwire": 1,
        "store": "sqlite:///state.db",
        "delivery": {
            "retry_window_hours": 1,
            "max_backoff_seconds": 2,
            "timeout_seconds": 10,
            **(delivery or {}),
        },
        "connections": [connection],
    }
    (tmp_path / "mapwire.yaml").write_text(json.dumps(config))
    (tmp_path / "in.ndjson").write_text("".join(json.dumps(d) + "\n" for d in docs))
    done = subprocess.run(
        [MAPWIRE, "send", "--config", "mapwire.yaml", "--connection", "c", "in.ndjson"],
        cwd=tmp_path,
        env={**os.environ, "TEST_API_KEY": secret},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert server.rejected == [], server.rejected
    return done.stderr


def _customerio(
    tmp_path: Path, flow: str, docs: list[Any], api: str = "v2", **settings: Any
) -> list[Any]:
    """What the Customer.io stand-in accepted: ``(route, item)`` in delivery order."""
    tmp_path.mkdir(exist_ok=True)
    with CustomerIOServer() as server:
        _send(tmp_path, server, flow, docs, settings, {"api": api})
        return [(a.route, a.item) for a in server.accepted]


def _batch(accepted: list[Any]) -> list[dict[str, Any]]:
    return [item for route, item in accepted if route == "POST /api/v2/batch"]


# -- web page views ---------------------------------------------------------------------------


def test_web_page_views_arrive_as_pages_and_app_screens_as_screens(tmp_path: Path) -> None:
    web = {
        "user_identities": {"customer_id": "web-1"},
        "device_info": {"platform": "web"},
        "events": [
            {
                "event_type": "screen_view",
                "data": {
                    "screen_name": "Pricing",
                    "timestamp_unixtime_ms": MS,
                    "custom_attributes": {
                        "url": "https://example.com/pricing",
                        "referrer": "https://example.com/",
                    },
                },
            }
        ],
    }
    app = {
        "user_identities": {"customer_id": "app-1"},
        "device_info": {"platform": "iOS"},
        "events": [{"event_type": "screen_view", "data": {"screen_name": "Settings"}}],
    }
    items = _batch(_customerio(tmp_path, "mparticle-events-to-customerio", [web, app]))
    views = [i for i in items if i["action"] in ("page", "screen")]
    assert views == [
        {
            "type": "person",
            "action": "page",
            "identifiers": {"id": "web-1"},
            "name": "https://example.com/pricing",
            "timestamp": MS // 1000,
            "attributes": {
                "url": "https://example.com/pricing",
                "referrer": "https://example.com/",
            },
        },
        {"type": "person", "action": "screen", "identifiers": {"id": "app-1"}, "name": "Settings"},
    ]


# -- devices --------------------------------------------------------------------------------


def test_push_registration_adds_the_device_with_its_attributes_and_removal_deletes_it(
    tmp_path: Path,
) -> None:
    batch = {
        "user_identities": {"customer_id": "dev-1"},
        "device_info": {
            "platform": "iOS",
            "os_version": "17.4",
            "device_model": "iPhone15,2",
            "locale_language": "en",
            "locale_country": "US",
        },
        "application_info": {"application_version": "2.1.0"},
        "events": [
            {
                "event_type": "push_registration",
                "data": {
                    "register": True,
                    "registration_token": "tok-new",
                    "timestamp_unixtime_ms": MS,
                },
            },
            {
                "event_type": "push_registration",
                "data": {"register": False, "registration_token": "tok-old"},
            },
        ],
    }
    accepted = _customerio(tmp_path, "mparticle-events-to-customerio", [batch], api="v1")
    devices = [(route, item) for route, item in accepted if "/devices" in route]
    assert devices == [
        (
            "PUT /api/v1/customers/dev-1/devices",
            {
                "device": {
                    "id": "tok-new",
                    "platform": "ios",
                    "last_used": MS // 1000,
                    "attributes": {
                        "device_os": "17.4",
                        "device_model": "iPhone15,2",
                        "app_version": "2.1.0",
                        "device_locale": "en-US",
                        "push_enabled": "true",
                    },
                }
            },
        ),
        ("DELETE /api/v1/customers/dev-1/devices/tok-old", {}),
    ]


# -- merges ---------------------------------------------------------------------------------


def _identity_change(kind: str, new: str | None, old: str | None) -> dict[str, Any]:
    def identity(value: str | None) -> dict[str, str] | None:
        return None if value is None else {"identity_type": kind, "identity": value}

    data = {"new": identity(new), "old": identity(old)}
    return {"event_type": "user_identity_change", "data": data}


def test_a_changed_customer_id_merges_the_old_person_into_the_new_one(tmp_path: Path) -> None:
    changed = {
        "user_identities": {"customer_id": "m-new", "email": "m@example.com"},
        "events": [_identity_change("customer_id", "m-new", "m-old")],
    }
    added = {
        "user_identities": {"customer_id": "a-1", "email": "a@example.com"},
        "events": [_identity_change("email", "a@example.com", None)],
    }
    with CustomerIOServer() as server:
        flow, delay = "mparticle-events-to-customerio", {"merge_delay_seconds": 0.3}
        lease = {"lease_seconds": 2, "timeout_seconds": 1}  # the hold counts from its end
        _send(tmp_path, server, flow, [changed, added], {}, delay, lease)
        items = _batch([(a.route, a.item) for a in server.accepted])
        assert server.request_count == 2, "the merge waits for a request of its own"
    assert items == [
        {
            "type": "person",
            "action": "identify",
            "identifiers": {"id": "m-new"},
            "attributes": {"email": "m@example.com"},
        },
        {
            "type": "person",
            "action": "identify",
            "identifiers": {"id": "a-1"},
            "attributes": {"email": "a@example.com"},
        },
        {
            "type": "person",
            "action": "identify",
            "identifiers": {"id": "a-1"},
            "attributes": {"email": "a@example.com"},
        },
        {  # after the identify that creates the primary, by merge_delay_seconds
            "type": "person",
            "action": "merge",
            "primary": {"id": "m-new"},
            "secondary": {"id": "m-old"},
        },
    ]


# -- anonymous activity -----------------------------------------------------------------------

DEVICE = "5a8a5c4e-2f0b-4c3e-9a64-6a4e2b7d9c11"


def test_anonymous_events_carry_the_device_id_which_the_later_identify_sets(
    tmp_path: Path,
) -> None:
    anonymous = {
        "mp_deviceid": DEVICE,
        "events": [
            {
                "event_type": "custom_event",
                "data": {"event_name": "Viewed Plan", "custom_attributes": {"plan": "pro"}},
            }
        ],
    }
    identified = {"user_identities": {"customer_id": "anon-later"}, "mp_deviceid": DEVICE}
    docs = [anonymous, identified]
    accepted = _customerio(
        tmp_path, "mparticle-events-to-customerio", docs, anonymous_id="device_id"
    )
    assert accepted == [
        (
            "POST /api/v1/events",
            {
                "anonymous_id": DEVICE,
                "type": "event",
                "name": "Viewed_Plan",
                "data": {"plan": "pro"},
            },
        ),
        (
            "POST /api/v2/batch",
            {
                "type": "person",
                "action": "identify",
                "identifiers": {"id": "anon-later"},
                "attributes": {"anonymous_id": DEVICE},
            },
        ),
    ]


# -- audiences ------------------------------------------------------------------------------


def test_audience_changes_carry_email_and_names_and_the_chosen_identity(tmp_path: Path) -> None:
    def profile(customer: str, email: str, first: str) -> dict[str, Any]:
        identities = [
            {"type": "customer", "encoding": "raw", "value": customer},
            {"type": "email", "encoding": "raw", "value": email},
        ]
        shared = [{"key": "$FirstName", "value": first, "action": "upsert"}]
        audiences = [
            {"audience_id": 7, "audience_name": "VIP", "action": "add"},
            {
                "audience_id": 7,
                "audience_name": "VIP",
                "action": "attribute_update",
                "user_attributes": shared,
            },
        ]
        return {"mpid": customer, "user_identities": identities, "audiences": audiences}

    request = {
        "type": "audience_membership_change_request",
        "id": "1317071d-3342-4e1e-a691-84bd7e762bda",
        "timestamp_ms": MS,
        "firehose_version": "3.2.0",
        "account": {"account_id": 1},
        "user_profiles": [profile("aud-1", "aud1@example.com", "Ann")],
    }
    flow = "mparticle-audiences-to-customerio"
    by_id = _batch(_customerio(tmp_path / "id", flow, [request]))
    by_email = _batch(_customerio(tmp_path / "email", flow, [request], user_id_type="email"))
    attributes = {"In VIP": "true", "first_name": "Ann", "email": "aud1@example.com"}
    assert by_id == [
        {
            "type": "person",
            "action": "identify",
            "identifiers": {"id": "aud-1"},
            "attributes": attributes,
            "timestamp": MS // 1000,  # the change's: Customer.io orders updates by it
        }
    ]
    assert by_email == [
        {
            "type": "person",
            "action": "identify",
            "identifiers": {"email": "aud1@example.com"},
            "attributes": attributes,
            "timestamp": MS // 1000,
        }
    ]


# -- the feed's event names -------------------------------------------------------------------


def test_the_feed_can_use_mparticles_event_names_and_forward_the_extra_events(
    tmp_path: Path,
) -> None:
    def hook(event_id: str, object_type: str, metric: str) -> dict[str, Any]:
        data = {"delivery_id": f"d-{event_id}", "identifiers": {"id": "feed-1"}}
        return {
            "event_id": event_id,
            "object_type": object_type,
            "metric": metric,
            "timestamp": MS // 1000,
            "data": data,
        }

    hooks = [
        hook("h1", "email", "clicked"),
        hook("h2", "push", "delivered"),
        hook("h3", "sms", "sent"),
    ]
    with MParticleServer() as server:
        _send(
            tmp_path,
            server,
            "customerio-activity-to-mparticle",
            hooks,
            {"event_names": "mparticle", "forward_events": ["email_clicked", "push_delivered"]},
        )
        batches = server.accepted_items("POST /v2/bulkevents/historical")  # 2024 samples
    names = [event["data"]["event_name"] for batch in batches for event in batch["events"]]
    assert names == ["Email Link Clicked", "Push Delivered"]
