"""The contract an input source fulfils: the shape of what arrives and how to read it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Source:
    """An input shape mappings can name in ``source:``.

    ``schema`` is the JSON Schema of one document. ``split(parsed)`` turns one parsed body
    into documents (None: the body is one document). ``authenticate(headers, body,
    settings)`` checks a raw HTTP request (header names lower-cased, the raw body bytes)
    against the connection's settings and raises ``InputError`` (status 401/403) if it
    fails; None means the source has no authentication of its own. Where the server
    receives a source, and how it answers, is an ``Endpoint`` (``register_endpoints``).
    """

    name: str
    description: str
    schema: Mapping[str, Any]
    split: Callable[[Any], list[Any]] | None = None
    authenticate: Callable[[Mapping[str, str], bytes, Mapping[str, Any]], None] | None = None
