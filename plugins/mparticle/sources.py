"""The shapes mParticle sends us, as input sources mappings can name in ``source:``.

Each source's JSON Schema is a file in this plugin's ``schemas/`` folder, named after it. Inbound
authentication (the Webhook output's ``Authorization`` header, the Firehose token) is
configured on the server, so no source authenticates on its own. Only the Webhook output
splits: with "Send as Batch" on, one body is a JSON array of batches (``batches``, the
split the events endpoint uses too).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib.resources import files
from typing import Any, Final

from mapwire import Source

from .batches import split_webhook_output
from .endpoints import FIREHOSE_SOURCES, firehose_split

#: Source name -> what it is, in the order they are registered.
DESCRIPTIONS: Final = {
    "mparticle.events_api_batch": "An mParticle Events API v2 batch (inbound format, "
    "flat user_identities).",
    "mparticle.webhook_output": "What mParticle's Webhook output posts: one batch, or an "
    "array of batches with Send as Batch (user_identities as a list).",
    "mparticle.firehose_event_processing": "A Firehose event_processing_request sent to an "
    "Event output.",
    "mparticle.firehose_audience_membership": "A Firehose audience_membership_change_request "
    "sent to an Audience output.",
    "mparticle.firehose_audience_subscription": "A Firehose audience_subscription_request "
    "sent to an Audience output.",
    "mparticle.firehose_dsr": "A Firehose dsr_processing_request (an erasure of one person) "
    "sent to an Event or Audience output.",
}


def load_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of source ``name``, from ``schemas/<name>.schema.json`` here."""
    text = (
        files(__package__ or __name__).joinpath("schemas", f"{name}.schema.json").read_text("utf-8")
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


def _split_of(name: str) -> Callable[[Any], list[Any]] | None:
    """The split ``send`` (and ``map``, ``test``) read with: the batches of a body (an
    object is one, an array several), checked as the events endpoint checks them, for the
    Events API and Webhook output; the checked request for a Firehose source."""
    if name in ("mparticle.webhook_output", "mparticle.events_api_batch"):
        return split_webhook_output
    if name in FIREHOSE_SOURCES.values():
        return firehose_split(name)
    return None


def all_sources() -> list[Source]:
    """Every mParticle input source, schemas loaded."""
    return [
        Source(
            name=name,
            description=description,
            schema=load_schema(name),
            split=_split_of(name),
        )
        for name, description in DESCRIPTIONS.items()
    ]
