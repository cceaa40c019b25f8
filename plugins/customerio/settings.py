"""Connection settings for Customer.io: the JSON Schema, the regions as data, a typed reader.

One Customer.io connection serves both directions. The Track API (destination) uses HTTP
Basic ``site_id:api_key``; the reporting-webhook source uses ``webhook_signing_key`` and
``signature_tolerance_seconds``. Both keys are secrets: listed in ``SECRET_SETTINGS``, hidden
from ``repr`` and never put into a message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from mapwire import ConfigError, Problem

REGIONS: Mapping[str, str] = {
    "us": "https://track.customer.io",
    "eu": "https://track-eu.customer.io",
}
"""Track API host per region; only the subdomain differs."""

API_VERSIONS = ("v2", "v1")
OVERSIZE_POLICIES = ("truncate", "drop_field", "dead_letter")
SECRET_SETTINGS = ("api_key", "webhook_signing_key")
_BASE_URL_PATTERN = "^https?://[^/?#@]+(/[^?#]*)?$"
_BASE_URL = re.compile(_BASE_URL_PATTERN)

SETTINGS_SCHEMA: Mapping[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Customer.io connection",
    "type": "object",
    "required": ["site_id", "api_key"],
    "additionalProperties": False,
    "properties": {
        "site_id": {
            "type": "string",
            "minLength": 1,
            "description": "Track API Site ID (the Basic-auth user name).",
        },
        "api_key": {
            "type": "string",
            "minLength": 1,
            "writeOnly": True,
            "description": "Track API key (the Basic-auth password). Secret.",
        },
        "region": {
            "type": "string",
            "enum": list(REGIONS),
            "default": "us",
            "description": "Workspace region: `us` (track.customer.io) or `eu` "
            "(track-eu.customer.io). A US workspace cannot send to the EU host.",
        },
        "base_url": {
            "type": "string",
            "pattern": _BASE_URL_PATTERN,
            "description": "Overrides the region's host, e.g. a proxy or a test server "
            "(`http://127.0.0.1:8123`). No credentials in the URL.",
        },
        "api": {
            "type": "string",
            "enum": list(API_VERSIONS),
            "default": "v2",
            "description": "`v2` (default): batched `/api/v2/batch` (an event or page view "
            "over a v2 entity's 32 KB goes alone to the v1 events endpoint). `v1`: one "
            "request per action to the per-action v1 endpoints.",
        },
        "oversize": {
            "type": "string",
            "enum": list(OVERSIZE_POLICIES),
            "default": "truncate",
            "description": "A field over a Customer.io limit: `truncate` (default) cuts a "
            "string to the limit at a UTF-8 character boundary and leaves out any other "
            "value; `drop_field` leaves the field out; `dead_letter` dead-letters the item. "
            "An event name is always cut, never left out. Every repair is counted.",
        },
        "allow_message_overrides": {
            "type": "boolean",
            "default": False,
            "description": "Pass event data keys that redirect the messages an event "
            "triggers (`recipient`, `from_address`, `reply_to`). Off: they are left out "
            "and counted.",
        },
        "merge_delay_seconds": {
            "type": "number",
            "minimum": 0,
            "maximum": 3600,
            "default": 10,
            "description": "How long a merge waits after its person's earlier actions were "
            "sent: Customer.io merges into a primary person that must already exist, and "
            "applies the identify that creates it in the background. A merge is held that "
            "long when first claimed, and when claimed with an earlier action of the person "
            "(the person's actions after it wait with it), so it goes at least that long "
            "after them. 0: no wait.",
        },
        "webhook_signing_key": {
            "type": "string",
            "minLength": 1,
            "writeOnly": True,
            "description": "Reporting-webhook signing key, for the "
            "`customerio.reporting_webhook` source. Secret.",
        },
        "signature_tolerance_seconds": {
            "type": "integer",
            "minimum": 1,
            "default": 300,
            "description": "How far `X-CIO-Timestamp` may be from now, either way, before a "
            "reporting webhook is refused as stale.",
        },
    },
}


@dataclass(frozen=True)
class CioSettings:
    """Destination settings after defaults; ``base_url`` has no trailing slash."""

    site_id: str
    api_key: str = field(repr=False)
    region: str = "us"
    base_url: str = REGIONS["us"]
    api: Literal["v2", "v1"] = "v2"
    oversize: str = "truncate"
    allow_message_overrides: bool = False
    merge_delay_seconds: float = 10.0


def _problem(message: str) -> ConfigError:
    return ConfigError([Problem("customerio settings", 0, 0, "invalid_setting", message)])


def _string(settings: Mapping[str, Any], name: str, default: str | None = None) -> str:
    value = settings.get(name, default)
    if not isinstance(value, str) or not value:
        raise _problem(f"{name}: expected a non-empty string")
    return value


def _choice(
    settings: Mapping[str, Any], name: str, choices: Mapping[str, Any] | tuple[str, ...]
) -> str:
    value = _string(settings, name, SETTINGS_SCHEMA["properties"][name]["default"])
    if value not in choices:
        raise _problem(f"{name}: expected one of {', '.join(choices)}")
    return value


def read_settings(settings: Mapping[str, Any]) -> CioSettings:
    """Check ``settings`` by the rules of ``SETTINGS_SCHEMA`` and apply the defaults.

    Raises ``ConfigError`` naming the setting; values are never quoted.
    """
    unknown = sorted(set(settings) - set(SETTINGS_SCHEMA["properties"]))
    if unknown:
        raise _problem(f"unknown setting(s) {', '.join(unknown)}")
    site_id = _string(settings, "site_id")
    api_key = _string(settings, "api_key")
    region = _choice(settings, "region", REGIONS)
    api = _choice(settings, "api", API_VERSIONS)
    base_url = REGIONS[region]
    if "base_url" in settings:
        base_url = _string(settings, "base_url")
        if not _BASE_URL.fullmatch(base_url):
            raise _problem("base_url: expected http(s)://host[:port][/path] without credentials")
    if "webhook_signing_key" in settings:
        _string(settings, "webhook_signing_key")
    oversize = _choice(settings, "oversize", OVERSIZE_POLICIES)
    overrides = settings.get("allow_message_overrides", False)
    if not isinstance(overrides, bool):
        raise _problem("allow_message_overrides: expected true or false")
    delay = settings.get("merge_delay_seconds", 10)
    if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= 3600:
        raise _problem("merge_delay_seconds: expected a number of seconds from 0 to 3600")
    tolerance = settings.get("signature_tolerance_seconds", 300)
    if isinstance(tolerance, bool) or not isinstance(tolerance, int) or tolerance < 1:
        raise _problem("signature_tolerance_seconds: expected a positive integer")
    return CioSettings(
        site_id=site_id,
        api_key=api_key,
        region=region,
        base_url=base_url.rstrip("/"),
        api="v1" if api == "v1" else "v2",
        oversize=oversize,
        allow_message_overrides=overrides,
        merge_delay_seconds=float(delay),
    )
