"""The shipped events mapping written by hand: NDJSON Events API batches in, actions out.

    python benchmarks/hand_map.py INPUT.ndjson OUTPUT.ndjson

The yardstick for the whole ``mapwire map`` command (``benchmarks/mapping_speed.py`` runs
both on the same file and compares). It is what someone would write for this one mapping:
orjson in, plain dicts, orjson out, one buffered write per batch; it imports nothing from
mapwire, so its start-up is the interpreter and orjson alone. It covers the event types the
benchmark corpus contains (custom events and screen views) with the shipped defaults (tags
skipped, no date attributes) and writes the same lines ``mapwire map`` prints
(``{"destination", "action", "payload"}``); unlike ``mapwire map`` it neither checks the
payloads against the vendor's limits nor drops repeated event ids.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import orjson

RESERVED = {
    "$firstname": "first_name",
    "$lastname": "last_name",
    "$gender": "gender",
    "$age": "age",
    "$city": "city",
    "$state": "state",
    "$zip": "zip",
    "$country": "country",
    "$mobile": "mobile",
    "$address": "address",
}
_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z0-9])|[A-Z]?[a-z0-9]+|[A-Z]+")


def attribute_name(name: str) -> str:
    """``$FirstName`` -> ``first_name``; another ``$`` name in snake_case."""
    return RESERVED.get(name.casefold()) or "_".join(w.lower() for w in _WORDS.findall(name))


def map_batch(doc: dict[str, Any]) -> list[dict[str, Any]]:
    ids = doc.get("user_identities") or {}
    customer_id, email = ids.get("customer_id"), ids.get("email")
    customer_id = None if customer_id is None else str(customer_id)
    email = None if email is None else str(email)
    if not customer_id and not email:
        return []
    identifiers = {"id": customer_id} if customer_id else {"email": email}
    attributes: dict[str, Any] = {}
    reserved: dict[str, Any] = {}
    for key, value in (doc.get("user_attributes") or {}).items():
        if value is None:  # a tag: skipped by default
            continue
        if key.startswith("$"):
            reserved[attribute_name(key)] = value
        else:
            attributes[key] = value
    attributes.update(reserved)
    if email is not None:
        attributes["email"] = email
    out = [
        {
            "destination": "customerio",
            "action": "identify",
            "payload": {"identifiers": identifiers, "attributes": attributes},
        }
    ]
    for event in doc.get("events") or ():
        kind = event.get("event_type")
        data = event.get("data") or {}
        if kind == "custom_event":
            name = data.get("event_name")
            name = name.strip().replace(" ", "_") if isinstance(name, str) else None
            action = "event"
        elif kind == "screen_view":
            name = data.get("screen_name")
            name = name.strip() if isinstance(name, str) else None
            action = "screen"
        else:
            continue
        if not name:
            continue
        payload: dict[str, Any] = {"identifiers": identifiers, "name": name}
        if data.get("source_message_id") is not None:
            payload["event_id"] = data["source_message_id"]
        if data.get("timestamp_unixtime_ms") is not None:
            payload["timestamp_ms"] = data["timestamp_unixtime_ms"]
        if data.get("custom_attributes") is not None:
            payload["data"] = data["custom_attributes"]
        out.append({"destination": "customerio", "action": action, "payload": payload})
    return out


def main() -> None:
    source, target = sys.argv[1], sys.argv[2]
    with open(source, "rb") as f:
        lines = f.read().splitlines()
    dumps, loads = orjson.dumps, orjson.loads
    with open(target, "wb") as out:
        for line in lines:
            if line.strip():
                out.write(b"".join(dumps(a) + b"\n" for a in map_batch(loads(line))))


if __name__ == "__main__":
    main()
