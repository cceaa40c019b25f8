"""Turn JSON Schema validation errors into ``file:line:col`` problems people can act on."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from ..contracts.errors import Problem
from ..contracts.schema_validator import SchemaValidator
from ..contracts.value_types import json_type
from .yaml_loader import Positions

if TYPE_CHECKING:  # jsonschema is imported where its errors are made, when they are
    from jsonschema.exceptions import ValidationError


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a close match exists, else an empty string."""
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _leaf_errors(error: ValidationError) -> list[ValidationError]:
    """For oneOf/anyOf failures, the sub-errors of the branch that got furthest."""
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return [error]
    by_branch: dict[int, list[ValidationError]] = {}
    for sub in error.context:
        branch = sub.schema_path[0] if sub.schema_path else 0
        by_branch.setdefault(int(branch), []).append(sub)

    # A branch whose only failures are "required"/"type" at the top did not really match.
    def depth(errs: list[ValidationError]) -> tuple[int, int]:
        deepest = max(len(e.absolute_path) for e in errs)
        shallow_type = all(e.validator in ("type", "required", "not") for e in errs)
        return (deepest, 0 if shallow_type else 1)

    best = max(by_branch.values(), key=depth)
    if depth(best) == (len(error.absolute_path), 0):
        return [error]
    out: list[ValidationError] = []
    for sub in best:
        out.extend(_leaf_errors(sub))
    return out


def _message(error: ValidationError) -> tuple[str, str, bool]:
    """(code, message, points_at_key)."""
    v: Any = error.validator
    schema: Any = error.schema
    instance: Any = error.instance
    if v == "additionalProperties":
        extra = [k for k in instance if k not in schema.get("properties", {})]
        allowed = sorted(schema.get("properties", {}))
        names = ", ".join(repr(k) for k in extra)
        hint = did_you_mean(extra[0], allowed) if extra else ""
        return "E101", f"unknown key {names}{hint}", True
    if v == "required":
        return "E102", error.message, False
    if v == "type":
        return (
            "E103",
            f"expected {_types(cast(Any, error.validator_value))}, got {json_type(instance)}",
            False,
        )
    if v in ("enum", "const"):
        allowed = (
            cast(Any, error.validator_value) if v == "enum" else [cast(Any, error.validator_value)]
        )
        strings = [a for a in allowed if isinstance(a, str)]
        hint = did_you_mean(instance, strings) if isinstance(instance, str) else ""
        return "E104", f"{instance!r} is not one of {allowed!r}{hint}", False
    if v in ("oneOf", "anyOf"):
        return "E105", _alternatives(error), False
    if v == "pattern":
        message = f"{instance!r} does not match {cast(Any, error.validator_value)!r}"
        examples = error.schema.get("examples") if isinstance(error.schema, dict) else None
        if examples:
            message += " (e.g. " + ", ".join(str(e) for e in examples) + ")"
        return "E106", message, False
    return "E100", error.message, False


def _alternatives(error: ValidationError) -> str:
    schema: Any = error.schema
    keysets = []
    partial = ""  # a branch the object has part of: what it lacks is the likely mistake
    instance: Any = error.instance
    for branch in schema.get(error.validator, []):
        req = branch.get("required")
        if req:
            keysets.append("/".join(req))
            missing = [k for k in req if isinstance(instance, dict) and k not in instance]
            if not partial and missing and len(missing) < len(req):
                given = [k for k in req if k not in missing]
                partial = f"`{'`, `'.join(given)}` needs `{'`, `'.join(missing)}` beside it; "
    if keysets and isinstance(instance, dict):
        return partial + "needs exactly one of: " + ", ".join(keysets)
    return f"{json_type(cast(Any, error.instance))} is not valid here"


def _types(value: Any) -> str:
    return " or ".join(value) if isinstance(value, list) else str(value)


def schema_problems(errors: Iterable[ValidationError], positions: Positions) -> list[Problem]:
    """Every validation error as a positioned problem, deduplicated, in file order."""
    problems: dict[tuple[int, int, str], Problem] = {}
    for top in errors:
        for error in _leaf_errors(top):
            code, message, at_key = _message(error)
            path = tuple(error.absolute_path)
            schema: Any = error.schema
            instance: Any = error.instance
            if at_key and error.validator == "additionalProperties":
                extra = [k for k in instance if k not in schema.get("properties", {})]
                for name in extra:
                    hint = did_you_mean(name, sorted(schema.get("properties", {})))
                    p = positions.problem(
                        (*path, name), code, f"unknown key {name!r}{hint}", key=True
                    )
                    problems[(p.line, p.col, p.message)] = p
                continue
            p = positions.problem(path, code, message)
            problems[(p.line, p.col, p.message)] = p
    return sorted(problems.values(), key=lambda p: (p.line, p.col))


def document_problems(
    validator: SchemaValidator, value: Any, positions: Positions
) -> list[Problem]:
    """``value`` (a mapping or test file) against ``validator``'s schema: none when its
    compiled check is sure, which decides a well-formed file in a fraction of a
    millisecond; else every error as a positioned problem (jsonschema, imported only
    then, finds and words them)."""
    if validator.certainly_valid(value):
        return []
    return schema_problems(validator.iter_errors(value), positions)
