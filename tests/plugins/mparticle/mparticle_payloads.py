"""Payloads of mParticle actions for the plugin's property tests, each described by a
small spec: the user (identities, or none: named by mpid alone), the action, the mpid,
the event's age in days, whether it has a source message id, and how many characters of
attributes pad it."""

from __future__ import annotations

from typing import Any

NOW_MS = 1_760_000_000_000
DAY_MS = 24 * 3600 * 1000
USERS = [
    {"customer_id": "c1"},
    {"customer_id": "c2", "email": "c2@example.com"},
    {"email": "c2@example.com", "customer_id": "c2"},  # c2 again, identities in another order
    {"other": "o3"},
    {"customer_id": "c4"},
    {},  # named by mpid alone (MPID_ONLY when the spec gives none): empty user_identities
]
#: The mpid of a user named by it alone: beyond 2**53, as real MPIDs are.
MPID_ONLY = -4_263_172_847_210_939_204


def payload_of(n: int, spec: tuple[Any, ...]) -> tuple[str, dict[str, Any]]:
    user, action, mpid, age, with_id, chars = spec
    payload: dict[str, Any] = {"user_identities": dict(USERS[user])}
    if mpid is not None:
        payload["mpid"] = mpid
    elif not USERS[user]:
        payload["mpid"] = MPID_ONLY
    if with_id:
        payload["source_message_id"] = f"m-{n}"
    if action == "user_attributes":
        payload["user_attributes"] = {f"a{n % 5}": "v" * chars, "n": n}
        return action, payload
    if action == "custom_event":
        payload["event_name"] = f"e{n}"
    else:
        payload["screen_name"] = f"s{n}"
    payload["custom_attributes"] = {"n": n, "pad": "p" * chars}
    if age is not None:
        payload["timestamp_unixtime_ms"] = NOW_MS - age * DAY_MS
    return action, payload
