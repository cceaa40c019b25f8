"""Spec -> Plan: validate a mapping file, parse every expression once, check every name.

``load_plan(path)`` reads a YAML/JSON mapping, validates it against
``schemas/mapping.schema.json`` and compiles it; every problem in the file is collected
and raised together as one ``SpecError`` whose problems read ``file:line:col: CODE msg``.

Static checks beyond the schema: JMESPath syntax (pointing inside the expression), unknown
functions, unknown names (every name an expression reads at its root must be ``doc``,
``settings``, a loop name, a variable or a state name in scope), unknown settings, and, when
destinations are known, unknown destination / action / payload field (with did-you-mean).
Then the type checks (``type_checks``): input paths against the sources' JSON Schemas and
fields against the destination's payload schemas; their warnings ride on ``Plan.warnings``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache
from importlib import resources
from pathlib import Path as FsPath
from typing import Any

import jsonschema

from ..contracts.errors import ExpressionSyntaxError, Problem, SpecError
from .expressions import (
    BUILTIN_FUNCTIONS,
    analyse,
    offset_of,
    parse,
)
from .plan import Expr, FieldPlan, MembershipPlan, Plan, RulePlan, SettingDecl
from .schema_errors import did_you_mean, schema_problems
from .type_checks import type_problems
from .yaml_loader import Path, Positions, load

RESERVED_NAMES = frozenset({"doc", "settings"})
_TEMPLATE_PART = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


@lru_cache(maxsize=1)
def mapping_schema() -> dict[str, Any]:
    text = resources.files("mapwire.schemas").joinpath("mapping.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(mapping_schema())


def _dotted(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _stray_offset(text: str, brace: str) -> int:
    """Offset of the first brace of kind ``brace`` that is not part of a placeholder."""
    covered: set[int] = set()
    for m in _TEMPLATE_PART.finditer(text):
        covered.update(range(m.start(), m.end()))
    for i, ch in enumerate(text):
        if ch == brace and i not in covered:
            return i
    return 0


class _Compiler:
    def __init__(
        self,
        positions: Positions,
        functions: Mapping[str, Any],
        destinations: Mapping[str, Any] | None,
        sources: Mapping[str, Any] | None,
    ) -> None:
        self.positions = positions
        self.functions = functions
        self.destinations = destinations
        self.sources = sources
        self.problems: list[Problem] = []
        self.settings: dict[str, SettingDecl] = {}
        self.destination: Any = None

    def problem(self, path: Path, code: str, message: str, *, key: bool = False) -> None:
        self.problems.append(self.positions.problem(path, code, message, key=key))

    # -- expressions ----------------------------------------------------------------------
    def expr(self, text: str, path: Path, scope: list[str], base: int = 0) -> Expr | None:
        try:
            ast = parse(text)
        except ExpressionSyntaxError as exc:
            line, col = self.positions.inside(path, exc.offset)
            self.problems.append(Problem(self.positions.file, line, col, "E201", str(exc)))
            return None
        usage = analyse(ast)

        def at(offset: int, code: str, message: str) -> None:
            line, col = self.positions.inside(path, offset)
            self.problems.append(Problem(self.positions.file, line, col, code, message))

        for fn in dict.fromkeys(usage.functions):
            if fn not in BUILTIN_FUNCTIONS and fn not in self.functions:
                hint = did_you_mean(fn, [*BUILTIN_FUNCTIONS, *self.functions])
                at(offset_of(text, fn, call=True), "E202", f"unknown function {fn}(){hint}")
        for name in dict.fromkeys(usage.root_names):
            if name not in scope:
                hint = did_you_mean(name, scope)
                at(
                    offset_of(text, name),
                    "E203",
                    f"unknown name {name!r}{hint}; an expression starts from one of: "
                    + ", ".join(scope),
                )
        for name in dict.fromkeys(usage.negated_paths):
            at(
                offset_of(text, "!" + name) if "!" + name in text else 0,
                "E209",
                f"`!{name}.…` means `(!{name}).…`, which is always null; write `!({name}.…)`",
            )
        for name in dict.fromkeys(usage.settings):
            if name not in self.settings:
                hint = did_you_mean(name, self.settings)
                offset = offset_of(text, "settings") + len("settings.")
                at(offset, "E204", f"unknown setting {name!r}{hint}")
        return Expr(text, ast, _dotted(path), tuple(path), base)

    # -- fields ---------------------------------------------------------------------------
    def field(self, name: str, spec: Any, path: Path, scope: list[str]) -> FieldPlan | None:
        at = _dotted(path)
        if isinstance(spec, str):
            e = self.expr(spec, path, scope)
            return FieldPlan(name, "expr", expr=e, at=at, path=tuple(path)) if e else None
        if not isinstance(spec, dict):
            return FieldPlan(name, "value", value=spec, at=at, path=tuple(path))
        opts: dict[str, Any] = {"at": at, "path": tuple(path)}
        if "expr" in spec:
            e = self.expr(spec["expr"], (*path, "expr"), scope)
            if e is None:
                return None
            opts.update(source="expr", expr=e)
        elif "first" in spec:
            subs = [
                self.field(f"{name}[{i}]", s, (*path, "first", i), scope)
                for i, s in enumerate(spec["first"])
            ]
            if any(s is None for s in subs):
                return None
            opts.update(source="first", first=tuple(s for s in subs if s))
        elif "value" in spec:
            opts.update(source="value", value=spec["value"])
        elif "template" in spec:
            parts = self.template(spec["template"], (*path, "template"), scope)
            if parts is None:
                return None
            opts.update(source="template", template=parts)
        elif "merge" in spec:
            subs = [
                self.field(f"{name}[{i}]", s, (*path, "merge", i), scope)
                for i, s in enumerate(spec["merge"])
            ]
            if any(s is None for s in subs):
                return None
            opts.update(source="merge", merge=tuple(s for s in subs if s))
        else:
            subs = [
                self.field(k, s, (*path, "object", k), scope) for k, s in spec["object"].items()
            ]
            if any(s is None for s in subs):
                return None
            opts.update(source="object", object=tuple(s for s in subs if s))
        if "map" in spec:
            opts["map"] = {str(k): v for k, v in spec["map"].items()}
        if "map_default" in spec:
            opts.update(has_map_default=True, map_default=spec["map_default"])
        if "cast" in spec:
            opts["cast"] = spec["cast"]
        if "rename" in spec:
            opts["rename"] = dict(spec["rename"])
        if "omit" in spec:
            opts["omit"] = frozenset(spec["omit"])
        if spec.get("omit_empty"):
            opts["omit_empty"] = True
        if "default" in spec:
            opts.update(has_default=True, default=spec["default"])
        if_null = spec.get("if_null", "error" if spec.get("required") else "omit")
        if spec.get("required") and spec.get("if_null", "error") != "error":
            self.problem(path, "E205", "`required: true` conflicts with `if_null`", key=False)
        opts["if_null"] = if_null
        opts["skip_reason"] = spec.get("skip_reason") or f"{name} is null"
        return FieldPlan(name, **opts)

    def template(self, text: str, path: Path, scope: list[str]) -> tuple[str | Expr, ...] | None:
        parts: list[str | Expr] = []
        pos = 0
        ok = True
        for m in _TEMPLATE_PART.finditer(text):
            if m.start() > pos:
                parts.append(text[pos : m.start()])
            token = m.group(0)
            if token in ("{{", "}}"):
                parts.append(token[0])
            else:
                inner = m.group(1).strip()
                if not inner:
                    self.problem(path, "E206", "empty placeholder {} in template")
                    ok = False
                else:
                    base = m.start(1) + len(m.group(1)) - len(m.group(1).lstrip())
                    e = self.expr(inner, path, scope, base)
                    ok = ok and e is not None
                    if e is not None:
                        parts.append(e)
            pos = m.end()
        if pos < len(text):
            parts.append(text[pos:])
        stray = re.search(r"(?<!\{)\{(?!\{)|(?<!\})\}(?!\})", _TEMPLATE_PART.sub("", text))
        if stray:
            brace = stray.group(0)
            offset = _stray_offset(text, brace)
            line, col = self.positions.inside(path, offset)
            self.problems.append(
                Problem(
                    self.positions.file,
                    line,
                    col,
                    "E206",
                    f"unbalanced {brace!r} in template (write {brace * 2!r} for a brace)",
                )
            )
            ok = False
        # Merge adjacent literal strings.
        merged: list[str | Expr] = []
        for part in parts:
            if isinstance(part, str) and merged and isinstance(merged[-1], str):
                merged[-1] += part
            else:
                merged.append(part)
        return tuple(merged) if ok else None

    def variables(self, spec: dict[str, Any], path: Path, scope: list[str]) -> list[FieldPlan]:
        out = []
        for name, vspec in spec.items():
            if name in RESERVED_NAMES:
                self.problem((*path, name), "E207", f"{name!r} is reserved", key=True)
                continue
            f = self.field(name, vspec, (*path, name), scope)
            if f is not None:
                out.append(f)
            scope.append(name)
        return out

    # -- rules ----------------------------------------------------------------------------
    def rule(self, spec: dict[str, Any], path: Path, outer: list[str]) -> RulePlan | None:
        scope = list(outer)
        name = spec.get("name") or _dotted(path)
        loops = []
        for loop_name, text in spec.get("for_each", {}).items():
            e = self.expr(text, (*path, "for_each", loop_name), scope)
            if loop_name in RESERVED_NAMES:
                self.problem((*path, "for_each", loop_name), "E207", f"{loop_name!r} is reserved")
            if e is not None:
                loops.append((loop_name, e))
            scope.append(loop_name)
        when = self.expr(spec["when"], (*path, "when"), scope) if "when" in spec else None
        variables = self.variables(spec.get("variables", {}), (*path, "variables"), scope)
        state = []
        for sname, sspec in spec.get("state", {}).items():
            spath = (*path, "state", sname)
            key = self.expr(sspec["key"], (*spath, "key"), scope)
            parts = {
                k: self.expr(sspec[k], (*spath, k), scope) if k in sspec else None
                for k in ("add", "remove", "version")
            }
            changes = sspec.get("changes")
            if changes in RESERVED_NAMES:
                self.problem((*spath, "changes"), "E207", f"{changes!r} is reserved")
                changes = None
            if key is not None:
                state.append(
                    MembershipPlan(sname, sspec.get("set", sname), key, **parts, changes=changes)
                )
            scope.append(sname)
            if changes is not None:
                scope.append(changes)
        dedup_spec = spec.get("dedup_key", [])
        dedup_list = [dedup_spec] if isinstance(dedup_spec, str) else dedup_spec
        dedup = [
            e
            for i, text in enumerate(dedup_list)
            if (
                e := self.expr(
                    text,
                    (*path, "dedup_key", *([i] if isinstance(dedup_spec, list) else [])),
                    scope,
                )
            )
        ]
        fields: list[FieldPlan] = []
        if "fields" in spec:
            self.check_action(spec.get("action", ""), spec["fields"], path)
            for fname, fspec in spec["fields"].items():
                f = self.field(fname, fspec, (*path, "fields", fname), scope)
                if f is not None:
                    fields.append(f)
        children = [
            c
            for i, child in enumerate(spec.get("rules", []))
            if (c := self.rule(child, (*path, "rules", i), scope))
        ]
        return RulePlan(
            name=name,
            at=_dotted(path),
            path=tuple(path),
            loops=tuple(loops),
            when=when,
            variables=tuple(variables),
            state=tuple(state),
            dedup=tuple(dedup),
            action=spec.get("action"),
            fields=tuple(fields),
            skip=self.template(spec["skip"], (*path, "skip"), scope) if "skip" in spec else None,
            children=tuple(children),
        )

    # -- destination contract ---------------------------------------------------------------
    def check_action(self, action: str, fields: dict[str, Any], path: Path) -> None:
        if self.destination is None:
            return
        actions = self.destination.actions
        if action not in actions:
            hint = did_you_mean(action, actions)
            self.problem(
                (*path, "action"),
                "E302",
                f"destination {self.destination.name!r} has no action {action!r}{hint}; "
                f"actions: {', '.join(sorted(actions))}",
            )
            return
        self.check_fields(actions[action].payload_schema, fields, (*path, "fields"), action)

    def check_fields(
        self, schema: Mapping[str, Any], fields: dict[str, Any], path: Path, action: str
    ) -> None:
        props = schema.get("properties", {})
        closed = schema.get("additionalProperties", True) is False
        for fname, fspec in fields.items():
            if fname not in props:
                if closed:
                    hint = did_you_mean(fname, props)
                    self.problem(
                        (*path, fname),
                        "E303",
                        f"action {action!r} has no field {fname!r}{hint}",
                        key=True,
                    )
                continue
            if isinstance(fspec, dict) and "object" in fspec and isinstance(props[fname], dict):
                sub = props[fname]
                if sub.get("type") == "object" and "properties" in sub:
                    self.check_fields(sub, fspec["object"], (*path, fname, "object"), action)

    # -- top level ------------------------------------------------------------------------
    def compile(self, spec: dict[str, Any]) -> Plan | None:
        for sname, decl in spec.get("settings", {}).items():
            spath: Path = ("settings", sname)
            self.settings[sname] = SettingDecl(
                sname,
                decl["type"],
                decl["default"],
                decl.get("description", ""),
                tuple(decl["enum"]) if "enum" in decl else None,
                decl.get("items"),
            )
            err = setting_type_error(self.settings[sname], decl["default"])
            if err:
                self.problem((*spath, "default"), "E208", err)
        if self.destinations is not None:
            dname = spec["destination"]
            if dname in self.destinations:
                self.destination = self.destinations[dname]
            else:
                hint = did_you_mean(dname, self.destinations)
                self.problem(("destination",), "E301", f"unknown destination {dname!r}{hint}")
        sources = [spec["source"]] if isinstance(spec["source"], str) else list(spec["source"])
        for i, source in enumerate(sources):
            if self.sources is not None and source not in self.sources:
                hint = did_you_mean(source, self.sources)
                where = ("source",) if isinstance(spec["source"], str) else ("source", i)
                self.problem(where, "E304", f"unknown source {source!r}{hint}")
        scope = ["doc", "settings"]
        variables = self.variables(spec.get("variables", {}), ("variables",), scope)
        rules = [
            r
            for i, rspec in enumerate(spec["rules"])
            if (r := self.rule(rspec, ("rules", i), scope))
        ]
        if self.problems:
            return None
        return Plan(
            name=spec["name"],
            description=spec.get("description", ""),
            sources=tuple(sources),
            destination=spec["destination"],
            file=self.positions.file,
            settings=self.settings,
            variables=tuple(variables),
            rules=tuple(rules),
            functions=dict(self.functions),
        )


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "boolean": (bool,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "array": (list,),
    "object": (dict,),
}


def setting_type_error(decl: SettingDecl, value: Any) -> str | None:
    """Why ``value`` is not valid for the setting, or None."""
    ok = isinstance(value, _JSON_TYPES[decl.type]) and not (
        decl.type in ("integer", "number") and isinstance(value, bool)
    )
    if not ok:
        return f"setting {decl.name!r} expects {decl.type}, got {type(value).__name__}"
    if decl.enum is not None and value not in decl.enum:
        hint = did_you_mean(str(value), [str(v) for v in decl.enum])
        return f"setting {decl.name!r}: {value!r} is not one of {list(decl.enum)!r}{hint}"
    if decl.items is not None and isinstance(value, list):
        validator = jsonschema.Draft202012Validator(decl.items)
        for item in value:
            for error in validator.iter_errors(item):
                allowed = decl.items.get("enum")
                hint = did_you_mean(str(item), [str(v) for v in allowed]) if allowed else ""
                return f"setting {decl.name!r}: item {item!r}: {error.message}{hint}"
    return None


def compile_text(
    text: str,
    file: str,
    *,
    functions: Mapping[str, Any] | None = None,
    destinations: Mapping[str, Any] | None = None,
    sources: Mapping[str, Any] | None = None,
) -> Plan:
    """Compile mapping text; raise ``SpecError`` listing every problem."""
    value, positions, problems = load(text, file)
    if not problems and not isinstance(value, dict):
        problems.append(Problem(file, 1, 1, "E100", "a mapping file must be an object"))
    if problems:
        raise SpecError(problems)
    problems = schema_problems(_validator().iter_errors(value), positions)
    compiler = _Compiler(positions, functions or {}, destinations, sources)
    try:
        plan = compiler.compile(value)
    except (KeyError, TypeError, AttributeError, IndexError):
        # The shape is broken where the schema said so; report what was found so far.
        plan = None
    found = {(p.line, p.col, p.message): p for p in [*problems, *compiler.problems]}
    if found or plan is None:
        raise SpecError(sorted(found.values(), key=lambda p: (p.line, p.col)))
    typed = type_problems(
        plan,
        positions,
        sources=sources,
        destination=compiler.destination,
        functions=compiler.functions,
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
    """Read and compile a mapping file."""
    p = FsPath(path)
    try:
        text = p.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([Problem(str(p), 1, 1, "E000", f"cannot read file: {exc}")]) from exc
    return compile_text(
        text, str(p), functions=functions, destinations=destinations, sources=sources
    )
