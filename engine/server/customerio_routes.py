"""The Customer.io endpoint: reporting webhooks, signed with the webhook signing key.

``POST /customerio/webhook`` and ``POST /customerio/webhook/{connection}``. The raw body is
verified with the source's ``authenticate`` (``X-CIO-Signature`` / ``X-CIO-Timestamp``,
constant-time, within the connection's ``signature_tolerance_seconds``) against each
candidate connection's ``source`` settings before it is parsed: the named connection, or
every enabled connection reading Customer.io webhooks. The event goes to those whose key
verifies it. A webhook Customer.io redelivers is answered 202 again but forwarded once:
the flow's dedup key is the ``event_id``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

from ..contracts.errors import InputError
from ..language.value_types import a_json_type
from .committer import Part
from .handling import accepted, parse_body, read_raw, server_state, submit

SOURCE: Final = "customerio.reporting_webhook"
#: Envelope field -> (check, what it must be).
ENVELOPE: Final[dict[str, tuple[Callable[[Any], bool], str]]] = {
    "event_id": (lambda v: isinstance(v, str) and bool(v), "a non-empty string"),
    "object_type": (lambda v: isinstance(v, str), "a string"),
    "metric": (lambda v: isinstance(v, str), "a string"),
    "timestamp": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "data": (lambda v: isinstance(v, dict), "an object"),
}


def check_envelope(doc: Any) -> None:
    """The five envelope fields every reporting webhook has, with their types."""
    if not isinstance(doc, dict):
        raise InputError(f"body: expected an object, got {a_json_type(doc)}", code="invalid_shape")
    for name, (ok, expected) in ENVELOPE.items():
        if name not in doc:
            raise InputError(f"body.{name} is required", code="invalid_shape")
        if not ok(doc[name]):
            raise InputError(
                f"body.{name}: expected {expected}, got {a_json_type(doc[name])}",
                code="invalid_shape",
            )


def _worse(current: InputError | None, new: InputError) -> InputError:
    """The refusal to report when no key verifies: a stale timestamp says the most."""
    if current is None or new.code == "stale_timestamp":
        return new
    return current


async def webhook(request: Request) -> Response:
    state = server_state(request)
    name = request.path_params.get("connection")
    candidates = state.pipeline.connections_for(SOURCE, name)
    if not candidates:
        what = f"connection {name!r}" if name else "enabled connection"
        raise InputError(f"no {what} reads {SOURCE}", status=404, code="no_connection")
    body = await read_raw(request, state)
    authenticate = state.running.registry.sources()[SOURCE].authenticate
    matched = []
    refusal: InputError | None = None
    if authenticate is None:
        matched = candidates
    else:
        headers = dict(request.headers.items())
        for conn in candidates:
            try:
                authenticate(headers, body, conn.source)
            except InputError as exc:
                refusal = _worse(refusal, exc)
            else:
                matched.append(conn)
    if not matched and refusal is not None:
        raise refusal
    doc = await parse_body(state, body)
    check_envelope(doc)
    report = await submit(request, state, [Part(SOURCE, [doc], only=c.name) for c in matched])
    return accepted(report)
