"""The deliverers' client (``runtime/vendor_client.py``): its ``send`` goes straight to the
transport when httpx's layers would do nothing, and gives what httpx's own ``send`` gives
(the answer, its request, its elapsed time, where a redirect would go, the log line, the
exceptions); anything those layers would act on takes httpx's ``send``. Against a real
loopback server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from scripted_server import ScriptedServer, answer_seen

from mapwire.runtime.http1 import make_transport
from mapwire.runtime.vendor_client import LEAN, VendorClient, has_lean_parts

LIMITS = httpx.Limits(max_connections=8, max_keepalive_connections=8)
PATHS = ["/plain", "/chunked", "/gzip", "/until-close", "/interim", "/wording", "/redirect"]


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as running:
        yield running


@pytest.fixture
def layers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each request httpx's own layers handled (its auth step, the first of them)."""
    seen: list[str] = []
    handle = httpx.AsyncClient._send_handling_auth

    async def spy(self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any) -> Any:
        seen.append(request.url.path)
        return await handle(self, request, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "_send_handling_auth", spy)
    return seen


def answer(client_type: type[httpx.AsyncClient], url: str, choice: str) -> tuple[Any, ...]:
    async def run() -> tuple[Any, ...]:
        transport = make_transport(LIMITS, choice)
        async with client_type(
            transport=transport, timeout=7.0, default_encoding="iso-8859-1"
        ) as client:
            request = httpx.Request("POST", url, content=b'{"a": 1}', headers={"X-Key": "k"})
            response = await client.send(request)
            next_request = response.next_request
            return (
                *answer_seen(response),
                response.encoding,
                response.is_closed,
                response.request is request,
                response.elapsed.total_seconds() > 0,
                request.extensions["timeout"],
                None if next_request is None else str(next_request.url),
            )

    return asyncio.run(run())


def test_the_lean_send_is_available_with_this_httpx() -> None:
    assert LEAN


class _Client:
    def _set_timeout(self) -> None: ...
    def _transport_for_url(self) -> None: ...
    def _build_redirect_request(self) -> None: ...


class _StreamTakingStart:
    def __init__(self, stream: Any, response: Any, start: float) -> None: ...


class _StreamTakingATimer:  # httpx 0.27's
    def __init__(self, stream: Any, response: Any, timer: Any) -> None: ...


def test_an_httpx_without_the_parts_as_called_takes_its_own_send() -> None:
    assert has_lean_parts(_Client, _StreamTakingStart)
    assert not has_lean_parts(_Client, _StreamTakingATimer)
    assert not has_lean_parts(object, _StreamTakingStart)


@pytest.mark.parametrize("choice", ["auto", "httpx"])
def test_an_answer_that_fails_to_read_is_closed_and_frees_its_connection(
    server: ScriptedServer, choice: str
) -> None:
    """A body that cannot be decoded fails the send; its connection goes back to the pool
    (one connection only: a leak would leave the next send waiting for the pool)."""

    async def run() -> int:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        transport = make_transport(limits, choice)
        async with VendorClient(transport=transport, timeout=2.0) as client:
            with pytest.raises(httpx.DecodingError):
                await client.send(httpx.Request("POST", server.url("/bad-gzip"), content=b"x"))
            response = await client.send(httpx.Request("POST", server.url("/plain"), content=b"x"))
            return response.status_code

    assert asyncio.run(run()) == 200


@pytest.mark.parametrize("choice", ["auto", "httpx"])
@pytest.mark.parametrize("path", PATHS)
def test_it_answers_as_httpx_own_send_does(
    server: ScriptedServer, layers: list[str], path: str, choice: str
) -> None:
    ours = answer(VendorClient, server.url(path), choice)
    assert layers == [], "sent straight to the transport"
    theirs = answer(httpx.AsyncClient, server.url(path), choice)
    assert layers == [path]
    assert ours == theirs
    if path == "/redirect":
        assert ours[0] == 302 and ours[-1] == server.url("/plain")


def test_it_logs_the_line_httpx_logs(
    server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="httpx"):
        answer(VendorClient, server.url("/plain"), "auto")
        answer(httpx.AsyncClient, server.url("/plain"), "auto")
    ours, theirs = (r.getMessage() for r in caplog.records if r.name == "httpx")
    assert ours == theirs
    assert ours.startswith(f'HTTP Request: POST {server.url("/plain")} "HTTP/1.1 200')


def test_a_failed_exchange_raises_httpx_error_with_its_request() -> None:
    async def run() -> httpx.ConnectError:
        async with VendorClient(transport=make_transport(LIMITS), timeout=2.0) as client:
            request = httpx.Request("POST", "http://127.0.0.1:9/", content=b"x")
            with pytest.raises(httpx.ConnectError) as failed:
                await client.send(request)
            assert failed.value.request is request
            return failed.value

    asyncio.run(run())


def test_a_closed_client_refuses_to_send(server: ScriptedServer) -> None:
    async def run() -> None:
        client = VendorClient(transport=make_transport(LIMITS))
        await client.aclose()
        with pytest.raises(RuntimeError, match="client has been closed"):
            await client.send(httpx.Request("POST", server.url("/plain"), content=b"x"))

    asyncio.run(run())


async def _hook(_: Any) -> None:
    return None


@pytest.mark.parametrize(
    ("client_options", "send_options", "url_userinfo"),
    [
        pytest.param({}, {"stream": True}, False, id="streamed"),
        pytest.param({}, {"auth": ("user", "secret")}, False, id="auth-asked"),
        pytest.param({"auth": ("user", "secret")}, {}, False, id="client-auth"),
        pytest.param({}, {"follow_redirects": True}, False, id="redirects-asked"),
        pytest.param({"follow_redirects": True}, {}, False, id="client-redirects"),
        pytest.param({"event_hooks": {"request": [_hook]}}, {}, False, id="request-hook"),
        pytest.param({"event_hooks": {"response": [_hook]}}, {}, False, id="response-hook"),
        pytest.param({}, {}, True, id="url-credentials"),
    ],
)
def test_what_httpx_layers_would_act_on_takes_its_send(
    server: ScriptedServer,
    layers: list[str],
    client_options: dict[str, Any],
    send_options: dict[str, Any],
    url_userinfo: bool,
) -> None:
    url = server.url("/plain")
    if url_userinfo:
        url = url.replace("http://", "http://user:secret@")

    async def run() -> int:
        async with VendorClient(transport=make_transport(LIMITS), **client_options) as client:
            response = await client.send(httpx.Request("POST", url, content=b"x"), **send_options)
            await response.aread()
            await response.aclose()
            return response.status_code

    assert asyncio.run(run()) == 200
    assert layers == ["/plain"]
