"""What ``mapwire tap`` is sent about one mapped document: its records, filtered and masked.

Records (one JSON object per line), in order for each document a connection mapped:

* ``{"type": "document", "connection", "source", "document"}``: the document as received;
* ``{"type": "action", "connection", "rule", "destination", "action", "payload"}``: each
  action it became, with the mapping rule that produced it;
* ``{"type": "skipped", "connection", "reasons": {reason: count}}``: items it skipped;
* ``{"type": "failed", "connection", "rule", "field", "code", "message"}``: items that
  failed to map or that the destination would refuse (kept as ``mapping`` dead letters;
  the message never quotes a value).

Secrets are always masked (``[masked]``): the value of every key named like a credential
(``runtime.config_secrets.is_credential``: secret, token, password, api key,
authorization, signature ...), and every string holding a secret of the config (a
destination's secret settings, ``server.auth``, credential-like ``source:`` settings).
With ``redact`` the values of keys that look like personal data (``personal``: email,
phone, name parts, address, IP, birthday, location, identities, identifiers, advertising
ids ...) become ``***``, every scalar under them too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import orjson

from ..runtime.config import Config
from ..runtime.config_secrets import is_credential, secret_keys
from ..runtime.redaction import Redactor
from ..runtime.submissions import Mapped

MASK = "[masked]"
REDACTED = "***"
#: Parts of a key's words run together (``emailaddress``, ``firstname``) that mean personal data.
PERSONAL_PARTS = (
    "email",
    "phone",
    "address",
    "firstname",
    "lastname",
    "fullname",
    "surname",
    "username",
    "displayname",
    "givenname",
    "familyname",
    "middlename",
    "birth",
    "postal",
    "postcode",
    "zipcode",
    "street",
    "identit",
    "identifier",
    "customerid",
    "userid",
    "mpid",
    "latitude",
    "longitude",
    "advertising",
)
#: Whole words of a key that mean personal data.
PERSONAL_WORDS = frozenset(
    {"ip", "zip", "dob", "ssn", "city", "mobile", "lat", "lng", "lon", "idfa", "idfv", "gaid"}
)
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=4096)
def personal(key: str) -> bool:
    """Whether a key names personal data (``$FirstName``, ``ip_address``, ``email`` ...)."""
    words = [w for w in _NOT_ALNUM.split(_CAMEL.sub(r"\1 \2", key).lower()) if w]
    joined = "".join(words)
    return any(w in PERSONAL_WORDS for w in words) or any(p in joined for p in PERSONAL_PARTS)


def config_secrets(config: Config, secret_settings: Mapping[str, Sequence[str]]) -> list[str]:
    """Every secret value of the config (``secret_keys``, the rule the config's warnings
    follow): each connection's destination settings its destination declares secret
    (``secret_settings`` by destination name) or named like a credential, its ``source:``
    settings any destination declares secret or named so, and ``server.auth``'s."""
    every = {name for names in secret_settings.values() for name in names}
    found: list[str] = []
    for conn in config.connections:
        named = secret_settings.get(conn.plan.destination, ())
        found += [str(conn.destination[k]) for k in secret_keys(conn.destination, named)]
        found += [str(conn.source[k]) for k in secret_keys(conn.source, every)]
    found += [str(config.server.auth[k]) for k in secret_keys(config.server.auth)]
    return found


class Masker:
    """Copies documents and payloads with secrets masked and, if ``redact``, personal data."""

    def __init__(self, secrets: Redactor, *, redact: bool) -> None:
        self.secrets = secrets
        self.redact = redact

    def __call__(self, value: Any, hiding: bool = False) -> Any:
        if isinstance(value, dict):
            return {k: self._entry(str(k), v, hiding) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v, hiding) for v in value]
        if hiding and value is not None and not isinstance(value, bool):
            return REDACTED
        if isinstance(value, str) and self.secrets(value) != value:
            return MASK
        return value

    def _entry(self, key: str, value: Any, hiding: bool) -> Any:
        if value is not None and value != "" and is_credential(key):
            return MASK
        return self(value, hiding or (self.redact and personal(key)))


def records(mapped: Mapped, *, rule: str | None, mask: Masker) -> list[bytes]:
    """The JSON lines of one mapped document; with ``rule``, only its actions and failures
    (and the document, if any is left)."""
    actions, failures = mapped.actions, mapped.failures
    if rule is not None:
        actions = [a for a in actions if a.rule == rule]
        failures = [f for f in failures if f.rule == rule]
        if not actions and not failures:
            return []
    name, skipped = mapped.connection, mapped.skipped
    out: list[dict[str, Any]] = [
        {
            "type": "document",
            "connection": name,
            "source": mapped.source,
            "document": mask(mapped.document),
        }
    ]
    out += [
        {
            "type": "action",
            "connection": name,
            "rule": a.rule,
            "destination": a.destination,
            "action": a.action,
            "payload": mask(a.payload),
        }
        for a in actions
    ]
    if skipped and rule is None:
        out.append({"type": "skipped", "connection": name, "reasons": dict(skipped)})
    out += [
        {
            "type": "failed",
            "connection": name,
            "rule": f.rule,
            "field": f.field,
            "code": f.code,
            "message": f.message,
        }
        for f in failures
    ]
    return [orjson.dumps(r, default=str) + b"\n" for r in out]
