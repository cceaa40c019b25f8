"""Settings, capabilities and registration of the mParticle plugin."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from mapwire import ConfigError, PreparedItem
from mapwire.plugins.mparticle import limits
from mapwire.plugins.mparticle.destination import MParticle
from mapwire.plugins.mparticle.settings import PODS, resolve
from mapwire.runtime.registry import build_registry

Prepare = Callable[..., PreparedItem]


@pytest.mark.parametrize(
    ("extra", "url", "environment"),
    [
        pytest.param({}, "https://s2s.us1.mparticle.com/v2/bulkevents", "production", id="default"),
        pytest.param(
            {"pod": "us1"}, "https://s2s.us1.mparticle.com/v2/bulkevents", "production", id="us1"
        ),
        pytest.param(
            {"pod": "us2"}, "https://s2s.us2.mparticle.com/v2/bulkevents", "production", id="us2"
        ),
        pytest.param(
            {"pod": "eu1"}, "https://s2s.eu1.mparticle.com/v2/bulkevents", "production", id="eu1"
        ),
        pytest.param(
            {"pod": "au1"}, "https://s2s.au1.mparticle.com/v2/bulkevents", "production", id="au1"
        ),
        pytest.param(
            {"pod": "eu1", "base_url": "http://127.0.0.1:9/proxy/v2/"},
            "http://127.0.0.1:9/proxy/v2/bulkevents",
            "production",
            id="base-url-wins",
        ),
        pytest.param(
            {"environment": "development"},
            "https://s2s.us1.mparticle.com/v2/bulkevents",
            "development",
            id="development",
        ),
    ],
)
def test_pod_base_url_and_environment(
    destination: MParticle,
    settings: dict[str, Any],
    prepare: Prepare,
    extra: dict[str, Any],
    url: str,
    environment: str,
) -> None:
    (sent,) = destination.build_requests(
        [prepare("custom_event", event_name="e")], settings | extra
    )
    assert str(sent.request.url) == url
    assert json.loads(sent.request.content)[0]["environment"] == environment


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        pytest.param(
            {"api_secret": None}, "api_secret: expected string, got null", id="secret-null"
        ),
        pytest.param(
            {"api_secret": 987654321}, "api_secret: expected string, got integer", id="secret-int"
        ),
        pytest.param({"api_key": ""}, "api_key: 0 characters; at least 1", id="key-empty"),
        pytest.param({"pod": "us3"}, "pod: not one of us1, us2, eu1, au1", id="unknown-pod"),
        pytest.param({"environment": "staging"}, "environment: not one of production", id="env"),
        pytest.param(
            {"base_url": "s2s.example.com"},
            "base_url: does not match the pattern",
            id="base-url-no-scheme",
        ),
        pytest.param({"apikey": "k"}, "unexpected field 'apikey'", id="typo"),
    ],
)
def test_wrong_settings_are_a_config_error_without_values(
    settings: dict[str, Any],
    no_secret: Callable[[object], None],
    change: dict[str, Any],
    fragment: str,
) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(settings | change)
    message = str(caught.value)
    assert fragment in message
    no_secret(caught.value)
    quoted = [str(v) for v in change.values() if v is not None and len(str(v)) > 2]
    assert not [v for v in quoted if v in message], "a setting's value reached the message"


def test_missing_credentials_are_named() -> None:
    with pytest.raises(ConfigError, match="missing required fields api_key, api_secret"):
        resolve({})


def test_connection_repr_hides_the_credentials(
    settings: dict[str, Any], no_secret: Callable[[object], None]
) -> None:
    connection = resolve(settings)
    no_secret(connection)
    assert connection.base_url == PODS["us1"]


def test_settings_schema_marks_the_secret(destination: MParticle) -> None:
    schema = dict(destination.settings_schema)
    Draft202012Validator.check_schema(schema)
    assert destination.secret_settings == ("api_secret",)
    assert schema["properties"]["api_secret"]["writeOnly"] is True
    assert schema["required"] == ["api_key", "api_secret"]
    assert schema["properties"]["pod"]["enum"] == list(PODS)
    assert all(spec.get("description") for spec in schema["properties"].values())


def test_capabilities_are_the_documented_limits(destination: MParticle) -> None:
    capabilities = destination.capabilities
    assert capabilities.max_items_per_request == 100
    assert capabilities.max_request_bytes == limits.REQUEST_BYTES == 256_000
    assert capabilities.max_item_bytes == limits.BATCH_BYTES == 128_000
    assert capabilities.requests_per_second * capabilities.max_items_per_request == 270
    assert capabilities.regions == ("us1", "us2", "eu1", "au1")


def test_registered_through_the_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAPWIRE_LOAD_PLUGINS", "mparticle")
    registry = build_registry(strict=True)
    assert [p.name for p in registry.plugins] == ["mparticle"]
    destinations = registry.destinations()
    assert list(destinations) == ["mparticle"]
    assert isinstance(destinations["mparticle"], MParticle)
    assert sorted(registry.sources()) == [
        "mparticle.events_api_batch",
        "mparticle.firehose_audience_membership",
        "mparticle.firehose_audience_subscription",
        "mparticle.firehose_dsr",
        "mparticle.firehose_event_processing",
        "mparticle.webhook_output",
    ]
