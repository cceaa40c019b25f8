"""Items prepared at intake (``prepare_ahead``) and restored at delivery: each one's batch
as it goes out, ready to send.

Every item goes out as a batch of its own (``requests``: its ``source_request_id`` then
depends on the item alone, so a resent item is deduplicated by mParticle). The item's
batch is therefore rendered once, at intake, for the connection's environment
(``requests.lone_batch``, exactly as delivery would), and the wire keeps beside it what
sending needs without reading it: the item's size and repairs, its user (``user_key``,
as canonical JSON) and its event's timestamp (the historical split keeps each
user's order). ``restore`` gives an ``AheadItem``; ``requests.build`` sends its
``encoded`` batch as is: nothing at delivery reads the batch back.

The wire: ``mp4 truncate <environment> ``, then the JSON ``[size, repairs, user,
stamp]``, a newline and the batch. A wire of an older form (``mp1``; ``mp2``, whose user
was its identities and mpid together; ``mp3``, which also kept the batch's message id,
read by nothing) or of other settings restores to None: delivery prepares that item from
its action, as before.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from mapwire import PreparedItem

from .actions import ItemBody
from .wire import encode

#: The form and the ``oversize`` policy of the wire (only the default one is prepared ahead).
HEAD = b"mp4 truncate "


@dataclass(slots=True)
class AheadItem(PreparedItem):
    """A ``PreparedItem`` restored from its wire: ``encoded`` is its batch alone, ``body``
    stays None (nothing at delivery needs it)."""

    #: the user, as ``user_text`` writes it
    user: str = ""
    #: the event's ``timestamp_unixtime_ms``, None if it has none (or is no event)
    stamp: int | float | None = None


def user_parts(identities: Mapping[str, Any], mpid: Any) -> tuple[str, Any] | None:
    """Who a batch is about, as its items are ordered (``MParticle.ordering_key``) and
    kept in order across endpoints (``user_key``): its ``customer_id`` (the identity
    mParticle resolves a profile by first), else its mpid (the profile itself), else all
    its identities (any order); None when it names no one."""
    customer = identities.get("customer_id")
    if customer is not None:
        return ("customer_id", customer)
    if mpid is not None:
        return ("mpid", mpid)
    return ("user", sorted(identities.items())) if identities else None


def user_key(body: ItemBody) -> tuple[Any, ...]:
    """Identifies the user of a rendered item (``user_parts``)."""
    return user_parts(body.get("user_identities") or {}, body.get("mpid")) or ("user", [])


def user_text(body: ItemBody) -> str:
    """``user_key`` as canonical JSON: equal for items of one user, whatever their form."""
    return orjson.dumps(user_key(body)).decode()


@functools.cache
def head(environment: str) -> bytes:
    """What the wire of an item prepared for ``environment`` starts with (built once per
    environment: every claimed item is checked against it)."""
    return HEAD + environment.encode() + b" "


def wire_for(item: PreparedItem, batch: bytes, environment: str) -> bytes:
    """The wire of ``item`` (its ``body`` an ``ItemBody``) whose batch alone is ``batch``."""
    body = item.body
    event = body.get("event")
    stamp = None if event is None else event["data"].get("timestamp_unixtime_ms")
    meta = [item.size, item.repairs, user_text(body), stamp]
    return head(environment) + encode(meta) + b"\n" + batch


def restore(wire: bytes, environment: str, key: Any) -> AheadItem | None:
    """The item ``wire_for`` wrote for ``environment``, else None (also for a wire cut
    short of its batch: delivery then prepares the item from its action)."""
    start = head(environment)
    if not wire.startswith(start):
        return None
    # Sliced straight from the wire (no copy of its tail first): this runs for every item
    # delivered. ``wire_for`` writes no newline in the meta, so the first one ends it.
    end = wire.find(b"\n", len(start))
    if end < 0 or end + 1 == len(wire):
        return None
    meta, batch = wire[len(start) : end], wire[end + 1 :]
    size, repairs, user, stamp = orjson.loads(meta)
    # Positional, in the fields' order (key, body, size, route, encoded, repairs, user,
    # stamp): cheaper than keywords; ``test_mparticle_build_reference`` checks it.
    return AheadItem(key, None, size, "", batch, repairs, user, stamp)


def user_of(item: PreparedItem) -> str:
    """The item's user, as ``user_text`` writes it (kept by an item prepared ahead)."""
    return item.user if isinstance(item, AheadItem) else user_text(item.body)
