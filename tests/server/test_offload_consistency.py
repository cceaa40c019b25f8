"""A heavy body is mapped by the helper process with the config it loaded from the file:
when that differs from the serving process's (an edit not reloaded), the helper refuses the
body (503, sent again) instead of answering 2xx with a config that would drop it; and a
request verified for a connection that a reload has since disabled is 503 too."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from server_helpers import sink_flows, write_config

from mapwire.contracts.endpoint import Documents
from mapwire.contracts.errors import IntakeUnavailable
from mapwire.runtime.config import load_config
from mapwire.runtime.process import Runtime
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
