"""The person-attribute functions: mParticle's reserved names, tags, dates, null members."""

from __future__ import annotations

from typing import Any

import pytest

from mapwire.plugins.standard.user_attributes import (
    IDENTIFIER_ATTRIBUTES,
    RESERVED_ATTRIBUTE_NAMES,
    mparticle_attribute_name,
    mparticle_attributes,
    omit_nulls,
    unix_seconds_attributes,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("$FirstName", "first_name"),
        ("$firstname", "first_name"),
        ("$FIRSTNAME", "first_name"),
        ("$LastName", "last_name"),
        ("$lastname", "last_name"),
        ("$Gender", "gender"),
        ("$Age", "age"),
        ("$City", "city"),
        ("$State", "state"),
        ("$Zip", "zip"),
        ("$Country", "country"),
        ("$Mobile", "mobile"),
        ("$mobile", "mobile"),
        ("$Address", "address"),
        ("$LoyaltyTier", "loyalty_tier"),  # another reserved-looking name: snake_case
        ("FirstName", "FirstName"),  # not reserved: kept as it is
        ("plan", "plan"),
        (None, None),
    ],
)
def test_one_name_per_attribute(name: str | None, expected: str | None) -> None:
    assert mparticle_attribute_name(name) == expected


def test_the_table_covers_mparticles_reserved_attributes() -> None:
    assert set(RESERVED_ATTRIBUTE_NAMES.values()) == {
        "first_name",
        "last_name",
        "gender",
        "age",
        "city",
        "state",
        "zip",
        "country",
        "mobile",
        "address",
    }
    assert all(key == key.casefold() for key in RESERVED_ATTRIBUTE_NAMES)


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ("skip", {"plan": "pro", "first_name": "Ann"}),
        ("true", {"plan": "pro", "vip": True, "first_name": "Ann", "city": True}),
        ("remove", {"plan": "pro", "vip": "", "first_name": "Ann", "city": ""}),
        ("anything else", {"plan": "pro", "first_name": "Ann"}),
    ],
)
def test_tags_follow_the_policy(tags: str, expected: dict[str, Any]) -> None:
    found = {"plan": "pro", "vip": None, "$firstname": "Ann", "$City": None}
    assert mparticle_attributes(found, tags, None) == expected


def test_a_reserved_attribute_wins_over_a_plain_one_with_its_name() -> None:
    found = {"$FirstName": "Ann", "first_name": "stale"}
    assert mparticle_attributes(found, "skip", None) == {"first_name": "Ann"}
    assert mparticle_attributes(None, "skip", None) is None


def test_customerio_identifier_names_are_left_out() -> None:
    found = {
        "id": "legacy-7",
        "cio_id": "03000001",
        "anonymous_id": "a-1",
        "_update": True,
        "_timestamp": 5,
        "$Id": "x",  # renamed to id: left out too
        "email": "old@example.com",
        "plan": "pro",
    }
    assert {"id", "cio_id", "anonymous_id", "_update", "_timestamp"} == IDENTIFIER_ATTRIBUTES
    # With an email identity the identity is the person's email; without one, the attribute is.
    assert mparticle_attributes(found, "skip", "ann@example.com") == {"plan": "pro"}
    assert mparticle_attributes(found, "skip", None) == {
        "email": "old@example.com",
        "plan": "pro",
    }


def test_dates_become_unix_seconds_only_when_named() -> None:
    found = {"created_at": "2020-01-01", "seen": "2020-01-01T00:00:01Z", "n": 5, "bad": "x"}
    assert unix_seconds_attributes(found, ["created_at", "seen", "n", "bad", "missing"]) == {
        "created_at": 1_577_836_800,
        "seen": 1_577_836_801,
        "n": 5,
        "bad": "x",
    }
    assert unix_seconds_attributes(found, None) == found
    assert unix_seconds_attributes(None, ["a"]) is None


def test_omit_nulls_one_level() -> None:
    assert omit_nulls({"a": None, "b": {"c": None}}) == {"b": {"c": None}}
    assert omit_nulls([{"a": None, "b": 1}, 2, None]) == [{"b": 1}, 2, None]
    assert omit_nulls("x") == "x"


def _reference_attributes(obj: Any, tags: str, email: str | None) -> Any:
    """``mparticle_attributes`` as first written: every ``$`` name through
    ``mparticle_attribute_name``, nothing remembered, the merged copy always made."""
    if not isinstance(obj, dict):
        return None
    plain: dict[str, Any] = {}
    reserved: dict[str, Any] = {}
    for key, value in obj.items():
        if value is None:
            if tags == "true":
                value = True
            elif tags == "remove":
                value = ""
            else:
                continue
        if key.startswith("$"):
            reserved[mparticle_attribute_name(key) or key] = value
        else:
            plain[key] = value
    for key in reserved:
        plain.pop(key, None)
    out = {**plain, **reserved}
    left_out = IDENTIFIER_ATTRIBUTES if email is None else IDENTIFIER_ATTRIBUTES | {"email"}
    for key in left_out:
        out.pop(key, None)
    return out


TRICKY_ATTRIBUTES: list[Any] = [
    None,
    [],
    "text",
    {},
    {"plan": "pro", "logins": 10**30},
    {"$FirstName": "Ann", "first_name": "plain", "$firstname": "later"},
    {"first_name": "plain", "$FIRSTNAME": None, "$": 1, "$$": 2, "$ ": 3},
    {"$Åge": "x", "$Straße": "y", "$ﬁrst": "z", "$LoyaltyTier": "", "tag": None},
    {"email": "a@b.c", "$email": "d@e.f", "id": 1, "$cio_id": 2, "_update": True},
    {"$Anonymous_Id": "x", "anonymous_id": "y", "$_timestamp": 5, "plain": [1, None]},
    {"$FirstName": {"nested": None}, "$LastName": 0, "$City": False, "$Zip": 0.0},
]


@pytest.mark.parametrize("obj", TRICKY_ATTRIBUTES)
@pytest.mark.parametrize("tags", ["skip", "true", "remove", "other"])
@pytest.mark.parametrize("email", [None, "a@b.c"])
def test_attributes_match_the_plain_reading(obj: Any, tags: str, email: str | None) -> None:
    """Remembered names and the skipped copy change nothing: the same members in the same
    order, twice over (the second time from what was remembered), on odd inputs alike."""
    for _ in range(2):
        got = mparticle_attributes(obj, tags, email)
        want = _reference_attributes(obj, tags, email)
        assert got == want
        assert list(got or ()) == list(want or ())
        assert got is None or got is not obj


@pytest.mark.parametrize("names", [None, [], ["signup"], ["signup", 3, None], ["missing"]])
def test_date_attributes_always_copy(names: list[Any] | None) -> None:
    attrs: dict[str, Any] = {"signup": "2020-01-01", "plan": "pro"}
    out = unix_seconds_attributes(attrs, names)
    assert out is not attrs
    assert attrs == {"signup": "2020-01-01", "plan": "pro"}
    assert out == {**attrs, **({"signup": 1577836800} if names and "signup" in names else {})}


def test_only_short_reserved_names_are_remembered() -> None:
    """The names come from the input: a long one is renamed as any other but not kept."""
    from mapwire.plugins.standard import user_attributes

    long_name = "$" + "x" * 5000
    out = user_attributes.mparticle_attributes({long_name: 1, "$FirstName": "A"}, "false", None)
    assert out == _reference_attributes({long_name: 1, "$FirstName": "A"}, "false", None)
    assert long_name not in user_attributes._READABLE
    assert "$FirstName" in user_attributes._READABLE
