"""The local sink: deliver to NDJSON files instead of a vendor (``transport: sink:DIR``).

The connection's destination plugin still builds its real requests (batching, auth,
limits); this transport records each one as a line of ``DIR/<host>.ndjson`` and answers
like a vendor that accepted everything, so every flow runs end to end on a machine with
no vendor account. Hook implementations only.
"""

from __future__ import annotations

from typing import Any

from mapwire import hookimpl


@hookimpl(trylast=True)
def make_transport(url: str, options: dict[str, Any]) -> Any:
    """An ``httpx.AsyncBaseTransport`` for ``sink:DIR`` URLs; None for others."""
    if not url.startswith("sink:"):
        return None
    from .transport import SinkTransport

    return SinkTransport(url[len("sink:") :] or ".", options)
