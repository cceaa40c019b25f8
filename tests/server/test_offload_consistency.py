"""A heavy body is mapped by the helper process with the config it loaded from the file:
when that differs from the serving process's (an edit not reloaded), the helper refuses the
body (503, sent again) instead of answering 2xx with a config that would drop it; and a
request verified for a connection that a reload has since disabled is 503 too."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import pytest
from server_helpers import sink_flows, write_config

from mapwire.contracts.endpoint import Documents, Endpoint
from mapwire.contracts.errors import IntakeUnavailable
from mapwire.runtime.config import load_config
from mapwire.runtime.process import Runtime
from mapwire.runtime.registry import get_registry
from mapwire.server import offload
from mapwire.server.queueing import parts_for


def test_the_helper_refuses_a_body_when_its_config_differs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secrets: None
) -> None:
    monkeypatch.chdir(tmp_path)
    running = load_config(write_config(tmp_path, sink_flows()))
    flows = sink_flows()
    flows[0]["enabled"] = False  # the file edited: the events connection off
    edited = load_config(write_config(tmp_path, flows))
    assert offload.connections_signature(running) != offload.connections_signature(edited)
    helper = object.__new__(offload._Helper)
    helper.config = edited
    helper.signature = offload.connections_signature(edited)
    monkeypatch.setattr(offload, "_helper", helper)
    refused = offload._handle(
        "/mparticle/events", b"{}", None, offload.connections_signature(running)
    )
    assert isinstance(refused, offload._Refused)
    error = refused.error()
    assert isinstance(error, IntakeUnavailable) and error.code == "offload_config_differs"


def test_a_request_for_a_connection_no_longer_enabled_is_sent_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secrets: None
) -> None:
    monkeypatch.chdir(tmp_path)
    flows = sink_flows()
    config = load_config(write_config(tmp_path, flows))
    runtime = Runtime(config)
    try:
        name = config.connections[0].name
        source = next(iter(config.connections[0].plan.sources))
        found = [Documents(source, [json.loads("{}")])]
        assert parts_for(runtime.pipeline, found, [name])  # enabled: its parts
        disabled = dataclasses.replace(
            config,
            connections=tuple(
                dataclasses.replace(c, enabled=False) if c.name == name else c
                for c in config.connections
            ),
        )
        runtime.pipeline.config = disabled
        with pytest.raises(IntakeUnavailable) as refused:
            parts_for(runtime.pipeline, found, [name])
        assert refused.value.code == "connection_changed"
    finally:
        runtime.close()


def test_a_config_file_the_helper_cannot_load_refuses_heavy_bodies_with_a_reason(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    secrets: None,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The file broken after the server loaded it: the helper starts without a config,
    says why once in the log (no traceback), and answers each heavy body 503 (sent again)
    until the file is fixed, instead of a stopped helper for every body."""
    monkeypatch.chdir(tmp_path)
    path = write_config(tmp_path, sink_flows())
    running = load_config(path)
    path.write_text(
        path.read_text().replace('"flow": "mparticle-events-to-customerio"', '"flow": 7')
    )
    helper = offload.Offload(running)
    try:
        for _ in range(2):
            with pytest.raises(IntakeUnavailable) as refused:
                asyncio.run(helper.handle(_endpoint("/mparticle/events"), b"{}", None))
            assert refused.value.code == "offload_config_invalid"
    finally:
        helper.close()
    err = capfd.readouterr().err
    assert "Traceback" not in err
    assert err.count("offload_config_invalid") == 1


def _endpoint(path: str) -> Endpoint:
    return next(e for e in get_registry().endpoints().values() if e.path == path)


def test_the_helper_loads_the_config_file_again_once_it_is_fixed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secrets: None
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write_config(tmp_path, sink_flows())
    running = load_config(path)
    good = path.read_text()
    path.write_text(good.replace('"flow": "mparticle-events-to-customerio"', '"flow": 7'))
    monkeypatch.setattr(offload, "RETRY_LOAD", 0.0)
    monkeypatch.setattr(offload, "tap_in_thread", lambda *args: None)
    for name, value in (("_helper", None), ("_files", ("", "")), ("_failed_at", None)):
        monkeypatch.setattr(offload, name, value)
    offload._start(str(path), "", "info")
    expected = offload.connections_signature(running)
    refused = offload._handle("/mparticle/events", b"[]", None, expected)
    assert isinstance(refused, offload._Refused) and refused.code == "offload_config_invalid"
    path.write_text(good)
    handled = offload._handle("/mparticle/events", b"[]", None, expected)
    assert isinstance(handled, offload.Handled)
    assert offload._helper is not None
    offload._helper.runtime.close()
