"""The plugin as the engine sees it: registration through the entry point, lazy imports,
settings, the action contract, and the secret that must never show."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from mapwire import ConfigError, Destination, PermanentDeliveryError, Source
from mapwire.plugins import customerio
from mapwire.plugins.customerio.action_schemas import ACTIONS
from mapwire.plugins.customerio.settings import SETTINGS_SCHEMA, read_settings
from mapwire.runtime.registry import build_registry


def test_hooks_register_one_destination_and_one_source() -> None:
    found: list[Any] = []
    customerio.register_destinations(register=found.append)
    customerio.register_sources(register=found.append)
    assert [type(x).__name__ for x in found] == ["CustomerIO", "Source"]
    assert isinstance(found[0], Destination) and isinstance(found[1], Source)


def test_registered_through_the_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAPWIRE_LOAD_PLUGINS", "customerio")
    registry = build_registry(strict=True)
    assert registry.destination_owner("customerio") == "customerio"
    assert "customerio.reporting_webhook" in registry.sources()


def test_importing_the_plugin_loads_no_heavy_modules() -> None:
    code = (
        "import sys, mapwire.plugins.customerio; "
        "print(sorted(m for m in ('httpx', 'jsonschema') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- the action contract --------------------------------------------------------------------


def schema_nodes(schema: Any, where: str) -> Iterator[tuple[str, Any]]:
    yield where, schema
    for name, prop in schema.get("properties", {}).items():
        yield from schema_nodes(prop, f"{where}.{name}")


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_payload_schema_is_a_documented_contract(cio: Any, name: str) -> None:
    schema = cio.actions[name].payload_schema
    Draft202012Validator.check_schema(schema)
    assert schema["additionalProperties"] is False and schema["required"]
    for where, node in schema_nodes(schema, name):
        assert node.get("type") and node.get("description"), f"{where} needs type and description"
        if node["type"] == "object" and "properties" in node and not where.endswith("attributes"):
            assert node.get("additionalProperties") is False, f"{where} should be closed"


def test_secret_settings(cio: Any) -> None:
    assert cio.secret_settings == ("api_key", "webhook_signing_key")
    for name in cio.secret_settings:
        assert SETTINGS_SCHEMA["properties"][name]["writeOnly"] is True


# -- settings -------------------------------------------------------------------------------

SETTINGS_CASES: list[tuple[dict[str, Any], bool]] = [
    ({"site_id": "s", "api_key": "k"}, True),
    ({"site_id": "s", "api_key": "k", "region": "eu", "api": "v1"}, True),
    ({"site_id": "s", "api_key": "k", "base_url": "http://127.0.0.1:8123"}, True),
    ({"site_id": "s", "api_key": "k", "base_url": "https://proxy.example.com/cio"}, True),
    ({"site_id": "s"}, False),
    ({"site_id": "", "api_key": "k"}, False),
    ({"site_id": "s", "api_key": 5}, False),
    ({"site_id": "s", "api_key": "k", "region": "apac"}, False),
    ({"site_id": "s", "api_key": "k", "api": "v3"}, False),
    ({"site_id": "s", "api_key": "k", "base_url": "ftp://x"}, False),
    ({"site_id": "s", "api_key": "k", "base_url": "https://u:p@proxy"}, False),
    ({"site_id": "s", "api_key": "k", "regoin": "eu"}, False),
    ({"site_id": "s", "api_key": "k", "webhook_signing_key": "w"}, True),
    ({"site_id": "s", "api_key": "k", "signature_tolerance_seconds": 60}, True),
    ({"site_id": "s", "api_key": "k", "webhook_signing_key": ""}, False),
    ({"site_id": "s", "api_key": "k", "signature_tolerance_seconds": 0}, False),
    ({"site_id": "s", "api_key": "k", "signature_tolerance_seconds": "60"}, False),
    ({"site_id": "s", "api_key": "k", "signature_tolerance_seconds": True}, False),
]


@pytest.mark.parametrize(("settings", "valid"), SETTINGS_CASES, ids=repr)
def test_reader_and_schema_agree(settings: dict[str, Any], valid: bool) -> None:
    assert Draft202012Validator(SETTINGS_SCHEMA).is_valid(settings) is valid
    if valid:
        assert read_settings(settings).site_id == settings["site_id"]
    else:
        with pytest.raises(ConfigError):
            read_settings(settings)


@pytest.mark.parametrize(
    ("settings", "base_url"),
    [
        ({}, "https://track.customer.io"),
        ({"region": "us"}, "https://track.customer.io"),
        ({"region": "eu"}, "https://track-eu.customer.io"),
        ({"region": "eu", "base_url": "http://127.0.0.1:8123/"}, "http://127.0.0.1:8123"),
    ],
)
def test_regions_and_defaults(settings: dict[str, Any], base_url: str) -> None:
    cfg = read_settings({"site_id": "s", "api_key": "k", **settings})
    assert (cfg.base_url, cfg.api) == (base_url, "v2")


def test_the_api_key_never_shows(cio: Any, prepare: Any, settings: Any) -> None:
    key = settings["api_key"]
    shown = [repr(read_settings(settings)), str(read_settings(settings))]
    for bad in ({**settings, "region": key}, {**settings, "api": key}, {"api_key": key}):
        with pytest.raises(ConfigError) as caught:
            read_settings(bad)
        shown.append(str(caught.value))
    with pytest.raises(PermanentDeliveryError) as item_error:
        prepare("event", {"identifiers": {"id": key * 10}, "name": "n"})
    shown.append(str(item_error.value))
    [sent] = cio.build_requests([prepare("delete", {"identifiers": {"id": "1"}})], settings)
    shown += [repr(sent.request), repr(sent.request.headers), repr(cio.check_request(settings))]
    assert not [text for text in shown if key in text]


def test_an_account_is_a_workspace_site_id_in_its_region(cio: Any) -> None:
    """Connections with equal keys share an erasure (pending entries, forgotten state)."""
    key = cio.account_key
    assert key({"site_id": "s1", "api_key": "k1"}) == key(
        {"site_id": "s1", "api_key": "other", "region": "us", "api": "v1"}
    )
    assert key({"site_id": "s1", "api_key": "k"}) != key({"site_id": "s2", "api_key": "k"})
    assert key({"site_id": "s1", "api_key": "k"}) != key(
        {"site_id": "s1", "api_key": "k", "region": "eu"}
    )
    assert key({"api_key": "k"}) is None, "no site id: the connection shares with no other"
