"""The ``ItemBody`` an mParticle item prepared ahead was rendered from, read back from its
batch: what the tests hold a restored item to (delivery sends the batch as is and never
reads it back)."""

from __future__ import annotations

import orjson

from mapwire.plugins.mparticle.actions import ItemBody
from mapwire.plugins.mparticle.ahead import AheadItem
from mapwire.plugins.mparticle.requests import request_id


def body_of(item: AheadItem, message_id: str | None) -> ItemBody:
    """The ``ItemBody`` the item was rendered from, read back from its batch, with the
    ``message_id`` it was rendered with: the batch keeps only the request id derived from
    it, checked here."""
    batch = orjson.loads(item.encoded or b"{}")
    body = ItemBody()
    if "user_identities" in batch:  # left out for a user named by mpid alone
        body["user_identities"] = batch["user_identities"]
    if "mpid" in batch:
        body["mpid"] = batch["mpid"]
    if message_id is None:
        assert "source_request_id" not in batch
    else:
        body["source_message_id"] = message_id
        derived = request_id(message_id, "events" in batch)
        assert batch["source_request_id"] == derived
    if "events" in batch:
        body["event"] = batch["events"][0]
    if "user_attributes" in batch:
        body["user_attributes"] = batch["user_attributes"]
    return body
