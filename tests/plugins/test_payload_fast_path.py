"""The shipped destinations' payload checks take a compiled fast path for a payload that is
plainly fine, and that path never passes what the full checks would refuse."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import event, given, settings
from hypothesis import strategies as st

from mapwire import PermanentDeliveryError, SchemaValidator
from mapwire.contracts.schema_predicate import compile_predicate
from mapwire.plugins.customerio import limits, repairs
from mapwire.plugins.customerio.action_schemas import ACTIONS as CIO_ACTIONS
from mapwire.plugins.customerio.destination import CustomerIO
from mapwire.plugins.customerio.validation import certainly_plain
from mapwire.plugins.mparticle.actions import ACTIONS as MP_ACTIONS

DRAFT = jsonschema.Draft202012Validator
CHECKER = DRAFT.FORMAT_CHECKER
MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"
SCHEMAS = {"customerio": CIO_ACTIONS, "mparticle": MP_ACTIONS}

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-2, 10**15)
    | st.sampled_from([0, 1, 10**11, 10**11 + 1, 10**14, 1.5, 2.0, float("nan")])
    | st.sampled_from(["", "u-1", "a@example.com", "no-at", "ABC123", "é", "x" * 151, "ios"])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["id", "email", "cio_id", "last_used", "k"]), inner)
    ),
    max_leaves=8,
)


def _seeds() -> list[tuple[str, str, dict[str, Any]]]:
    """(destination, action, payload) of every action the shipped mappings' test cases
    expect: real, valid payloads for the mutations below to start from."""
    found = []
    for path in sorted(MAPPINGS.glob("*.test.yaml")):
        cases = yaml.safe_load(path.read_text())
        mapping = yaml.safe_load((MAPPINGS / cases["mapping"]).read_text())
        for case in cases["cases"]:
            for action in (case.get("expect") or {}).get("actions") or []:
                if isinstance(action.get("payload"), dict):
                    where = action.get("destination", mapping["destination"])
                    found.append((where, action["action"], action["payload"]))
    return found


SEEDS = _seeds()


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str, Any]:
    """A seed payload with up to three changes: a value replaced (at any depth), a field
    removed, a field added."""
    vendor, name, payload = draw(st.sampled_from(SEEDS))
    payload = copy.deepcopy(payload)
    for _ in range(draw(st.integers(0, 3))):
        target: Any = payload
        while target and draw(st.booleans()):
            child = target[draw(st.sampled_from(sorted(target)))]
            if not isinstance(child, dict) or not child:
                break
            target = child
        change = draw(st.sampled_from(["replace", "remove", "add"]))
        if change == "add" or not target:
            key = draw(st.sampled_from(["stray", "id", "email", "timestamp", "last_used"]))
            target[key] = draw(VALUES)
        elif change == "remove":
            del target[draw(st.sampled_from(sorted(target)))]
        else:
            target[draw(st.sampled_from(sorted(target)))] = draw(VALUES)
    return vendor, name, payload


@settings(max_examples=1500, deadline=None)
@given(case=mutated())
def test_plainly_within_means_the_limits_change_nothing(case: tuple[str, str, Any]) -> None:
    """What ``plainly_within`` passes, the checks it stands for pass unchanged: timestamps
    in seconds (``timestamp_ms`` converted), identifiers within their limit."""
    vendor, _, payload = case
    if vendor != "customerio" or not limits.plainly_within(payload):
        event("not plain")
        return
    event("plain")
    resolved = repairs.resolve_timestamp_ms(payload, [])
    assert limits.normalize_timestamps(resolved) is resolved
    for field in ("identifiers", "primary", "secondary"):
        if field in payload:
            limits.check_identifier(field, payload[field])


def test_the_seeds_cover_both_vendors() -> None:
    assert {vendor for vendor, _, _ in SEEDS} == {"customerio", "mparticle"}
    assert len({(vendor, name) for vendor, name, _ in SEEDS}) >= 10


@settings(max_examples=1500, deadline=None)
@given(case=mutated())
def test_the_fast_path_never_passes_an_invalid_payload(case: tuple[str, str, Any]) -> None:
    vendor, name, payload = case
    schema = SCHEMAS[vendor][name].payload_schema
    quick = compile_predicate(schema, CHECKER.conforms)(payload)
    event("certainly valid" if quick else "unsure")
    if quick:
        assert DRAFT(schema, format_checker=CHECKER).is_valid(payload)
    if vendor == "customerio":  # the narrowed schema's one check is both checks, exactly
        assert certainly_plain(name, payload) == (quick and limits.plainly_within(payload))
    if vendor == "customerio" and CustomerIO().check_payload(name, payload) == []:
        try:  # what the fast path passed, the full checks pass too
            CustomerIO._checked(name, payload, [])
        except PermanentDeliveryError as exc:
            pytest.fail(f"fast path passed a payload the checks refuse: {exc.reason}")


def test_most_seeds_take_the_fast_path() -> None:
    """Real payloads are what the fast path is for: it is sure of most of them."""
    sure = [
        SchemaValidator(
            SCHEMAS[v][n].payload_schema, check_formats=v == "customerio"
        ).certainly_valid(p)
        for v, n, p in SEEDS
    ]
    assert sum(sure) >= 0.8 * len(sure), f"{sum(sure)} of {len(sure)}"


PERSON = {"id": "u-1"}
TYPICAL = {
    "identify": {"identifiers": PERSON, "attributes": {"plan": "pro", "age": 3}, "timestamp": 1},
    "event": {
        "identifiers": {"email": "a@example.com"},
        "name": "click",
        "event_id": "01J9ZQ4Y1V6XK3T9M5N2P8R7S4",
        "timestamp_ms": 1_700_000_000_000,
        "data": {"a": 1},
    },
    "screen": {"identifiers": PERSON, "name": "Home", "timestamp": 1_700_000_000},
    "page": {"identifiers": PERSON, "name": "https://example.com/", "data": {}},
}


@pytest.mark.parametrize("name", list(TYPICAL))
def test_everyday_customerio_payloads_take_the_fast_path(name: str) -> None:
    schema = CIO_ACTIONS[name].payload_schema
    assert SchemaValidator(schema, check_formats=True).certainly_valid(TYPICAL[name])
    assert certainly_plain(name, TYPICAL[name])
    assert CustomerIO().check_payload(name, TYPICAL[name]) == []


def test_a_schema_open_to_more_properties_is_narrowed_beside_them() -> None:
    """The limits' conditions reach a property the schema does not name but allows."""
    quick = compile_predicate(limits.plain_schema({"type": "object", "properties": {}}))
    assert quick({"timestamp": 1, "identifiers": {"id": "u-1"}, "other": 1.5})
    assert not quick({"timestamp": 1.0})
    assert not quick({"identifiers": {"id": "é"}})
    assert not quick({"device": {"last_used": 1}})


def test_a_payload_the_fast_path_is_unsure_of_gets_the_full_messages() -> None:
    bad = {"identifiers": {"id": "u-1", "email": "a@example.com"}, "name": ""}
    problems = CustomerIO().check_payload("event", bad)
    assert problems and "identifiers" in problems[0]
    float_time = {"identifiers": PERSON, "name": "x", "timestamp": 1_700_000_000.0}
    assert CustomerIO().check_payload("event", float_time) == []  # normalized, not refused
