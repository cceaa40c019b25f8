"""Secrets written into a config file instead of referenced: a warning for each.

A config names its secrets, it does not hold them: ``{env: NAME}`` reads one from the
environment. Which settings are secrets, plugins declare (a destination's
``secret_settings``; a source's settings are declared with the destination of the same
plugin, so a source setting is a secret when any destination declares that name one),
and so does a name that says it (``is_credential``: the same rule the tap masks by).
A connection delivering into a local ``sink:`` folder calls no vendor, so its literal
keys (the bundled demo's) are not warned about. No message ever quotes a secret's value.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from ..contracts.errors import Problem
from ..language.yaml_loader import Path, Positions
from .registry import Registry

#: A secret setting given as a literal value instead of ``{env: NAME}``.
SECRET_IN_CONFIG = "C203"
#: The transport of a connection that delivers into a local folder (no vendor, no secret).
SINK_PREFIX = "sink:"
#: A setting named like a credential is a secret whatever a plugin declares (the tap masks
#: the same ones).
CREDENTIAL_KEY = re.compile(
    r"secret|token|passw|api_?key|authori[sz]ation|credential|signature|private_?key"
    r"|access_?key|signing_?key|cookie"
)


@lru_cache(maxsize=4096)
def is_credential(key: str) -> bool:
    """Whether a setting's name says it holds a credential (``api_key``, ``bearer_token``)."""
    return bool(CREDENTIAL_KEY.search(key.lower().replace("-", "_")))


def secret_keys(given: Mapping[Any, Any], declared: Iterable[str] = ()) -> list[Any]:
    """The keys of ``given`` (settings) that hold secrets: ``declared`` so (a destination's
    secret settings) or named like a credential. The one rule the config's warnings and
    the tap's masking both follow."""
    names = set(declared)
    return [k for k in given if isinstance(k, str) and (k in names or is_credential(k))]


def declared_secrets(registry: Registry, destinations: Iterable[str] | None = None) -> set[str]:
    """The settings the named destinations (every registered one if None) declare secret."""
    found = registry.destinations()
    names = found if destinations is None else destinations
    return {s for n in names if n in found for s in found[n].secret_settings}


def _is_literal(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool) and value != ""


def _env_name(*parts: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", "_".join(parts).upper()).strip("_") or "SECRET"


def _warning(positions: Positions, path: Path, what: str, env: str) -> Problem:
    message = f"{what} is a secret written in the config; secrets belong in the environment"
    found = positions.problem(path, SECRET_IN_CONFIG, message)
    hint = f"write `{{env: {env}}}` and set {env} in the environment"
    return dataclasses.replace(found, severity="warning", suggestion=hint)


def literal_secrets(
    positions: Positions,
    raw: Mapping[str, Any],
    where: Path,
    destination_secrets: Iterable[str],
    source_secrets: Iterable[str],
) -> list[Problem]:
    """A warning for each secret setting of one connection written as a literal value."""
    transport = raw.get("transport")
    if isinstance(transport, str) and transport.startswith(SINK_PREFIX):
        return []
    name = raw.get("name") if isinstance(raw.get("name"), str) else f"connection_{where[-1]}"
    out = []
    for part, secrets in (("destination", destination_secrets), ("source", source_secrets)):
        given = raw.get(part)
        if not isinstance(given, Mapping):
            continue
        for key in sorted(k for k in secret_keys(given, secrets) if _is_literal(given[k])):
            what = f"{part} setting {key!r}"
            out.append(_warning(positions, (*where, part, key), what, _env_name(str(name), key)))
    return out


def literal_auth_secrets(positions: Positions, auth: Mapping[str, Any]) -> list[Problem]:
    """A warning for each ``server.auth`` secret written as a literal value."""
    return [
        _warning(positions, ("server", "auth", k), f"server.auth.{k}", _env_name("mapwire", k))
        for k in sorted(secret_keys(auth))
        if _is_literal(auth[k])
    ]
