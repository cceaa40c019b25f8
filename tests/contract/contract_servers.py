"""Stand-ins for Customer.io's Track API and mParticle's Events API, over real HTTP.

Each server binds 127.0.0.1 on an ephemeral port, serves from a background thread, checks
credentials and request bodies the way the vendor documents, and records what it accepted.
Fault controls (``fail_next``, ``drop_next``, ``fail_items``, ``set_delay``, ``down``/``up``)
and records (``requests``, ``accepted``, ``rejected``, ``duplicates_absorbed``) come from
:class:`contract_base.VendorServer`.

Usage::

    with CustomerIOServer() as cio:
        httpx.post(cio.base_url + "/api/v2/batch", json={"batch": [...]}, auth=cio.auth)
        assert cio.accepted_items("POST /api/v2/batch") == [...]

Limits are read in decimal ("500kb" is 500,000 bytes), the stricter reading: a client that
passes here passes under either reading.
"""

from __future__ import annotations

import hmac
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from contract_base import Accepted, ItemPredicate, Rejected, RequestRecord, VendorServer
from contract_http import Reply, Request, basic_credentials
from contract_specs import (
    EventsSpec,
    Problem,
    TrackSpec,
    VendorFilesMissing,
    events_spec,
    problems_of,
    track_spec,
)

__all__ = [
    "Accepted",
    "CustomerIOServer",
    "ItemPredicate",
    "MParticleServer",
    "Rejected",
    "RequestRecord",
    "VendorFilesMissing",
    "VendorServer",
]

MAX_ERRORS: Final = 10
"""Most errors listed in one 400 body."""


def _compact_size(item: Any) -> int:
    return len(json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def _decode(body: bytes) -> tuple[Any, str | None]:
    """``(document, None)``, or ``(None, why)`` when the body is not JSON."""
    try:
        return json.loads(body), None
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"request body is not valid JSON ({type(exc).__name__})"


def _problem_text(problem: Problem) -> str:
    return f"{problem.field}: {problem.message}" if problem.field else problem.message


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


# -- Customer.io -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Operation:
    method: str
    template: str
    kind: str
    pattern: re.Pattern[str]


def _operation(method: str, template: str, kind: str) -> _Operation:
    parts = ["[^/]+" if part.startswith("{") else re.escape(part) for part in template.split("/")]
    return _Operation(method, template, kind, re.compile("/".join(parts)))


TRACK_OPERATIONS: Final = (
    _operation("GET", "/api/v1/accounts/region", "region"),
    _operation("PUT", "/api/v1/customers/{identifier}", "v1"),
    _operation("DELETE", "/api/v1/customers/{identifier}", "v1"),
    _operation("PUT", "/api/v1/customers/{identifier}/devices", "v1"),
    _operation("DELETE", "/api/v1/customers/{identifier}/devices/{device_id}", "v1"),
    _operation("POST", "/api/v1/customers/{identifier}/suppress", "v1"),
    _operation("POST", "/api/v1/customers/{identifier}/unsuppress", "v1"),
    _operation("POST", "/api/v1/customers/{identifier}/events", "v1_event"),
    _operation("POST", "/api/v1/events", "v1_event"),
    _operation("POST", "/api/v1/merge_customers", "merge"),
    _operation("POST", "/api/v2/entity", "entity"),
    _operation("POST", "/api/v2/batch", "batch"),
)
"""The Track API operations served: the ones mapwire uses, as the vendor document names them."""

UNAUTHORIZED: Final = "Unauthorized request. Make sure that you provided the right credentials."
"""The vendor document's description of a Track API 401."""

DEDUP_ACTIONS: Final = frozenset({"event", "page", "screen"})
"""v2 person actions whose ``id`` (a ULID) Customer.io uses to ignore repeats."""


def _v2_error(status: int, reason: str, field: str, message: str) -> Reply:
    return Reply.json(status, {"errors": [{"reason": reason, "field": field, "message": message}]})


class CustomerIOServer(VendorServer):
    """Customer.io's Track API (v1 and v2) as its OpenAPI document describes it.

    * Auth: HTTP Basic ``site_id:api_key``; anything else is 401.
    * ``POST /api/v2/batch``: a body of 500,000 bytes or more is 400. Each entity is checked
      on its own (schema, at most 32,000 bytes, :meth:`fail_items`); refused entities are
      listed in a 207 ``{"errors": [{"batch_index", "reason", "field", "message"}]}`` and the
      others are accepted.
    * ``POST /api/v2/entity``: 32,000 bytes or more, or an invalid body, is 400
      ``{"errors": [{"reason", "field", "message"}]}``.
    * v1: an invalid body is 400 ``{"meta": {"errors": ["..."]}}`` (merge: ``{"meta":
      {"error": "..."}}``), the shapes the vendor documents for v1. Success is 200 ``{}``.
    * ``GET /api/v1/accounts/region``: the configured region's Track URL (the vendor's
      public URL, as documented), region and ``environment_id``.
    * Person ``event``/``page``/``screen`` entities and v1 events that carry an ``id`` are
      accepted again when repeated but recorded once (``duplicates_absorbed`` counts them).

    With validation off (:meth:`set_validate`), only credentials and the request size are
    checked and bodies are recorded undecoded until the records are read.

    Accepted items are recorded under the route ``"<METHOD> <raw path>"``: a batch entity
    under ``"POST /api/v2/batch"``, a v1 call under its concrete path (e.g.
    ``"PUT /api/v1/customers/42"``) with its body (``{}`` for calls without one).
    """

    name: ClassVar[str] = "customerio"
    MAX_BATCH_BYTES: ClassVar[int] = 500_000
    """A ``/batch`` request must be smaller than this."""
    MAX_ITEM_BYTES: ClassVar[int] = 32_000
    """Each batch entity, as compact JSON, must be at most this."""
    MAX_ENTITY_BYTES: ClassVar[int] = 32_000
    """An ``/entity`` request must be smaller than this."""
    REGION_URLS: ClassVar[Mapping[str, str]] = {
        "us": "https://track.customer.io",
        "eu": "https://track-eu.customer.io",
    }

    def __init__(
        self,
        *,
        site_id: str = "contract-site-id",
        api_key: str = "contract-track-api-key",
        region: str = "us",
        environment_id: int = 3,
        port: int = 0,
        spec: TrackSpec | None = None,
    ) -> None:
        if region not in self.REGION_URLS:
            raise ValueError(f"region must be one of {sorted(self.REGION_URLS)}, got {region!r}")
        super().__init__(port=port)
        self.site_id = site_id
        self.api_key = api_key
        self.region = region
        self.environment_id = environment_id
        self.spec = spec if spec is not None else track_spec()

    @property
    def auth(self) -> tuple[str, str]:
        """``(site_id, api_key)``, ready for ``httpx``'s ``auth=``."""
        return (self.site_id, self.api_key)

    def _authorized(self, request: Request) -> bool:
        credentials = basic_credentials(request.headers.get("authorization"))
        return credentials is not None and (
            _same(credentials[0], self.site_id) & _same(credentials[1], self.api_key)
        )

    def handle(self, request: Request) -> Reply:
        """Route, authenticate, then answer as the Track API does."""
        matching = [op for op in TRACK_OPERATIONS if op.pattern.fullmatch(request.path)]
        if not matching:
            return Reply.json(404, {"meta": {"error": "not found"}})
        operation = next((op for op in matching if op.method == request.method), None)
        if operation is None:
            allowed = ", ".join(sorted({op.method for op in matching}))
            return Reply.json(405, {"meta": {"error": "method not allowed"}}, {"Allow": allowed})
        if not self._authorized(request):
            challenge = {"WWW-Authenticate": 'Basic realm="Track API"'}
            return Reply.json(401, {"meta": {"error": UNAUTHORIZED}}, challenge)
        if operation.kind == "region":
            return Reply.json(200, self.region_document())
        if operation.kind == "batch":
            return self._batch(request)
        if operation.kind == "entity":
            return self._entity(request)
        return self._v1(request, operation)

    def region_document(self) -> dict[str, Any]:
        """The body of ``GET /api/v1/accounts/region`` for this server's region."""
        return {
            "url": self.REGION_URLS[self.region],
            "region": self.region,
            "environment_id": self.environment_id,
        }

    def _item_problem(
        self, item: Any, validate: bool, predicate: ItemPredicate | None
    ) -> tuple[str, str, str] | None:
        """``(reason, field, message)`` for a refused batch entity, else None."""
        if validate:
            size = _compact_size(item)
            if size > self.MAX_ITEM_BYTES:
                limit = self.MAX_ITEM_BYTES
                return "too_large", "", f"entity is {size} bytes; the limit is {limit}"
            problems = problems_of(self.spec.batch_item, item)
            if problems:
                return "invalid", problems[0].field, problems[0].message
        if predicate is not None and isinstance(item, dict) and predicate(item):
            return "rejected", "", "refused by the server's fail_items predicate"
        return None

    def _batch(self, request: Request) -> Reply:
        route = f"POST {request.path}"
        if len(request.body) >= self.MAX_BATCH_BYTES:
            message = (
                f"request is {len(request.body)} bytes; a batch must be smaller than "
                f"{self.MAX_BATCH_BYTES}"
            )
            return _v2_error(400, "too_large", "", message)
        if self.fast_path():
            self.defer(route, "batch", request.body)
            return Reply.json(200, {})
        document, why = _decode(request.body)
        if why is not None:
            return _v2_error(400, "invalid_json", "", why)
        items = document.get("batch") if isinstance(document, dict) else None
        if not isinstance(items, list):
            return _v2_error(400, "invalid", "batch", 'the body must be {"batch": [...]}')
        validate, predicate = self.validating, self.predicate()
        errors: list[dict[str, Any]] = []
        good: list[Any] = []
        for index, item in enumerate(items):
            problem = self._item_problem(item, validate, predicate)
            if problem is None:
                good.append(item)
                continue
            reason, field, message = problem
            errors.append(
                {"batch_index": index, "reason": reason, "field": field, "message": message}
            )
            self.reject(route, item, f"{reason}: " + _problem_text(Problem(field, message)))
        self.commit(route, "batch", good)
        return Reply.json(207, {"errors": errors}) if errors else Reply.json(200, {})

    def _checked_body(self, request: Request, validator: Any) -> tuple[Any, Problem | None]:
        """The decoded body and the first reason to refuse it (None if it is accepted)."""
        document, why = _decode(request.body)
        if why is not None:
            return None, Problem("", why)
        if self.validating and validator is not None:
            problems = problems_of(validator, document)
            if problems:
                return document, problems[0]
        predicate = self.predicate()
        if predicate is not None and isinstance(document, dict) and predicate(document):
            return document, Problem("", "refused by the server's fail_items predicate")
        return document, None

    def _entity(self, request: Request) -> Reply:
        route = f"POST {request.path}"
        if len(request.body) >= self.MAX_ENTITY_BYTES:
            message = (
                f"request is {len(request.body)} bytes; an entity must be smaller than "
                f"{self.MAX_ENTITY_BYTES}"
            )
            return _v2_error(400, "too_large", "", message)
        if self.fast_path():
            self.defer(route, "entity", request.body)
            return Reply.json(200, {})
        document, problem = self._checked_body(request, self.spec.body("post", request.path))
        if problem is not None:
            self.reject(route, document, _problem_text(problem))
            return _v2_error(400, "invalid", problem.field, problem.message)
        self.commit(route, "entity", [document])
        return Reply.json(200, {})

    def _v1(self, request: Request, operation: _Operation) -> Reply:
        route = f"{request.method} {request.path}"
        validator = self.spec.body(operation.method, operation.template)
        if validator is None:  # no body is documented, so none is read
            predicate = self.predicate()
            if predicate is not None and predicate({}):
                self.reject(route, {}, "refused by the server's fail_items predicate")
                return Reply.json(400, {"meta": {"errors": ["refused"]}})
            self.commit(route, operation.kind, [{}])
            return Reply.json(200, {})
        if self.fast_path():
            self.defer(route, operation.kind, request.body)
            return Reply.json(200, {})
        document, problem = self._checked_body(request, validator)
        if problem is not None:
            text = _problem_text(problem)
            self.reject(route, document, text)
            meta = {"error": text} if operation.kind == "merge" else {"errors": [text]}
            return Reply.json(400, {"meta": meta})
        self.commit(route, operation.kind, [document])
        return Reply.json(200, {})

    def items_of(self, kind: str, document: Any) -> list[Any]:
        """A batch body's entities; any other body is one item."""
        if kind == "batch":
            items = document["batch"]
            if not isinstance(items, list):
                raise TypeError("batch is not a list")
            return items
        return [document]

    def dedup_key(self, kind: str, item: dict[str, Any]) -> str | None:
        """The event ``id`` of a person event/page/screen entity or a v1 event."""
        event_id = item.get("id")
        if not isinstance(event_id, str):
            return None
        if kind == "v1_event":
            return event_id.upper()
        if kind in ("batch", "entity") and item.get("type") == "person":
            return event_id.upper() if item.get("action") in DEDUP_ACTIONS else None
        return None


# -- mParticle ---------------------------------------------------------------------------------


def _mp_error(status: int, messages: list[str]) -> Reply:
    errors = [{"code": "BAD_REQUEST", "message": m} for m in messages[:MAX_ERRORS]]
    return Reply.json(status, {"errors": errors})


def _historical_problems(batch: Any, prefix: tuple[str | int, ...], min_age: int) -> list[Problem]:
    """Why ``/v2/bulkevents/historical`` refuses a (schema-valid) batch, if it does."""
    where = f"[{prefix[0]}]" if prefix else ""
    events = batch.get("events") if isinstance(batch, dict) else None
    if not events:
        return [Problem(where, "a historical batch must have events")]
    newest = int(time.time() * 1000) - min_age
    for index, event in enumerate(events):
        stamp = (event.get("data") or {}).get("timestamp_unixtime_ms")
        if stamp is None:
            return [Problem(f"{where}.events[{index}]", "timestamp_unixtime_ms is required")]
        if stamp > newest:
            return [Problem(f"{where}.events[{index}]", "less than 72 hours old")]
    return []


class MParticleServer(VendorServer):
    """mParticle's Events API v2 (``/v2/events``, ``/v2/bulkevents``) as documented.

    * Auth: HTTP Basic ``api_key:api_secret``. No ``Authorization`` header is 401; a header
      with other credentials (or not Basic) is 403.
    * A request body over 256,000 bytes is refused with ``OVERSIZE_STATUS`` (400: the
      Events API documents no 413).
    * ``/v2/events`` takes one batch, ``/v2/bulkevents`` an array of at most 100. A body that
      fails the schema, or a batch chosen by :meth:`fail_items`, is 400
      ``{"errors": [{"code": "BAD_REQUEST", "message": ...}]}``. With
      ``bulk_partial_failure=True`` a bulk request is instead answered 202 and only its good
      batches are recorded, which is what mParticle documents ("If some event batches
      succeed and some event batches fail, you will still get an 'Accepted' response").
    * ``/v2/bulkevents/historical`` takes what ``/v2/bulkevents`` takes, but refuses a batch
      with no events, an event without ``timestamp_unixtime_ms``, or one less than 72 hours
      old (as documented).
    * Success is 202 with an empty body. A batch whose ``source_request_id`` was seen before
      is accepted but not recorded again (``duplicates_absorbed``).

    With validation off, only credentials and the request size are checked and bodies are
    recorded undecoded until the records are read. ``base_url`` ends in ``/v2``, as the
    vendor's does (``https://s2s.mparticle.com/v2``).
    """

    name: ClassVar[str] = "mparticle"
    MAX_REQUEST_BYTES: ClassVar[int] = 256_000
    MAX_BATCHES: ClassVar[int] = 100
    OVERSIZE_STATUS: ClassVar[int] = 400
    ROUTES: ClassVar[Mapping[str, str]] = {
        "/v2/events": "events",
        "/v2/bulkevents": "bulk",
        "/v2/bulkevents/historical": "bulk",
    }
    #: ``/v2/bulkevents/historical`` refuses a batch with an event younger than this.
    HISTORICAL_MIN_AGE_MS: ClassVar[int] = 72 * 3600 * 1000

    def __init__(
        self,
        *,
        api_key: str = "contract-mp-api-key",
        api_secret: str = "contract-mp-api-secret",
        bulk_partial_failure: bool = False,
        port: int = 0,
        spec: EventsSpec | None = None,
    ) -> None:
        super().__init__(port=port)
        self.api_key = api_key
        self.api_secret = api_secret
        self.bulk_partial_failure = bulk_partial_failure
        self.spec = spec if spec is not None else events_spec()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v2``: what a client puts where the pod URL goes."""
        return self.origin + "/v2"

    @property
    def auth(self) -> tuple[str, str]:
        """``(api_key, api_secret)``, ready for ``httpx``'s ``auth=``."""
        return (self.api_key, self.api_secret)

    def handle(self, request: Request) -> Reply:
        """Route, authenticate, check size and schema, record, answer 202."""
        kind = self.ROUTES.get(request.path)
        if kind is None:
            return Reply(404)
        if request.method != "POST":
            return Reply(405, headers={"Allow": "POST"})
        header = request.headers.get("authorization")
        if header is None:
            return Reply(401)
        credentials = basic_credentials(header)
        if credentials is None or not (
            _same(credentials[0], self.api_key) & _same(credentials[1], self.api_secret)
        ):
            return Reply(403)
        size = len(request.body)
        if size > self.MAX_REQUEST_BYTES:
            limit = self.MAX_REQUEST_BYTES
            return _mp_error(self.OVERSIZE_STATUS, [f"request is {size} bytes; limit {limit}"])
        route = f"POST {request.path}"
        if self.fast_path():
            self.defer(route, kind, request.body)
            return Reply(202)
        document, why = _decode(request.body)
        if why is not None:
            return _mp_error(400, [why])
        if kind == "events":
            return self._events(route, document)
        return self._bulk(route, document)

    def _batch_problems(
        self,
        batch: Any,
        prefix: tuple[str | int, ...],
        predicate: ItemPredicate | None,
        historical: bool = False,
    ) -> list[Problem]:
        problems = self.spec.batch_problems(batch, prefix) if self.validating else []
        if not problems and historical and self.validating:
            problems = _historical_problems(batch, prefix, self.HISTORICAL_MIN_AGE_MS)
        if not problems and predicate is not None and isinstance(batch, dict) and predicate(batch):
            where = f"[{prefix[0]}]" if prefix else ""
            problems = [Problem(where, "refused by the server's fail_items predicate")]
        return problems

    def _events(self, route: str, batch: Any) -> Reply:
        problems = self._batch_problems(batch, (), self.predicate())
        if problems:
            self.reject(route, batch, _problem_text(problems[0]))
            return _mp_error(400, [_problem_text(p) for p in problems])
        self.commit(route, "events", [batch])
        return Reply(202)

    def _bulk(self, route: str, batches: Any) -> Reply:
        if not isinstance(batches, list):
            problems = self.spec.bulk_problems(batches)
            return _mp_error(400, [_problem_text(p) for p in problems] or ["expected an array"])
        if len(batches) > self.MAX_BATCHES:
            message = f"{len(batches)} batches; no more than {self.MAX_BATCHES} are allowed"
            return _mp_error(400, [message])
        predicate = self.predicate()
        good: list[Any] = []
        messages: list[str] = []
        for index, batch in enumerate(batches):
            historical = route.endswith("/historical")
            problems = self._batch_problems(batch, (index,), predicate, historical)
            if problems:
                self.reject(route, batch, _problem_text(problems[0]))
                messages.extend(_problem_text(p) for p in problems)
            else:
                good.append(batch)
        if messages and not self.bulk_partial_failure:
            return _mp_error(400, messages)
        self.commit(route, "bulk", good)
        return Reply(202)

    def items_of(self, kind: str, document: Any) -> list[Any]:
        """A bulk body's batches; an events body is one batch."""
        if kind == "bulk":
            if not isinstance(document, list):
                raise TypeError("bulk body is not a list")
            return document
        return [document]

    def dedup_key(self, kind: str, item: dict[str, Any]) -> str | None:
        """The batch's ``source_request_id``, which mParticle uses to drop repeats."""
        source_request_id = item.get("source_request_id")
        return None if source_request_id is None else str(source_request_id)
