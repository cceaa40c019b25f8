"""The vendors' own API descriptions, loaded as validators for the contract servers.

* Customer.io: the Track API OpenAPI 3.1 document. Request bodies are checked against the
  ``requestBody`` schema of their path and method, with JSON Schema 2020-12, a ``referencing``
  registry holding the whole document, and format checking on (``email``, plus the
  document's own ``ULID``/``ulid`` formats for the event dedup id).
* mParticle: the Events API batch schema and the bulk schema (draft-07). The bulk schema
  ``$ref``s the batch schema by its ``$id``, which is registered with ``referencing``. Format
  checking is on: without it the schema's ``ip`` (``oneOf`` IPv4/IPv6, told apart only by
  ``format``) rejects every address.

The files are copies kept in the repository, under ``tests/vendor`` (``SOURCES.md`` there says
where each comes from). :data:`VENDOR_DIR` is the one place every test finds them; a missing
file raises :class:`VendorFilesMissing` naming the path it looked for.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any, Final, NamedTuple

from jsonschema import Draft7Validator, Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator
from referencing import Registry
from referencing.jsonschema import DRAFT7, DRAFT202012

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
VENDOR_DIR: Final = REPO_ROOT / "tests" / "vendor"
"""The vendors' own files (``customerio/``, ``mparticle/``, ``jmespath-compliance/``)."""

TRACK_URN: Final = "urn:contract:customerio:track-api"
"""The base URI under which the Track API document is registered (it has no ``$id``)."""
BATCH_SCHEMA_ID: Final = "https://docs.mparticle.com/schema/mparticle.inbound.eventsapi.schema.json"

ULID_PATTERN: Final = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}", re.IGNORECASE)
"""26 Crockford base-32 characters; the first is at most 7 so the value fits 128 bits."""

DISCRIMINATORS: Final = frozenset({"type", "action", "event_type"})
"""Properties whose enum picks the branch of a vendor ``anyOf``/``oneOf``."""

MAX_MESSAGE_CHARS: Final = 300


class VendorFilesMissing(FileNotFoundError):
    """A vendor file is not where the repository layout says it must be."""


class Problem(NamedTuple):
    """One reason a document does not match its schema."""

    field: str
    """Where, as a dotted path (``identifiers.id``, ``batch[2].name``); "" is the document."""
    message: str


def vendor_file(*parts: str) -> Path:
    """The path of a vendor file under :data:`VENDOR_DIR`; raise if it is missing."""
    path = VENDOR_DIR.joinpath(*parts)
    if not path.is_file():
        raise VendorFilesMissing(
            f"vendor file not found: {path}. The vendor files are part of the repository, "
            "under tests/vendor (listed in its SOURCES.md)."
        )
    return path


def load_vendor_json(*parts: str) -> Any:
    """Parse one vendor JSON file."""
    return json.loads(vendor_file(*parts).read_text("utf-8"))


def is_ulid(value: object) -> bool:
    """True for a well-formed ULID string (either letter case, as the ULID spec allows)."""
    return isinstance(value, str) and ULID_PATTERN.fullmatch(value) is not None


def field_path(parts: Iterable[str | int]) -> str:
    """``["batch", 2, "identifiers", "id"]`` as ``batch[2].identifiers.id``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _leaves(error: ValidationError) -> Iterator[ValidationError]:
    if not error.context:
        yield error
        return
    for child in error.context:
        yield from _leaves(child)


def _branches(error: ValidationError) -> set[tuple[str | int, ...]]:
    """Every ``anyOf``/``oneOf`` branch on the way to ``error``, as schema-path prefixes."""
    path = list(error.absolute_schema_path)
    return {tuple(path[: i + 2]) for i, part in enumerate(path[:-1]) if part in ("anyOf", "oneOf")}


def explain(error: ValidationError) -> tuple[tuple[str | int, ...], str]:
    """The most useful ``(instance path, message)`` under ``error``.

    Vendor schemas list every operation as a branch of one ``anyOf``/``oneOf``, so the raw
    error is "not valid under any of the given schemas". Branches whose ``type``, ``action``
    or ``event_type`` enum already failed are not what the sender meant; the first error in
    a remaining branch is. When every branch is ruled out that way, the discriminator's
    value is what is wrong. The message never repeats the whole instance.
    """
    leaves = list(_leaves(error))
    ruled_out: dict[tuple[str | int, ...], list[ValidationError]] = {}
    for leaf in leaves:
        path = leaf.absolute_path
        if leaf.validator in ("enum", "const") and len(path) == 1 and path[0] in DISCRIMINATORS:
            branches = _branches(leaf)
            if branches:
                ruled_out.setdefault(max(branches, key=len), []).append(leaf)
    kept = [leaf for leaf in leaves if not _branches(leaf) & ruled_out.keys()]
    if ruled_out and kept:
        best = kept[0]
    elif ruled_out:
        leaf = min(ruled_out.values(), key=len)[0]  # the branch that was closest
        name = leaf.absolute_path[-1]
        return tuple(leaf.absolute_path), f"{leaf.instance!r} is not a documented {name}"
    else:
        best = error
    if best.validator in ("anyOf", "oneOf"):
        several = "is valid under each of" in best.message
        what = "more than one" if several else "none"
        return tuple(best.absolute_path), f"matches {what} of the alternatives ({best.validator})"
    return tuple(best.absolute_path), best.message


def problems_of(
    validator: Validator, instance: Any, prefix: tuple[str | int, ...] = ()
) -> list[Problem]:
    """Every top-level error of ``instance``, explained; empty when it is valid."""
    if validator.is_valid(instance):
        return []
    out = []
    for error in validator.iter_errors(instance):
        path, message = explain(error)
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[: MAX_MESSAGE_CHARS - 1] + "…"
        out.append(Problem(field_path((*prefix, *path)), message))
    return out


def _pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


class TrackSpec:
    """Customer.io's Track API description: one validator per request body."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = DRAFT202012.create_resource(document)
        self._registry: Registry[Any] = Registry().with_resource(TRACK_URN, resource)
        self._format_checker = FormatChecker()
        for name in ("ULID", "ulid"):  # the document's own format names for the dedup id
            self._format_checker.checks(name)(lambda v: not isinstance(v, str) or is_ulid(v))
        self._bodies: dict[tuple[str, str], Draft202012Validator | None] = {}
        batch = ("paths", "/api/v2/batch", "post", "requestBody", "content", "application/json")
        self.batch_item = self._validator(*batch, "schema", "properties", "batch", "items")
        """The schema of one entity inside a ``/api/v2/batch`` body."""

    def _validator(self, *pointer: str) -> Draft202012Validator:
        schema = {"$ref": f"{TRACK_URN}#{_pointer(*pointer)}"}
        return Draft202012Validator(
            schema, registry=self._registry, format_checker=self._format_checker
        )

    def body(self, method: str, template: str) -> Draft202012Validator | None:
        """The request-body validator of one operation; None when it takes no body."""
        key = (method.lower(), template)
        if key not in self._bodies:
            operation = self.document["paths"][template][key[0]]
            content = operation.get("requestBody", {}).get("content", {})
            pointer = ("paths", template, key[0], "requestBody", "content", "application/json")
            has_body = "application/json" in content
            self._bodies[key] = self._validator(*pointer, "schema") if has_body else None
        return self._bodies[key]


class EventsSpec:
    """mParticle's Events API schemas: one batch, and the bulk array of batches.

    :meth:`batch_problems` gives the same verdict as the batch schema, faster: the schema's
    ``events.items`` is a ``oneOf`` over 17 event branches, each pinning ``event_type`` to
    one value, so an event whose ``event_type`` names a branch is valid under the ``oneOf``
    exactly when it is valid under that branch. Other events go through the whole ``oneOf``.
    ``strict_batch`` and ``strict_bulk`` are the plain schemas, for checking that claim.
    """

    def __init__(self, batch_schema: dict[str, Any], bulk_schema: dict[str, Any]) -> None:
        formats = Draft7Validator.FORMAT_CHECKER
        registry: Registry[Any] = Registry().with_resource(
            batch_schema["$id"], DRAFT7.create_resource(batch_schema)
        )
        self.strict_batch = Draft7Validator(batch_schema, registry=registry, format_checker=formats)
        self.strict_bulk = Draft7Validator(bulk_schema, registry=registry, format_checker=formats)
        envelope = copy.deepcopy(batch_schema)
        events = envelope["properties"]["events"]
        items = events.pop("items")
        self._envelope = Draft7Validator(envelope, format_checker=formats)
        base = batch_schema["$id"]
        self._any_event = Draft7Validator(
            {"$ref": f"{base}#/properties/events/items"}, registry=registry, format_checker=formats
        )
        self._by_type: dict[str, Draft7Validator] = {}
        for branch in items.get("oneOf", []):
            name = branch["$ref"].rsplit("/", 1)[-1]
            enum = batch_schema["definitions"][name]["properties"]["event_type"]["enum"]
            if len(enum) != 1 or enum[0] in self._by_type:
                raise ValueError(f"event branch {name} does not pin event_type to one value")
            self._by_type[enum[0]] = Draft7Validator(
                {"$ref": f"{base}{branch['$ref']}"}, registry=registry, format_checker=formats
            )

    def _event_validator(self, event: Any) -> Draft7Validator:
        kind = event.get("event_type") if isinstance(event, dict) else None
        if isinstance(kind, str) and kind in self._by_type:
            return self._by_type[kind]
        return self._any_event

    def batch_problems(self, batch: Any, prefix: tuple[str | int, ...] = ()) -> list[Problem]:
        """Why ``batch`` fails the batch schema; empty when it is valid."""
        out = problems_of(self._envelope, batch, prefix)
        events = batch.get("events") if isinstance(batch, dict) else None
        if isinstance(events, list):
            for index, event in enumerate(events):
                validator = self._event_validator(event)
                out.extend(problems_of(validator, event, (*prefix, "events", index)))
        return out

    def bulk_problems(self, batches: Any) -> list[Problem]:
        """Why ``batches`` fails the bulk schema; empty when it is valid."""
        if not isinstance(batches, list):
            return problems_of(self.strict_bulk, batches)
        out: list[Problem] = []
        for index, batch in enumerate(batches):
            out.extend(self.batch_problems(batch, (index,)))
        return out


@cache
def track_spec() -> TrackSpec:
    """Customer.io's Track API description, loaded once per process."""
    return TrackSpec(load_vendor_json("customerio", "track-api.openapi.json"))


@cache
def events_spec() -> EventsSpec:
    """mParticle's Events API schemas, loaded once per process."""
    return EventsSpec(
        load_vendor_json("mparticle", "eventsapi.schema.json"),
        load_vendor_json("mparticle", "eventsapi.bulk.schema.json"),
    )
