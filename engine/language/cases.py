"""Mapping test cases stored as data (``*.test.yaml``), run by ``mapwire test`` and pytest.

A cases file::

    mapping: shop_orders.yaml           # relative to this file
    cases:
      - name: an order becomes a purchase event
        settings: {include_user_attributes: false}   # optional overrides
        input: {...}            # one document; or `inputs: [...]` run in order, sharing
                                # state (membership, dedup); or `input_file: path`
        expect:
          actions: [{action: event, payload: {...}}, ...]   # exact, in order (default [])
                                # (an erasure's forgotten state as `forget: [{set, keys}]`)
          errors: ["required field 'name' is null"]          # substrings, in order (default [])
          skipped: {ignored event type: 1}                   # checked only when given
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..contracts.actions import MapResult
from ..contracts.dedup import apply_dedup
from ..contracts.errors import UNPROCESSABLE, ItemError, Problem, SpecError, unprocessable
from ..contracts.payload_check import describe, undeliverable
from ..contracts.store import MemoryStore
from .compiler import compile_plan
from .mapping_settings import resolve_settings
from .plan import Plan
from .schema_errors import did_you_mean
from .yaml_loader import load

_CASE_KEYS = {"name", "description", "settings", "input", "inputs", "input_file", "expect"}
_EXPECT_KEYS = {"actions", "errors", "skipped"}


@dataclass
class Case:
    name: str
    inputs: list[Any]
    settings: dict[str, Any]
    expect: dict[str, Any]
    line: int


@dataclass
class CasesFile:
    path: Path
    mapping: Path
    cases: list[Case] = field(default_factory=list)


def load_cases(path: Path) -> CasesFile:
    """Read a cases file; raise ``SpecError`` with positions for malformed ones."""
    value, positions, problems = load(path.read_text("utf-8"), str(path))
    if problems:
        raise SpecError(problems)
    if not isinstance(value, dict) or not isinstance(value.get("cases"), list):
        raise SpecError(
            [Problem(str(path), 1, 1, "E401", "expected `mapping:` and `cases: [...]`")]
        )
    mapping_ref = value.get("mapping") or path.name.replace(".test.", ".")
    out = CasesFile(path, (path.parent / mapping_ref).resolve())
    for i, raw in enumerate(value["cases"]):
        where = ("cases", i)
        if not isinstance(raw, dict):
            problems.append(positions.problem(where, "E402", "a case must be an object"))
            continue
        for key in raw:
            if key not in _CASE_KEYS:
                hint = did_you_mean(str(key), sorted(_CASE_KEYS))
                problems.append(
                    positions.problem(
                        (*where, key), "E403", f"unknown case key {key!r}{hint}", key=True
                    )
                )
        expect = raw.get("expect", {})
        for key in expect if isinstance(expect, dict) else ():
            if key not in _EXPECT_KEYS:
                problems.append(
                    positions.problem(
                        (*where, "expect", key),
                        "E403",
                        f"unknown expect key {key!r}{did_you_mean(str(key), sorted(_EXPECT_KEYS))}",
                        key=True,
                    )
                )
        if "inputs" in raw:
            inputs = raw["inputs"]
        elif "input_file" in raw:
            inputs = [_read_input(path.parent / raw["input_file"])]
        elif "input" in raw:
            inputs = [raw["input"]]
        else:
            problems.append(
                positions.problem(where, "E404", "a case needs input, inputs or input_file")
            )
            continue
        line = positions.of(where)[0]
        out.cases.append(
            Case(
                str(raw.get("name", f"case {i}")),
                list(inputs),
                dict(raw.get("settings") or {}),
                dict(expect or {}),
                line,
            )
        )
    if problems:
        raise SpecError(problems)
    return out


def _read_input(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


#: Why production would refuse an input document before mapping it (None: taken).
Refusal = Callable[[Any], str | None]


def run_case(plan: Plan, case: Case, refused: Refusal | None = None) -> MapResult:
    """All the case's inputs through the plan with one in-memory store, dedup applied.
    An input ``refused`` names a reason for is not mapped: it is the case's error
    (``input refused: <reason>``, code ``invalid_shape``), as ``serve`` and ``send``
    refuse it."""
    settings = resolve_settings(plan, case.settings, where=f"case {case.name!r}")
    store = MemoryStore()
    evaluator = compile_plan(plan)
    total = MapResult()
    for doc in case.inputs:
        why = refused(doc) if refused is not None else None
        if why is not None:
            total.errors.append(ItemError(f"input refused: {why}", code="invalid_shape"))
            continue
        try:
            result = apply_dedup(evaluator.run(doc, settings, store), store, plan.name)
        except Exception as exc:  # a bug the input exposed: the case's error, not a crash
            total.errors.append(ItemError(unprocessable(exc), code=UNPROCESSABLE))
            continue
        for forget in (f for a in result.actions for f in a.forget):
            store.forget(forget.set, forget.keys)  # as the runtime does before queueing
        total.actions.extend(result.actions)
        total.errors.extend(result.errors)
        for reason, n in result.skipped.items():
            total.skip(reason, n)
    return total


def check_case(
    plan: Plan,
    case: Case,
    destinations: Mapping[str, Any] | None = None,
    refused: Refusal | None = None,
) -> list[str]:
    """Mismatches between what the case expects and what the plan does (empty = pass).

    ``destinations`` (name -> destination plugin) adds each destination's own payload
    checks: an action the destination would refuse fails the case. ``refused``: the
    sources' shape check (``run_case``).
    """
    result = run_case(plan, case, refused)
    failures = []
    actual = [
        {"action": a.action, "payload": a.payload}
        | ({"destination": a.destination} if a.destination != plan.destination else {})
        | ({"forget": [f.as_dict() for f in a.forget]} if a.forget else {})
        for a in result.actions
    ]
    expected = [
        {k: v for k, v in a.items() if not (k == "destination" and v == plan.destination)}
        for a in case.expect.get("actions", [])
    ]
    if actual != expected:
        failures.append("actions differ:\n" + json_diff(expected, actual))
    for index, action, problems in undeliverable(result.actions, destinations or {}):
        failures.append(describe(index, action, problems))
    want_errors = list(case.expect.get("errors", []))
    got_errors = [str(e) for e in result.errors]
    if len(want_errors) != len(got_errors) or any(
        w not in g for w, g in zip(want_errors, got_errors, strict=False)
    ):
        failures.append(
            "errors differ:\n  expected: "
            + json.dumps(want_errors, ensure_ascii=False)
            + "\n  actual:   "
            + json.dumps(got_errors, ensure_ascii=False)
        )
    if "skipped" in case.expect and case.expect["skipped"] != result.skipped:
        failures.append(
            "skipped differ:\n  expected: "
            + json.dumps(case.expect["skipped"], sort_keys=True)
            + "\n  actual:   "
            + json.dumps(result.skipped, sort_keys=True)
        )
    return failures


def json_diff(expected: Any, actual: Any) -> str:
    a = json.dumps(expected, indent=2, sort_keys=True, ensure_ascii=False).splitlines()
    b = json.dumps(actual, indent=2, sort_keys=True, ensure_ascii=False).splitlines()
    return "\n".join(difflib.unified_diff(a, b, "expected", "actual", lineterm=""))
