"""The audiences flow's stored memberships for profiles without a usable identity: kept by
MPID all the same (mParticle sends only changes, so one left out is missing from the list
for good), with the identities an erasure names recorded once the profile has them.
Both evaluators."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from mapwire.contracts.store import MemoryStore
from mapwire.language.compiler import compile_plan
from mapwire.language.interpreter import Evaluator
from mapwire.language.mapping_settings import resolve_settings
from mapwire.runtime.mapping_files import compile_with_plugins

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"
MAPPING = MAPPINGS / "mparticle_audiences_to_customerio.yaml"
SET = "audience_membership"


class RecordingStore(MemoryStore):
    """A memory store that also lists the aliases it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.aliases: list[tuple[str, str, list[str]]] = []

    def add_aliases(self, namespace: str, key: str, aliases: Sequence[str]) -> None:
        self.aliases.append((namespace, key, list(aliases)))
        super().add_aliases(namespace, key, aliases)


@pytest.fixture(params=["interpreted", "compiled"])
def runner(request: pytest.FixtureRequest) -> Any:
    plan = compile_with_plugins(MAPPING)
    return Evaluator(plan) if request.param == "interpreted" else compile_plan(plan)


def _change(ts: int, identities: list[dict[str, str]], audience: int) -> dict[str, Any]:
    return {
        "type": "audience_membership_change_request",
        "timestamp_ms": ts,
        "user_profiles": [
            {
                "mpid": "1",
                "user_identities": identities,
                "audiences": [{"audience_id": audience, "audience_name": "A", "action": "add"}],
            }
        ],
    }


def _lists(runner: Any, store: MemoryStore, settings: dict[str, Any], *docs: Any) -> list[Any]:
    resolved = resolve_settings(runner.plan, settings)
    return [
        a.payload["attributes"].get("Segment Membership")
        for doc in docs
        for a in runner.run(doc, resolved, store).actions
    ]


def test_aliases_are_recorded_once_the_profile_has_identities(runner: Any) -> None:
    store = RecordingStore()
    hashed = [{"type": "email", "encoding": "sha256", "value": "ab"}]
    raw = [
        {"type": "customer", "encoding": "raw", "value": "c1"},
        {"type": "email", "encoding": "raw", "value": "Ann@Example.com"},
    ]
    list_mode = {"one_attribute_per_segment": False}
    assert _lists(runner, store, list_mode, _change(100, [], 5), _change(150, hashed, 7)) == []
    assert store.aliases == []  # no identity yet: nothing, and never a hashed value
    assert _lists(runner, store, list_mode, _change(200, raw, 6)) == ["'5','6','7'"]
    assert store.aliases == [(SET, "1", ["c1", "Ann@Example.com", "ann@example.com"])]
    # An erasure naming the person by email finds what was kept before they had one.
    assert store.forget(SET, ["ann@example.com"]) == 1
    assert _lists(runner, store, list_mode, _change(300, raw, 8)) == ["'8'"]


def test_a_rebuild_keeps_memberships_of_profiles_without_a_usable_identity(runner: Any) -> None:
    store = MemoryStore()
    rebuild = {"one_attribute_per_segment": False, "rebuild_state": True}
    assert _lists(runner, store, rebuild, _change(5000, [], 5)) == []
    customer = [{"type": "customer", "encoding": "raw", "value": "c1"}]
    live = {"one_attribute_per_segment": False}
    assert _lists(runner, store, live, _change(6000, customer, 6)) == ["'5','6'"]
