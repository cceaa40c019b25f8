"""The ``ItemBody`` an mParticle item prepared ahead was rendered from, read back from its
batch: what the tests hold a restored item to (delivery sends the batch as is and never
reads it back)."""

from __future__ import annotations

import orjson

from mapwire.plugins.mparticle.actions import ItemBody
from mapwire.plugins.mparticle.ahead import AheadItem


def body_of(item: AheadItem) -> ItemBody:
    """The ``ItemBody`` the item was rendered from, read back from its batch."""
    batch = orjson.loads(item.encoded or b"{}")
    body = ItemBody()
    if "user_identities" in batch:  # left out for a user named by mpid alone
        body["user_identities"] = batch["user_identities"]
    if "mpid" in batch:
        body["mpid"] = batch["mpid"]
    if item.message_id is not None:
        body["source_message_id"] = item.message_id
    if "events" in batch:
        body["event"] = batch["events"][0]
    if "user_attributes" in batch:
        body["user_attributes"] = batch["user_attributes"]
    return body
