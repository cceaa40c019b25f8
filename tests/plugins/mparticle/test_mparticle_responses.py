"""``classify``: one outcome per item from the Events API's answer, no secret in a reason."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from jsonschema import Draft7Validator

from mapwire import OutboundRequest, PreparedItem
from mapwire.plugins.mparticle.destination import MParticle
from mapwire.plugins.mparticle.errors import check_result, retry_after

Prepare = Callable[..., PreparedItem]

BAD_REQUEST = {
    "errors": [{"code": "BAD_REQUEST", "message": 'Required event field "event_type" is missing.'}]
}

#: (id, status, headers, JSON body, status of every outcome, reason fragment, retry_after)
RESPONSES: list[tuple[str, int, dict[str, str], Any, str, str, float | None]] = [
    ("accepted", 202, {}, None, "delivered", "", None),
    ("ok", 200, {}, None, "delivered", "", None),
    ("bad-request", 400, {}, BAD_REQUEST, "failed", 'BAD_REQUEST: Required event field "', None),
    ("bad-request-no-body", 400, {}, None, "failed", "(400): no error details", None),
    (
        "unauthorized",
        401,
        {},
        None,
        "credentials_refused",
        "authentication header missing (401)",
        None,
    ),
    ("forbidden", 403, {}, None, "credentials_refused", "credentials rejected (403)", None),
    ("rate-limited", 429, {}, None, "retry", "rate limited (429)", None),
    ("rate-limited-after", 429, {"Retry-After": "7"}, None, "retry", "rate limited", 7.0),
    (
        "rate-limited-workspace",
        429,
        {"X-MP-Rate-Limit-Exceeded": "workspace", "Retry-After": "0"},
        None,
        "retry",
        "rate limited (429, workspace limit)",
        0.0,
    ),
    ("unavailable", 503, {}, None, "retry", "mParticle unavailable (503)", None),
    ("unavailable-after", 503, {"Retry-After": "30"}, None, "retry", "(503)", 30.0),
    ("server-error", 500, {}, None, "retry", "mParticle unavailable (500)", None),
    ("timeout", 408, {}, None, "retry", "mParticle unavailable (408)", None),
    ("too-large", 413, {}, None, "failed", "unexpected response (413)", None),
    ("not-found", 404, {}, None, "failed", "unexpected response (404)", None),
]


@pytest.fixture
def sent(destination: MParticle, settings: dict[str, Any], prepare: Prepare) -> OutboundRequest:
    """One request carrying five items of three users (three batches)."""
    items = [prepare("custom_event", user=f"u{i % 3}", event_name="e") for i in range(5)]
    (request,) = destination.build_requests(items, settings)
    return request


def _response(
    request: httpx.Request, status: int, headers: dict[str, str], body: Any
) -> httpx.Response:
    if body is None:
        return httpx.Response(status, headers=headers, request=request)
    return httpx.Response(status, headers=headers, json=body, request=request)


@pytest.mark.parametrize(
    ("status", "headers", "body", "outcome", "reason", "after"),
    [pytest.param(*row[1:], id=row[0]) for row in RESPONSES],
)
def test_every_item_shares_the_requests_fate(
    destination: MParticle,
    sent: OutboundRequest,
    no_secret: Callable[[object], None],
    status: int,
    headers: dict[str, str],
    body: Any,
    outcome: str,
    reason: str,
    after: float | None,
) -> None:
    outcomes = destination.classify(sent, _response(sent.request, status, headers, body))
    assert len(outcomes) == len(sent.items) == 5
    assert all(o == outcomes[0] for o in outcomes)  # one outcome (delivery only reads it)
    for result in outcomes:
        assert result.status == outcome
        assert reason in result.reason
        assert result.retry_after == after
        assert result.http_status == status
        no_secret(result)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        pytest.param("0", 0.0, id="zero"),
        pytest.param("120", 120.0, id="seconds"),
        pytest.param(" 5 ", 5.0, id="spaces"),
        pytest.param("3600", 3600.0, id="at-cap"),
        pytest.param("86400", 3600.0, id="capped"),
        pytest.param("-1", None, id="negative"),
        pytest.param("1.5", None, id="decimal-fraction"),
        pytest.param("Wed, 21 Oct 2015 07:28:00 GMT", None, id="http-date"),
        pytest.param("\u0663".encode(), None, id="non-ascii-digit"),
        pytest.param("", None, id="empty"),
    ],
)
def test_retry_after_is_whole_non_negative_seconds_capped_at_an_hour(
    header: str | bytes, seconds: float | None
) -> None:
    raw = header if isinstance(header, bytes) else header.encode()
    assert retry_after(httpx.Response(429, headers=[(b"Retry-After", raw)])) == seconds


def test_credentials_echoed_in_a_vendor_message_are_masked(
    destination: MParticle, settings: dict[str, Any], sent: OutboundRequest
) -> None:
    key, secret = settings["api_key"], settings["api_secret"]
    body = {
        "errors": [{"code": "BAD_REQUEST", "message": f"key {key} with secret {secret} rejected"}]
    }
    (first, *_) = destination.classify(sent, _response(sent.request, 400, {}, body))
    assert (
        first.reason
        == "rejected by mParticle (400): BAD_REQUEST: key [masked] with secret [masked] rejected"
    )


def test_vendor_messages_are_bounded(destination: MParticle, sent: OutboundRequest) -> None:
    body = {"errors": [{"code": "E", "message": "m" * 1000} for _ in range(9)] + ["junk"]}
    (first, *_) = destination.classify(sent, _response(sent.request, 400, {}, body))
    assert first.reason.count("E: ") == 5
    assert "and 5 more" in first.reason
    assert len(first.reason) < 2000


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"<html>Bad Request</html>", id="html"),
        pytest.param(b'["not", "an", "object"]', id="array"),
        pytest.param(b'{"errors": "nope"}', id="errors-not-a-list"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
    ],
)
def test_unreadable_400_bodies_still_fail_every_item(
    destination: MParticle, sent: OutboundRequest, content: bytes
) -> None:
    response = httpx.Response(400, content=content, request=sent.request)
    outcomes = destination.classify(sent, response)
    assert {(o.status, o.reason) for o in outcomes} == {
        ("failed", "rejected by mParticle (400): no error details")
    }


def test_no_secret_in_reprs_requests_or_logs(
    destination: MParticle,
    settings: dict[str, Any],
    sent: OutboundRequest,
    caplog: pytest.LogCaptureFixture,
    no_secret: Callable[[object], None],
) -> None:
    caplog.set_level(logging.DEBUG)
    check = destination.check_request(settings)
    assert check is not None
    for status in (202, 400, 401, 403, 429, 503):
        for outcome in destination.classify(sent, _response(sent.request, status, {}, BAD_REQUEST)):
            no_secret(outcome)
    for thing in (
        destination,
        sent,
        sent.request,
        sent.request.headers,
        check,
        check.headers,
    ):
        no_secret(thing)
    no_secret(caplog.text)


def test_check_request_posts_a_batch_the_events_api_must_reject(
    destination: MParticle,
    settings: dict[str, Any],
    batch_validator: Draft7Validator,
) -> None:
    request = destination.check_request(settings)
    assert request is not None
    assert request.method == "POST"
    assert str(request.url) == "https://s2s.us1.mparticle.com/v2/events"
    assert request.headers["authorization"].startswith("Basic ")
    body = json.loads(request.content)
    assert body["environment"] == "development"
    assert "user_identities" not in body and "mpid" not in body
    assert body["events"] == [{"data": {}}]
    assert not batch_validator.is_valid(body), "the check body must be refused, never stored"


@pytest.mark.parametrize(
    ("status", "passed", "reason"),
    [
        pytest.param(400, True, "credentials accepted (400)", id="rejected-body"),
        pytest.param(202, True, "credentials accepted (202)", id="accepted"),
        pytest.param(401, False, "authentication header missing (401)", id="no-header"),
        pytest.param(403, False, "credentials rejected (403)", id="wrong-credentials"),
        pytest.param(503, False, "mParticle unavailable (503)", id="unavailable"),
    ],
)
def test_check_result_reads_the_check_response(status: int, passed: bool, reason: str) -> None:
    assert check_result(httpx.Response(status)) == (passed, reason)
