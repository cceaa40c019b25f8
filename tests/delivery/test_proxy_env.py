"""Vendor requests and the proxy environment variables: a URL a proxy from the environment
applies to goes through that proxy (httpx's own transport), any other keeps the deliverers'
transport, and a plugin's transport takes every request with no proxy in front of it.
Real servers on loopback: a forwarding HTTP proxy written here and a vendor stand-in."""

from __future__ import annotations

import asyncio
import os
import socket
import traceback
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from delivery_helpers import batches, cio_connection, write_config, write_ndjson
from scripted_server import LoopbackServer, ScriptedServer

from mapwire.contracts.errors import ConfigError
from mapwire.runtime import env_proxies
from mapwire.runtime.config import load_config
from mapwire.runtime.env_proxies import environment_proxies
from mapwire.runtime.http1 import Http1Transport, VendorClient, vendor_client
from mapwire.runtime.process import Runtime, client_for
from mapwire.runtime.registry import get_registry
from mapwire.runtime.transport_errors import describe_transport_error

PASSWORD = "s3cr3t-Pa55"


class ForwardingProxy(LoopbackServer):
    """A forwarding HTTP proxy on loopback in a thread of its own: it takes absolute-form
    requests (``POST http://host:port/path HTTP/1.1``), records each one's head, sends it
    in origin form to its target on a connection of its own and relays the answer."""

    def __init__(self) -> None:
        super().__init__()
        self.heads: list[bytes] = []

    def url(self, userinfo: str = "") -> str:
        return f"http://{userinfo}127.0.0.1:{self.port}"

    @property
    def targets(self) -> list[str]:
        """The request lines it was asked to forward, e.g. ``POST http://... HTTP/1.1``."""
        return [head.split(b"\r\n", 1)[0].decode() for head in self.heads]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                body = await _body(reader, head)
                self.heads.append(head)
                writer.write(await _forward(head, body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _forward(head: bytes, body: bytes) -> bytes:
    """The target's whole answer to the request ``head`` + ``body`` (absolute form)."""
    line, rest = head.split(b"\r\n", 1)
    method, target, version = line.split(b" ")
    url = urllib.parse.urlsplit(target.decode())
    path = url.path + (f"?{url.query}" if url.query else "")
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(b"%s %s %s\r\n%s%s" % (method, path.encode(), version, rest, body))
        answer = await reader.readuntil(b"\r\n\r\n")
        return answer + await _body(reader, answer, until_close=True)
    finally:
        writer.close()


async def _body(reader: asyncio.StreamReader, head: bytes, *, until_close: bool = False) -> bytes:
    """The body after ``head``: its Content-Length's bytes, else none (a request) or all
    until the connection closes (an answer, ``until_close``)."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return await reader.readexactly(int(value))
    return await reader.read() if until_close else b""


def _run(client: VendorClient, url: str) -> httpx.Response:
    async def send() -> httpx.Response:
        async with client:
            response = await client.post(url, content=b'{"hello": "vendor"}')
            await response.aread()
            return response

    return asyncio.run(send())


def _transport_for(client: httpx.AsyncClient, url: str) -> httpx.AsyncBaseTransport:
    return client._transport_for_url(httpx.URL(url))


@pytest.fixture(autouse=True)
def _no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever proxy the machine running the tests has, each test sets its own."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)


@pytest.fixture
def proxy() -> Iterator[ForwardingProxy]:
    with ForwardingProxy() as running:
        yield running


@pytest.fixture
def vendor() -> Iterator[ScriptedServer]:
    with ScriptedServer() as running:
        yield running


@pytest.mark.parametrize("choice", ["auto", "httpx"])
def test_a_request_reaches_the_vendor_through_the_proxy(
    proxy: ForwardingProxy, vendor: ScriptedServer, monkeypatch: pytest.MonkeyPatch, choice: str
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url(f"mapwire:{PASSWORD}@"))
    url = f"http://127.0.0.1:{vendor.port}/plain"
    client = vendor_client(choice, 5.0)
    assert type(_transport_for(client, url)) is httpx.AsyncHTTPTransport

    response = _run(client, url)

    assert response.status_code == 200 and response.headers["X-Echo"] == "yes"
    assert response.content == b'{"hello": "vendor"}'
    assert proxy.targets == [f"POST {url} HTTP/1.1"]
    assert b"proxy-authorization: basic " in proxy.heads[0].lower()  # the credentials, as auth
    assert len(vendor.requests) == 1


@pytest.mark.parametrize(
    ("proxy_name", "no_proxy_name"), [("HTTP_PROXY", "NO_PROXY"), ("http_proxy", "no_proxy")]
)
def test_a_no_proxy_host_goes_direct(
    proxy: ForwardingProxy,
    vendor: ScriptedServer,
    monkeypatch: pytest.MonkeyPatch,
    proxy_name: str,
    no_proxy_name: str,
) -> None:
    monkeypatch.setenv(proxy_name, proxy.url())
    monkeypatch.setenv(no_proxy_name, "vendor.example, 127.0.0.1")
    url = f"http://127.0.0.1:{vendor.port}/plain"
    client = vendor_client("auto", 5.0)
    assert type(_transport_for(client, url)) is Http1Transport
    assert type(_transport_for(client, "http://elsewhere.example/")) is httpx.AsyncHTTPTransport

    response = _run(client, url)

    assert response.status_code == 200 and response.content == b'{"hello": "vendor"}'
    assert proxy.targets == []
    assert len(vendor.requests) == 1


def test_without_proxy_variables_the_lean_transport_sends_everything() -> None:
    client = vendor_client("auto", 5.0)

    assert client._mounts == {}  # nothing to look through before each request
    for url in ("http://127.0.0.1:9/x", "https://vendor.example/v2/batch"):
        assert type(_transport_for(client, url)) is Http1Transport
    asyncio.run(client.aclose())


def test_a_plugin_transport_takes_every_url_even_behind_a_proxy(
    proxy: ForwardingProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, proxy.url())
    sink = get_registry().make_transport(f"sink:{tmp_path}")
    client = vendor_client("auto", 5.0, sink)
    urls = ["http://vendor.example/a", "https://vendor.example/b"]
    assert all(_transport_for(client, url) is sink for url in urls)

    async def send() -> None:
        async with client:
            for url in urls:
                assert (await client.post(url, content=b"{}")).status_code == 200

    asyncio.run(send())

    assert len((tmp_path / "vendor.example.ndjson").read_text().splitlines()) == 2
    assert proxy.targets == []


def test_a_refusing_proxy_leaks_no_password(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as closed:  # a port nothing listens on once this closes
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://mapwire:{PASSWORD}@127.0.0.1:{port}")
    client = vendor_client("auto", 5.0)
    url = "http://127.0.0.1:9/v2/batch"
    assert type(_transport_for(client, url)) is httpx.AsyncHTTPTransport  # the proxy's

    with pytest.raises(httpx.TransportError) as failed:
        _run(client, url)

    reason = describe_transport_error(failed.value)  # what a dead letter or a log says
    assert reason == "connection failed"
    assert PASSWORD not in reason
    assert PASSWORD not in "".join(traceback.format_exception(failed.value))


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, {}),
        ({"HTTPS_PROXY": "proxy.corp:3128"}, {"https://": "http://proxy.corp:3128"}),
        (
            {"HTTP_PROXY": "http://a:1", "https_proxy": "http://b:2", "ALL_PROXY": "http://c:3"},
            {"http://": "http://a:1", "https://": "http://b:2", "all://": "http://c:3"},
        ),
        (
            {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "localhost,.internal,corp.example,::1"},
            {
                "https://": "http://p:1",
                "all://localhost": None,
                "all://*.internal": None,
                "all://*corp.example": None,
                "all://[::1]": None,
            },
        ),
        (
            {"ALL_PROXY": "http://p:1", "NO_PROXY": "10.0.0.1, http://vendor.example"},
            {"all://": "http://p:1", "all://10.0.0.1": None, "http://vendor.example": None},
        ),
        ({"HTTP_PROXY": "http://p:1", "NO_PROXY": "a.example,*"}, {}),
        ({"NO_PROXY": "a.example"}, {}),  # no proxy: nothing to mount
    ],
)
def test_the_proxies_are_read_as_httpx_reads_them(
    env: dict[str, str], expected: dict[str, str | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The patterns httpx itself derives from these variables (for a client given no
    transport of its own), written out."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    assert environment_proxies() == expected


@pytest.mark.usefixtures("secrets")
def test_delivery_goes_through_the_proxy(
    proxy: ForwardingProxy,
    customerio_server: Any,
    tmp_path: Path,
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url())
    config = write_config(tmp_path, [cio_connection(customerio_server)])
    runtime = Runtime(load_config(config))
    try:
        [conn] = runtime.config.connections
        client = client_for(conn, runtime.registry, 5.0)
        assert type(_transport_for(client, customerio_server.origin)) is httpx.AsyncHTTPTransport
        assert type(client._transport) is Http1Transport
        asyncio.run(client.aclose())
    finally:
        runtime.close()
    path = write_ndjson(tmp_path / "in.ndjson", batches(5, 2))

    result = cli("send", "--config", str(config), "--connection", "cio", str(path))

    assert result.exit_code == 0, result.output
    assert len(customerio_server.accepted_items("POST /api/v2/batch")) == 5 * 3
    batch_url = f"POST {customerio_server.origin}/api/v2/batch HTTP/1.1"
    assert proxy.targets and set(proxy.targets) == {batch_url}


def test_a_no_proxy_entry_httpx_cannot_read_is_left_out_not_fatal(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """httpx itself refuses to build a client for these; delivery goes on without them,
    and each is warned about once, however many clients read the variables after it."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,fd00::/8,[::1],corp.example")
    monkeypatch.setattr(env_proxies, "_warned", set())  # as a new process

    with caplog.at_level("WARNING", logger="mapwire.delivery"):
        found = environment_proxies()
        client = vendor_client("auto", 5.0)
        vendor_client("auto", 5.0)

    assert found == {
        "https://": "http://proxy.corp:3128",
        "all://localhost": None,
        "all://*corp.example": None,
    }
    assert type(_transport_for(client, "https://track.customer.io/x")) is httpx.AsyncHTTPTransport
    assert type(_transport_for(client, "https://a.corp.example/x")) is Http1Transport
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 2
    assert "fd00::/8" in warned[0] and "[::1]" in warned[1]


@pytest.mark.parametrize(
    "value",
    [f"http://svc:pa#{PASSWORD}@proxy.corp:3128", f"ftp://svc:{PASSWORD}@proxy.corp:21"],
    ids=["unencoded-password", "unknown-scheme"],
)
def test_a_proxy_url_that_cannot_be_used_names_the_variable_never_its_value(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("https_proxy", value)

    with pytest.raises(ConfigError) as refused:
        vendor_client("auto", 5.0)

    (problem,) = refused.value.problems
    assert problem.code == "C090" and "HTTPS_PROXY" in problem.message
    shown = "".join(traceback.format_exception(refused.value))
    assert PASSWORD not in shown and "svc" not in shown and "proxy.corp" not in shown


@pytest.mark.parametrize("command", ["send", "deliver", "connect test"])
@pytest.mark.usefixtures("secrets")
def test_commands_that_deliver_refuse_an_unusable_proxy_before_they_start(
    customerio_server: Any,
    tmp_path: Path,
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", f"http://svc:pa#{PASSWORD}@proxy.corp:3128")
    config = write_config(tmp_path, [cio_connection(customerio_server)])
    path = write_ndjson(tmp_path / "in.ndjson", batches(2, 1))
    extra = [str(path)] if command == "send" else []

    result = cli(*command.split(), "--config", str(config), *extra)

    assert result.exit_code == 2, result.output
    assert "environment: C090 HTTPS_PROXY (or https_proxy) is not a proxy URL" in result.output
    assert PASSWORD not in result.output and "proxy.corp" not in result.output
    assert customerio_server.accepted_items("POST /api/v2/batch") == []
