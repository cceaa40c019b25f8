"""Pure batching: prepared items into Events API batches, batches into bulk requests.

Consecutive items of one user (same ``user_identities`` and ``mpid``) share a batch, in
order, while the batch stays within 128 KB and 100 user attributes; the batches are then
packed, in order, into ``POST {base}/bulkevents`` bodies of at most 100 batches and
256 KB. Every request goes to ``/bulkevents``, even with one batch: one endpoint and one
code path whatever the traffic, and it accepts the same single batch ``/events`` would.
Events older than 30 days are batched apart and go to ``/bulkevents/historical``.
User attributes belong to a batch, not to an event: an item's attributes join its user's
batch (a later value for the same name wins) and apply to that batch as a whole.

A batch whose items all carry a ``source_message_id`` gets a ``source_request_id``
derived from those ids, so rebuilding the same items after a failed attempt yields the
same id and mParticle drops the copy it may already have taken. A batch with an item
that has no id gets none: an id derived from content alone could drop a real repeat.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mapwire import OutboundRequest, PreparedItem, __version__

from . import historical, limits
from .actions import ItemBody
from .ahead import AheadItem, body_of, user_key, user_of
from .settings import Connection
from .wire import encode, request_uuid, size

if TYPE_CHECKING:  # imported where it is used: importing the plugin stays cheap
    import httpx

#: A placeholder as long as any ``source_request_id`` (a UUID), for size estimates.
_REQUEST_ID_PLACEHOLDER = "0" * 36


@dataclass(slots=True)
class Batch:
    """One user's consecutive items as one Events API batch, with a running size bound."""

    key: tuple[Any, ...]
    user_identities: dict[str, str]
    mpid: int | None
    envelope_bytes: int
    items: list[PreparedItem] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    event_bytes: int = 0
    user_attributes: dict[str, Any] = field(default_factory=dict)
    attribute_bytes: dict[str, int] = field(default_factory=dict)

    @classmethod
    def open(cls, item: PreparedItem, environment: str) -> Batch:
        """A batch holding ``item`` alone."""
        body = item.body
        envelope: dict[str, Any] = {
            "environment": environment,
            "user_identities": body["user_identities"],
            "mpid": body.get("mpid", 0),
            "user_attributes": {},
            "events": [],
            "source_request_id": _REQUEST_ID_PLACEHOLDER,
        }
        batch = cls(user_key(body), body["user_identities"], body.get("mpid"), size(envelope))
        batch.add(item)
        return batch

    def estimate(self) -> int:
        """An upper bound of the batch's encoded size in bytes."""
        events = self.event_bytes + max(0, len(self.events) - 1)
        return self.envelope_bytes + events + _members_bytes(self.attribute_bytes)

    def accepts(self, item: PreparedItem) -> bool:
        """Whether ``item`` is this batch's user and still fits within the batch limits."""
        if user_key(item.body) != self.key:
            return False
        grown = self.estimate()
        if "event" in item.body:
            grown += item.size + (1 if self.events else 0)
        attributes = item.body.get("user_attributes", {})
        if attributes:
            merged = self.attribute_bytes | {k: _entry_bytes(k, v) for k, v in attributes.items()}
            if len(merged) > limits.USER_ATTRIBUTES:
                return False
            grown += _members_bytes(merged) - _members_bytes(self.attribute_bytes)
        return grown <= limits.BATCH_BYTES

    def add(self, item: PreparedItem) -> None:
        """Append ``item``: its event after the others, its attributes over earlier ones."""
        self.items.append(item)
        event = item.body.get("event")
        if event is not None:
            self.events.append(event)
            self.event_bytes += item.size
        for name, value in item.body.get("user_attributes", {}).items():
            self.user_attributes[name] = value
            self.attribute_bytes[name] = _entry_bytes(name, value)

    def source_request_id(self) -> str | None:
        """The id derived from the items' message ids, or None if an item has none."""
        ids = [item.body.get("source_message_id") for item in self.items]
        if any(i is None for i in ids):
            return None
        return request_uuid(str(i) for i in ids)

    def render(self, environment: str) -> dict[str, Any]:
        """The batch as the Events API wants it."""
        return _rendered(
            environment,
            self.user_identities,
            self.mpid,
            self.user_attributes,
            self.events,
            self.source_request_id(),
        )


def lone_batch(body: ItemBody, environment: str) -> dict[str, Any]:
    """What ``Batch.open`` of an item with ``body`` renders, without the size estimate
    (``prepare`` checked the item alone fits): its batch when no other item joins it."""
    event = body.get("event")
    message_id = body.get("source_message_id")
    return _rendered(
        environment,
        body["user_identities"],
        body.get("mpid"),
        body.get("user_attributes"),
        [] if event is None else [event],
        None if message_id is None else request_uuid([str(message_id)]),
    )


def _rendered(
    environment: str,
    user_identities: dict[str, str],
    mpid: int | None,
    user_attributes: dict[str, Any] | None,
    events: list[dict[str, Any]],
    request_id: str | None,
) -> dict[str, Any]:
    """A batch's JSON object, its members in the Events API's order, the empty ones left out."""
    out: dict[str, Any] = {"environment": environment, "user_identities": user_identities}
    if mpid is not None:
        out["mpid"] = mpid
    if user_attributes:
        out["user_attributes"] = user_attributes
    if events:
        out["events"] = events
    if request_id is not None:
        out["source_request_id"] = request_id
    return out


def group(items: Sequence[PreparedItem], environment: str) -> list[Batch]:
    """Consecutive items of one user into batches, each within the batch limits."""
    batches: list[Batch] = []
    for item in items:
        if batches and batches[-1].accepts(item):
            batches[-1].add(item)
        else:
            batches.append(Batch.open(item, environment))
    return batches


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
    """Every item in as few bulk requests as the limits allow, in order: events older than
    30 days (at ``now_ms``, default now) to ``/bulkevents/historical``, the rest to
    ``/bulkevents`` (see ``historical``), a user's items never before one of theirs
    queued earlier (``historical.runs``)."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    # Each item's user read once (``user_of``, inlined): both the split and batching use it.
    users = [item.user if isinstance(item, AheadItem) else user_of(item) for item in items]
    return [
        request
        for path, run, run_users in historical.runs(items, users, now)
        for request in _build(run, run_users, connection, path)
    ]


def _build(
    items: Sequence[PreparedItem], users: Sequence[str], connection: Connection, path: str
) -> list[OutboundRequest]:
    import httpx  # here, not at the top: importing the plugin stays cheap

    environment = connection.environment
    encoded: list[bytes] = []
    # Where each encoded batch's items start in ``items`` (and, last, where they end):
    # batches hold consecutive items, in order, so a request carries a slice of ``items``.
    starts: list[int] = []
    count, start = len(items), 0
    while start < count:
        user, end = users[start], start + 1
        while end < count and users[end] == user:  # the user's consecutive items
            end += 1
        first = items[start]
        if end - start == 1 and isinstance(first, AheadItem) and first.encoded is not None:
            encoded.append(first.encoded)  # its batch alone, rendered at intake
            starts.append(start)
            start = end
            continue
        run = items[start:end]
        for item in run:
            if isinstance(item, AheadItem) and item.body is None:
                item.body = body_of(item)
        for batch in group(run, environment):
            encoded.append(encode(batch.render(environment)))
            starts.append(start)
            start += len(batch.items)
    starts.append(count)
    url = _url(connection.base_url, path)
    requests: list[OutboundRequest] = []
    for span in pack(encoded):
        body = b"[" + b",".join(encoded[span]) + b"]"
        request = httpx.Request("POST", url, content=body, headers=headers(connection))
        carried = list(items[starts[span.start] : starts[span.stop]])
        requests.append(OutboundRequest(request=request, items=carried, endpoint=path))
    return requests


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
