"""Hot reload of ``mapwire serve`` (SIGHUP, ``--watch``) as real processes against the
Customer.io stand-in: the new set applies to later documents, what was posted before is
delivered as it was mapped, an invalid set keeps the old one running and is logged at
``file:line:col``, and reloads under load lose and duplicate nothing."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_helpers import (
    INBOUND_TOKEN,
    MAPPINGS,
    bearer,
    cio_destination,
    event_ids,
    events_batch,
    sink_flows,
    write_config,
)
from test_serve_processes import EVENTS, Serve, until

from mapwire.runtime.config import load_config
from mapwire.runtime.process import Runtime
from mapwire.runtime.submissions import IntakeReport
from mapwire.server.committer import GroupCommitter, Part

pytestmark = pytest.mark.usefixtures("vendor_secrets")
AUTH = {"auth": {"bearer_token": {"env": "TEST_INBOUND_TOKEN"}}}
FLOW = "reload-events"
EVENTS_SOURCE = "mparticle.events_api_batch"


def write_flow(
    folder: Path, *, default_id: str = "prefer_customer_id", broken: bool = False
) -> Path:
    """The shipped events flow under another name in ``folder/flows``, with the default of
    ``user_id_type`` changed (a change to the mapping file itself) or a bad key."""
    text = (MAPPINGS / "mparticle_events_to_customerio.yaml").read_text("utf-8")
    text = text.replace("name: mparticle-events-to-customerio", f"name: {FLOW}")
    text = text.replace("    default: prefer_customer_id", f"    default: {default_id}")
    if broken:
        text = text.replace("\ndestination: customerio\n", "\ndestination: customerio\nrulez: 1\n")
    path = folder / "flows" / "events.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, "utf-8")
    return path


def write_version(
    folder: Path,
    vendor: Any,
    *,
    settings: dict[str, Any] | None = None,
    delivery: dict[str, Any] | None = None,
    server: dict[str, Any] | None = None,
    destination: dict[str, Any] | None = None,
) -> Path:
    """The config: one connection ``cio`` reading the flow of ``flows/``."""
    connection: dict[str, Any] = {
        "name": "cio",
        "flow": FLOW,
        "destination": destination or cio_destination(vendor),
        "settings": settings or {},
        "delivery": delivery or {},
    }
    config = write_config(folder, [connection], server={**AUTH, **(server or {})})
    value = json.loads(config.read_text())
    value["mappings"] = ["flows"]
    config.write_text(json.dumps(value, indent=2))
    return config


def post(url: str, user: str, n_events: int = 2) -> int:
    body = json.dumps(events_batch(user, n_events))
    answer = httpx.post(url + "/mparticle/events", content=body, headers=bearer(), timeout=30)
    return answer.status_code


def identities(vendor: Any) -> dict[str, set[str]]:
    """Per user (the prefix of the event ids' user part), how the person was named:
    ``id`` or ``email``."""
    found: dict[str, set[str]] = {}
    for item in vendor.accepted_items("POST /api/v2/batch"):
        ids = item["identifiers"]
        user = ids.get("id") or ids["email"].split("@")[0]
        found.setdefault(user, set()).add("id" if "id" in ids else "email")
    return found


def hangup(serve: Serve, count: int) -> None:
    """SIGHUP, then wait for the ``count``-th reload (ok or failed) of the process."""
    serve.process.send_signal(signal.SIGHUP)
    until(lambda: reloads(serve) >= count, f"reload {count} logged")


def reloads(serve: Serve, role: str = "server") -> int:
    done = serve.events("config_reloaded") + serve.events("config_reload_failed")
    return sum(1 for e in done if e["role"] == role)


def metric(url: str, result: str) -> float:
    text = httpx.get(url + "/metrics", timeout=10).text
    line = f'mapwire_config_reloads_total{{result="{result}"}} '
    values = [float(x[len(line) :]) for x in text.splitlines() if x.startswith(line)]
    return values[0] if values else 0.0


def test_sighup_applies_a_changed_setting_to_later_documents_only(
    tmp_path: Path, customerio_server: Any
) -> None:
    customerio_server.set_validate(False)
    customerio_server.set_delay(0.2)  # what was posted before is still queued at the reload
    write_flow(tmp_path)
    config = write_version(tmp_path, customerio_server, settings={"user_id_type": "customer_id"})
    serve = Serve(["--config", str(config)], tmp_path)
    try:
        before = [f"before{i}" for i in range(10)]
        assert all(post(serve.url, user) == 202 for user in before)
        write_version(
            tmp_path,
            customerio_server,
            settings={"user_id_type": "email"},
            server={"max_connections": 77, "port": 1},
        )
        hangup(serve, 1)
        after = [f"after{i}" for i in range(5)]
        assert all(post(serve.url, user) == 202 for user in after)
        customerio_server.set_delay(0)
        everyone = set(before) | set(after)
        until(lambda: everyone <= set(identities(customerio_server)), "everything delivered")
        assert metric(serve.url, "ok") == 1
    finally:
        assert serve.stop() in (0, -signal.SIGTERM)  # uvicorn ends on the signal it got
    named = identities(customerio_server)
    assert all(named[user] == {"id"} for user in before)  # mapped before the reload
    assert all(named[user] == {"email"} for user in after)
    [reloaded] = serve.events("config_reloaded")
    assert reloaded["trigger"] == "SIGHUP" and reloaded["connections"] == ["cio"]
    [restart] = serve.events("config_reload_needs_restart")
    assert restart["settings"] == ["server.port", "server.max_connections"]


def test_an_invalid_mapping_keeps_the_old_set_and_is_logged_at_file_line_col(
    tmp_path: Path, customerio_server: Any
) -> None:
    customerio_server.set_validate(False)
    flow = write_flow(tmp_path)
    config = write_version(tmp_path, customerio_server)
    serve = Serve(["--config", str(config)], tmp_path)
    try:
        write_flow(tmp_path, default_id="email", broken=True)
        hangup(serve, 1)
        assert post(serve.url, "kept") == 202
        until(lambda: "kept" in identities(customerio_server), "delivered by the old set")
        assert identities(customerio_server)["kept"] == {"id"}
        assert httpx.get(serve.url + "/readyz", timeout=10).status_code == 200
        assert metric(serve.url, "failed") == 1 and metric(serve.url, "ok") == 0
        write_flow(tmp_path, default_id="email")  # fixed: the next reload takes it
        hangup(serve, 2)
        assert post(serve.url, "fixed") == 202
        until(lambda: "fixed" in identities(customerio_server), "delivered by the new set")
    finally:
        assert serve.stop() in (0, -signal.SIGTERM)  # uvicorn ends on the signal it got
    assert identities(customerio_server)["fixed"] == {"email"}
    [failed] = serve.events("config_reload_failed")
    assert failed["level"] == "error" and failed["kept"] == "the running config"
    [error] = failed["errors"]
    assert re.fullmatch(re.escape(str(flow)) + r":\d+:\d+: E101 unknown key 'rulez'.*", error)
    assert len(serve.events("config_reloaded")) == 1


def test_reloads_under_load_lose_and_duplicate_nothing(
    tmp_path: Path, customerio_server: Any
) -> None:
    """A client posts continuously while five SIGHUPs alternate two valid versions (one of
    them changes the delivery options, so the delivery loop restarts too)."""
    customerio_server.set_validate(False)
    write_flow(tmp_path)
    versions = [
        {"settings": {"include_user_attributes": True}, "delivery": {"batch_wait_ms": 10}},
        {"settings": {"include_user_attributes": False}, "delivery": {"batch_wait_ms": 30}},
    ]
    config = write_version(tmp_path, customerio_server, **versions[0])
    serve = Serve(["--config", str(config)], tmp_path)
    statuses: dict[str, int] = {}
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=serve.url, headers=bearer(), timeout=30) as http:
            for i in range(2000):  # bounded; stopped once the reloads are done
                if stop.is_set():
                    return
                user = f"u{i}"
                body = json.dumps(events_batch(user, EVENTS))
                statuses[user] = http.post("/mparticle/events", content=body).status_code

    posting = threading.Thread(target=client, name="test-client")
    posting.start()
    try:
        for n in range(1, 6):
            answered = len(statuses)
            until(lambda at=answered: len(statuses) >= at + 10, "traffic is flowing")
            write_version(tmp_path, customerio_server, **versions[n % 2])
            hangup(serve, n)
        stop.set()
        posting.join(60)
        assert not posting.is_alive()
        acknowledged = {user for user, status in statuses.items() if status == 202}
        assert acknowledged == set(statuses), Counter(statuses.values())

        def per_user(action: str) -> Counter[str]:
            return Counter(
                item["identifiers"]["id"]
                for item in customerio_server.accepted_items("POST /api/v2/batch")
                if item.get("action") == action
            )

        until(
            lambda: all(per_user("event")[user] >= EVENTS for user in acknowledged),
            "every acknowledged event delivered",
        )
    finally:
        stop.set()
        assert serve.stop() in (0, -signal.SIGTERM)  # uvicorn ends on the signal it got
    ids = event_ids(customerio_server)
    assert len(ids) == len(set(ids)) == EVENTS * len(acknowledged), "lost or delivered twice"
    assert set(per_user("event").values()) == {EVENTS}
    assert set(per_user("identify")) == acknowledged
    assert set(per_user("identify").values()) == {1}
    assert customerio_server.duplicates_absorbed == 0
    reloaded = serve.events("config_reloaded")
    assert len(reloaded) == 5 and not serve.events("config_reload_failed")
    assert all(e["delivery_restarted"] == ["cio"] for e in reloaded)


def test_watch_reloads_when_the_mapping_file_changes(
    tmp_path: Path, customerio_server: Any
) -> None:
    customerio_server.set_validate(False)
    write_flow(tmp_path)
    config = write_version(tmp_path, customerio_server)
    serve = Serve(["--config", str(config), "--watch"], tmp_path)
    try:
        assert post(serve.url, "w1") == 202
        write_flow(tmp_path, default_id="email")  # the mapping file, not the config
        until(lambda: reloads(serve) >= 1, "the change is picked up")
        assert post(serve.url, "w2") == 202
        until(lambda: {"w1", "w2"} <= set(identities(customerio_server)), "both delivered")
    finally:
        assert serve.stop() in (0, -signal.SIGTERM)  # uvicorn ends on the signal it got
    named = identities(customerio_server)
    assert named["w1"] == {"id"} and named["w2"] == {"email"}
    [reloaded] = serve.events("config_reloaded")
    assert reloaded["trigger"] == "watch"


def test_a_changed_credential_reaches_delivery(tmp_path: Path, customerio_server: Any) -> None:
    """Delivery paused on a refused key resumes with the key a reload brings."""
    customerio_server.set_validate(False)
    write_flow(tmp_path)
    wrong = {**cio_destination(customerio_server), "api_key": "not-the-key"}
    config = write_version(tmp_path, customerio_server, destination=wrong)
    serve = Serve(["--config", str(config)], tmp_path)
    try:
        assert post(serve.url, "paused") == 202
        until(lambda: serve.events("connection_paused"), "the key is refused")
        write_version(tmp_path, customerio_server)
        hangup(serve, 1)
        until(lambda: "paused" in identities(customerio_server), "delivered with the new key")
        until(lambda: httpx.get(serve.url + "/readyz").json().get("paused") is None, "resumed")
    finally:
        assert serve.stop() in (0, -signal.SIGTERM)  # uvicorn ends on the signal it got
    [reloaded] = serve.events("config_reloaded")
    assert reloaded["delivery_restarted"] == ["cio"]


def test_sighup_reaches_every_child_of_a_supervised_serve(
    tmp_path: Path, customerio_server: Any
) -> None:
    customerio_server.set_validate(False)
    write_flow(tmp_path)
    config = write_version(tmp_path, customerio_server, settings={"user_id_type": "customer_id"})
    args = ["--config", str(config), "--workers", "2", "--deliverers", "1"]
    serve = Serve(args, tmp_path)
    try:
        until(lambda: len(serve.events("server_ready")) == 2, "both workers ready")
        until(lambda: serve.events("deliverer_ready"), "the deliverer ready")
        workers, [deliverer] = set(serve.children("worker")), serve.children("deliverer")
        write_version(
            tmp_path,
            customerio_server,
            settings={"user_id_type": "email"},
            delivery={"batch_wait_ms": 20},
        )
        serve.process.send_signal(signal.SIGHUP)

        def reloaded() -> set[tuple[str, int]]:
            return {(e["role"], e["pid"]) for e in serve.events("config_reloaded")}

        expected = {("server", pid) for pid in workers} | {("deliverer", deliverer)}
        expected.add(("supervisor", serve.process.pid))
        until(lambda: expected <= reloaded(), "every process reloaded")
        users = [f"s{i}" for i in range(20)]
        assert all(post(serve.url, user) == 202 for user in users)
        until(lambda: set(users) <= set(identities(customerio_server)), "delivered")
    finally:
        assert serve.stop() in (0, -signal.SIGTERM)  # uvicorn ends on the signal it got
    named = identities(customerio_server)
    assert all(named[user] == {"email"} for user in users)
    assert not serve.events("child_exited") and not serve.events("config_reload_failed")
    [by_deliverer] = [e for e in serve.events("config_reloaded") if e["role"] == "deliverer"]
    assert by_deliverer["delivery_restarted"] == ["cio"]
    assert INBOUND_TOKEN not in serve.log.read_text()


def test_each_submission_is_mapped_by_the_pipeline_its_request_started_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests queued in the committer around a swap: a group never mixes pipelines, and
    each request is mapped by the one it carried (a reload's in-flight guarantee)."""
    monkeypatch.chdir(tmp_path)
    flows = sink_flows()[:1]
    runtime = Runtime(load_config(write_config(tmp_path, flows)))
    flows[0]["settings"] = {"user_id_type": "email"}
    new = runtime.build_pipeline(load_config(write_config(tmp_path, flows)))
    old = runtime.pipeline
    committer = GroupCommitter(old)

    async def submit_around_a_swap() -> list[IntakeReport]:
        futures = [
            committer.submit([Part(EVENTS_SOURCE, [events_batch(user, 1)])], pipeline)
            for user, pipeline in (("a", old), ("b", new), ("c", old))
        ]
        committer.adopt(new)  # what a reload does; a request naming no pipeline gets it
        futures.append(committer.submit([Part(EVENTS_SOURCE, [events_batch("d", 1)])]))
        committer.start()
        try:
            return await asyncio.gather(*futures)
        finally:
            await asyncio.to_thread(committer.close)

    try:
        reports = asyncio.run(submit_around_a_swap())
        entries = runtime.queue.claim("events", 100, 60)
    finally:
        runtime.close()
    assert [r.queued for r in reports] == [2, 2, 2, 2]
    assert committer.groups == 4
    named = {
        json.dumps(e.action.payload["identifiers"], sort_keys=True)
        for e in entries
        if e.action.action == "identify"
    }
    assert named == {
        '{"id": "a"}',
        '{"email": "b@example.com"}',
        '{"id": "c"}',
        '{"email": "d@example.com"}',
    }


def test_heavy_bodies_follow_a_reload_too(tmp_path: Path, customerio_server: Any) -> None:
    """A body over ``server.offload_bytes`` is mapped by the helper process; after a reload
    the next one is mapped by a new helper with the new set."""
    customerio_server.set_validate(False)
    write_flow(tmp_path)
    config = write_version(tmp_path, customerio_server, settings={"user_id_type": "customer_id"})
    serve = Serve(["--config", str(config)], tmp_path)

    def post_heavy(user: str) -> int:
        body = json.dumps(events_batch(user, 6_500))
        assert len(body) > 1_000_000
        answer = httpx.post(
            serve.url + "/mparticle/events", content=body, headers=bearer(), timeout=120
        )
        return answer.status_code

    try:
        assert post_heavy("heavybefore") == 202
        write_version(tmp_path, customerio_server, settings={"user_id_type": "email"})
        hangup(serve, 1)
        assert post_heavy("heavyafter") == 202
        wanted = {"heavybefore", "heavyafter"}
        until(lambda: wanted <= set(identities(customerio_server)), "both delivered")
    finally:
        serve.stop()
    named = identities(customerio_server)
    assert named["heavybefore"] == {"id"} and named["heavyafter"] == {"email"}
    helpers = {event["pid"] for event in serve.events("offload_ready")}
    assert len(helpers) == 2, "a new helper for the new set"
