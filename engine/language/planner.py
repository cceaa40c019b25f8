"""Spec -> Plan: read a mapping file, check it against the mapping schema, build its plan.

``load_plan(path)`` reads a YAML/JSON mapping, validates it against
``schemas/mapping.schema.json`` and builds its ``Plan`` (``plan_builder``: every expression
parsed once, every name checked, and the destination's actions and fields when known);
every problem in the file is collected and raised together as one ``SpecError`` whose
problems read ``file:line:col: CODE msg``. Then the type checks (``type_checks``): input
paths against the sources' JSON Schemas and fields against the destination's payload
schemas; their warnings ride on ``Plan.warnings``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache
from importlib import resources
from pathlib import Path as FsPath
from typing import Any

from ..contracts.errors import Problem, SpecError
from ..contracts.schema_validator import SchemaValidator
from .plan import Plan
from .plan_builder import PlanBuilder
from .schema_errors import document_problems
from .type_checks import type_problems
from .yaml_loader import load


@lru_cache(maxsize=1)
def mapping_schema() -> dict[str, Any]:
    text = resources.files("mapwire.schemas").joinpath("mapping.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@lru_cache(maxsize=1)
def _validator() -> SchemaValidator:
    return SchemaValidator(mapping_schema())


def compile_text(
    text: str,
    file: str,
    *,
    functions: Mapping[str, Any] | None = None,
    destinations: Mapping[str, Any] | None = None,
    sources: Mapping[str, Any] | None = None,
) -> Plan:
    """The plan of mapping text; raise ``SpecError`` listing every problem."""
    value, positions, problems = load(text, file)
    if not problems and not isinstance(value, dict):
        problems.append(Problem(file, 1, 1, "E100", "a mapping file must be an object"))
    if problems:
        raise SpecError(problems)
    problems = document_problems(_validator(), value, positions)
    builder = PlanBuilder(positions, functions or {}, destinations, sources)
    try:
        plan = builder.build(value)
    except (KeyError, TypeError, AttributeError, IndexError):
        # The shape is broken where the schema said so; report what was found so far.
        plan = None
    found = {(p.line, p.col, p.message): p for p in [*problems, *builder.problems]}
    if found or plan is None:
        raise SpecError(sorted(found.values(), key=lambda p: (p.line, p.col)))
    typed = type_problems(
        plan,
        positions,
        sources=sources,
        destination=builder.destination,
        functions=builder.functions,
    )
    if any(p.severity == "error" for p in typed):
        raise SpecError(typed)
    return replace(plan, warnings=tuple(typed)) if typed else plan


def load_plan(
    path: str | FsPath,
    *,
    functions: Mapping[str, Any] | None = None,
    destinations: Mapping[str, Any] | None = None,
    sources: Mapping[str, Any] | None = None,
) -> Plan:
    """Read a mapping file and build its plan (see ``compile_text``)."""
    p = FsPath(path)
    try:
        text = p.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([Problem(str(p), 1, 1, "E000", f"cannot read file: {exc}")]) from exc
    return compile_text(
        text, str(p), functions=functions, destinations=destinations, sources=sources
    )
