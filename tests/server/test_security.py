"""Who may send what: Customer.io signatures, inbound credentials for the mParticle
endpoints, and secrets that never reach a log line or a response."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from customerio_webhooks import reporting_webhook
from server_helpers import (
    INBOUND_TOKEN,
    SIGNING_KEY,
    RunningServer,
    events_batch,
    signed,
    sink_flows,
    write_config,
)

from mapwire.contracts.errors import ConfigError, InputError
from mapwire.runtime.config import load_config
from mapwire.server.auth import InboundAuth

Serve = Callable[[Path], RunningServer]


@pytest.fixture
def sink_server(serve: Serve, tmp_path: Path) -> RunningServer:
    return serve(write_config(tmp_path, sink_flows()))


def _post_webhook(
    server: RunningServer, body: bytes, headers: dict[str, str], path: str = "/customerio/webhook"
) -> tuple[int, dict[str, Any]]:
    with server.client() as client:
        response = client.post(path, content=body, headers=headers)
    return response.status_code, response.json()


def test_a_valid_signature_is_accepted(sink_server: RunningServer) -> None:
    body = json.dumps(reporting_webhook("01HXVALID0000000000000000A")).encode()
    status, answer = _post_webhook(sink_server, body, signed(body))
    assert status == 202 and answer["queued"] == 1


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("forged", "bad_signature"),
        ("one byte altered", "bad_signature"),
        ("stale", "stale_timestamp"),
        ("future", "stale_timestamp"),
        ("no signature", "missing_signature"),
        ("no timestamp", "missing_signature"),
        ("timestamp not an integer", "bad_signature"),
    ],
)
def test_bad_signatures_are_refused_and_queue_nothing(
    sink_server: RunningServer, case: str, code: str
) -> None:
    body = json.dumps(reporting_webhook("01HXBAD00000000000000000AA")).encode()
    now = int(time.time())
    headers = {
        "forged": signed(body, "not-the-key"),
        "one byte altered": signed(body),
        "stale": signed(body, at=now - 310),
        "future": signed(body, at=now + 310),
        "no signature": {**signed(body), "X-CIO-Signature": ""},
        "no timestamp": {k: v for k, v in signed(body).items() if k != "X-CIO-Timestamp"},
        "timestamp not an integer": {**signed(body), "X-CIO-Timestamp": "12.5"},
    }[case]
    sent = body.replace(b'"opened"', b'"openeD"') if case == "one byte altered" else body
    status, answer = _post_webhook(sink_server, sent, headers)
    assert status == 401
    assert answer["error"]["code"] == code
    assert sink_server.queue.depth() == 0


def test_the_tolerance_window_is_a_connection_setting(serve: Serve, tmp_path: Path) -> None:
    flows = sink_flows()
    flows[3]["source"]["signature_tolerance_seconds"] = 30
    server = serve(write_config(tmp_path, flows))
    body = json.dumps(reporting_webhook("01HXWINDOW00000000000000AA")).encode()
    status, answer = _post_webhook(server, body, signed(body, at=int(time.time()) - 60))
    assert status == 401 and answer["error"]["code"] == "stale_timestamp"
    status, _ = _post_webhook(server, body, signed(body, at=int(time.time()) - 20))
    assert status == 202


def test_several_customerio_connections_each_get_their_own_webhooks(
    serve: Serve, tmp_path: Path
) -> None:
    flows = sink_flows()
    other = {**flows[3], "name": "activity-eu", "source": {"webhook_signing_key": "eu-signing-key"}}
    server = serve(write_config(tmp_path, [*flows, other]))
    body = json.dumps(reporting_webhook("01HXROUTE000000000000000AA")).encode()
    status, answer = _post_webhook(server, body, signed(body, "eu-signing-key"))
    assert status == 202 and answer["queued"] == 1
    # Naming a connection checks that connection's key only.
    status, answer = _post_webhook(
        server, body, signed(body, "eu-signing-key"), "/customerio/webhook/activity"
    )
    assert status == 401
    status, answer = _post_webhook(server, body, signed(body), "/customerio/webhook/activity")
    assert status == 202 and answer["queued"] == 1


def _events(server: RunningServer, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    with server.client() as client:
        response = client.post(
            "/mparticle/events",
            content=json.dumps(events_batch("a1", 1)),
            headers={"Content-Type": "application/json", **headers},
        )
    return response.status_code, dict(response.headers)


def test_bearer_token_auth(sink_server: RunningServer) -> None:
    assert _events(sink_server, {})[0] == 401
    status, headers = _events(sink_server, {"Authorization": "Bearer nope"})
    assert status == 401 and headers["www-authenticate"].startswith("Bearer")
    assert _events(sink_server, {"Authorization": f"Basic {INBOUND_TOKEN}"})[0] == 401
    assert _events(sink_server, {"Authorization": f"Bearer {INBOUND_TOKEN}"})[0] == 202
    # mParticle's Firehose sends "Token <token>".
    assert _events(sink_server, {"Authorization": f"Token {INBOUND_TOKEN}"})[0] == 202


def test_basic_auth(serve: Serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_INBOUND_PASSWORD", "pa:ss-word")
    auth = {"username": "mparticle", "password": {"env": "TEST_INBOUND_PASSWORD"}}
    server = serve(write_config(tmp_path, sink_flows(), server={"auth": auth}))

    def basic(user: str, password: str) -> dict[str, str]:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    assert _events(server, {})[0] == 401
    assert _events(server, basic("mparticle", "wrong"))[0] == 401
    assert _events(server, basic("someone", "pa:ss-word"))[0] == 401
    assert _events(server, {"Authorization": "Basic !!not-base64!!"})[0] == 401
    status, headers = _events(server, {"Authorization": "Bearer pa:ss-word"})
    assert status == 401 and headers["www-authenticate"].startswith("Basic")
    assert _events(server, basic("mparticle", "pa:ss-word"))[0] == 202


def test_without_server_auth_the_mparticle_endpoints_fail_closed(
    serve: Serve, tmp_path: Path
) -> None:
    server = serve(write_config(tmp_path, sink_flows(), server={}))
    status, _ = _events(server, {"Authorization": f"Bearer {INBOUND_TOKEN}"})
    assert status == 401


@pytest.mark.parametrize(
    "auth",
    [
        {"bearer_token": {"env": "TEST_EMPTY_SECRET"}},
        {"username": {"env": "TEST_EMPTY_SECRET"}, "password": {"env": "TEST_EMPTY_SECRET"}},
    ],
)
def test_an_empty_credential_is_a_config_error_and_never_lets_an_empty_one_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, auth: dict[str, Any]
) -> None:
    """An environment variable set but empty (``docker run -e TOKEN=``) would make
    ``Authorization: Bearer`` (or Basic ``:``) match: refused at load, and the check
    fails closed even if such options reach it."""
    monkeypatch.setenv("TEST_EMPTY_SECRET", " ")
    with pytest.raises(ConfigError, match="C202"):
        load_config(write_config(tmp_path, sink_flows(), server={"auth": auth}))
    for options in ({"bearer_token": ""}, {"username": "", "password": ""}):
        checker = InboundAuth(options)
        for header in ("Bearer", "Bearer ", "Basic " + base64.b64encode(b":").decode()):
            with pytest.raises(InputError) as refused:
                checker.check(header)
            assert refused.value.status == 401


def test_secrets_never_appear_in_logs_or_responses(
    logs: io.StringIO, sink_server: RunningServer
) -> None:
    wrong = "WRONG-TOKEN-SENTINEL-0b9d"
    body_secret = "BODY-SENTINEL-4c2e"
    answers: list[str] = []
    with sink_server.client() as client:
        for headers, body in [
            ({"Authorization": f"Bearer {wrong}"}, json.dumps(events_batch("s1", 1))),
            ({"Authorization": f"Bearer {INBOUND_TOKEN}"}, '{"events": "' + body_secret + '"}'),
            ({"Authorization": f"Bearer {INBOUND_TOKEN}"}, '{"x": "' + body_secret + '",'),
            ({"Authorization": f"Bearer {INBOUND_TOKEN}"}, json.dumps(events_batch("s2", 1))),
            (
                {"Authorization": f"Token {INBOUND_TOKEN}"},
                json.dumps({"type": body_secret, "id": "x"}),
            ),
        ]:
            for path in ("/mparticle/events", "/mparticle/firehose"):
                response = client.post(
                    path, content=body, headers={"Content-Type": "application/json", **headers}
                )
                answers.append(response.text + json.dumps(dict(response.headers)))
        webhook = json.dumps(reporting_webhook(body_secret)).encode()
        forged = {**signed(webhook), "X-CIO-Signature": wrong}
        for headers in (forged, signed(webhook)):
            response = client.post("/customerio/webhook", content=webhook, headers=headers)
            answers.append(response.text + json.dumps(dict(response.headers)))
    sink_server.wait_delivered()
    written = logs.getvalue()
    assert '"event":"request"' in written and "request_id" in written
    for secret in (INBOUND_TOKEN, SIGNING_KEY, wrong, body_secret):
        assert secret not in written
        assert all(secret not in answer for answer in answers)
    for line in written.splitlines():
        json.loads(line)  # every line is one JSON object
