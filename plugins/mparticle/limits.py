"""mParticle's documented Events API limits, as data.

Sizes are counted in bytes of compact UTF-8 JSON, and a documented "KB" is read as 1,000
bytes: the smaller reading, so a body within our limit is within mParticle's whichever
reading the Events API applies. Name and value lengths are counted in characters (code
points), as the documentation states them.
"""

from __future__ import annotations

from typing import Final

#: Batches per ``POST /v2/bulkevents`` body: "no more than 100 batches".
BATCHES_PER_REQUEST: Final = 100
#: Bytes per request body, for ``/events`` and ``/bulkevents`` alike (256 KB).
REQUEST_BYTES: Final = 256_000
#: Bytes per batch; one batch carries one user (128 KB).
BATCH_BYTES: Final = 128_000
#: Default throughput: "variable but defaults to 270 batches per second".
BATCHES_PER_SECOND: Final = 270.0

#: Characters in an event name (and a screen name, which is an event name to mParticle).
EVENT_NAME_CHARS: Final = 256
#: Unique custom attributes on one event.
EVENT_ATTRIBUTES: Final = 100
#: Characters in an attribute name, for event and user attributes.
ATTRIBUTE_NAME_CHARS: Final = 256
#: Characters in an attribute value, for event and user attributes.
ATTRIBUTE_VALUE_CHARS: Final = 4096
#: User attributes set by one batch.
USER_ATTRIBUTES: Final = 100
#: Entries in one list-valued user attribute.
USER_ATTRIBUTE_LIST_ENTRIES: Final = 1000
#: Characters in one entry of a list-valued user attribute.
USER_ATTRIBUTE_LIST_ENTRY_CHARS: Final = 512

#: Below this a ``timestamp_unixtime_ms`` looks like seconds (10**11 ms is March 1973).
MIN_TIMESTAMP_MS: Final = 10**11
#: From this a ``timestamp_unixtime_ms`` looks like microseconds (10**14 ms is year 5138).
MAX_TIMESTAMP_MS: Final = 10**14

#: Retry-After values above this (seconds) are capped.
MAX_RETRY_AFTER_SECONDS: Final = 3600
