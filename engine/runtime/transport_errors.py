"""What went wrong when a request could not reach the vendor, in words fit for logs and
dead letters: the kind of failure, never the URL, headers or body."""

from __future__ import annotations

import httpx


def describe_transport_error(exc: httpx.TransportError) -> str:
    """A reason for a failed send that names the kind of failure, never the URL or headers."""
    kinds = (
        (httpx.ConnectTimeout, "connect timeout"),
        (httpx.ReadTimeout, "read timeout"),
        (httpx.WriteTimeout, "write timeout"),
        (httpx.PoolTimeout, "connection pool timeout"),
        (httpx.ConnectError, "connection failed"),
        (httpx.RemoteProtocolError, "connection closed by the destination"),
        (httpx.ReadError, "read error"),
        (httpx.WriteError, "write error"),
        (httpx.ProxyError, "proxy error"),
        (httpx.UnsupportedProtocol, "unsupported protocol"),
    )
    for cls, text in kinds:
        if isinstance(exc, cls):
            return text
    return f"transport error ({type(exc).__name__})"
