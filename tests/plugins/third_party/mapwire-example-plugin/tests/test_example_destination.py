"""The example destination's pure steps, driven with no network: build, then classify."""

from __future__ import annotations

import json

import httpx
import pytest
from mapwire_example_plugin.destination import ExampleDestination

from mapwire import Action, OutboundRequest, PermanentDeliveryError

SETTINGS = {"base_url": "https://notes.example.com/v1", "api_key": "sentinel-key"}
EXAMPLE = ExampleDestination()


def build(*texts: str) -> list[OutboundRequest]:
    items = [
        EXAMPLE.prepare(Action("example", "note", {"text": text}), SETTINGS, key=n)
        for n, text in enumerate(texts)
    ]
    return EXAMPLE.build_requests(items, SETTINGS)


def test_notes_are_posted_as_json_to_base_url_notes() -> None:
    [sent] = build("HI!", "HO!")
    assert sent.request.method == "POST"
    assert str(sent.request.url) == "https://notes.example.com/v1/notes"
    assert json.loads(sent.request.content) == {"notes": [{"text": "HI!"}, {"text": "HO!"}]}
    assert [item.key for item in sent.items] == [0, 1]


def test_a_request_carries_at_most_max_items_per_request() -> None:
    limit = EXAMPLE.capabilities.max_items_per_request
    assert [len(sent.items) for sent in build(*["x"] * (limit + 1))] == [limit, 1]


def test_a_note_breaking_its_schema_fails_without_quoting_the_payload() -> None:
    action = Action("example", "note", {"text": "sentinel-key" * 200})
    with pytest.raises(PermanentDeliveryError, match="text fails 'maxLength'") as caught:
        EXAMPLE.prepare(action, SETTINGS)
    assert "sentinel-key" not in str(caught.value)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, "delivered"),
        (202, "delivered"),
        (429, "retry"),
        (500, "retry"),
        (503, "retry"),
        (400, "failed"),
        (401, "failed"),
        (404, "failed"),
        (302, "failed"),
    ],
)
def test_classify(status: int, expected: str) -> None:
    [sent] = build("HI!", "HO!")
    outcomes = EXAMPLE.classify(sent, httpx.Response(status, request=sent.request))
    assert [outcome.status for outcome in outcomes] == [expected, expected]
    assert all("sentinel-key" not in outcome.reason for outcome in outcomes)


def test_retry_after_is_read_from_the_response() -> None:
    [sent] = build("HI!")
    response = httpx.Response(429, headers={"Retry-After": "7"}, request=sent.request)
    assert EXAMPLE.classify(sent, response)[0].retry_after == 7.0
