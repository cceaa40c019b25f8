"""One turn of the playground: mapping text + input + settings -> diagnostics, actions,
vendor requests, skips and the ``explain`` trace, as one JSON-ready answer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..contracts.actions import Action
from ..contracts.dedup import apply_dedup
from ..contracts.errors import SpecError
from ..contracts.payload_check import describe, undeliverable
from ..contracts.store import MemoryStore
from ..language.interpreter import Evaluator, TraceEntry
from ..language.mapping_settings import resolve_settings
from ..language.plan import Plan
from ..language.yaml_loader import load
from ..runtime.registry import Registry
from .compile_text import compile_mapping, problem_row
from .documents import read_input
from .trace_lines import trace_rows
from .vendor_requests import build_vendor_requests, placeholder_settings

Account = tuple[str, Mapping[str, Any]]
"""Where the destination settings came from (a connection's name, or a note) and them."""


@dataclass(frozen=True)
class Turn:
    mapping: str
    file: str
    input: str
    settings: Mapping[str, Any]


def _account(plan: Plan, registry: Registry, accounts: Callable[[Plan], Account | None]) -> Account:
    found = accounts(plan)
    if found is not None:
        return found
    destination = registry.destinations()[plan.destination]
    return "placeholder credentials (no config)", placeholder_settings(destination)


def evaluate(
    turn: Turn, registry: Registry, accounts: Callable[[Plan], Account | None]
) -> dict[str, Any]:
    """Everything the page shows for ``turn``; nothing is sent anywhere."""
    compiled = compile_mapping(turn.mapping, turn.file, registry)
    answer: dict[str, Any] = {
        "diagnostics": [problem_row(p) for p in compiled.problems],
        "actions": [],
        "requests": [],
        "rejected": [],
        "skipped": [],
        "errors": [],
        "explain": [],
        "account": "",
        "settings": [],
    }
    plan = compiled.plan
    if plan is None:
        return answer
    answer["settings"] = [
        {"name": d.name, "type": d.type, "default": d.default, "enum": d.enum}
        for d in plan.settings.values()
    ]
    try:
        settings = resolve_settings(plan, dict(turn.settings), where="settings")
    except SpecError as exc:
        answer["errors"] = [str(p) for p in exc.problems]
        return answer
    docs, problems = read_input(turn.input)
    answer["errors"].extend(problems)
    _, positions, _ = load(turn.mapping, turn.file)
    evaluator = Evaluator(plan)
    store = MemoryStore()
    destinations = registry.destinations()
    actions: list[Action] = []
    for n, doc in enumerate(docs, 1):
        trace: list[TraceEntry] = []
        result = apply_dedup(evaluator.run(doc, settings, store, trace=trace), store, plan.name)
        for row in trace_rows(trace, plan, positions):
            answer["explain"].append({"document": n, **row})
        for action in result.actions:
            answer["actions"].append(
                {"document": n, "rule": action.rule, "index": len(actions), **action.as_dict()}
            )
            actions.append(action)
        answer["errors"].extend(f"document {n}: {error}" for error in result.errors)
        for index, action, found in undeliverable(result.actions, destinations):
            answer["errors"].append(f"document {n}: {describe(index, action, found)}")
        for reason, count in sorted(result.skipped.items()):
            answer["skipped"].append(
                {
                    "document": n,
                    "reason": reason,
                    "count": count,
                    "text": f"document {n}: {reason} ({count})",
                }
            )
    if actions:
        name, account = _account(plan, registry, accounts)
        answer["account"] = name
        requests, rejected = build_vendor_requests(destinations[plan.destination], actions, account)
        answer["requests"] = requests
        answer["rejected"] = rejected
    return answer
