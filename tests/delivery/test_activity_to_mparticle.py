"""The Customer.io activity -> mParticle flow through the installed ``mapwire`` script, into
a sink connection: what mParticle would receive, and what the dedup store keeps."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

from customerio_webhooks import reporting_webhook
from delivery_helpers import run_subprocess, write_config, write_ndjson

THIRTY_DAYS = 30 * 86400


def _send(tmp_path: Path, hooks: list[dict[str, Any]], **connection: Any) -> list[dict[str, Any]]:
    """``mapwire send`` the webhooks into a sink; the mParticle events it recorded."""
    conn = {
        "name": "activity",
        "flow": "customerio-activity-to-mparticle",
        "destination": {"api_key": "k", "api_secret": "s"},
        "transport": "sink:out",
        **connection,
    }
    config = write_config(tmp_path, [conn])
    path = write_ndjson(tmp_path / "hooks.ndjson", hooks)
    proc = run_subprocess(
        ["send", "--config", str(config), "--connection", "activity", str(path)],
        env={},
        cwd=tmp_path,
    )
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    events = []
    for file in sorted((tmp_path / "out").glob("*.ndjson")):
        for line in file.read_text().splitlines():
            events += [e for b in json.loads(line)["body"] for e in b["events"]]
    return events


def _dedup_expiries(tmp_path: Path) -> list[float | None]:
    with sqlite3.connect(tmp_path / "state.db") as db:
        return [row[0] for row in db.execute("SELECT expires_at FROM seen")]


def test_event_ids_stay_traceable_and_push_names_every_device(tmp_path: Path) -> None:
    ulid = "01HX5ZZKBKACTAV9WEVGEMMVRZ"
    hooks = [
        {
            "event_id": ulid,
            "object_type": "push",
            "metric": "opened",
            "timestamp": 1_713_484_800,
            "data": {
                "transactional_message_id": 3,
                "delivery_id": "d-1",
                "identifiers": {"id": "p1"},
                "recipients": [
                    {"device_id": "tok-a", "device_platform": "ios"},
                    {"device_id": "tok-b", "device_platform": "android"},
                ],
            },
        },
        {
            "event_id": "not-a-ulid",
            "object_type": "email",
            "metric": "sent",
            "timestamp": 1_713_484_801,
            "data": {"delivery_id": "d-2", "identifiers": {"id": "p1"}, "recipient": "a@b.co"},
        },
    ]
    events = _send(tmp_path, hooks)
    data = {e["data"]["event_name"]: e["data"] for e in events}
    push = data["push_opened"]
    # The UUID carries the ULID's 128 bits: the Customer.io event id can be read back.
    ulid_bits = 0
    for char in ulid:
        ulid_bits = ulid_bits * 32 + "0123456789ABCDEFGHJKMNPQRSTVWXYZ".index(char)
    assert push["source_message_id"] == str(uuid.UUID(int=ulid_bits))
    assert push["custom_attributes"]["event_id"] == ulid
    assert push["custom_attributes"]["recipient"] == "tok-a,tok-b"
    assert push["custom_attributes"]["transactional_message_id"] == "3"
    email = data["email_sent"]
    assert email["custom_attributes"]["event_id"] == "not-a-ulid"
    assert uuid.UUID(email["source_message_id"]).version == 5


def test_dedup_keys_expire_after_the_default_thirty_days(tmp_path: Path) -> None:
    hook = reporting_webhook("01HX5ZZKBKACTAV9WEVGEMMVS0")
    before = time.time()
    assert len(_send(tmp_path, [hook, hook])) == 1
    expiries = _dedup_expiries(tmp_path)
    assert len(expiries) == 2  # the event id, and (first_time_only) the delivery's "opened"
    for expiry in expiries:
        assert expiry is not None
        assert before + THIRTY_DAYS <= expiry <= time.time() + THIRTY_DAYS


def test_dedup_ttl_is_a_connection_setting(tmp_path: Path) -> None:
    hook = {
        "event_id": "01HX5ZZKBKACTAV9WEVGEMMVS1",
        "object_type": "sms",
        "metric": "sent",
        "timestamp": 1_713_484_800,
        "data": {"delivery_id": "d-1", "identifiers": {"id": "p1"}, "recipient": "+15551234567"},
    }
    before = time.time()
    assert len(_send(tmp_path, [hook], dedup_ttl="12h")) == 1
    for expiry in _dedup_expiries(tmp_path):
        assert expiry is not None
        assert before + 12 * 3600 <= expiry <= time.time() + 12 * 3600
