"""Replies to mParticle's Firehose requests (Event and Audience outputs).

Every Firehose reply is an envelope ``{type, id, timestamp_ms, firehose_version}`` whose
``id`` is the request's (the protocol allows echoing it), plus, for some types, one
field: ``suspend_subscription`` on a membership change reply, optional
``audience_subscription_settings`` on a subscription reply. Module registration is not
answered here: its reply describes a whole integration (permissions, settings, event
types) and is not derived from the request.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from mapwire import InputError

#: The Firehose protocol version the replies follow (the SDK whose schemas they match).
FIREHOSE_VERSION: Final = "3.2.0"

#: Request type -> reply type, for the requests this module answers.
RESPONSE_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "event_processing_request": "event_processing_response",
        "audience_membership_change_request": "audience_membership_change_response",
        "audience_subscription_request": "audience_subscription_response",
        "dsr_processing_request": "dsr_processing_response",
    }
)


def firehose_response(
    request: Mapping[str, Any],
    *,
    timestamp_ms: int | None = None,
    suspend_subscription: bool = False,
    audience_subscription_settings: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The reply to one parsed Firehose request; ``InputError`` if it cannot be answered.

    ``timestamp_ms`` defaults to now. ``suspend_subscription`` (membership changes only)
    asks mParticle to fault the connection until a user resumes it, e.g. when the
    downstream credentials stopped working. ``audience_subscription_settings``
    (subscriptions only) are stored by mParticle and sent back with later changes.
    """
    if not isinstance(request, Mapping):
        raise InputError("firehose: the request is not a JSON object")
    kind = request.get("type")
    reply_type = RESPONSE_TYPES.get(kind) if isinstance(kind, str) else None
    if reply_type is None:
        known = ", ".join(RESPONSE_TYPES)
        raise InputError(f"firehose: cannot answer a request of type {kind!r}; answers {known}")
    request_id = request.get("id")
    if not isinstance(request_id, str) or not request_id:
        raise InputError(f"firehose: {kind} has no id to answer with")
    reply: dict[str, Any] = {
        "type": reply_type,
        "id": request_id,
        "timestamp_ms": int(time.time() * 1000) if timestamp_ms is None else timestamp_ms,
        "firehose_version": FIREHOSE_VERSION,
    }
    if reply_type == "audience_membership_change_response":
        reply["suspend_subscription"] = suspend_subscription
    if reply_type == "audience_subscription_response" and audience_subscription_settings:
        reply["audience_subscription_settings"] = dict(audience_subscription_settings)
    return reply
