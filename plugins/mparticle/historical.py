"""Which items go to the historical endpoint: events older than 30 days.

mParticle wants data older than 30 days on ``POST {base}/bulkevents/historical`` (same
body as ``/bulkevents``) and says ``/events`` and ``/bulkevents`` "should not be used to
upload historical data older than 30 days". The historical endpoint refuses a batch with
no events, with an event without ``timestamp_unixtime_ms``, or with an event less than
72 hours old; it does not feed outputs or audiences. So an item goes there when it carries
an event stamped more than 30 days before the send, and everything else (recent or
unstamped events, user attributes) goes to ``/bulkevents``. Items are split, not batches:
a user's old events form their own batches, so a batch never mixes the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from mapwire import PreparedItem

from .ahead import AheadItem

#: Events older than this (milliseconds before the send) go to the historical endpoint.
AGE_MS: Final = 30 * 24 * 3600 * 1000

#: The path, under the pod's base URL, of each kind of request.
RECENT_PATH: Final = "/bulkevents"
HISTORICAL_PATH: Final = "/bulkevents/historical"


def is_historical(item: PreparedItem, now_ms: int) -> bool:
    """Whether ``item`` is an event stamped more than 30 days before ``now_ms``."""
    if isinstance(item, AheadItem):  # its stamp was kept apart (None: no event, no stamp)
        stamp = item.stamp
    else:
        event = item.body.get("event")
        if event is None:
            return False
        stamp = event["data"].get("timestamp_unixtime_ms")
    return isinstance(stamp, (int, float)) and stamp < now_ms - AGE_MS


def split(
    items: Sequence[PreparedItem], now_ms: int
) -> tuple[list[PreparedItem], list[PreparedItem]]:
    """``(recent, historical)``: the items in their order, by the endpoint they go to."""
    recent: list[PreparedItem] = []
    historical: list[PreparedItem] = []
    for item in items:
        (historical if is_historical(item, now_ms) else recent).append(item)
    return recent, historical
