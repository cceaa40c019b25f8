"""The contract a destination plugin fulfils. Protocol logic only: no I/O here.

A destination declares its actions (each with a payload JSON Schema: the fields are the
contract a mapping must meet), its settings schema (credentials, region, base URL), and
its capabilities as data. Delivery then runs in three pure steps driven by a thin sender:

1. ``prepare(action, settings)`` checks one action against the vendor's client-side limits
   and renders the item as the vendor wants it; a field it repairs to fit is noted in the
   item's ``repairs``; a problem it cannot repair raises ``PermanentDeliveryError`` for that
   item only.
2. ``build_requests(items, settings)`` packs prepared items into as few HTTP requests as the
   vendor's batching limits allow, each remembering which items it carries.
3. ``classify(request, response)`` turns the vendor's answer into one ``Outcome`` per item.

Step 1 may run ahead, at intake: ``prepare_ahead`` makes ``check_payload``'s checks and may
also return the item prepared with the connection's settings, as bytes in the
destination's own encoding (kept with the queued action, ``Action.wire``); at delivery
``restore`` turns them back into the item, without preparing it again, as long as the
settings that shape items are the same (a hot reload may have changed them: ``restore``
answers None and delivery calls ``prepare``). Both are optional: by default items are
prepared at delivery.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .payload_check import schema_problems

if TYPE_CHECKING:
    import httpx

    from .actions import Action, Outcome


def person_key(*parts: Any) -> str:
    """An ordering key from the parts that name a person (a kind and a value, say): a
    short digest, so the queue's key column holds no personal data."""
    text = repr(parts)  # one text per parts: strings quoted and escaped, numbers as written
    return hashlib.blake2b(text.encode(errors="surrogatepass"), digest_size=12).hexdigest()


@dataclass(frozen=True)
class ActionSpec:
    """One action a destination offers; ``payload_schema`` is a JSON Schema (an object)."""

    name: str
    description: str
    payload_schema: Mapping[str, Any]


@dataclass(frozen=True)
class Capabilities:
    """Vendor limits as data, read by the sender and the docs."""

    max_items_per_request: int
    max_request_bytes: int
    max_item_bytes: int
    requests_per_second: float
    regions: tuple[str, ...] = ()


@dataclass(slots=True)
class PreparedItem:
    """An action rendered for the wire; ``key`` identifies it to the queue.

    ``encoded`` may hold the body's wire bytes when ``prepare`` already produced them (to
    measure the item), so ``build_requests`` does not encode it a second time. An item
    ``restore``d from its wire form may have ``body`` None and its ``encoded`` set: who
    needs the body (a dead letter's request) then decodes ``encoded``.

    ``repairs`` notes each field ``prepare`` changed so the item could go instead of being
    dead-lettered (cut to a limit, left out, a unit corrected): one short reason per
    repaired field, such as ``"event name over 100 bytes: truncated"``, never a value. The
    delivery loop counts the notes of every delivered item by reason.
    """

    key: Any
    body: Any
    size: int
    route: str = ""
    encoded: bytes | None = None
    repairs: list[str] = field(default_factory=list)


@dataclass(slots=True)
class OutboundRequest:
    """One HTTP request and the prepared items it carries, in body order."""

    request: httpx.Request
    items: list[PreparedItem] = field(default_factory=list)
    #: A label of the endpoint it goes to (never personal data, e.g. ``/bulkevents``):
    #: requests are counted per label in ``mapwire send``'s summary; "" is not counted.
    endpoint: str = ""


@dataclass(frozen=True)
class Check:
    """The verdict of a credentials check: ``ok``, ``bad_credentials``, ``wrong_region``,
    ``unreachable`` or ``unexpected``, and a message fit to show (never a secret)."""

    status: str
    message: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class Destination(ABC):
    """Base class for destination plugins."""

    name: str
    description: str = ""
    actions: Mapping[str, ActionSpec]
    settings_schema: Mapping[str, Any]
    capabilities: Capabilities
    secret_settings: tuple[str, ...] = ()

    @abstractmethod
    def prepare(
        self, action: Action, settings: Mapping[str, Any], *, key: Any = None
    ) -> PreparedItem:
        """Check one action and render it; raise ``PermanentDeliveryError`` if it cannot go.

        ``key`` (the queue's id for the item) is stored on the ``PreparedItem`` as given.
        """

    @abstractmethod
    def build_requests(
        self, items: Sequence[PreparedItem], settings: Mapping[str, Any]
    ) -> list[OutboundRequest]:
        """Pack prepared items into HTTP requests within the vendor's batching limits."""

    @abstractmethod
    def classify(self, sent: OutboundRequest, response: httpx.Response) -> list[Outcome]:
        """One outcome per item of ``sent``, in the same order. Items may share one
        ``Outcome`` object: delivery reads outcomes and never changes them."""

    def check_payload(self, action: str, payload: Mapping[str, Any]) -> list[str]:
        """What delivery would refuse in one action's payload, found without settings or
        credentials (``map``, ``test`` and ``explain`` ask): safe messages naming the field,
        never a value; empty if it would go. By default the action's payload schema;
        destinations override it with the very checks their ``prepare`` makes."""
        spec = self.actions.get(action)
        if spec is None:
            return [f"no such action {action!r}"]
        return schema_problems(spec.payload_schema, payload)

    def prepare_ahead(
        self, action: Action, settings: Mapping[str, Any]
    ) -> tuple[list[str], bytes | None]:
        """At intake: ``check_payload``'s messages for ``action`` and, when there are
        none, optionally the item ``prepare`` would make with ``settings``, in an encoding
        of the destination's choosing that ``restore`` reads back (it names the settings
        that shaped it). The engine stores the bytes with the queued action
        (``Action.wire``). A problem ``prepare`` finds that some settings could avoid (an
        ``oversize`` policy, say) is no message here: return no bytes, and delivery's
        ``prepare`` dead-letters the item as before. Default: ``check_payload``, no bytes."""
        return self.check_payload(action.action, action.payload), None

    def restore(
        self, wire: bytes, settings: Mapping[str, Any], *, key: Any = None
    ) -> PreparedItem | None:
        """The item ``prepare_ahead`` encoded as ``wire``, with ``key``, exactly as
        ``prepare`` would make it now; None when the settings that shape the item changed
        since (or the bytes are of another version): delivery then calls ``prepare``.
        Default: None."""
        return None

    def ordering_key(self, action: str, payload: Mapping[str, Any]) -> str:
        """Who an action is about, for the queue's per-person order: the queue never hands
        out an action while an earlier one with the same key is in flight or waiting for a
        retry. Destinations return the person identifier they batch by; the default,
        ``""``, orders the action with no other."""
        return ""

    def send_delay(self, item: PreparedItem, settings: Mapping[str, Any]) -> float:
        """Seconds ``item`` must wait after its person's earlier items were sent, for a
        vendor that applies them in the background and needs them applied first (a merge
        whose primary person the identify before it creates). Delivery holds such an item
        that long (counted as an attempt), with its person's items after it, at its first
        claim and whenever it is claimed with an earlier item of its person; it then goes
        in a later claim. Default 0: no item waits."""
        return 0.0

    def erases(self, action: str) -> bool:
        """Whether ``action`` erases its person (a delete): once it is queued, the
        queue drops that person's pending entries (``Queue.drop_person`` with its
        ``ordering_key``) in every connection to the same account (``account_key``), so
        no older update re-creates them; claimed ones are deleted unless delivered.
        Default: no action does."""
        return False

    def account_key(self, settings: Mapping[str, Any]) -> str | None:
        """Which account of the destination a connection's ``settings`` deliver to: an
        erasure reaches every connection of this destination with an equal key (their
        pending entries for the person are dropped and their ``forget`` state removed).
        Default None: the connection shares its account with no other."""
        return None

    def check_request(self, settings: Mapping[str, Any]) -> httpx.Request | None:
        """A request that proves the credentials without changing data (``connect test``)."""
        return None

    def check_response(self, response: httpx.Response, settings: Mapping[str, Any]) -> Check:
        """What the answer to ``check_request`` says: by default 2xx passes, 401/403 are
        bad credentials, anything else is unexpected."""
        status = response.status_code
        if 200 <= status < 300:
            return Check("ok", f"credentials accepted ({status})")
        if status in (401, 403):
            return Check("bad_credentials", f"credentials rejected ({status})")
        return Check("unexpected", f"unexpected answer ({status})")
