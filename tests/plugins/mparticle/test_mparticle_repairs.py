"""``prepare`` repairs fields over mParticle's limits (``oversize``) instead of dead-lettering
the item; each repair is a note without the value."""

from __future__ import annotations

from typing import Any

import pytest

from mapwire import PermanentDeliveryError

SECRET = "VALUE-SENTINEL"


def test_a_long_attribute_value_is_cut_to_4096_characters(prepare: Any) -> None:
    item = prepare(
        "custom_event", event_name="e", custom_attributes={"failure_message": "ü" * 5000}
    )
    assert item.body["event"]["data"]["custom_attributes"]["failure_message"] == "ü" * 4096
    assert item.repairs == ["attribute value over 4096 characters: truncated"]


def test_drop_field_leaves_the_value_out(prepare: Any) -> None:
    item = prepare(
        "custom_event",
        oversize="drop_field",
        event_name="e",
        custom_attributes={"long": SECRET * 500, "ok": "x"},
    )
    assert item.body["event"]["data"]["custom_attributes"] == {"ok": "x"}
    assert item.repairs == ["attribute value over 4096 characters: left out"]
    assert all(SECRET not in note for note in item.repairs)


def test_dead_letter_keeps_the_old_behaviour(prepare: Any) -> None:
    with pytest.raises(PermanentDeliveryError, match="4096"):
        prepare(
            "custom_event",
            oversize="dead_letter",
            event_name="e",
            custom_attributes={"k": "v" * 4097},
        )


@pytest.mark.parametrize(
    ("action", "field"), [("custom_event", "event_name"), ("screen_view", "screen_name")]
)
def test_names_are_cut_to_256_characters(prepare: Any, action: str, field: str) -> None:
    item = prepare(action, oversize="drop_field", **{field: "n" * 300})
    assert len(item.body["event"]["data"][field]) == 256
    assert item.repairs == ["event name over 256 characters: truncated"]


def test_attribute_names_and_counts(prepare: Any) -> None:
    found = {"n" * 257: 1, **{f"a{i}": i for i in range(101)}}
    item = prepare("custom_event", event_name="e", custom_attributes=found)
    kept = item.body["event"]["data"]["custom_attributes"]
    assert list(kept) == [f"a{i}" for i in range(100)]
    assert item.repairs == [
        "attribute name over 256 characters: left out",
        "attributes over 100: left out",
    ]


def test_user_attribute_lists(prepare: Any) -> None:
    found = {"tags": ["t" * 600, *["x"] * 1000]}
    item = prepare("user_attributes", user_attributes=found)
    tags = item.body["user_attributes"]["tags"]
    assert len(tags) == 1000 and tags[0] == "t" * 512
    assert item.repairs == [
        "attribute list over 1000 entries: cut",
        "attribute list entry over 512 characters: truncated",
    ]
