"""Named connections: one input feeds several, each with its own namespace and queue;
disabled connections take no new work and hold or drain what is queued."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from mapwire.runtime.config import load_config
from mapwire.runtime.process import Runtime

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "contract"))
from contract_servers import CustomerIOServer


def _cio(name: str, server: Any, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "flow": "mparticle-events-to-customerio",
        "destination": {
            "site_id": server.site_id,
            "api_key": server.api_key,
            "base_url": server.origin,
        },
        **extra,
    }


BATCH = {
    "user_identities": {"customer_id": "c1"},
    "events": [
        {"event_type": "custom_event", "data": {"event_name": "x", "source_message_id": "m1"}}
    ],
}


def _runtime(tmp_path: Path, connections: list[dict[str, Any]]) -> Runtime:
    path = tmp_path / "mapwire.yaml"
    path.write_text(
        json.dumps({"mapwire": 1, "store": "sqlite:///s.db", "connections": connections})
    )
    return Runtime(load_config(path))


async def _drain(runtime: Runtime, seconds: float = 2.0) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.deliver(stop))
    await asyncio.sleep(seconds)
    stop.set()
    await task
    await runtime.aclose()


def test_one_input_feeds_two_workspaces_with_separate_dedup(
    tmp_path: Path, customerio_server: Any
) -> None:
    with CustomerIOServer() as second:
        rt = _runtime(tmp_path, [_cio("ws-a", customerio_server), _cio("ws-b", second)])
        report = rt.pipeline.submit("mparticle.events_api_batch", [BATCH])
        assert {n: c.queued for n, c in report.connections.items()} == {"ws-a": 2, "ws-b": 2}
        again = rt.pipeline.submit("mparticle.events_api_batch", [BATCH])
        # The identify repeats (no dedup key); the event is a duplicate in each namespace.
        assert {n: c.duplicates for n, c in again.connections.items()} == {"ws-a": 0, "ws-b": 0}
        asyncio.run(_drain(rt))
        rt.close()
        for server in (customerio_server, second):
            events = [
                i for i in server.accepted_items("POST /api/v2/batch") if i["action"] == "event"
            ]
            assert len(events) == 1  # Customer.io absorbed the repeat by its event id


def test_disabled_connection_takes_no_new_work_and_holds_or_drains(
    tmp_path: Path, customerio_server: Any
) -> None:
    with CustomerIOServer() as held_server, CustomerIOServer() as drained_server:
        connections = [
            _cio("held", held_server),
            _cio("drained", drained_server),
            _cio("live", customerio_server),
        ]
        rt = _runtime(tmp_path, connections)
        rt.pipeline.submit("mparticle.events_api_batch", [BATCH])
        rt.close()
        connections[0].update(enabled=False, when_disabled="hold")
        connections[1].update(enabled=False, when_disabled="drain")
        rt = _runtime(tmp_path, connections)
        report = rt.pipeline.submit("mparticle.events_api_batch", [BATCH])
        assert set(report.connections) == {"live"}  # disabled: no new work
        asyncio.run(_drain(rt))
        assert rt.queue.depth("held") == 2  # kept until the connection is enabled again
        assert rt.queue.depth("drained") == 0
        rt.close()
        assert held_server.accepted == []
        assert len(drained_server.accepted_items("POST /api/v2/batch")) == 2
        snap = rt.metrics.snapshot("live")
        assert snap["mapped"] == 2 and snap["delivered"] == 4  # both runs' items


def test_dedup_ttl_is_a_duration_with_a_thirty_day_default(tmp_path: Path) -> None:
    import pytest

    from mapwire.contracts.errors import ConfigError

    def load(**extra: Any) -> Any:
        conn = {"name": "a", "flow": "customerio-activity-to-mparticle", **extra}
        conn["destination"] = {"api_key": "k", "api_secret": "s"}
        path = tmp_path / "mapwire.yaml"
        path.write_text(json.dumps({"mapwire": 1, "connections": [conn]}, indent=1))
        return load_config(path)

    assert load().connections[0].dedup_ttl == 30 * 86400
    assert load(dedup_ttl="12h").connections[0].dedup_ttl == 12 * 3600
    assert load(dedup_ttl="1.5d").connections[0].dedup_ttl == 1.5 * 86400
    with pytest.raises(ConfigError) as caught:
        load(dedup_ttl="30 days")
    assert "mapwire.yaml:" in str(caught.value) and "(e.g. 30d, 12h, 90m)" in str(caught.value)
