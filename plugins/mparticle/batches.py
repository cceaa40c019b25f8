"""Event batches as mParticle posts them: one batch, or an array of them, in two dialects.

``mapwire serve`` (the events endpoint's split) and ``mapwire send`` (the Webhook output
source's split) read bodies through these functions, so both take and refuse the same
input with the same messages. A batch's dialect is read from its ``user_identities``: an
object is the Events API's inbound format, a list the Webhook output's.
"""

from __future__ import annotations

from typing import Any, Final

from mapwire import Documents, InputError, a_json_type

EVENTS_API_BATCH: Final = "mparticle.events_api_batch"
WEBHOOK_OUTPUT: Final = "mparticle.webhook_output"


def shape_error(where: str, expected: str, value: Any) -> InputError:
    return InputError(
        f"{where}: expected {expected}, got {a_json_type(value)}", code="invalid_shape"
    )


def check_list_of_objects(doc: dict[str, Any], key: str, where: str) -> None:
    value = doc.get(key)
    if value is None:
        return
    if not isinstance(value, list):
        raise shape_error(f"{where}.{key}", "an array", value)
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise shape_error(f"{where}.{key}[{index}]", "an object", item)


def batch_source(doc: Any, where: str) -> str:
    """The source of one batch, after the shape checks mapping relies on."""
    if not isinstance(doc, dict):
        raise shape_error(where, "a batch object", doc)
    check_list_of_objects(doc, "events", where)
    attributes = doc.get("user_attributes")
    if attributes is not None and not isinstance(attributes, dict):
        raise shape_error(f"{where}.user_attributes", "an object", attributes)
    identities = doc.get("user_identities")
    if isinstance(identities, list):
        return WEBHOOK_OUTPUT
    if isinstance(identities, dict):
        return EVENTS_API_BATCH
    if identities is not None:
        raise shape_error(f"{where}.user_identities", "an object or an array", identities)
    return WEBHOOK_OUTPUT if "message_type" in doc or "message_id" in doc else EVENTS_API_BATCH


def sourced_batches(body: Any) -> list[tuple[str, Any]]:
    """``(source, batch)`` for every batch of a body: an object, or an array of them."""
    if isinstance(body, list):
        return [(batch_source(doc, f"body[{i}]"), doc) for i, doc in enumerate(body)]
    return [(batch_source(body, "body"), body)]


def split_batches(body: Any) -> list[Documents]:
    """The events endpoint's split: one ``Documents`` per run of batches of one dialect,
    in body order (a body mixing them is mapped in its own order, so a person's batches
    stay in order and a document's index is its place in the body)."""
    runs: list[Documents] = []
    for source, doc in sourced_batches(body):
        if runs and runs[-1].source == source:
            runs[-1].documents.append(doc)
        else:
            runs.append(Documents(source, [doc]))
    return runs


def split_webhook_output(parsed: Any) -> list[Any]:
    """The split of the Webhook output and Events API sources: an object is one batch, an
    array several (Send as Batch); checked as the events endpoint checks them (without
    the pairs ``sourced_batches`` builds: ``send`` and ``map`` run this per document)."""
    if isinstance(parsed, list):
        for index, doc in enumerate(parsed):
            batch_source(doc, f"body[{index}]")
        return list(parsed)
    batch_source(parsed, "body")
    return [parsed]


def looks_like_batches(doc: Any) -> bool:
    """Whether a sample is one batch or an array of them (``mapwire demo post``)."""
    if isinstance(doc, list):
        return all(isinstance(item, dict) for item in doc)
    return isinstance(doc, dict) and ("events" in doc or "user_identities" in doc)
