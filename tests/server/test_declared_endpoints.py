"""The server serves whatever routes the installed sources declare: an in-process plugin
adds a source and two endpoints (one verified per connection, one open with its own
answer), and ``create_app`` serves them through the same intake as the built-in ones."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from server_helpers import RunningServer, write_config

from mapwire import Answering, Documents, Endpoint, InputError, Reply, Source, hookimpl
from mapwire.runtime.registry import build_registry, reset_registry

SOURCE = "acme.ping"


def authenticate(headers: Mapping[str, str], body: bytes, settings: Mapping[str, Any]) -> None:
    given = headers.get("x-acme-key", "").encode()
    if not hmac.compare_digest(given, str(settings.get("key", "")).encode()):
        raise InputError("acme: the key does not match", status=401, code="bad_key")


def pings(body: Any) -> list[Documents]:
    if not isinstance(body, dict):
        raise InputError("body: expected an object", code="invalid_shape")
    return [Documents(SOURCE, [body])]


def pong(answering: Answering) -> Reply:
    queued = answering.summary["queued"] if answering.summary else None
    return Reply({"pong": answering.body.get("id"), "queued": queued}, 200, note="acme_pong")


class Acme:
    @hookimpl
    def register_sources(self, register: Callable[..., None]) -> None:
        schema = {"type": "object", "properties": {"id": {"type": "string"}}}
        register(Source(SOURCE, "a ping", schema, authenticate=authenticate))

    @hookimpl
    def register_endpoints(self, register: Callable[..., None]) -> None:
        register(
            Endpoint(
                "/acme/ping",
                "pings, checked per connection",
                (SOURCE,),
                pings,
                credentials="source",
                by_connection=True,
            )
        )
        register(Endpoint("/acme/open", "pings, open", (SOURCE,), pings, "none", answer=pong))


MAPPING = """\
mapwire: 1
name: acme-pings
description: each ping identifies a person
source: acme.ping
destination: customerio
rules:
  - name: identify
    action: identify
    fields:
      identifiers: {object: {id: doc.id}}
"""


@pytest.fixture
def acme() -> Iterator[None]:
    reset_registry(build_registry(extra_plugins=[("acme", Acme())]))
    yield
    reset_registry(None)


@pytest.fixture
def server(acme: None, tmp_path: Path, serve: Callable[[Path], RunningServer]) -> RunningServer:
    (tmp_path / "acme_pings.yaml").write_text(MAPPING)
    connections = [
        {
            "name": name,
            "flow": "acme_pings.yaml",
            "destination": {"site_id": "s", "api_key": "k"},
            "source": {"key": f"{name}-key"},
            "transport": "sink:out",
        }
        for name in ("one", "two")
    ]
    return serve(write_config(tmp_path, connections))


def post(server: RunningServer, path: str, body: Any, **headers: str) -> Any:
    with server.client() as client:
        headers["Content-Type"] = "application/json"
        return client.post(path, content=json.dumps(body), headers=headers)


def test_a_verified_endpoint_feeds_only_the_connections_whose_settings_verify_it(
    server: RunningServer,
) -> None:
    answer = post(server, "/acme/ping", {"id": "p1"}, **{"X-Acme-Key": "two-key"})
    assert answer.status_code == 202, answer.text
    assert answer.json()["queued"] == 1
    assert server.queue.depth("two") == 1 and server.queue.depth("one") == 0

    named = post(server, "/acme/ping/one", {"id": "p2"}, **{"X-Acme-Key": "two-key"})
    assert (named.status_code, named.json()["error"]["code"]) == (401, "bad_key")
    unknown = post(server, "/acme/ping/three", {"id": "p3"}, **{"X-Acme-Key": "two-key"})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "no_connection")
    odd = post(server, "/acme/ping", [1], **{"X-Acme-Key": "one-key"})
    assert (odd.status_code, odd.json()["error"]["code"]) == (400, "invalid_shape")


def test_an_endpoint_answers_with_its_own_reply(server: RunningServer, logs: Any) -> None:
    answer = post(server, "/acme/open", {"id": "p4"})
    assert (answer.status_code, answer.json()) == (200, {"pong": "p4", "queued": 2})
    notes = [json.loads(line) for line in logs.getvalue().splitlines()]
    assert any(line.get("event") == "acme_pong" for line in notes)
