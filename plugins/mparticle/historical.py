"""Which items go to the historical endpoint: events older than 30 days.

mParticle wants data older than 30 days on ``POST {base}/bulkevents/historical`` (same
body as ``/bulkevents``) and says ``/events`` and ``/bulkevents`` "should not be used to
upload historical data older than 30 days". The historical endpoint refuses a batch with
no events, with an event without ``timestamp_unixtime_ms``, or with an event less than
72 hours old; it does not feed outputs or audiences. So an item goes there when it carries
an event stamped more than 30 days before the send, and everything else (recent or
unstamped events, user attributes) goes to ``/bulkevents``. Each item is a batch of its
own (``requests``), so the split is by item. Each user's items still go out in the order
they were queued (``runs``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from mapwire import PreparedItem

from .ahead import AheadItem, user_of

#: Events older than this (milliseconds before the send) go to the historical endpoint.
AGE_MS: Final = 30 * 24 * 3600 * 1000

#: The path, under the pod's base URL, of each kind of request.
RECENT_PATH: Final = "/bulkevents"
HISTORICAL_PATH: Final = "/bulkevents/historical"


def stamp_of(item: PreparedItem) -> object:
    """The event's ``timestamp_unixtime_ms`` as the item holds it; None if it has none."""
    if isinstance(item, AheadItem):  # its stamp was kept apart (None: no event, no stamp)
        return item.stamp
    event = item.body.get("event")
    return None if event is None else event["data"].get("timestamp_unixtime_ms")


def runs(items: Sequence[PreparedItem], now_ms: int) -> list[tuple[str, list[PreparedItem]]]:
    """``(path, items)`` in the order to send them: the items of each endpoint together,
    except that a user's item never goes before one of theirs queued earlier (the other
    endpoint's items gathered so far are sent first when it would). Items of different
    users may be reordered: order is kept per user (``user_of``)."""
    # Whether each item is an event stamped more than 30 days before ``now_ms``, over the
    # whole claim at once: this runs for every item sent.
    cutoff = now_ms - AGE_MS
    stamps = [item.stamp if isinstance(item, AheadItem) else stamp_of(item) for item in items]
    historical = [isinstance(stamp, (int, float)) and stamp < cutoff for stamp in stamps]
    if not any(historical):  # the usual claim: all of it to one endpoint, as it came
        return [(RECENT_PATH, list(items))] if items else []
    if all(historical):  # a backfill of old events: all of it to the other, as it came
        return [(HISTORICAL_PATH, list(items))]
    out: list[tuple[str, list[PreparedItem]]] = []
    gathered: dict[str, list[PreparedItem]] = {RECENT_PATH: [], HISTORICAL_PATH: []}
    seen: dict[str, set[str]] = {RECENT_PATH: set(), HISTORICAL_PATH: set()}
    for item, old in zip(items, historical, strict=True):
        path, other = (HISTORICAL_PATH, RECENT_PATH) if old else (RECENT_PATH, HISTORICAL_PATH)
        user = user_of(item)
        if user in seen[other]:  # an earlier item of this user waits for the other endpoint
            out.append((other, gathered[other]))
            gathered[other], seen[other] = [], set()
        gathered[path].append(item)
        seen[path].add(user)
    out.extend((path, found) for path, found in gathered.items() if found)
    return out
