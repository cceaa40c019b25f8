"""What the engine produces: actions, and what becomes of each one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class Forget:
    """Stored state an action's person is to lose (a mapping rule's ``forget``): the
    membership sets of ``set`` stored under any of ``keys``, or under a key one of them
    was recorded as an alias of (``StateStore.forget``). Applied just before the action is
    queued, in every connection delivering to the same destination account."""

    set: str
    keys: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"set": self.set, "keys": list(self.keys)}


@dataclass(slots=True)
class Action:
    """One thing to do at a destination: ``{destination, action, payload}``.

    ``dedup_keys`` are recorded through the dedup plugin point before the action is queued;
    if any of them was seen before, the action is skipped as a duplicate. ``rule`` names the
    mapping rule that produced it (for ``explain`` and error messages). ``order_key``
    names the person the action is about (``Destination.ordering_key``): the queue hands out
    the actions of one key in the order they were queued, one claim at a time; empty: the
    action is ordered with no other. ``checked``: its destination's ``check_payload`` found
    nothing at intake, so ``prepare`` may skip the checks it repeats (the queue keeps the
    mark; a dead-lettered action loses it, so one put back is checked again).
    ``wire``: the item its destination prepared at intake (``Destination.prepare_ahead``),
    in the destination's own encoding, for ``Destination.restore`` at delivery; None:
    prepared at delivery. The queue keeps it with the action like ``checked`` (and drops
    it the same way); it is never sent as such. ``forget``: stored state to remove before
    the action is queued (see ``Forget``); it is not kept in the queue.
    """

    destination: str
    action: str
    payload: dict[str, Any]
    dedup_keys: tuple[str, ...] = ()
    rule: str = ""
    order_key: str = ""
    checked: bool = False
    forget: tuple[Forget, ...] = ()
    wire: bytes | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"destination": self.destination, "action": self.action, "payload": self.payload}


@dataclass(slots=True)
class Outcome:
    """What happened to one item of a request.

    ``status`` is ``delivered``, ``retry`` (try again after ``retry_after`` seconds, or the
    sender's backoff if None), ``failed`` (permanent: dead-lettered with ``reason``) or
    ``credentials_refused`` (the vendor refused the connection's credentials, 401/403: the
    items are not at fault, so delivery pauses the connection and keeps them queued until
    the credentials work again or ``delivery.credentials_hold_minutes`` have passed).
    """

    status: Literal["delivered", "retry", "failed", "credentials_refused"]
    reason: str = ""
    retry_after: float | None = None
    http_status: int | None = None


DELIVERED = Outcome("delivered")


@dataclass(slots=True)
class MapResult:
    """Everything one document turned into: actions, per-item errors and skips by reason."""

    actions: list[Action] = field(default_factory=list)
    errors: list[Exception] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str, count: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + count
