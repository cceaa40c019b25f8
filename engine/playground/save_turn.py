"""The save button: the mapping as typed, and optionally a test case whose expectation is
what the mapping does to the current input now (actions, errors, skips), so that
``mapwire test`` keeps it doing that."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..contracts.errors import SpecError
from ..language.cases import Case, run_case
from ..runtime.registry import Registry
from .compile_text import compile_mapping
from .documents import read_input
from .saving import SaveRefused, inside, save_case, save_mapping


def save_turn(save_dir: Path, body: dict[str, Any], registry: Registry) -> list[Path]:
    """Save ``body["mapping"]`` as ``body["name"]``; with ``body["case"]`` (a case name),
    also a case from ``body["input"]`` and ``body["settings"]``. Returns the files written.

    Raises ``SaveRefused`` for a name outside the save folder or an input that is not
    JSON, ``SpecError`` when a case is asked of a mapping with errors."""
    name = str(body.get("name") or "")
    text = str(body.get("mapping") or "")
    inside(save_dir, name)
    case_name = str(body.get("case") or "").strip()
    case_file = None
    if case_name:
        compiled = compile_mapping(text, name, registry)
        if compiled.plan is None:
            raise SpecError(compiled.problems)
        docs, problems = read_input(str(body.get("input") or ""))
        if problems or not docs:
            raise SaveRefused("; ".join(problems) or "a test case needs an input document")
        given = body.get("settings")
        settings: dict[str, Any] = dict(given) if isinstance(given, dict) else {}
        result = run_case(compiled.plan, Case(case_name, docs, settings, {}, 0))
        expect: dict[str, Any] = {
            "actions": [{"action": a.action, "payload": a.payload} for a in result.actions]
        }
        if result.errors:
            expect["errors"] = [str(e) for e in result.errors]
        if result.skipped:
            expect["skipped"] = dict(sorted(result.skipped.items()))
        case_file = (docs, settings, expect)
    saved = [save_mapping(save_dir, name, text)]
    if case_file is not None:
        docs, settings, expect = case_file
        saved.append(save_case(save_dir, name, case_name, docs, settings, expect))
    return saved
