"""The ``customerio`` destination: wires the pure steps of this package into a ``Destination``.

``prepare`` checks one action in this order, so the first problem found is the reason given:
timestamps (integer unix seconds) → the action's payload schema → Customer.io's size limits
and, with ``api: v1``, the identify value types v1 takes, repaired as the ``oversize``
setting allows (see ``repairs``) → the v1 restrictions (with ``api: v1``) → the size of the
rendered item. A v2 person event or page view too large for a v2 entity goes to the v1
events endpoint instead (``actions.v1_event_call``), where event data may be 100,000 bytes.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from mapwire import (
    Action,
    Capabilities,
    Check,
    ConfigError,
    Destination,
    PermanentDeliveryError,
    PreparedItem,
    person_key,
    wire_json,
)

from . import errors, limits, repairs, requests
from .action_schemas import ACTIONS
from .actions import (
    FOLDED_ATTRIBUTES,
    ROUTE_BATCH,
    ROUTE_V1,
    Call,
    identify_attributes,
    is_merge,
    render,
    v1_event_call,
)
from .plain_events import plain_item
from .settings import REGIONS, SECRET_SETTINGS, SETTINGS_SCHEMA, CioSettings, read_settings
from .validation import certainly_plain, validate

if TYPE_CHECKING:
    import httpx

    from mapwire import OutboundRequest, Outcome

REQUESTS_PER_SECOND = 100.0
"""Customer.io's current text allows about 1000 requests/s on the Track API; older pages said
100/s "fair use". At up to 500 items per batch, 100/s is far more than a pipeline needs and
stays clear of throttling."""


@functools.lru_cache(maxsize=4096)
def _person(kind: str, value: str) -> str:
    """A person's ordering key, digested once for the run of a document's actions (they
    are mostly one person's)."""
    return person_key("person", kind, value)


class CustomerIO(Destination):
    """Customer.io Track API (v2 batch by default, v1 per-action endpoints on request)."""

    name = "customerio"
    description = "Customer.io Track API: people, events, devices, merges and suppressions."
    actions = ACTIONS
    settings_schema = SETTINGS_SCHEMA
    secret_settings = SECRET_SETTINGS
    capabilities = Capabilities(
        max_items_per_request=requests.MAX_ITEMS_PER_BATCH,
        max_request_bytes=limits.MAX_BATCH_BYTES - 1,
        max_item_bytes=limits.MAX_V2_ITEM_BYTES,
        requests_per_second=REQUESTS_PER_SECOND,
        regions=tuple(REGIONS),
    )

    _cache: dict[int, tuple[Mapping[str, Any], CioSettings, bytes]] | None = None
    #: The settings ``_settings`` was last given, read, with their wire header: intake and
    #: delivery pass one connection's settings object for item after item.
    _last: tuple[Mapping[str, Any], CioSettings, bytes] | None = None

    def prepare(
        self, action: Action, settings: Mapping[str, Any], *, key: Any = None
    ) -> PreparedItem:
        """Check one action, repair what the ``oversize`` policy allows, and render it for
        the wire; ``key`` is stored as given. Each repair is a note on the item."""
        cfg = self._settings(settings)[0]
        notes: list[str] = []
        checked = self._checked(action.action, action.payload, notes, trusted=action.checked)
        return self._render(action.action, checked, cfg, notes, key)

    def prepare_ahead(
        self, action: Action, settings: Mapping[str, Any]
    ) -> tuple[list[str], bytes | None]:
        """``check_payload``, then the item ``prepare`` makes, checked once: a v2 batch
        item's wire bytes behind a header naming the settings that shaped it (``api``,
        ``oversize``, ``allow_message_overrides``) and its repairs. Other items (v1 calls,
        an identify split in parts) and items these settings refuse are prepared at
        delivery. The commonest items, a plain v2 event or identify, are written directly
        (``plain_events``); every other one takes the general path."""
        try:
            cfg, head = self._settings(settings)
        except ConfigError:
            pass  # the general path answers as it always has
        else:
            encoded = plain_item(action.action, action.payload, cfg)
            if encoded is not None:
                return [], head + b"\n" + encoded
        return self._prepare_ahead(action, settings)

    def _prepare_ahead(
        self, action: Action, settings: Mapping[str, Any]
    ) -> tuple[list[str], bytes | None]:
        """``prepare_ahead``'s general path: ``_checked``, then ``_render``."""
        notes: list[str] = []
        try:
            checked = self._checked(action.action, action.payload, notes)
        except PermanentDeliveryError as exc:
            return [exc.reason], None
        try:
            cfg, head = self._settings(settings)
            item = self._render(action.action, checked, cfg, notes, None)
        except (PermanentDeliveryError, ConfigError):  # delivery says why, as before
            return [], None
        if item.route != ROUTE_BATCH or item.encoded is None or isinstance(item.body, list):
            return [], None
        return [], head + (wire_json(notes) if notes else b"") + b"\n" + item.encoded

    def restore(
        self, wire: bytes, settings: Mapping[str, Any], *, key: Any = None
    ) -> PreparedItem | None:
        """The v2 batch item ``prepare_ahead`` encoded, if the settings still shape it the
        same way; its ``body`` is left to be decoded from ``encoded`` when needed."""
        head = self._settings(settings)[1]
        if not wire.startswith(head):
            return None
        start = len(head)
        if wire.startswith(b"\n", start):  # no repairs noted, as most: the item is the rest
            encoded = wire[start + 1 :]
            return PreparedItem(key, None, len(encoded), ROUTE_BATCH, encoded, [])
        notes, _, encoded = wire[start:].partition(b"\n")
        return PreparedItem(key, None, len(encoded), ROUTE_BATCH, encoded, orjson.loads(notes))

    def _render(
        self,
        name: str,
        checked: Mapping[str, Any],
        cfg: CioSettings,
        notes: list[str],
        key: Any,
    ) -> PreparedItem:
        """``prepare`` after ``_checked``: the repairs, the rendering and the size checks."""
        payload = dict(checked)  # the repairs below write into it: never into the action's
        if "name" in payload:
            payload["name"] = repairs.event_name(payload["name"], cfg.oversize, notes)
        if "data" in payload:
            payload["data"] = repairs.event_data(
                name, payload["data"], cfg.allow_message_overrides, notes
            )
        splits = name == "identify" and cfg.api == "v2" and cfg.oversize != "dead_letter"
        if name == "identify":
            found = identify_attributes(payload)
            if cfg.api == "v1" and cfg.oversize != "dead_letter":  # before the count limit
                found = repairs.v1_attributes(found, notes)
            found = repairs.attributes(found, cfg.oversize, notes)
            payload = {k: v for k, v in payload.items() if k not in FOLDED_ATTRIBUTES}
            payload["attributes"] = found
        route, body = render(name, payload, cfg.api)
        entity = body.body if isinstance(body, Call) else body
        encoded = None if entity is None else limits.compact_json(entity)
        size = 0 if encoded is None else len(encoded)
        if splits and route == ROUTE_BATCH and size > limits.MAX_V2_ITEM_BYTES:
            # over the entity limit: split in parts (the whole was encoded once, to measure it)
            parts = repairs.split_identify(body, notes)
            if len(parts) > 1:
                encoded_parts = [limits.compact_json(part) for part in parts]
                for part in encoded_parts:
                    limits.check_v2_item(len(part))
                joined = b",".join(encoded_parts)
                limits.check_batch_room(len(joined))
                return PreparedItem(
                    key=key,
                    body=parts,
                    size=len(joined),
                    route=route,
                    encoded=joined,
                    repairs=notes,
                )
        if route == ROUTE_BATCH and size > limits.MAX_V2_ITEM_BYTES:
            call = v1_event_call(name, payload)  # v1 takes event data up to 100,000 bytes
            if call is not None:
                route, body, encoded = ROUTE_V1, call, limits.compact_json(call.body)
                size = len(encoded)
        if "name" in payload:
            limits.check_event(payload["name"], payload.get("data"), size)
        if route != ROUTE_V1:
            limits.check_v2_item(size)
        return PreparedItem(
            key=key, body=body, size=size, route=route, encoded=encoded, repairs=notes
        )

    def ordering_key(self, action: str, payload: Mapping[str, Any]) -> str:
        """The person: the one identifier of ``identifiers`` (an email compared without
        case, as Customer.io does), the ``primary`` person of a merge, or the visitor's
        ``anonymous_id``; ``""`` when the payload names no one (it will be refused)."""
        if action == "anonymous_event":
            anonymous = payload.get("anonymous_id")
            return person_key("anonymous", anonymous) if isinstance(anonymous, str) else ""
        who = payload.get("primary" if action == "merge" else "identifiers")
        if (type(who) is not dict and not isinstance(who, Mapping)) or len(who) != 1:
            return ""  # (a dict is told apart without the slower abstract type check)
        ((kind, value),) = who.items()
        if type(value) is not str:
            return person_key("person", kind, value)
        return _person(kind, value.lower() if kind == "email" else value)

    def send_delay(self, item: PreparedItem, settings: Mapping[str, Any]) -> float:
        """A merge waits ``merge_delay_seconds`` after its person's earlier items:
        Customer.io merges into a primary person that must already exist, and applies the
        identify that creates it in the background (a merge sent with it may find none)."""
        if not is_merge(item):
            return 0.0
        try:
            return self._settings(settings)[0].merge_delay_seconds
        except ConfigError:  # prepare has refused these settings already
            return 0.0

    def erases(self, action: str) -> bool:
        """``delete`` and ``suppress`` erase the person: their pending updates are dropped
        once the erasure is queued."""
        return action in ("delete", "suppress")

    def account_key(self, settings: Mapping[str, Any]) -> str | None:
        """The workspace: its region and site id (an erasure then reaches every
        connection to the workspace, whatever flow it runs)."""
        site_id = settings.get("site_id")
        if not isinstance(site_id, str) or not site_id:
            return None
        return f"{settings.get('region', 'us')}/{site_id}"

    @staticmethod
    def _checked(
        name: str, payload: Mapping[str, Any], notes: list[str], *, trusted: bool = False
    ) -> dict[str, Any]:
        """The payload with timestamps resolved and normalized (the payload itself when they
        need no change: do not write into it), once every check that needs
        no settings and that no repair can fix passed; ``PermanentDeliveryError`` otherwise.
        (Sizes are repaired or refused later, by the connection's ``oversize`` policy.)
        ``trusted``: these very checks passed at intake (``Action.checked``), so the schema
        validation, the costly one, is not repeated."""
        plain = limits.plainly_within(payload)  # then the timestamp and identifier checks pass
        out = repairs.resolve_timestamp_ms(payload, notes)
        if not plain:
            out = limits.normalize_timestamps(out)
        if not trusted:
            validate(name, out)
        if not plain:
            for field in ("identifiers", "primary", "secondary"):
                if field in out:
                    limits.check_identifier(field, out[field])
        return out

    def check_payload(self, action: str, payload: Mapping[str, Any]) -> list[str]:
        """The checks ``prepare`` makes before rendering, as messages (empty: it would go).
        A payload the compiled schema check is sure of, with plain timestamps and
        identifiers, passes without the copies and messages of ``_checked``."""
        if certainly_plain(action, payload):
            return []
        try:
            self._checked(action, payload, [])
        except PermanentDeliveryError as exc:
            return [exc.reason]
        return []

    def _settings(self, settings: Mapping[str, Any]) -> tuple[CioSettings, bytes]:
        """``read_settings``, and the header of the wire bytes ``prepare_ahead`` writes
        with them, remembered for the settings objects intake and delivery keep passing."""
        last = self._last
        if last is not None and last[0] is settings:  # the same as the item before
            return last[1], last[2]
        cache = self._cache
        if cache is None:
            cache = self._cache = {}
        cached = cache.get(id(settings))
        if cached is not None and cached[0] is settings:
            self._last = cached
            return cached[1], cached[2]
        cfg = read_settings(settings)
        overrides = int(cfg.allow_message_overrides)
        head = f"cio1 {cfg.api} {cfg.oversize} {overrides} ".encode()
        if len(cache) >= 8:
            cache.clear()
        cache[id(settings)] = self._last = (settings, cfg, head)
        return cfg, head

    def build_requests(
        self, items: Sequence[PreparedItem], settings: Mapping[str, Any]
    ) -> list[OutboundRequest]:
        return requests.build_requests(items, settings)

    def classify(self, sent: OutboundRequest, response: httpx.Response) -> list[Outcome]:
        return errors.classify(sent, response)

    def check_request(self, settings: Mapping[str, Any]) -> httpx.Request:
        return requests.check_request(settings)

    def check_response(self, response: httpx.Response, settings: Mapping[str, Any]) -> Check:
        """``/api/v1/accounts/region`` answers with the account's region: a mismatch with
        the configured one is reported (an EU account on the US host is redirected, a US
        account on the EU host fails)."""
        status = response.status_code
        if status in (401, 403):
            return Check("bad_credentials", f"Site ID or Track API key rejected ({status})")
        if status != 200:
            return Check("unexpected", f"unexpected answer ({status})")
        try:
            region = str(response.json().get("region", "")).lower()
        except ValueError:
            return Check("unexpected", "the region endpoint did not answer JSON")
        configured = str(settings.get("region", "us")).lower()
        if region and region != configured:
            return Check(
                "wrong_region",
                f"the account is in region {region!r} but the connection uses {configured!r}",
            )
        return Check("ok", f"credentials accepted (region {region or configured})")
