"""The mParticle destination: the Events API v2, server to server.

``prepare`` repairs fields over mParticle's limits as the ``oversize`` setting allows
(``repairs``), checks the action against its payload schema and the limits, and renders
it; ``build_requests`` packs rendered items, a batch each, into ``/bulkevents`` requests;
``classify`` reads the answer. All three are pure; a sender does the I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mapwire import (
    Action,
    Capabilities,
    Check,
    Destination,
    OutboundRequest,
    Outcome,
    PermanentDeliveryError,
    PreparedItem,
    person_key,
)

from . import ahead, errors, limits, repairs, requests
from .actions import ACTIONS, check, render
from .settings import (
    DEFAULT_ENVIRONMENT,
    ENVIRONMENTS,
    PODS,
    SECRET_SETTINGS,
    SETTINGS_SCHEMA,
    resolve,
)
from .wire import encode, size

if TYPE_CHECKING:  # imported where it is used: importing the plugin stays cheap
    import httpx

#: The environment with the longest name: sizes checked with it hold for both.
_LONGEST_ENVIRONMENT = max(ENVIRONMENTS, key=len)
#: A batch's bytes but its identities and mpid (each written as ``{}`` and ``0`` here).
_ENVELOPE_BYTES = (
    size(
        {
            "environment": _LONGEST_ENVIRONMENT,
            "user_identities": {},
            "mpid": 0,
            "user_attributes": {},
            "events": [],
            "source_request_id": "0" * 36,
        }
    )
    - 3
)


def _alone_at_most(item: PreparedItem) -> int:
    """A cheap upper bound of the bytes of a batch holding ``item`` alone (what
    ``requests.estimate_alone`` works out from its parts, only when this is too big)."""
    body = item.body
    identities = size(body.get("user_identities", {})) + size(body.get("mpid", 0))
    attributes = body.get("user_attributes")
    extra = size(attributes) if attributes and "event" in body else 0
    return _ENVELOPE_BYTES + identities + item.size + extra


class MParticle(Destination):  # type: ignore[misc, unused-ignore]
    """Sends custom events, screen views and user attributes to mParticle's Events API."""

    name = "mparticle"
    description = "mParticle Events API v2 (server to server): events and user attributes."
    actions = ACTIONS
    settings_schema = SETTINGS_SCHEMA
    secret_settings = SECRET_SETTINGS
    #: An item is a batch at most (128 KB); a request carries up to 100 of them. The rate
    #: is the default 270 batches per second spent on full requests, so it is never
    #: exceeded; a 429 with Retry-After slows the sender further if the workspace is lower.
    capabilities = Capabilities(
        max_items_per_request=limits.BATCHES_PER_REQUEST,
        max_request_bytes=limits.REQUEST_BYTES,
        max_item_bytes=limits.BATCH_BYTES,
        requests_per_second=limits.BATCHES_PER_SECOND / limits.BATCHES_PER_REQUEST,
        regions=tuple(PODS),
    )

    def prepare(
        self, action: Action, settings: Mapping[str, Any], *, key: Any = None
    ) -> PreparedItem:
        """Check one action and render it; ``PermanentDeliveryError`` says why it cannot go.

        The item's ``body`` is an ``actions.ItemBody``; its ``size`` is the bytes its event
        (or its attributes object) adds to a batch; ``key`` (the queue's id for the item)
        is stored as given.
        """
        where = f"mparticle.{action.action}"
        if action.action not in ACTIONS:
            known = ", ".join(ACTIONS)
            raise PermanentDeliveryError(f"{where}: no such action; expected one of {known}")
        notes: list[str] = []
        policy = settings.get("oversize", "truncate")
        payload = repairs.repair(action.action, action.payload, policy, notes)
        # ``check_payload`` made this very check at intake when the policy is the default.
        trusted = action.checked and policy == "truncate"
        found = [] if trusted else check(action.action, payload)
        if found:
            raise PermanentDeliveryError(f"{where}: " + "; ".join(found))
        return self._item(action.action, payload, notes, key)

    def prepare_ahead(
        self, action: Action, settings: Mapping[str, Any]
    ) -> tuple[list[str], bytes | None]:
        """``check_payload``, and with the default ``oversize`` policy (the one whose
        repairs it checks after) the item ``prepare`` makes, checked once, as its batch
        alone rendered for the connection's environment (``ahead``: the wire ``restore``
        reads back)."""
        name = action.action
        if name not in ACTIONS:
            return self.check_payload(name, action.payload), None
        notes: list[str] = []
        payload = repairs.repair(name, action.payload, "truncate", notes)
        found = check(name, payload)
        if found:
            return [f"mparticle.{name}: {problem}" for problem in found], None
        if settings.get("oversize", "truncate") != "truncate":
            return [], None
        try:
            item = self._item(name, payload, notes, None)
            environment = settings.get("environment", DEFAULT_ENVIRONMENT)
            batch = encode(requests.lone_batch(item.body, environment))
            return [], ahead.wire_for(item, batch, environment)
        except (PermanentDeliveryError, ValueError, TypeError):  # delivery says why, as before
            return [], None

    def restore(
        self, wire: bytes, settings: Mapping[str, Any], *, key: Any = None
    ) -> PreparedItem | None:
        """The item ``prepare_ahead`` encoded (``ahead``: its batch alone, ready to send),
        while the connection keeps the default ``oversize`` policy and the environment it
        was prepared with."""
        if settings.get("oversize", "truncate") != "truncate":
            return None
        return ahead.restore(wire, settings.get("environment", DEFAULT_ENVIRONMENT), key)

    def _item(
        self, name: str, payload: Mapping[str, Any], notes: list[str], key: Any
    ) -> PreparedItem:
        """The checked payload rendered, sized and held to the batch limit."""
        where = f"mparticle.{name}"
        body = render(name, payload)
        content = body.get("event", body.get("user_attributes"))
        item = PreparedItem(key=key, body=body, size=size(content), repairs=notes)
        if _alone_at_most(item) <= limits.BATCH_BYTES:
            return item
        alone = requests.estimate_alone(item, _LONGEST_ENVIRONMENT)
        if alone > limits.BATCH_BYTES:
            raise PermanentDeliveryError(
                f"{where}: a batch with this item alone is {alone} bytes; "
                f"at most {limits.BATCH_BYTES}"
            )
        return item

    def check_payload(self, action: str, payload: Mapping[str, Any]) -> list[str]:
        """The checks ``prepare`` makes before rendering, as messages (empty: it would go),
        after the repairs of the most lenient ``oversize`` policy: what no setting can
        make deliverable (intake holds such an action back)."""
        if action not in ACTIONS:
            return [f"mparticle.{action}: no such action; expected one of {', '.join(ACTIONS)}"]
        repaired = repairs.repair(action, payload, "truncate", [])
        return [f"mparticle.{action}: {found}" for found in check(action, repaired)]

    def build_requests(
        self, items: Sequence[PreparedItem], settings: Mapping[str, Any]
    ) -> list[OutboundRequest]:
        """Each item as a batch of its own, the batches packed into bulk requests."""
        return requests.build(items, resolve(settings))

    def check_response(self, response: httpx.Response, settings: Mapping[str, Any]) -> Check:
        """The check posts a batch mParticle rejects as invalid: 400 (or 202) means the key
        and secret were accepted and nothing was stored; 401/403 mean they were not."""
        passed, reason = errors.check_result(response)
        if passed:
            return Check("ok", reason)
        if response.status_code in (401, 403):
            return Check("bad_credentials", reason)
        return Check("unexpected", reason)

    def ordering_key(self, action: str, payload: Mapping[str, Any]) -> str:
        """The user: ``customer_id`` when the payload has one (the identity mParticle
        resolves a profile by first), else the mpid (the profile itself: its items are
        ordered together whether or not they also carry an email, say), else every
        identity together, as a batch names its user; ``""`` when the payload names no one
        (it will be refused)."""
        identities = payload.get("user_identities")
        if not isinstance(identities, Mapping):
            identities = {}
        parts = ahead.user_parts(identities, payload.get("mpid"))
        return "" if parts is None else person_key(*parts)

    def classify(self, sent: OutboundRequest, response: httpx.Response) -> list[Outcome]:
        """One outcome per item of ``sent``; the items of a request share its fate."""
        return errors.classify(sent, response)

    def check_request(self, settings: Mapping[str, Any]) -> httpx.Request | None:
        """``POST {base}/events`` with a batch mParticle authenticates, then rejects.

        The body is one event without ``event_type``, the OpenAPI document's own example
        of a 400 ("Required event field "event_type" is missing or empty."), for the
        development environment and with no user identity, so there is nothing to store
        and no profile to touch. ``/events`` rather than ``/bulkevents``: a single batch
        gets the documented per-batch 400, where a bulk body is accepted before its
        batches are checked. mParticle documents 401 for a missing ``Authorization``
        header and 403 for one it does not accept, so a 400 comes from a request whose
        credentials passed:

        * 400: key and secret accepted; the body was refused as intended (pass);
        * 202: key and secret accepted (the body was taken, with no user in it);
        * 401: the ``Authorization`` header did not reach mParticle (e.g. a proxy);
        * 403: the key or the secret is wrong (or revoked).

        ``errors.check_result(response)`` reads the answer that way.
        """
        import httpx

        connection = resolve(settings)
        body = {"environment": "development", "events": [{"data": {}}]}
        return httpx.Request(
            "POST",
            f"{connection.base_url}/events",
            content=encode(body),
            headers=requests.headers(connection),
        )
