"""Turn a Track API response into one ``Outcome`` per item of the request. Pure.

==========================  ==================================================================
status                      outcome
==========================  ==================================================================
2xx (not 207)               every item delivered
207 (batch)                 items named by ``errors[].batch_index`` failed, the rest delivered
400                         every item failed, with the vendor's reason
401, 403                    credentials refused: delivery pauses the connection, items wait
408, 429, 5xx               every item retried, after ``Retry-After`` (capped at one hour)
anything else               every item failed
==========================  ==================================================================

Reasons quote Customer.io's error text (``reason``, ``field``, ``message``) but never the
request's headers, URL or credentials; should the vendor's text echo the credentials, they
are replaced with ``[redacted]``.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from mapwire import Outcome

if TYPE_CHECKING:
    import httpx

    from mapwire import OutboundRequest

MAX_RETRY_AFTER = 3600.0
MAX_REASON_CHARS = 500
RETRY_STATUSES = frozenset({408, 429})

clock: Callable[[], float] = time.time
"""The time used for an HTTP-date ``Retry-After`` when the response has no ``Date``."""


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay-seconds or HTTP-date), capped."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP-date is always GMT
        return None
    return min(max(when.timestamp() - now, 0.0), MAX_RETRY_AFTER)


def _now(response: httpx.Response) -> float:
    """The server's clock from ``Date`` if it sent one, else ours."""
    date = response.headers.get("date")
    if date:
        try:
            return parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError, IndexError):
            pass
    return clock()


def _json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _error_text(entry: Any) -> str:
    """``reason: …, field: …, message: …`` from one v2 error object."""
    if not isinstance(entry, dict):
        return str(entry)
    return ", ".join(
        f"{key}: {entry[key]}" for key in ("reason", "field", "message") if key in entry
    )


def vendor_reason(body: Any) -> str:
    """Customer.io's own explanation from a v2 ``errors`` list or a v1 ``meta`` object."""
    texts: list[str] = []
    if isinstance(body, dict):
        errors = body.get("errors")
        meta = body.get("meta")
        if isinstance(errors, list):
            texts = [_error_text(e) for e in errors]
        elif isinstance(meta, dict):
            if isinstance(meta.get("errors"), list):
                texts = [str(e) for e in meta["errors"]]
            elif "error" in meta:
                texts = [str(meta["error"])]
    text = "; ".join(t for t in texts if t)
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


def _secrets(request: httpx.Request) -> list[str]:
    """The Basic-auth token of ``request`` and the password inside it."""
    _, _, token = request.headers.get("authorization", "").partition(" ")
    if not token:
        return []
    try:
        _, _, password = base64.b64decode(token, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        password = ""
    return [s for s in (token, password) if s]


def _redact(outcomes: list[Outcome], request: httpx.Request) -> list[Outcome]:
    secrets = _secrets(request)
    for outcome in outcomes:
        for secret in secrets:
            outcome.reason = outcome.reason.replace(secret, "[redacted]")
    return outcomes


def _positions(sent: OutboundRequest) -> list[int]:
    """The item each batch entry belongs to: an identify split in parts (its body a list of
    entities) takes one entry per part."""
    return [
        i
        for i, item in enumerate(sent.items)
        for _ in range(len(item.body) if isinstance(item.body, list) else 1)
    ]


def _partial(sent: OutboundRequest, body: Any) -> list[Outcome]:
    failed: dict[int, list[str]] = {}
    errors = body.get("errors") if isinstance(body, dict) else None
    owners = _positions(sent)
    for entry in errors if isinstance(errors, list) else []:
        index = entry.get("batch_index") if isinstance(entry, dict) else None
        if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(owners):
            failed.setdefault(owners[index], []).append(_error_text(entry))
    return [
        Outcome("failed", "; ".join(failed[i]) or "rejected in batch", http_status=207)
        if i in failed
        else Outcome("delivered", http_status=207)
        for i in range(len(sent.items))
    ]


def _one(response: httpx.Response) -> Outcome:
    status = response.status_code
    if status == 401 or status == 403:
        return Outcome(
            "credentials_refused", f"credentials rejected ({status})", http_status=status
        )
    if status in RETRY_STATUSES or 500 <= status <= 599:
        retry_after = parse_retry_after(response.headers.get("retry-after"), _now(response))
        return Outcome("retry", f"Customer.io answered {status}", retry_after, status)
    detail = vendor_reason(_json(response))
    if status == 400:
        reason = f"rejected (400): {detail}" if detail else "rejected (400)"
    elif 300 <= status <= 399:
        reason = f"redirected ({status}); check the region setting"
    else:
        reason = f"unexpected status {status}" + (f": {detail}" if detail else "")
    return Outcome("failed", reason, http_status=status)


def classify(sent: OutboundRequest, response: httpx.Response) -> list[Outcome]:
    """One outcome per item of ``sent``, in order."""
    status = response.status_code
    if status == 207:
        return _redact(_partial(sent, _json(response)), sent.request)
    if 200 <= status <= 299:
        return [Outcome("delivered", http_status=status)] * len(sent.items)  # one verdict
    outcome = _redact([_one(response)], sent.request)[0]
    return [
        Outcome(outcome.status, outcome.reason, outcome.retry_after, outcome.http_status)
        for _ in sent.items
    ]
