"""Connections that never finish their request headers are closed after a deadline.

Every request must have sent all its headers within ``header_timeout`` seconds of its
first byte (of the connection being opened, for the first request); otherwise the server
answers 408 and closes the connection. uvicorn closes idle keep-alive connections
(``timeout_keep_alive``) and answers 503 past ``limit_concurrency``, but waits without limit
for headers. ``guarded_protocol`` picks the protocol that keeps the deadline: mapwire's own
over httptools (``http_protocol``), or uvicorn's pure-Python h11 one with
``HeaderDeadline`` mixed in. Slow bodies are bounded separately, where the body is read.
"""

from __future__ import annotations

import asyncio
import importlib.util
from typing import Any

from .http_exchange import HEADER_TIMEOUT, stamped


class HeaderDeadline(asyncio.Protocol):
    """Mixed in before uvicorn's protocol: the deadline on each request's headers."""

    header_timeout: float = 10.0
    _deadline: asyncio.TimerHandle | None = None
    _guarded: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._guarded = transport
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._waiting_for_headers():
            if self._deadline is None:
                self._arm()
        else:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._guarded = None
        super().connection_lost(exc)

    def _waiting_for_headers(self) -> bool:
        """No request in progress: none yet, or the last one was answered."""
        cycle: Any = getattr(self, "cycle", None)
        return cycle is None or bool(cycle.response_complete)

    def _arm(self) -> None:
        self._disarm()
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(self.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        transport = self._guarded
        if transport is None or transport.is_closing() or not self._waiting_for_headers():
            return
        write = getattr(transport, "write", None)  # uvloop's transports are not WriteTransports
        if write is not None:
            state: Any = getattr(self, "server_state", None)
            write(stamped(HEADER_TIMEOUT, state.default_headers if state else ()))
        transport.close()


def guarded_protocol(header_timeout: float, http: str = "auto") -> type[asyncio.Protocol]:
    """The HTTP protocol for ``http`` (``httptools``, ``h11`` or ``auto``: httptools when
    importable) with a ``header_timeout`` deadline on request headers: mapwire's own over
    httptools (``http_protocol``, which keeps the deadline itself), else uvicorn's h11 one
    with ``HeaderDeadline``."""
    if http == "httptools" or (http == "auto" and importlib.util.find_spec("httptools")):
        from .http_protocol import HttpProtocol

        return type("TimedHTTPProtocol", (HttpProtocol,), {"header_timeout": header_timeout})
    from uvicorn.protocols.http.h11_impl import H11Protocol

    protocol: type[asyncio.Protocol] = type(
        "GuardedHTTPProtocol", (HeaderDeadline, H11Protocol), {"header_timeout": header_timeout}
    )
    return protocol
