"""Helpers for the receiver's tests: configs pointing at the contract servers, a real
uvicorn server on 127.0.0.1 in a background thread, payload generators, signing."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from mapwire.contracts.queue import Queue
from mapwire.runtime.config import Config, ServerOptions, load_config
from mapwire.runtime.process import Runtime
from mapwire.server.app import create_app
from mapwire.server.connection_limits import guarded_protocol
from mapwire.server.handling import ServerState
from mapwire.server.logs import flush_logs

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"
SAMPLES = MAPPINGS / "samples"
INBOUND_TOKEN = "inbound-token-SENTINEL-7f3a9c"
SIGNING_KEY = "signing-key-SENTINEL-51d2e8"


class LogCapture(io.StringIO):
    """A log stream for ``configure_logging``: reading it first writes the lines a
    server's event loop still keeps (they go out when its callbacks are done)."""

    def getvalue(self) -> str:
        flush_logs()
        return super().getvalue()


def set_secrets(patch: Any) -> None:
    """The environment the test configs read their secrets from."""
    patch.setenv("TEST_INBOUND_TOKEN", INBOUND_TOKEN)
    patch.setenv("TEST_CIO_SIGNING_KEY", SIGNING_KEY)
    patch.setenv("TEST_CIO_API_KEY", "contract-cio-api-key")
    patch.setenv("TEST_MP_API_SECRET", "contract-mp-api-secret")


def write_config(
    folder: Path,
    connections: list[dict[str, Any]],
    *,
    server: dict[str, Any] | None = None,
    delivery: dict[str, Any] | None = None,
) -> Path:
    config = {
        "mapwire": 1,
        "store": "sqlite:///state.db",
        "server": server
        if server is not None
        else {"auth": {"bearer_token": {"env": "TEST_INBOUND_TOKEN"}}},
        "delivery": {
            "retry_window_hours": 1,
            "max_backoff_seconds": 2,
            "batch_wait_ms": 10,
            **(delivery or {}),
        },
        "connections": connections,
    }
    path = folder / "mapwire.yaml"
    path.write_text(json.dumps(config, indent=2))
    return path


def sink_runtime(folder: Path, flows: dict[str, str]) -> Runtime:
    """A ``Runtime`` in ``folder`` with a connection per entry of ``flows`` (its name: the
    mapping file's text, written beside the config), all to one Customer.io workspace and
    delivered into the sink."""
    connections = []
    for name, text in flows.items():
        (folder / f"{name}.yaml").write_text(text)
        workspace = {"site_id": "s", "api_key": "k"}
        flow = {"name": name, "flow": f"{name}.yaml", "destination": workspace}
        connections.append(flow | {"transport": "sink:out"})
    return Runtime(load_config(write_config(folder, connections)))


def cio_destination(server: Any) -> dict[str, Any]:
    return {
        "site_id": server.site_id,
        "api_key": {"env": "TEST_CIO_API_KEY"},
        "base_url": server.origin,
    }


def mp_destination(server: Any) -> dict[str, Any]:
    return {
        "api_key": server.api_key,
        "api_secret": {"env": "TEST_MP_API_SECRET"},
        "base_url": server.base_url,
    }


def all_flows(cio: Any, mp: Any) -> list[dict[str, Any]]:
    """The four shipped flows, each into its contract server."""
    return [
        {
            "name": "events",
            "flow": "mparticle-events-to-customerio",
            "destination": cio_destination(cio),
        },
        {
            "name": "firehose",
            "flow": "mparticle-firehose-to-customerio",
            "destination": cio_destination(cio),
        },
        {
            "name": "audiences",
            "flow": "mparticle-audiences-to-customerio",
            "destination": cio_destination(cio),
            "settings": {"one_attribute_per_segment": False},
        },
        {
            "name": "activity",
            "flow": "customerio-activity-to-mparticle",
            "destination": mp_destination(mp),
            "source": {"webhook_signing_key": {"env": "TEST_CIO_SIGNING_KEY"}},
        },
    ]


def sink_flows() -> list[dict[str, Any]]:
    """The four shipped flows, each into a local sink folder."""
    cio = {"site_id": "s", "api_key": "k"}
    return [
        {
            "name": "events",
            "flow": "mparticle-events-to-customerio",
            "destination": cio,
            "transport": "sink:out",
        },
        {
            "name": "firehose",
            "flow": "mparticle-firehose-to-customerio",
            "destination": cio,
            "transport": "sink:out",
        },
        {
            "name": "audiences",
            "flow": "mparticle-audiences-to-customerio",
            "destination": cio,
            "transport": "sink:out",
        },
        {
            "name": "activity",
            "flow": "customerio-activity-to-mparticle",
            "destination": {"api_key": "k", "api_secret": "s"},
            "source": {"webhook_signing_key": {"env": "TEST_CIO_SIGNING_KEY"}},
            "transport": "sink:out",
        },
    ]


class RunningServer:
    """``create_app(config)`` served by uvicorn on an ephemeral loopback port, in a thread."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.app = create_app(config)
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so.
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                log_config=None,
                access_log=False,
                lifespan="on",
                timeout_graceful_shutdown=5,
                # The HTTP protocol ``serve`` runs (with its default header deadline).
                http=guarded_protocol(ServerOptions().header_timeout_seconds),
                proxy_headers=False,
            )
        )
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._socket]}, name="test-uvicorn"
        )

    @property
    def state(self) -> ServerState:
        state: ServerState = self.app.state.mapwire
        return state

    @property
    def queue(self) -> Queue:
        runtime = self.state.runtime
        assert runtime is not None
        return runtime.queue

    def start(self) -> RunningServer:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(30)
        if self._thread.is_alive():
            raise RuntimeError("the server did not stop")
        self._socket.close()

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=15, **kwargs)

    def wait_delivered(self, timeout: float = 15) -> None:
        """Until every queued action is delivered or dead-lettered."""
        deadline = time.monotonic() + timeout
        while self.queue.depth() > 0:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.queue.depth()} action(s) still queued")
            time.sleep(0.02)


def serve_config(path: Path) -> RunningServer:
    return RunningServer(load_config(path)).start()


def bearer(token: str = INBOUND_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def signed(body: bytes, key: str = SIGNING_KEY, *, at: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if at is None else at)
    digest = hmac.new(key.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    return {
        "X-CIO-Timestamp": stamp,
        "X-CIO-Signature": digest.hexdigest(),
        "Content-Type": "application/json",
    }


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


def events_batch(user: str, n_events: int, *, prefix: str = "e") -> dict[str, Any]:
    """An Events API batch (flat identities) with ``n_events`` custom events."""
    return {
        "environment": "production",
        "user_identities": {"customer_id": user, "email": f"{user}@example.com"},
        "user_attributes": {"$FirstName": "Ann", "plan": "pro"},
        "events": [
            {
                "event_type": "custom_event",
                "data": {
                    "event_name": f"Event {e % 3}",
                    "source_message_id": f"{prefix}-{user}-{e}",
                    "timestamp_unixtime_ms": 1_713_484_800_000 + e,
                    "custom_attributes": {"n": str(e)},
                },
            }
            for e in range(n_events)
        ],
    }


def webhook_output_batch(user: str, n_events: int) -> dict[str, Any]:
    """The same user as the Webhook output posts it: identities as a list."""
    batch = events_batch(user, n_events, prefix="w")
    batch["user_identities"] = [
        {"identity_type": "customer_id", "identity": user},
        {"identity_type": "email", "identity": f"{user}@example.com"},
    ]
    batch["message_type"] = "events"
    batch["message_id"] = f"m-{user}"
    return batch


def event_ids(server: Any) -> list[str]:
    return [
        item["id"]
        for item in server.accepted_items("POST /api/v2/batch")
        if item.get("action") in ("event", "screen", "page") and "id" in item
    ]


def metric_total(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in ("{", " "):
            total += float(line.rsplit(" ", 1)[1])
    return total
