"""The ``example.note_posted`` source and the endpoint it is received on.

The example notes app posts ``{"id", "text", "author"}`` to ``POST /example/notes`` when
someone writes a note: one note, or an array of them. The endpoint is guarded by the
server's ``server.auth`` and answers 202 with the intake summary, like any webhook.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mapwire import Documents, Endpoint, InputError, Source, a_json_type

SOURCE = "example.note_posted"

NOTE_POSTED_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "required": ["id", "text"],
    "properties": {
        "id": {"type": "string", "description": "The note's id."},
        "text": {"type": "string", "description": "What the note says."},
        "author": {"type": "string", "description": "Who wrote it."},
    },
}
"""One posted note: what a mapping reading ``example.note_posted`` may read."""


def notes_in(body: Any) -> list[Any]:
    """One note, or an array of them; the message names types, never values."""
    notes = body if isinstance(body, list) else [body]
    for index, note in enumerate(notes):
        if not isinstance(note, dict):
            where = f"body[{index}]" if isinstance(body, list) else "body"
            raise InputError(
                f"{where}: expected a note object, got {a_json_type(note)}", code="invalid_shape"
            )
    return notes


def split_notes(body: Any) -> list[Documents]:
    """The endpoint's split: every note is a document of ``example.note_posted``."""
    return [Documents(SOURCE, notes_in(body))]


def make_source() -> Source:
    """``mapwire send`` splits a file's lines with the same ``notes_in``."""
    return Source(
        name=SOURCE,
        description="A note the example notes app posts when someone writes one.",
        schema=NOTE_POSTED_SCHEMA,
        split=notes_in,
    )


def make_endpoint() -> Endpoint:
    return Endpoint(
        path="/example/notes",
        description="Notes the example notes app posts (202)",
        sources=(SOURCE,),
        split=split_notes,
        credentials="server",
        recognizes=lambda doc: isinstance(doc, dict) and {"id", "text"} <= doc.keys(),
    )
