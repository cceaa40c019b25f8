"""The HTTP requests a destination would send for some actions, built by the destination
plugin's own ``prepare`` and ``build_requests`` (as delivery does) and never sent.

Secrets are masked before anything leaves this module: every header that carries
credentials by its name (``Authorization`` and the like) or holds a secret setting's value,
and every secret value in the URL, a header or the body.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..contracts.actions import Action
from ..contracts.destination import Destination
from ..contracts.errors import MapwireError, PermanentDeliveryError
from ..runtime.redaction import Redactor

MASK = "[masked]"
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "x-auth-token"}
)
CREDENTIAL_WORDS = ("secret", "token", "password", "signature", "key")
PLACEHOLDER = "playground-"
"""Prefix of the made-up value each required destination setting gets without a config."""


def placeholder_settings(destination: Destination) -> dict[str, Any]:
    """Settings to build requests with when no config names an account: each required
    setting a made-up string (the rest take the plugin's defaults)."""
    required = destination.settings_schema.get("required", [])
    return {name: f"{PLACEHOLDER}{name.replace('_', '-')}" for name in required}


def _masked_header(name: str, value: str, redact: Redactor) -> str:
    lowered = name.lower()
    if lowered in CREDENTIAL_HEADERS or any(word in lowered for word in CREDENTIAL_WORDS):
        return MASK
    cleaned = redact(value)
    return MASK if cleaned != value else value


def _body_text(content: bytes, encoding: str) -> str:
    if encoding == "gzip":
        content = gzip.decompress(content)
    text = content.decode("utf-8", errors="replace")
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def build_vendor_requests(
    destination: Destination, actions: Sequence[Action], settings: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(requests, rejected): each request as ``{method, url, headers, body, items, text}``
    with secrets masked; each action ``prepare`` refused as ``{index, action, reason}``."""
    redact = Redactor([str(settings.get(k, "")) for k in destination.secret_settings])
    prepared = []
    rejected = []
    for index, action in enumerate(actions):
        try:
            prepared.append(destination.prepare(action, settings, key=index))
        except PermanentDeliveryError as exc:
            rejected.append({"index": index, "action": action.action, "reason": redact(exc.reason)})
        except MapwireError as exc:
            rejected.append({"index": index, "action": action.action, "reason": redact(str(exc))})
    if not prepared:
        return [], rejected
    out = []
    for sent in destination.build_requests(prepared, settings):
        request = sent.request
        request.read()
        headers = [
            [name, _masked_header(name, value, redact)]
            for name, value in request.headers.multi_items()
        ]
        encoding = request.headers.get("content-encoding", "").lower()
        body = redact(_body_text(request.content, encoding)) if request.content else ""
        url = redact(str(request.url))
        head = "\n".join(f"{name}: {value}" for name, value in headers)
        out.append(
            {
                "method": request.method,
                "url": url,
                "headers": headers,
                "body": body,
                "items": [item.key for item in sent.items],
                "text": f"{request.method} {url}\n{head}\n\n{body}".rstrip(),
            }
        )
    return out, rejected
