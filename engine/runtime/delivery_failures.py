"""What a dead letter keeps of a failed delivery: the request (its item, the URL without
credentials) and the vendor's answer, redacted, the answer's body cut at
``MAX_BODY_IN_DEAD_LETTER`` characters."""

from __future__ import annotations

import json
from typing import Any

import httpx

from ..contracts.destination import OutboundRequest, PreparedItem
from ..contracts.queue import Failure
from .redaction import Redactor

MAX_BODY_IN_DEAD_LETTER = 4000


def delivery_failure(
    reason: str,
    sent: OutboundRequest,
    item: PreparedItem,
    response: httpx.Response | None,
    redact: Redactor,
    answer: dict[str, Any],
) -> Failure:
    """``item``'s failure; ``answer``: the request's answer as stored, filled on the
    request's first failure and shared by the rest."""
    url = sent.request.url.copy_with(username=None, password=None)
    body = item.body
    if body is None and item.encoded is not None:  # restored from its wire form
        body = json.loads(item.encoded)
    request = {"method": sent.request.method, "url": str(url), "item": body}
    if response is not None and not answer:
        answer["status"] = response.status_code
        answer["body"] = redact(response.text)[:MAX_BODY_IN_DEAD_LETTER]
    return Failure(redact(reason), request, dict(answer))
