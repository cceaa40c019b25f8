"""Every endpoint end to end through a real uvicorn server: HTTP in, durable queue, delivery
to the vendor contract servers (or the local sink), and the answers mParticle and
Customer.io expect."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from contract_specs import VENDOR_DIR
from customerio_webhooks import reporting_webhook
from server_helpers import (
    SAMPLES,
    RunningServer,
    all_flows,
    bearer,
    event_ids,
    events_batch,
    metric_total,
    sample,
    signed,
    sink_flows,
    webhook_output_batch,
    write_config,
)

Serve = Callable[[Path], RunningServer]
FIREHOSE = VENDOR_DIR / "mparticle" / "firehose"
FIREHOSE_MAPPING = yaml.safe_load(
    (Path(__file__).parents[2] / "mappings" / "mparticle_firehose_to_customerio.yaml").read_text()
)


def firehose_schema(name: str) -> jsonschema.Draft3Validator:
    """The Firehose SDK's JSON Schema of one message class (draft 3, as published)."""
    schema = json.loads((FIREHOSE / "schema" / f"{name}_schema.json").read_text())
    return jsonschema.Draft3Validator(schema)


@pytest.fixture
def vendors(
    vendor_secrets: None,
    customerio_server: Any,
    mparticle_server: Any,
    serve: Serve,
    tmp_path: Path,
) -> tuple[RunningServer, Any, Any]:
    config = write_config(tmp_path, all_flows(customerio_server, mparticle_server))
    return serve(config), customerio_server, mparticle_server


def test_events_api_and_webhook_output_reach_customerio(
    vendors: tuple[RunningServer, Any, Any],
) -> None:
    server, cio, _ = vendors
    with server.client(headers=bearer()) as client:
        one = client.post("/mparticle/events", content=json.dumps(events_batch("u1", 3)))
        assert one.status_code == 202
        assert one.json() == {
            "status": "accepted",
            "documents": 1,
            "queued": 4,
            "skipped": {},
            "errors": 0,
        }
        # The Webhook output with "Send as Batch": an array, identities as a list.
        many = [webhook_output_batch("u2", 2), webhook_output_batch("u3", 1)]
        two = client.post("/mparticle/events", content=json.dumps(many))
        assert two.status_code == 202 and two.json()["documents"] == 2 and two.json()["queued"] == 5
    server.wait_delivered()
    items = cio.accepted_items("POST /api/v2/batch")
    assert cio.rejected == []
    people = {(i["action"], i["identifiers"]["id"]) for i in items}
    assert {("identify", "u1"), ("identify", "u2"), ("identify", "u3")} <= people
    assert sorted(event_ids(cio)) == sorted(set(event_ids(cio))) and len(event_ids(cio)) == 6


def test_firehose_event_processing_reaches_customerio(
    vendors: tuple[RunningServer, Any, Any],
) -> None:
    server, cio, _ = vendors
    request = sample("mparticle_firehose_event_processing.json")
    with server.client(headers=bearer()) as client:
        response = client.post("/mparticle/firehose", content=json.dumps(request))
    assert response.status_code == 200
    reply = response.json()
    assert reply["type"] == "event_processing_response" and reply["id"] == request["id"]
    assert list(firehose_schema("EventProcessingResponse").iter_errors(reply)) == []
    server.wait_delivered()
    items = cio.accepted_items("POST /api/v2/batch")
    assert {i["action"] for i in items} >= {"identify", "event"}
    assert all(i["identifiers"] == {"id": "cust-2002"} for i in items)


def test_audience_membership_reaches_customerio_with_the_membership_attribute(
    vendors: tuple[RunningServer, Any, Any],
) -> None:
    server, cio, _ = vendors
    request = sample("mparticle_audience_membership.json")
    with server.client(headers=bearer()) as client:
        response = client.post("/mparticle/firehose", content=json.dumps(request))
        subscription = {
            "type": "audience_subscription_request",
            "id": "416d2087-8b21-476d-95da-1b78a7f44261",
            "timestamp_ms": 1714592744066,
            "firehose_version": "3.2.0",
            "audience_id": 1234,
            "audience_name": "New Users",
            "action": "add",
        }
        subscribed = client.post("/mparticle/firehose", content=json.dumps(subscription))
    assert response.status_code == 200
    reply = response.json()
    assert reply["type"] == "audience_membership_change_response"
    assert reply["suspend_subscription"] is False and reply["id"] == request["id"]
    assert list(firehose_schema("AudienceMembershipChangeResponse").iter_errors(reply)) == []
    assert subscribed.status_code == 200
    assert subscribed.json()["type"] == "audience_subscription_response"
    assert (
        list(firehose_schema("AudienceSubscriptionResponse").iter_errors(subscribed.json())) == []
    )
    server.wait_delivered()
    [identify] = cio.accepted_items("POST /api/v2/batch")
    assert identify["identifiers"] == {"id": "cust-1001"}
    assert identify["attributes"]["Segment Membership"] == "'11034','11036'"


def test_customerio_webhook_reaches_mparticle_once(vendors: tuple[RunningServer, Any, Any]) -> None:
    server, _, mp = vendors
    body = json.dumps(reporting_webhook("01HXAAAAAAAAAAAAAAAAAAAAAA", "clicked")).encode()
    body = body.replace(b'"subject"', b'"href": "https://x.example", "link_id": 1, "subject"')
    with server.client() as client:
        first = client.post("/customerio/webhook", content=body, headers=signed(body))
        again = client.post("/customerio/webhook", content=body, headers=signed(body))
        named = client.post("/customerio/webhook/activity", content=body, headers=signed(body))
    assert first.status_code == 202 and first.json()["queued"] == 1
    # Redelivered by Customer.io: acknowledged, never forwarded again.
    assert again.status_code == 202 and again.json()["queued"] == 0
    assert again.json()["skipped"] == {"duplicate": 1}
    assert named.status_code == 202 and named.json()["skipped"] == {"duplicate": 1}
    server.wait_delivered()
    batches = mp.accepted_items("POST /v2/bulkevents/historical")  # 2024 samples
    names = [e["data"]["event_name"] for b in batches for e in b["events"]]
    assert names == ["email_clicked"]
    assert mp.duplicates_absorbed == 0  # the repeat never left mapwire


def test_firehose_registration_is_answered_and_an_unread_dsr_is_not_acknowledged(
    vendors: tuple[RunningServer, Any, Any],
) -> None:
    server, _, _ = vendors
    registration = json.loads((FIREHOSE / "ModuleRegistrationRequest.json").read_text())
    dsr = json.loads((FIREHOSE / "DsrProcessingRequest.json").read_text())
    with server.client() as client:
        # Registration needs no credentials (the Firehose protocol says so).
        answer = client.post(
            "/mparticle/firehose",
            content=json.dumps(registration),
            headers={"Content-Type": "application/json"},
        )
        erased = client.post("/mparticle/firehose", content=json.dumps(dsr), headers=bearer())
        unauthenticated_dsr = client.post(
            "/mparticle/firehose",
            content=json.dumps(dsr),
            headers={"Content-Type": "application/json"},
        )
    assert answer.status_code == 200
    reply = answer.json()
    assert reply["type"] == "module_registration_response" and reply["id"] == registration["id"]
    assert list(firehose_schema("ModuleRegistrationResponse").iter_errors(reply)) == []
    # The connection's defaults forward every type the Firehose mapping has rules for
    # (identity changes included: the merges), and mParticle sends only the types asked for.
    forwarded = FIREHOSE_MAPPING["settings"]["forward_events"]
    assert reply["event_processing_registration"]["supported_event_types"] == forwarded["default"]
    assert forwarded["default"] == forwarded["items"]["enum"]
    assert "audience_processing_registration" in reply
    assert "dsr_processing_registration" not in reply  # no connection reads erasures
    # the Firehose flow's push devices read the runtime environment: asked for
    assert reply["permissions"]["allow_device_info"] is True
    # No connection reads DSR requests: not acknowledged, so mParticle retries it.
    assert erased.status_code == 404
    assert unauthenticated_dsr.status_code == 401
    assert server.queue.depth() == 0


def test_verification_requests_are_answered_normally(
    vendors: tuple[RunningServer, Any, Any],
) -> None:
    server, _cio, _ = vendors
    empty_events = {"type": "event_processing_request", "id": "v-1", "events": []}
    no_profiles = {"type": "audience_membership_change_request", "id": "v-2"}
    with server.client(headers=bearer()) as client:
        for message, reply_type in (
            (empty_events, "event_processing_response"),
            (no_profiles, "audience_membership_change_response"),
        ):
            response = client.post("/mparticle/firehose", content=json.dumps(message))
            assert response.status_code == 200
            assert response.json()["type"] == reply_type and response.json()["id"] == message["id"]
    assert server.queue.depth() == 0


def test_health_readiness_and_metrics(vendors: tuple[RunningServer, Any, Any]) -> None:
    server, _, _ = vendors
    with server.client(headers=bearer()) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}
        client.post("/mparticle/events", content=json.dumps(events_batch("m1", 2)))
        server.wait_delivered()
        metrics = client.get("/metrics")
        request_id = client.get("/healthz", headers={"X-Request-Id": "trace-123"}).headers[
            "x-request-id"
        ]
        generated = client.get("/healthz").headers["x-request-id"]
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert metric_total(metrics.text, "mapwire_mapped_actions_total") == 3
    assert metric_total(metrics.text, "mapwire_delivered_actions_total") == 3
    assert 'mapwire_http_requests_total{route="/mparticle/events",status="202"} 1.0' in metrics.text
    assert request_id == "trace-123" and len(generated) == 32


def test_unknown_paths_and_methods_are_json_errors(vendors: tuple[RunningServer, Any, Any]) -> None:
    server, _, _ = vendors
    with server.client(headers=bearer()) as client:
        missing = client.get("/nope")
        wrong = client.get("/mparticle/events")
        unknown = client.post("/customerio/webhook/nobody", content=b"{}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "no_connection"


def test_every_flow_into_the_local_sink(serve: Serve, tmp_path: Path) -> None:
    server = serve(write_config(tmp_path, sink_flows(), server={"auth": {"none": True}}))
    headers = {"Content-Type": "application/json"}
    cio_body = (SAMPLES / "customerio_reporting_webhook.json").read_bytes()
    with server.client(headers=headers) as client:
        posted = [
            client.post(
                "/mparticle/events",
                content=(SAMPLES / "mparticle_events_api_batch.json").read_bytes(),
            ),
            client.post(
                "/mparticle/firehose",
                content=(SAMPLES / "mparticle_firehose_event_processing.json").read_bytes(),
            ),
            client.post(
                "/mparticle/firehose",
                content=(SAMPLES / "mparticle_audience_membership.json").read_bytes(),
            ),
            client.post("/customerio/webhook", content=cio_body, headers=signed(cio_body)),
        ]
    assert [r.status_code for r in posted] == [202, 200, 200, 202]
    server.wait_delivered()
    recorded = [
        json.loads(line)
        for path in (tmp_path / "out").glob("*.ndjson")
        for line in path.read_text().splitlines()
    ]
    hosts = {r["url"].split("/")[2] for r in recorded}
    assert hosts == {"track.customer.io", "s2s.us1.mparticle.com"}
    assert all(r["headers"]["authorization"] == "[redacted]" for r in recorded)


def test_served_webhooks_keep_dedup_keys_for_the_connection_ttl(
    vendor_secrets: None,
    customerio_server: Any,
    mparticle_server: Any,
    serve: Serve,
    tmp_path: Path,
) -> None:
    import sqlite3
    import time

    flows = all_flows(customerio_server, mparticle_server)
    for flow in flows:
        if flow["flow"] == "customerio-activity-to-mparticle":
            flow["dedup_ttl"] = "8d"
    server = serve(write_config(tmp_path, flows))
    body = json.dumps(reporting_webhook("01HXBBBBBBBBBBBBBBBBBBBBBB", "opened")).encode()
    before = time.time()
    with server.client() as client:
        assert client.post("/customerio/webhook", content=body, headers=signed(body)).json()[
            "queued"
        ]
    server.wait_delivered()
    [batch] = mparticle_server.accepted_items("POST /v2/bulkevents/historical")
    data = batch["events"][0]["data"]
    assert data["custom_attributes"]["event_id"] == "01HXBBBBBBBBBBBBBBBBBBBBBB"
    assert data["source_message_id"] == "018f56b5-ad6b-5ad6-b5ad-6b5ad6b5ad6b"
    with sqlite3.connect(tmp_path / "state.db") as db:
        expiries = [row[0] for row in db.execute("SELECT expires_at FROM seen")]
    assert expiries and all(before + 8 * 86400 <= e <= time.time() + 8 * 86400 for e in expiries), (
        expiries
    )
