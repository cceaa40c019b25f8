"""Fixtures for the mParticle plugin tests: the vendor's files as validators, and builders.

The vendor files are kept in the repository, under ``tests/vendor/mparticle`` (see
``contract_specs.VENDOR_DIR``). Without them these tests cannot say anything, so a missing
folder fails the run with a message rather than skipping it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from contract_specs import VENDOR_DIR
from jsonschema import Draft3Validator, Draft7Validator, Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT3, DRAFT7

from mapwire import Action, PreparedItem
from mapwire.plugins.mparticle.destination import MParticle
from mapwire.plugins.mparticle.sources import load_schema

sys.path.insert(0, str(Path(__file__).parent))  # mparticle_payloads, for the tests

VENDOR = VENDOR_DIR / "mparticle"

#: Credentials no message, repr or log may ever contain.
API_KEY = "key-SENTINEL-41c9"
API_SECRET = "secret-SENTINEL-9d27e"


def _vendor_dir() -> Path:
    if not (VENDOR / "eventsapi.schema.json").is_file():
        pytest.fail(
            f"mParticle vendor files not found in {VENDOR}; they are part of the "
            "repository (tests/vendor/mparticle, listed in tests/vendor/SOURCES.md)",
            pytrace=False,
        )
    return VENDOR


@pytest.fixture(scope="session")
def vendor() -> Path:
    """The folder of mParticle's own files."""
    return _vendor_dir()


@pytest.fixture(scope="session")
def load_vendor(vendor: Path) -> Callable[[str], Any]:
    """Parse one vendor JSON file, by its path under the vendor folder."""

    def load(name: str) -> Any:
        return json.loads((vendor / name).read_text("utf-8"))

    return load


@pytest.fixture(scope="session")
def batch_validator(load_vendor: Callable[[str], Any]) -> Draft7Validator:
    """mParticle's Events API batch schema, with format checking (its ``ip`` needs it)."""
    return Draft7Validator(
        load_vendor("eventsapi.schema.json"), format_checker=Draft7Validator.FORMAT_CHECKER
    )


@pytest.fixture(scope="session")
def bulk_validator(load_vendor: Callable[[str], Any]) -> Draft7Validator:
    """mParticle's bulk schema; its items ``$ref`` the batch schema by ``$id``."""
    batch = load_vendor("eventsapi.schema.json")
    registry: Registry[Any] = Registry().with_resource(batch["$id"], DRAFT7.create_resource(batch))
    return Draft7Validator(
        load_vendor("eventsapi.bulk.schema.json"),
        registry=registry,
        format_checker=Draft7Validator.FORMAT_CHECKER,
    )


@pytest.fixture(scope="session")
def firehose_validator(vendor: Path) -> Callable[[str], Draft3Validator]:
    """A Draft 3 validator for one Firehose class, every schema's URN id registered."""
    resources = []
    for path in sorted((vendor / "firehose" / "schema").glob("*_schema.json")):
        schema = json.loads(path.read_text("utf-8"))
        if "id" in schema:
            resources.append((schema["id"], DRAFT3.create_resource(schema)))
    registry: Registry[Any] = Registry().with_resources(resources)

    def validator(class_name: str) -> Draft3Validator:
        path = vendor / "firehose" / "schema" / f"{class_name}_schema.json"
        return Draft3Validator(
            json.loads(path.read_text("utf-8")),
            registry=registry,
            format_checker=Draft3Validator.FORMAT_CHECKER,
        )

    return validator


@pytest.fixture(scope="session")
def source_validator() -> Callable[[str], Draft202012Validator]:
    """A validator for one of our input schemas, by source name."""

    def validator(name: str) -> Draft202012Validator:
        return Draft202012Validator(load_schema(name))

    return validator


@pytest.fixture(scope="session")
def destination() -> MParticle:
    return MParticle()


@pytest.fixture
def settings() -> dict[str, Any]:
    return {"api_key": API_KEY, "api_secret": API_SECRET}


@pytest.fixture(scope="session")
def prepare(destination: MParticle) -> Callable[..., PreparedItem]:
    """``prepare("custom_event", user="u1", event_name=...)``: one prepared item.

    ``user`` fills ``user_identities.customer_id`` unless ``user_identities`` is given;
    ``oversize`` is the destination's policy for fields over a limit.
    """

    def build(
        action: str, *, user: str = "u1", oversize: str = "truncate", **payload: Any
    ) -> PreparedItem:
        payload.setdefault("user_identities", {"customer_id": user})
        return destination.prepare(Action("mparticle", action, payload), {"oversize": oversize})

    return build


@pytest.fixture(scope="session")
def no_secret() -> Callable[[object], None]:
    """``no_secret(thing)`` fails if the key or secret shows in ``str``/``repr`` of it."""

    def check(thing: object) -> None:
        for text in (str(thing), repr(thing)):
            assert API_SECRET not in text
            assert API_KEY not in text

    return check
