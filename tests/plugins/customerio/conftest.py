"""Fixtures for the Customer.io plugin tests: the vendor's own OpenAPI documents and a checker
that holds every request we build to Customer.io's Track API description.

The vendor files are kept in the repository, under ``tests/vendor/customerio`` (see
``contract_specs.VENDOR_DIR``). A missing file fails the test that needs it, with the path it
looked for; it never skips.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from contract_specs import VENDOR_DIR
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from mapwire import Action, PreparedItem
from mapwire.plugins.customerio.destination import CustomerIO
from mapwire.plugins.customerio.ulid import is_ulid

CUSTOMERIO_DIR = VENDOR_DIR / "customerio"
TRACK_URN = "urn:customerio:track-api"

API_KEY = "sk_SENTINEL_2f9c1d"
BASE_SETTINGS: dict[str, Any] = {"site_id": "site-123", "api_key": API_KEY}


def vendor_document(name: str) -> Any:
    """Load ``tests/vendor/customerio/<name>``; fail with the expected path if absent."""
    path = CUSTOMERIO_DIR / name
    if not path.is_file():
        pytest.fail(
            f"vendor file not found: {path}. The vendor files are part of the repository "
            "(tests/vendor/customerio, listed in tests/vendor/SOURCES.md).",
            pytrace=False,
        )
    return json.loads(path.read_text("utf-8"))


def _pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


class TrackSpec:
    """Customer.io's Track API OpenAPI 3.1 document, used to check outgoing requests."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.registry: Registry[Any] = Registry().with_resource(
            TRACK_URN, DRAFT202012.create_resource(document)
        )
        self.servers = {server["url"] for server in document["servers"]}
        self.templates = [(self._template(path), path) for path in document["paths"]]
        self.format_checker = FormatChecker()
        for name in ("ULID", "ulid"):  # the document's own format names for the dedup id
            self.format_checker.checks(name)(
                lambda value: not isinstance(value, str) or is_ulid(value)
            )

    @staticmethod
    def _template(path: str) -> re.Pattern[str]:
        segments = ["[^/]+" if s.startswith("{") else re.escape(s) for s in path.split("/")]
        return re.compile("/".join(segments))

    def validator(self, *pointer: str) -> Draft202012Validator:
        ref = {"$ref": f"{TRACK_URN}#{_pointer(*pointer)}"}
        return Draft202012Validator(ref, registry=self.registry, format_checker=self.format_checker)

    def body_errors(self, path: str, method: str, body: Any) -> list[str]:
        pointer = ("paths", path, method, "requestBody", "content", "application/json", "schema")
        return [e.message for e in self.validator(*pointer).iter_errors(body)]

    def check(self, request: httpx.Request) -> tuple[str, str]:
        """Assert ``request`` matches one documented operation; return (path template, method)."""
        origin = f"{request.url.scheme}://{request.url.host}"
        assert origin in self.servers, f"{origin} is not a Track API server"
        raw_path = request.url.raw_path.decode("ascii")
        assert "?" not in raw_path, "no Track operation we use takes a query string"
        matches = [path for pattern, path in self.templates if pattern.fullmatch(raw_path)]
        assert len(matches) == 1, f"{request.method} {raw_path} matches {matches}"
        template, method = matches[0], request.method.lower()
        operation = self.document["paths"][template].get(method)
        assert operation is not None, f"{template} has no {request.method} operation"
        assert request.headers["authorization"].startswith("Basic ")
        if "requestBody" not in operation:
            assert request.content == b"", f"{request.method} {template} takes no body"
            return template, method
        assert request.headers["content-type"] == "application/json"
        errors = self.body_errors(template, method, json.loads(request.content))
        assert not errors, f"{request.method} {template}: {errors}"
        return template, method


@pytest.fixture(scope="session")
def track_spec() -> TrackSpec:
    return TrackSpec(vendor_document("track-api.openapi.json"))


@pytest.fixture(scope="session")
def webhook_document() -> Any:
    return vendor_document("reporting-webhooks.openapi.json")


@pytest.fixture(scope="session")
def cio() -> CustomerIO:
    return CustomerIO()


@pytest.fixture
def prepare(cio: CustomerIO) -> Callable[..., PreparedItem]:
    """``prepare(action_name, payload, **settings)`` with the base credentials."""

    def run(name: str, payload: dict[str, Any], **settings: Any) -> PreparedItem:
        return cio.prepare(Action("customerio", name, payload), {**BASE_SETTINGS, **settings})

    return run


@pytest.fixture
def settings() -> dict[str, Any]:
    """Destination settings with a sentinel API key that must never leak."""
    return dict(BASE_SETTINGS)
