"""The ``example`` destination: notes posted as JSON to ``{base_url}/notes``. No I/O here.

``prepare`` checks a note against its payload schema and size limit, ``build_requests``
packs up to ``MAX_NOTES_PER_REQUEST`` notes into one ``POST {base_url}/notes``, and
``classify`` reads the answer: 2xx delivered, 429 and 5xx retried (after ``Retry-After``
seconds when given), anything else failed. Reasons never quote payload values, headers or
the API key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from mapwire import (
    Action,
    ActionSpec,
    Capabilities,
    Destination,
    OutboundRequest,
    Outcome,
    PermanentDeliveryError,
    PreparedItem,
    SchemaValidator,
)

MAX_NOTES_PER_REQUEST = 100
MAX_NOTE_BYTES = 10_000

NOTE_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "required": ["text"],
    "additionalProperties": False,
    "properties": {
        "text": {"type": "string", "minLength": 1, "maxLength": 2000},
        "author": {"type": "string", "maxLength": 200},
    },
}
"""The fields a mapping's ``note`` rule may set: ``mapwire validate`` checks them (E303)."""

SETTINGS_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "required": ["base_url", "api_key"],
    "additionalProperties": False,
    "properties": {
        "base_url": {
            "type": "string",
            "pattern": "^https?://[^/?#@]+(/[^?#]*)?$",
            "description": "The notes API, e.g. `https://notes.example.com/v1`.",
        },
        "api_key": {"type": "string", "minLength": 1, "writeOnly": True, "description": "Secret."},
    },
}

_NOTE = SchemaValidator(NOTE_SCHEMA)


class ExampleDestination(Destination):
    """The example notes API: one action, ``note``."""

    name = "example"
    description = "The example notes API: post short notes."
    actions = {"note": ActionSpec("note", "Post one note.", NOTE_SCHEMA)}
    settings_schema = SETTINGS_SCHEMA
    secret_settings = ("api_key",)
    capabilities = Capabilities(
        max_items_per_request=MAX_NOTES_PER_REQUEST,
        max_request_bytes=MAX_NOTES_PER_REQUEST * (MAX_NOTE_BYTES + 1) + len('{"notes":[]}'),
        max_item_bytes=MAX_NOTE_BYTES,
        requests_per_second=10.0,
    )

    def prepare(
        self, action: Action, settings: Mapping[str, Any], *, key: Any = None
    ) -> PreparedItem:
        """Check one note; the reason names the failing field and rule, never its value."""
        if action.action not in self.actions:
            raise PermanentDeliveryError(f"example has no action {action.action!r}")
        if not _NOTE.is_valid(action.payload):
            error = next(_NOTE.iter_errors(action.payload))
            field = "/".join(str(part) for part in error.absolute_path) or "payload"
            raise PermanentDeliveryError(f"note: {field} fails {error.validator!r}")
        size = len(json.dumps(action.payload, ensure_ascii=False, separators=(",", ":")).encode())
        if size > MAX_NOTE_BYTES:
            raise PermanentDeliveryError(f"note: {size} bytes; the limit is {MAX_NOTE_BYTES}")
        return PreparedItem(key=key, body=dict(action.payload), size=size)

    def build_requests(
        self, items: Sequence[PreparedItem], settings: Mapping[str, Any]
    ) -> list[OutboundRequest]:
        """``POST {base_url}/notes`` with ``{"notes": [...]}``, the items in order."""
        url = str(settings["base_url"]).rstrip("/") + "/notes"
        headers = {"Authorization": f"Bearer {settings['api_key']}"}
        sent = []
        for start in range(0, len(items), MAX_NOTES_PER_REQUEST):
            chunk = list(items[start : start + MAX_NOTES_PER_REQUEST])
            body = {"notes": [item.body for item in chunk]}
            request = httpx.Request("POST", url, headers=headers, json=body)
            sent.append(OutboundRequest(request, chunk))
        return sent

    def classify(self, sent: OutboundRequest, response: httpx.Response) -> list[Outcome]:
        """The same outcome for every note of the request."""
        status = response.status_code
        if 200 <= status < 300:
            return [Outcome("delivered", http_status=status) for _ in sent.items]
        reason = f"example answered {status}"
        if status == 429 or status >= 500:
            wait = retry_after(response)
            return [Outcome("retry", reason, wait, status) for _ in sent.items]
        return [Outcome("failed", reason, http_status=status) for _ in sent.items]


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a delay-seconds ``Retry-After`` header, or None for the sender's backoff."""
    value = response.headers.get("retry-after", "").strip()
    return float(value) if value.isascii() and value.isdigit() else None
