"""A mapping spec (already schema-checked) -> ``Plan``, checking every name on the way.

``PlanBuilder(positions, functions, destinations, sources).build(spec)`` parses each
JMESPath expression once and checks, pointing inside the expression text: syntax (E201),
unknown functions (E202), unknown names (E203: every name an expression reads at its root
must be ``doc``, ``settings``, a loop name, a variable or a state name in scope), a negated
path (E209), unknown settings (E204), a call with the wrong number of arguments (E211);
then templates (E206), reserved names (E207), setting defaults (E208), a ``forget``
without an ``action`` (E210), and, when they are known,
the destination and its actions and fields (``destination_checks``) and the sources.
Problems accumulate in ``problems``; ``build`` returns None when there are any.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..contracts.errors import ExpressionSyntaxError, Problem
from .destination_checks import check_action
from .expressions import (
    BUILTIN_FUNCTIONS,
    analyse,
    offset_of,
    parse,
)
from .jmespath_support import arity_ok, arity_text, signature_of
from .mapping_settings import setting_type_error
from .plan import Expr, FieldPlan, ForgetPlan, MembershipPlan, Plan, RulePlan, SettingDecl
from .schema_errors import did_you_mean
from .yaml_loader import Path, Positions

RESERVED_NAMES = frozenset({"doc", "settings"})
_TEMPLATE_PART = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


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


class PlanBuilder:
    """Builds one mapping's ``Plan``; the problems found on the way collect in ``problems``."""

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
        for fn, given in dict.fromkeys(usage.calls):
            signature = signature_of(fn, self.functions)
            if signature is not None and not arity_ok(signature, given):
                at(
                    offset_of(text, fn, call=True),
                    "E211",
                    f"{fn}() takes {arity_text(signature)}, not {given}",
                )
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
                for k in ("add", "remove", "version", "aliases")
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
        forget = self.forget(spec, path, scope)
        fields: list[FieldPlan] = []
        if "fields" in spec:
            if self.destination is not None:
                action = spec.get("action", "")
                check_action(
                    self.destination, action, spec["fields"], path, self.positions, self.problems
                )
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
            forget=forget,
            action=spec.get("action"),
            fields=tuple(fields),
            skip=self.template(spec["skip"], (*path, "skip"), scope) if "skip" in spec else None,
            children=tuple(children),
        )

    def forget(self, spec: dict[str, Any], path: Path, scope: list[str]) -> tuple[ForgetPlan, ...]:
        """A rule's ``forget``: one ``{set, keys}`` or a list of them; only beside ``action``."""
        if "forget" not in spec:
            return ()
        raw = spec["forget"]
        if "action" not in spec:
            self.problem(
                (*path, "forget"),
                "E210",
                "`forget` needs an `action` in the same rule: the state is forgotten when "
                "that action (an erasure) is queued",
                key=True,
            )
        listed = raw if isinstance(raw, list) else [raw]
        out = []
        for i, item in enumerate(listed):
            fpath = (*path, "forget", *([i] if isinstance(raw, list) else []))
            keys = self.expr(item["keys"], (*fpath, "keys"), scope)
            if keys is not None:
                out.append(ForgetPlan(item["set"], keys))
        return tuple(out)

    # -- top level ------------------------------------------------------------------------
    def build(self, spec: dict[str, Any]) -> Plan | None:
        """The mapping's plan, or None when ``problems`` holds anything."""
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
