"""The client every vendor request goes through: httpx's ``AsyncClient``, less the layers
that do nothing for a deliverer.

A destination builds each request itself (its URL, its headers, its credentials in
them), and a deliverer sends it once: no client auth, no redirects followed, no event
hooks, no cookies. httpx's ``send`` still runs its layers for each request: an auth
flow (a generator, for no auth), the redirect loop, the hooks' loops, the history, a
cookie jar written and never read. Those cost about 60-90 µs of CPU a request here, up to
0.9 µs of every action of a destination that takes 100 a request. ``VendorClient`` keeps
no jar, and its ``send`` goes straight to the transport when those layers would do
nothing: the same timeouts (the client's, on the request), the same mounts (a proxy from
the environment), the same response (its request, its elapsed time, its encoding,
``next_request`` for a redirect, its body read), the same log line, the same exceptions.
Anything else (a stream, auth or redirects asked for, hooks, credentials in the URL, an
httpx without the parts this relies on) takes httpx's own ``send``.
"""

from __future__ import annotations

import inspect
import logging
import time
from typing import Any

import httpx
from httpx import USE_CLIENT_DEFAULT


def has_lean_parts(client: type, bound_stream: type) -> bool:
    """Whether this httpx has what the lean ``send`` calls, as it calls them: the client's
    helpers, and a response stream wrapper taking its ``start`` time (httpx 0.28 on; 0.27's
    takes a timer)."""
    helpers = ("_set_timeout", "_transport_for_url", "_build_redirect_request")
    if not all(hasattr(client, name) for name in helpers):
        return False
    try:
        return "start" in inspect.signature(bound_stream).parameters
    except (TypeError, ValueError):  # no signature to read: not one this was written for
        return False


try:  # the parts of httpx's client its own send uses, read from it (as 0.28 and 0.29 have)
    from httpx._client import BoundAsyncStream, ClientState
    from httpx._exceptions import request_context
except ImportError:  # pragma: no cover - another httpx: its own send, always
    LEAN = False
else:
    LEAN = has_lean_parts(httpx.AsyncClient, BoundAsyncStream)

_LOG = logging.getLogger("httpx")  # httpx's own: the line it logs for every request


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps nothing (``VendorClient``)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class VendorClient(httpx.AsyncClient):
    """httpx's client for vendor requests, without a cookie jar, and sending straight to
    its transport (see the module docstring).

    The vendors' APIs authenticate each request by its headers, and a request built apart
    from the client, as every destination builds theirs, is sent without the client's
    cookies anyway: the jar was only ever written, at half the client's CPU per request."""

    @property  # type: ignore[override, unused-ignore]
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        return None

    async def send(
        self,
        request: httpx.Request,
        *,
        stream: bool = False,
        auth: Any = USE_CLIENT_DEFAULT,
        follow_redirects: Any = USE_CLIENT_DEFAULT,
    ) -> httpx.Response:
        if not self._lean(request, stream, auth, follow_redirects):
            return await super().send(
                request, stream=stream, auth=auth, follow_redirects=follow_redirects
            )
        self._state = ClientState.OPENED
        self._set_timeout(request)
        transport = self._transport_for_url(request.url)
        start = time.perf_counter()
        with request_context(request=request):
            response = await transport.handle_async_request(request)
        try:  # whatever fails from here on, the answer is closed (its connection freed)
            assert isinstance(response.stream, httpx.AsyncByteStream)  # as httpx's send does
            response.request = request
            response.stream = BoundAsyncStream(response.stream, response=response, start=start)
            response.default_encoding = self._default_encoding
            if _LOG.isEnabledFor(logging.INFO):
                _LOG.info(
                    'HTTP Request: %s %s "%s %d %s"',
                    request.method,
                    request.url,
                    response.http_version,
                    response.status_code,
                    response.reason_phrase,
                )
            if response.has_redirect_location:  # not followed: where it would go
                response.next_request = self._build_redirect_request(request, response)
            await response.aread()
        except BaseException:
            await response.aclose()
            raise
        return response

    def _lean(self, request: httpx.Request, stream: bool, auth: Any, follow: Any) -> bool:
        """Whether httpx's layers would do nothing for this request but send it."""
        return (
            LEAN
            and not stream
            and auth is USE_CLIENT_DEFAULT
            and follow is USE_CLIENT_DEFAULT
            and self._auth is None
            and not self.follow_redirects
            and not self._event_hooks["request"]
            and not self._event_hooks["response"]
            and self._state is not ClientState.CLOSED
            and not request.url.userinfo
            and isinstance(request.stream, httpx.AsyncByteStream)
        )


_NO_COOKIES = _NoCookies()
