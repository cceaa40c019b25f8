"""The shipped flows, checked against the vendors' own files: the vendors' sample inputs
map as expected, and every request the destinations build from the shipped test cases
validates against Customer.io's OpenAPI spec and mParticle's Events API schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from contract_specs import events_spec, load_vendor_json, track_spec

from mapwire.contracts.actions import Action
from mapwire.contracts.store import MemoryStore
from mapwire.language.cases import load_cases
from mapwire.language.compiler import compile_plan
from mapwire.language.mapping_settings import resolve_settings
from mapwire.runtime.mapping_files import compile_with_plugins, resolve_mapping
from mapwire.runtime.registry import get_registry

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"
SETTINGS = {
    "customerio": {"site_id": "site", "api_key": "key"},
    "mparticle": {"api_key": "key", "api_secret": "secret"},
}


def _case_actions() -> list[tuple[str, list[Action]]]:
    out = []
    for path in sorted(MAPPINGS.glob("*.test.yaml")):
        cases = load_cases(path)
        plan = compile_plan(compile_with_plugins(cases.mapping))
        for case in cases.cases:
            settings = resolve_settings(plan.plan, case.settings)
            store = MemoryStore()
            actions = [a for doc in case.inputs for a in plan.run(doc, settings, store).actions]
            if actions:
                out.append((f"{path.stem}:{case.name}", actions))
    return out


CASES = _case_actions()
#: Customer.io requests are checked for both Track API versions mapwire can send.
REQUESTS = [
    pytest.param(name, actions, api, id=f"{api}:{name}" if api else name)
    for name, actions in CASES
    for api in (("v2", "v1") if actions[0].destination == "customerio" else ("",))
]


def _bodies(actions: list[Action], **extra: Any) -> list[tuple[str, str, Any]]:
    """(method, path, JSON body) of every request built for ``actions``."""
    destination = get_registry().destinations()[actions[0].destination]
    settings = {**SETTINGS[destination.name], **extra}
    items = [destination.prepare(a, settings, key=i) for i, a in enumerate(actions)]
    out = []
    for sent in destination.build_requests(items, settings):
        content = sent.request.content
        out.append(
            (sent.request.method, sent.request.url.path, json.loads(content) if content else None)
        )
    return out


def _track_template(path: str) -> str:
    for template in track_spec().document["paths"]:
        parts, got = template.split("/"), path.split("/")
        if len(parts) == len(got) and all(
            p == g or p.startswith("{") for p, g in zip(parts, got, strict=True)
        ):
            return template
    raise AssertionError(f"{path} is not a Track API path")


def test_every_shipped_mapping_has_cases_with_actions() -> None:
    assert {name.split(":")[0] for name, _ in CASES} == {
        p.stem for p in MAPPINGS.glob("*.test.yaml")
    }


@pytest.mark.parametrize(("name", "actions", "api"), REQUESTS)
def test_requests_from_shipped_cases_validate_against_vendor_specs(
    name: str, actions: list[Action], api: str
) -> None:
    if actions[0].destination == "customerio":
        for method, path, body in _bodies(actions, api=api):
            validator = track_spec().body(method, _track_template(path))
            if validator is None:
                assert body is None
                continue
            errors = [e.message for e in validator.iter_errors(body)]
            assert errors == [], f"{method} {path}: {errors[:3]}"
    else:
        for _, path, body in _bodies(actions):
            assert path.endswith(("/bulkevents", "/bulkevents/historical"))
            assert events_spec().bulk_problems(body) == []


def _run(mapping: str, docs: list[Any], settings: dict[str, Any] | None = None) -> Any:
    plan = compile_with_plugins(resolve_mapping(mapping))
    runner = compile_plan(plan)
    store = MemoryStore()
    resolved = resolve_settings(plan, settings)
    results = [runner.run(doc, resolved, store) for doc in docs]
    actions = [a for r in results for a in r.actions]
    skipped: dict[str, int] = {}
    for r in results:
        for reason, n in r.skipped.items():
            skipped[reason] = skipped.get(reason, 0) + n
    return actions, skipped, [e for r in results for e in r.errors]


def test_mparticle_sample_batch_maps_to_valid_customerio_requests() -> None:
    sample = load_vendor_json("mparticle", "eventsapi.sample.json")
    actions, skipped, errors = _run("mparticle-events-to-customerio", [sample])
    assert errors == []
    kinds = [a.action for a in actions]
    assert kinds[0] == "identify" and "event" in kinds and "screen" in kinds
    assert skipped.get("ignored event type: session_start") == 2
    for method, path, body in _bodies(actions):
        assert track_spec().body(method, _track_template(path)).is_valid(body)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "sample", ["EventProcessingRequest_ios.json", "EventProcessingRequest_android.json"]
)
def test_mparticle_firehose_samples_only_carry_hashed_identities(sample: str) -> None:
    request = load_vendor_json("mparticle", "firehose", sample)
    actions, skipped, errors = _run("mparticle-firehose-to-customerio", [request])
    assert (actions, errors) == ([], [])
    assert skipped == {"only hashed identities": 1}
    # With the identities in the clear, the same request maps to valid requests.
    request["user_identities"] = [{"type": "customer", "encoding": "raw", "value": "c-1"}]
    actions, skipped, errors = _run("mparticle-firehose-to-customerio", [request])
    assert errors == [] and actions and actions[0].payload["identifiers"] == {"id": "c-1"}
    for method, path, body in _bodies(actions):
        assert track_spec().body(method, _track_template(path)).is_valid(body)  # type: ignore[union-attr]


def test_mparticle_audience_sample_is_skipped_for_hashed_identities_then_maps() -> None:
    request = load_vendor_json("mparticle", "firehose", "AudienceMembershipChangeRequest.json")
    actions, skipped, _ = _run("mparticle-audiences-to-customerio", [request])
    assert actions == [] and skipped == {"only hashed identities": 1}
    for profile in request["user_profiles"]:
        profile["user_identities"] = [{"type": "customer", "encoding": "raw", "value": "c-9"}]
    actions, _, errors = _run("mparticle-audiences-to-customerio", [request])
    assert errors == []
    assert actions[0].payload["attributes"]["In Example Audience Name"] == "true"
    assert actions[0].payload["attributes"]["In Example Audience Name 4"] == "false"
    for method, path, body in _bodies(actions):
        assert track_spec().body(method, _track_template(path)).is_valid(body)  # type: ignore[union-attr]


def _webhook_examples() -> list[dict[str, Any]]:
    spec = load_vendor_json("customerio", "reporting-webhooks.openapi.json")
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if {"event_id", "object_type", "metric", "timestamp", "data"} <= set(node):
                found.append(node)
                return
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    return found


def test_customerio_webhook_examples_map_to_valid_mparticle_batches() -> None:
    examples = _webhook_examples()
    assert examples
    actions, skipped, errors = _run("customerio-activity-to-mparticle", examples)
    assert errors == []
    forwarded = {a.payload["event_name"] for a in actions}
    assert forwarded <= {"email_sent", "sms_sent", "push_sent", "email_opened", "email_clicked"}
    assert "email_sent" in forwarded
    assert all(r.startswith(("event not forwarded", "duplicate")) for r in skipped)
    for _, _, body in _bodies(actions):
        assert events_spec().bulk_problems(body) == []
