"""``validate`` for test-case files (``*.test.yaml``): their shape, their mapping, their
settings, every problem with ``file:line:col``.

The shape is ``schemas/test.schema.json`` (unknown keys, a case without input, wrong
types); then the mapping the file names must exist (``E405``), every setting a case
gives must be one the mapping declares (``E406``), of the declared type (``E407``), and
every action a case expects must be one of the mapping's rules produce (``E409``: the
case could never pass), and, given the sources' shape check (``refusal``), every input
written in the file must be one ``serve`` would take (``E410``: ``test`` reports it as
the case's error). A setting given its default value is a warning (``W408``): the case
does not test what it seems to.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from ..contracts.errors import Problem, SpecError
from ..contracts.schema_validator import SchemaValidator
from .cases import Refusal
from .mapping_names import is_mapping_file
from .mapping_settings import setting_type_error
from .plan import Plan
from .schema_errors import did_you_mean, document_problems
from .yaml_loader import Positions, load

MISSING_MAPPING = "E405"
UNKNOWN_SETTING = "E406"
BAD_SETTING = "E407"
DEFAULT_SETTING = "W408"
UNKNOWN_ACTION = "E409"
REFUSED_INPUT = "E410"

#: Why production would refuse a document (None: taken), for a compiled mapping.
RefusalOf = Callable[[Plan], Refusal]


@lru_cache(maxsize=1)
def cases_schema() -> dict[str, Any]:
    text = resources.files("mapwire.schemas").joinpath("test.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@lru_cache(maxsize=1)
def _validator() -> SchemaValidator:
    return SchemaValidator(cases_schema())


def mapping_of(path: Path, value: dict[str, Any]) -> Path:
    """The mapping file a cases file is about (``mapping:``, else its own name)."""
    ref = value.get("mapping")
    name = ref if isinstance(ref, str) else path.name.replace(".test.", ".")
    return path.parent / name


def check_cases_file(
    path: Path, compile_mapping: Callable[[Path], Plan], refusal: RefusalOf | None = None
) -> list[Problem]:
    """Every problem in one cases file (its mapping's own problems are not repeated)."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem(str(path), 1, 1, "E000", f"cannot read file: {exc}")]
    return check_cases_text(text, path, compile_mapping, refusal)


def check_cases_text(
    text: str,
    path: Path,
    compile_mapping: Callable[[Path], Plan],
    refusal: RefusalOf | None = None,
) -> list[Problem]:
    """``check_cases_file`` for the text of ``path`` (an editor's unsaved buffer)."""
    value, positions, problems = load(text, str(path))
    if problems:
        return problems
    if not isinstance(value, dict):
        return [Problem(str(path), 1, 1, "E401", "expected `mapping:` and `cases: [...]`")]
    problems = document_problems(_validator(), value, positions)
    mapping = mapping_of(path, value)
    if not mapping.is_file():
        where = ("mapping",) if "mapping" in value else ()
        problems.append(
            positions.problem(
                where,
                MISSING_MAPPING,
                f"the mapping {mapping.name!r} does not exist (looked for {mapping.absolute()})"
                + did_you_mean(mapping.name, _mappings_beside(mapping)),
            )
        )
        return problems
    try:
        plan = compile_mapping(mapping)
    except SpecError:
        return problems  # the mapping's problems are the mapping file's to report
    cases = value.get("cases")
    produced = {rule.action for rule in plan.all_rules() if rule.action}
    refused = refusal(plan) if refusal is not None else None
    for i, case in enumerate(cases if isinstance(cases, list) else []):
        if not isinstance(case, dict):
            continue
        settings = case.get("settings")
        if isinstance(settings, dict):
            problems.extend(_settings_problems(plan, settings, ("cases", i, "settings"), positions))
        if refused is not None:
            problems.extend(_refused_inputs(case, ("cases", i), refused, positions))
        expect = case.get("expect")
        wanted = expect.get("actions") if isinstance(expect, dict) else None
        for j, action in enumerate(wanted if isinstance(wanted, list) else []):
            name = action.get("action") if isinstance(action, dict) else None
            if isinstance(name, str) and name not in produced:
                at = ("cases", i, "expect", "actions", j, "action")
                hint = did_you_mean(name, sorted(produced))
                message = (
                    f"no rule of mapping {plan.name!r} produces action {name!r}{hint}; "
                    f"its rules produce: {', '.join(sorted(produced)) or 'none'}"
                )
                problems.append(positions.problem(at, UNKNOWN_ACTION, message))
    return sorted(problems, key=lambda p: (p.line, p.col))


def _refused_inputs(
    case: dict[str, Any],
    where: tuple[str | int, ...],
    refused: Refusal,
    positions: Positions,
) -> list[Problem]:
    """E410 for each input written in the case that ``serve`` would refuse."""
    inputs: list[tuple[tuple[str | int, ...], Any]] = []
    if "input" in case:
        inputs.append(((*where, "input"), case["input"]))
    elif isinstance(case.get("inputs"), list):
        inputs.extend(((*where, "inputs", j), doc) for j, doc in enumerate(case["inputs"]))
    out = []
    for at, doc in inputs:
        why = refused(doc)
        if why is not None:
            message = f"serve would refuse this input: {why}"
            out.append(positions.problem(at, REFUSED_INPUT, message))
    return out


def _mappings_beside(mapping: Path) -> list[str]:
    """The mapping files in the folder ``mapping`` was looked for in."""
    try:
        return sorted(p.name for p in mapping.parent.iterdir() if is_mapping_file(p))
    except OSError:
        return []


def _settings_problems(
    plan: Plan, given: dict[str, Any], where: tuple[str | int, ...], positions: Positions
) -> list[Problem]:
    out = []
    for name, setting in given.items():
        decl = plan.settings.get(name)
        if decl is None:
            hint = did_you_mean(name, plan.settings)
            declared = ", ".join(sorted(plan.settings)) or "none"
            out.append(
                positions.problem(
                    (*where, name),
                    UNKNOWN_SETTING,
                    f"mapping {plan.name!r} has no setting {name!r}{hint}; declared: {declared}",
                    key=True,
                )
            )
            continue
        err = setting_type_error(decl, setting)
        if err:
            out.append(positions.problem((*where, name), BAD_SETTING, err))
        elif setting == decl.default and type(setting) is type(decl.default):
            line, col = positions.of((*where, name), key=True)
            out.append(
                Problem(
                    positions.file,
                    line,
                    col,
                    DEFAULT_SETTING,
                    f"setting {name!r} is given its default value",
                    severity="warning",
                    suggestion=f"leave {name!r} out, or give it a value other than the default",
                )
            )
    return out
