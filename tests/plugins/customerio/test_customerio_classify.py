"""``classify``: one outcome per item for every kind of Track API answer; no secret in a reason."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from mapwire import OutboundRequest
from mapwire.plugins.customerio import errors
from mapwire.plugins.customerio.errors import parse_retry_after

NOW = 1_700_000_000.0
HTTP_NOW = format_datetime(datetime.fromtimestamp(NOW, UTC), usegmt=True)


@pytest.fixture
def sent(cio: Any, prepare: Any, settings: Any) -> OutboundRequest:
    items = [prepare("event", {"identifiers": {"id": f"u{i}"}, "name": "n"}) for i in range(5)]
    requests: list[OutboundRequest] = cio.build_requests(items, settings)
    assert len(requests) == 1
    return requests[0]


def respond(sent: OutboundRequest, status: int, body: Any = None, **headers: str) -> Any:
    content = b"" if body is None else json.dumps(body).encode()
    response = httpx.Response(status, content=content, headers=headers, request=sent.request)
    return errors.classify(sent, response)


@pytest.mark.parametrize("status", [200, 202, 204])
def test_success_delivers_every_item(sent: OutboundRequest, status: int) -> None:
    outcomes = respond(sent, status, {} if status != 204 else None)
    assert [o.status for o in outcomes] == ["delivered"] * 5
    assert {o.http_status for o in outcomes} == {status}


def test_207_fails_only_the_indexed_items(sent: OutboundRequest) -> None:
    body = {
        "errors": [
            {"batch_index": 1, "reason": "invalid", "field": "identifiers", "message": "empty id"},
            {"batch_index": 3, "reason": "invalid", "field": "name", "message": "too long"},
            {"batch_index": 3, "reason": "invalid", "field": "timestamp", "message": "bad"},
            {"reason": "no index"},
            {"batch_index": "2", "reason": "string index"},
            {"batch_index": True, "reason": "boolean index"},
            {"batch_index": 99, "reason": "out of range"},
            "not an object",
        ]
    }
    outcomes = respond(sent, 207, body)
    assert [o.status for o in outcomes] == [
        "delivered",
        "failed",
        "delivered",
        "failed",
        "delivered",
    ]
    assert outcomes[1].reason == "reason: invalid, field: identifiers, message: empty id"
    assert outcomes[3].reason == (
        "reason: invalid, field: name, message: too long; "
        "reason: invalid, field: timestamp, message: bad"
    )


@pytest.mark.parametrize("body", [None, {"errors": "nope"}, ["x"]])
def test_207_without_usable_indexes_delivers_all(sent: OutboundRequest, body: Any) -> None:
    assert {o.status for o in respond(sent, 207, body)} == {"delivered"}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            {"errors": [{"reason": "malformed", "field": "batch", "message": "not an array"}]},
            "rejected (400): reason: malformed, field: batch, message: not an array",
        ),
        ({"meta": {"errors": ["bad name", "bad data"]}}, "rejected (400): bad name; bad data"),
        (
            {"meta": {"error": "You cannot have multiple identifiers"}},
            "rejected (400): You cannot have multiple identifiers",
        ),
        (None, "rejected (400)"),
    ],
)
def test_400_fails_every_item_with_the_vendor_reason(
    sent: OutboundRequest, body: Any, reason: str
) -> None:
    outcomes = respond(sent, 400, body)
    assert [(o.status, o.reason, o.http_status) for o in outcomes] == [("failed", reason, 400)] * 5


def test_long_vendor_reasons_are_cut(sent: OutboundRequest) -> None:
    [outcome, *_] = respond(sent, 400, {"meta": {"error": "x" * 5000}})
    assert len(outcome.reason) <= len("rejected (400): ") + errors.MAX_REASON_CHARS


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_credentials(sent: OutboundRequest, settings: Any, status: int) -> None:
    outcomes = respond(sent, status, {"meta": {"error": settings["api_key"]}})
    assert {(o.status, o.reason) for o in outcomes} == {
        ("credentials_refused", f"credentials rejected ({status})")
    }


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [
        (429, {"Retry-After": "7"}, 7.0),
        (429, {}, None),
        (408, {"Retry-After": "1"}, 1.0),
        (500, {}, None),
        (502, {"Retry-After": "100000"}, 3600.0),
        (
            503,
            {
                "Retry-After": format_datetime(datetime.fromtimestamp(NOW + 90, UTC), usegmt=True),
                "Date": HTTP_NOW,
            },
            90.0,
        ),
        (504, {"Retry-After": "soon"}, None),
    ],
)
def test_retryable_statuses(
    sent: OutboundRequest, status: int, headers: dict[str, str], retry_after: float | None
) -> None:
    outcomes = respond(sent, status, None, **headers)
    assert {(o.status, o.retry_after, o.http_status) for o in outcomes} == {
        ("retry", retry_after, status)
    }


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (404, {"meta": {"errors": ["not found"]}}, "unexpected status 404: not found"),
        (418, None, "unexpected status 418"),
        (301, None, "redirected (301); check the region setting"),
    ],
)
def test_other_statuses_fail(sent: OutboundRequest, status: int, body: Any, reason: str) -> None:
    assert {(o.status, o.reason) for o in respond(sent, status, body)} == {("failed", reason)}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        ("120", 120.0),
        ("3600", 3600.0),
        ("3601", 3600.0),
        (" 5 ", 5.0),
        (format_datetime(datetime.fromtimestamp(NOW + 30, UTC), usegmt=True), 30.0),
        ("Tue, 14 Nov 2023 22:14:20 GMT", 0.0 + 1_700_000_060 - NOW),
        (format_datetime(datetime.fromtimestamp(NOW - 30, UTC), usegmt=True), 0.0),
        (format_datetime(datetime.fromtimestamp(NOW + 86_400, UTC), usegmt=True), 3600.0),
        ("-5", None),
        ("1.5", None),
        ("²", None),
        ("tomorrow", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_http_date_without_a_date_header_uses_the_clock(
    sent: OutboundRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(errors, "clock", lambda: NOW)
    later = format_datetime(datetime.fromtimestamp(NOW + 42, UTC), usegmt=True)
    assert respond(sent, 429, None, **{"Retry-After": later})[0].retry_after == 42.0


def test_no_reason_ever_holds_the_credentials(sent: OutboundRequest, settings: Any) -> None:
    key = settings["api_key"]
    token = base64.b64encode(f"{settings['site_id']}:{key}".encode()).decode()
    echo = f"Authorization: Basic {token} key={key}"
    reasons = []
    for status in (207, 400, 401, 403, 404, 429, 500):
        body = {
            "errors": [{"batch_index": 0, "reason": echo, "field": key, "message": echo}],
            "meta": {"error": echo},
        }
        reasons += [o.reason for o in respond(sent, status, body)]
    assert any("[redacted]" in r for r in reasons)
    assert not [r for r in reasons if key in r or token in r]
