"""Settings of the mParticle destination: credentials, pod and environment.

The pods are data: ``PODS`` maps each documented data-centre pod to its Events API base
URL; ``base_url`` overrides the pod for a proxy or a test server. The API secret is the
only secret setting: it is write-only in the schema, hidden from ``repr`` and never
quoted in a message.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from mapwire import ConfigError, Problem, SchemaValidator

from .validation import compile_schema, problems

#: Events API v2 base URL of each pod (the bare ``s2s.mparticle.com`` host is US1 as well).
PODS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "us1": "https://s2s.us1.mparticle.com/v2",
        "us2": "https://s2s.us2.mparticle.com/v2",
        "eu1": "https://s2s.eu1.mparticle.com/v2",
        "au1": "https://s2s.au1.mparticle.com/v2",
    }
)
DEFAULT_POD: Final = "us1"
ENVIRONMENTS: Final = ("production", "development")
DEFAULT_ENVIRONMENT: Final = "production"
SECRET_SETTINGS: Final = ("api_secret",)

OVERSIZE_POLICIES = ("truncate", "drop_field", "dead_letter")

SETTINGS_SCHEMA: Final[Mapping[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "mParticle destination settings",
    "description": "Credentials of an mParticle input (platform or custom feed) and where "
    "to send its data.",
    "type": "object",
    "properties": {
        "api_key": {
            "type": "string",
            "minLength": 1,
            "description": "Server-to-server API key of the input; the Basic auth user name.",
        },
        "api_secret": {
            "type": "string",
            "minLength": 1,
            "writeOnly": True,
            "description": "API secret of the input; the Basic auth password. Secret.",
        },
        "pod": {
            "type": "string",
            "enum": list(PODS),
            "default": DEFAULT_POD,
            "description": "Data-centre pod of the workspace; picks the Events API host.",
        },
        "base_url": {
            "type": "string",
            "pattern": "^https?://[^\\s]+$",
            "description": "Events API base URL ending in /v2; overrides pod (proxies, tests).",
        },
        "environment": {
            "type": "string",
            "enum": list(ENVIRONMENTS),
            "default": DEFAULT_ENVIRONMENT,
            "description": "Environment every batch is sent to.",
        },
        "oversize": {
            "type": "string",
            "enum": list(OVERSIZE_POLICIES),
            "default": "truncate",
            "description": "A field over an mParticle limit: `truncate` (default) cuts a "
            "string to the limit and leaves out any other value; `drop_field` leaves the "
            "field out; `dead_letter` dead-letters the item. An event name is always cut, "
            "never left out. Every repair is counted.",
        },
    },
    "required": ["api_key", "api_secret"],
    "additionalProperties": False,
}


@functools.cache
def _validator() -> SchemaValidator:
    """The settings' validator, compiled on first use: importing the destination (every
    command that lists what is installed does) compiles nothing."""
    return compile_schema(SETTINGS_SCHEMA)


@dataclass(frozen=True)
class Connection:
    """Resolved settings: where to send, to which environment, and the Basic credentials."""

    base_url: str
    environment: str
    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)

    @property
    def authorization(self) -> str:
        """The ``Authorization`` header value: HTTP Basic, key as user, secret as password."""
        token = base64.b64encode(f"{self.api_key}:{self.api_secret}".encode()).decode("ascii")
        return f"Basic {token}"


def resolve(settings: Mapping[str, Any]) -> Connection:
    """Check ``settings`` against the schema and resolve the pod; ``ConfigError`` if wrong."""
    found = problems(_validator(), dict(settings))
    if found:
        raise ConfigError(
            [Problem("destination mparticle", 1, 1, "mparticle.settings", p) for p in found]
        )
    base = settings.get("base_url") or PODS[settings.get("pod", DEFAULT_POD)]
    return Connection(
        base_url=str(base).rstrip("/"),
        environment=settings.get("environment", DEFAULT_ENVIRONMENT),
        api_key=settings["api_key"],
        api_secret=settings["api_secret"],
    )
