"""Pure batching: prepared items into Events API batches, batches into bulk requests.

Every item is a batch of its own (one user, one event or one set of user attributes); the
batches are packed, in order, into ``POST {base}/bulkevents`` bodies of at most 100
batches and 256 KB. Every request goes to ``/bulkevents``, even with one batch: one
endpoint and one code path whatever the traffic, and it accepts the same single batch
``/events`` would. Events older than 30 days go apart to ``/bulkevents/historical``.

An item that carries a ``source_message_id`` gets a ``source_request_id`` derived from
that id alone (and whether it is an event or user attributes: ``request_id``), so sending
it again after a failed or unanswered attempt yields the same id and mParticle drops the
copy it may already have taken, whatever other items the next claim holds. Merging a
user's consecutive items into one batch would derive the id from the set of items, and a
retry claimed with a newer item of the user would carry another id: mParticle would take
the same events twice. One batch per item costs no rate: the connection's rate already
spends mParticle's 270 batches per second as if every item were a batch
(``MParticle.capabilities``). It does cost bytes: each event carries its user's
identities, and a user's attributes go in a batch of their own, not with the events
around them (mParticle promises no order between batches in any case). An item without
an id gets none: an id derived from content alone could drop a real repeat. Two events
with one message id are one event to mParticle: a mapping gives each its own.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from mapwire import OutboundRequest, PreparedItem, __version__

from . import historical, limits
from .actions import ItemBody
from .ahead import AheadItem
from .settings import Connection
from .wire import encode, request_uuid, size

if TYPE_CHECKING:  # imported where it is used: importing the plugin stays cheap
    import httpx

#: Marks the message id of an item without an event (its user attributes) in its id.
ATTRIBUTES_MARK = "user_attributes"

#: A placeholder as long as any ``source_request_id`` (a UUID), for size estimates.
_REQUEST_ID_PLACEHOLDER = "0" * 36


def estimate_alone(item: PreparedItem, environment: str) -> int:
    """An upper bound of the encoded bytes of the batch of ``item`` alone, from its parts
    (``item.size`` for its event, each of its user attributes): what ``prepare`` holds to
    the batch limit when the quicker bound is not enough."""
    body = item.body
    envelope: dict[str, Any] = {
        "environment": environment,
        "user_identities": body.get("user_identities", {}),
        "mpid": body.get("mpid", 0),
        "user_attributes": {},
        "events": [],
        "source_request_id": _REQUEST_ID_PLACEHOLDER,
    }
    attributes = body.get("user_attributes", {})
    entries = {name: _entry_bytes(name, value) for name, value in attributes.items()}
    event = item.size if body.get("event") is not None else 0
    return size(envelope) + event + _members_bytes(entries)


def lone_batch(body: ItemBody, environment: str) -> dict[str, Any]:
    """The Events API batch of an item with ``body`` alone (``prepare`` checked that it
    fits), its ``source_request_id`` derived from its message id (``request_id``)."""
    event = body.get("event")
    message_id = body.get("source_message_id")
    return _rendered(
        environment,
        body.get("user_identities"),
        body.get("mpid"),
        body.get("user_attributes"),
        [] if event is None else [event],
        None if message_id is None else request_id(str(message_id), event is not None),
    )


def request_id(message_id: str, is_event: bool) -> str:
    """The ``source_request_id`` of an item's batch: an event's from its message id alone,
    an attributes item's from its message id marked as attributes. One source message
    often yields both (a sign-up: the person's attributes and the event), and mParticle
    would keep only the first of two batches with one id."""
    return request_uuid([message_id] if is_event else [ATTRIBUTES_MARK, message_id])


def _rendered(
    environment: str,
    user_identities: dict[str, str] | None,
    mpid: int | None,
    user_attributes: dict[str, Any] | None,
    events: list[dict[str, Any]],
    request_id: str | None,
) -> dict[str, Any]:
    """A batch's JSON object, its members in the Events API's order, the empty ones left out
    (a user named by mpid alone has no ``user_identities``: the Events API's are optional)."""
    out: dict[str, Any] = {"environment": environment}
    if user_identities:
        out["user_identities"] = user_identities
    if mpid is not None:
        out["mpid"] = mpid
    if user_attributes:
        out["user_attributes"] = user_attributes
    if events:
        out["events"] = events
    if request_id is not None:
        out["source_request_id"] = request_id
    return out


def pack(encoded: Sequence[bytes]) -> Iterator[slice]:
    """Consecutive runs of encoded batches whose JSON array fits one request."""
    start, body_bytes = 0, 2
    for index, raw in enumerate(encoded):
        count = index - start
        if count and (
            count == limits.BATCHES_PER_REQUEST or body_bytes + 1 + len(raw) > limits.REQUEST_BYTES
        ):
            yield slice(start, index)
            start, body_bytes = index, 2
        body_bytes += len(raw) + (1 if index > start else 0)
    if start < len(encoded):
        yield slice(start, len(encoded))


def headers(connection: Connection) -> dict[str, str]:
    """Headers of every Events API request: JSON both ways, Basic auth, our User-Agent."""
    return {
        "Authorization": connection.authorization,
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": f"mapwire/{__version__}",
    }


def build(
    items: Sequence[PreparedItem], connection: Connection, now_ms: int | None = None
) -> list[OutboundRequest]:
    """Every item, a batch of its own, in as few bulk requests as the limits allow, in
    order: events older than 30 days (at ``now_ms``, default now) to
    ``/bulkevents/historical``, the rest to ``/bulkevents`` (see ``historical``), a user's
    items never before one of theirs queued earlier (``historical.runs``)."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    return [
        request
        for path, run in historical.runs(items, now)
        for request in _build(run, connection, path)
    ]


def _build(
    items: Sequence[PreparedItem], connection: Connection, path: str
) -> list[OutboundRequest]:
    import httpx  # here, not at the top: importing the plugin stays cheap

    environment = connection.environment
    encoded = [_alone(item, environment) for item in items]
    url = _url(connection.base_url, path)
    return [
        OutboundRequest(
            request=httpx.Request(
                "POST",
                url,
                content=b"[" + b",".join(encoded[span]) + b"]",
                headers=headers(connection),
            ),
            items=list(items[span]),
            endpoint=path,
        )
        for span in pack(encoded)
    ]


def _alone(item: PreparedItem, environment: str) -> bytes:
    """The encoded batch of ``item`` alone: rendered at intake when it was prepared ahead."""
    if isinstance(item, AheadItem) and item.encoded is not None:
        return item.encoded
    return encode(lone_batch(item.body, environment))


@functools.lru_cache(maxsize=32)
def _url(base_url: str, path: str) -> httpx.URL:
    """The parsed URL of ``path`` under ``base_url``: parsed once, not once per request (a
    request copies it)."""
    import httpx

    return httpx.URL(f"{base_url}{path}")


def _entry_bytes(name: str, value: Any) -> int:
    """Bytes of one ``"name":value`` member of a JSON object."""
    return size(name) + 1 + size(value)


def _members_bytes(entries: dict[str, int]) -> int:
    """Bytes of the members of a JSON object, with the commas between them."""
    return sum(entries.values()) + max(0, len(entries) - 1)
