"""What an Events API response means for each item of the request that got it.

The items of one request share its fate: ``/bulkevents`` answers once for all of its
batches (202 even when mParticle later drops one of them). Reasons quote mParticle's own
error codes and messages, never a header, and a credential echoed in a message is
masked. 429 and 503 may carry ``Retry-After`` in whole seconds. 401 and 403 are
``credentials_refused``: delivery pauses the connection and keeps the items queued.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Final

from mapwire import OutboundRequest, Outcome

from .limits import MAX_RETRY_AFTER_SECONDS

if TYPE_CHECKING:  # imported where it is used: importing the plugin stays cheap
    import httpx

#: Most vendor error messages quoted in one reason, and most characters of each.
_MAX_MESSAGES: Final = 5
_MAX_MESSAGE_CHARS: Final = 300
#: Values of ``X-mp-rate-limit-exceeded`` named in a 429 reason.
_RATE_LIMITS: Final = frozenset({"org", "account", "app", "feed", "workspace", "acceleration"})


def classify(sent: OutboundRequest, response: httpx.Response) -> list[Outcome]:
    """One outcome per item of ``sent``, all alike: the request's fate is its items' fate.
    They are one object (delivery only reads outcomes): 100 copies cost 0.3 µs an item."""
    return [outcome_of(response, sent.request)] * len(sent.items)


def outcome_of(response: httpx.Response, request: httpx.Request | None = None) -> Outcome:
    """The outcome for every item of a request, from the response's status and body."""
    status = response.status_code
    if status in (200, 202):
        return Outcome("delivered", http_status=status)
    if status == 400:
        reason = f"rejected by mParticle (400): {vendor_errors(response)}"
        return Outcome("failed", mask(reason, request), http_status=status)
    if status == 401:
        return Outcome(
            "credentials_refused", "authentication header missing (401)", http_status=status
        )
    if status == 403:
        return Outcome("credentials_refused", "credentials rejected (403)", http_status=status)
    if status == 429:
        limit = response.headers.get("x-mp-rate-limit-exceeded", "").strip().lower()
        which = f", {limit} limit" if limit in _RATE_LIMITS else ""
        return Outcome(
            "retry", f"rate limited (429{which})", retry_after(response), http_status=status
        )
    if status == 408 or status >= 500:
        return Outcome(
            "retry", f"mParticle unavailable ({status})", retry_after(response), http_status=status
        )
    return Outcome("failed", f"unexpected response ({status})", http_status=status)


def retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` as seconds (a non-negative integer, capped at one hour), or None."""
    value = response.headers.get("retry-after", "").strip()
    if not value.isascii() or not value.isdigit():
        return None
    return float(min(int(value), MAX_RETRY_AFTER_SECONDS))


def vendor_errors(response: httpx.Response) -> str:
    """``CODE: message; ...`` from an ``{"errors": [{"code", "message"}]}`` body."""
    import httpx

    try:
        document = response.json()
    except (ValueError, httpx.ResponseNotRead, UnicodeDecodeError):
        return "no error details"
    errors = document.get("errors") if isinstance(document, dict) else None
    if not isinstance(errors, list):
        return "no error details"
    parts = []
    for error in errors[:_MAX_MESSAGES]:
        if not isinstance(error, dict):
            continue
        code, message = error.get("code"), error.get("message")
        text = ": ".join(str(x) for x in (code, message) if x not in (None, ""))
        parts.append(text[:_MAX_MESSAGE_CHARS])
    if len(errors) > _MAX_MESSAGES:
        parts.append(f"and {len(errors) - _MAX_MESSAGES} more")
    return "; ".join(p for p in parts if p) or "no error details"


def mask(reason: str, request: httpx.Request | None) -> str:
    """``reason`` with the request's Basic credentials, should they appear, masked."""
    for secret in credentials(request):
        if len(secret) >= 4:
            reason = reason.replace(secret, "[masked]")
    return reason


def credentials(request: httpx.Request | None) -> tuple[str, ...]:
    """The key and secret of a request's Basic ``Authorization`` header, if it has one."""
    header = request.headers.get("authorization", "") if request is not None else ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return ()
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ()
    key, _, secret = decoded.partition(":")
    return tuple(x for x in (secret, key, token) if x)


def check_result(response: httpx.Response) -> tuple[bool, str]:
    """Whether a credentials check (``MParticle.check_request``) passed, and why.

    The check posts a batch mParticle rejects as invalid, so 400 means the key and
    secret were accepted and nothing was stored; 202 means they were accepted too.
    """
    status = response.status_code
    if status in (200, 202, 400):
        return True, f"credentials accepted ({status})"
    return False, outcome_of(response).reason or f"unexpected response ({status})"
