"""An action's fields against the destination action's payload schema, by type.

For each field a rule sets, the type its value may have (``type_checks``) is compared with
the type the payload schema's property accepts: no overlap is an error (E510: delivery
would always refuse it), a partial overlap a warning (E511: some items may be refused).
Nested ``object:`` fields are checked against the nested schema. Each property the schema
requires must be set (E512), and set from something that is never null, or with a
``default`` or an ``if_null`` that says what a null does (E513: else the item is
dead-lettered at delivery). Null values are left out of the type comparison: a null field
is omitted, which is what E513 is about.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from .plan import FieldPlan, RulePlan
from .typing_schema import Ty, from_schema, kind_of, lookup

NEVER_MATCHES = "E510"
MAY_NOT_MATCH = "E511"
REQUIRED_UNSET = "E512"
REQUIRED_MAY_BE_NULL = "E513"

Fields = Mapping[str, tuple[FieldPlan, Ty]]


def _accepts(dest: Ty, kind: str) -> bool:
    return kind in dest.kinds or (kind == "integer" and "number" in dest.kinds)


def _resolve(node: Any, root: Mapping[str, Any]) -> Mapping[str, Any]:
    seen = 0
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and seen < 32:
        target: Any = root
        for part in node["$ref"].lstrip("#").split("/")[1:]:
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        node, seen = target, seen + 1
    return node if isinstance(node, Mapping) else {}


class Reporter(Protocol):
    """Where the contract check reports: the type checks' walk over one mapping."""

    def report(
        self, path: tuple[str | int, ...], code: str, message: str, severity: str, fix: str
    ) -> None: ...

    def report_expr(
        self, fp: FieldPlan, code: str, message: str, severity: str, fix: str
    ) -> None: ...

    def unsure_about(self, fp: FieldPlan) -> None: ...


class Contract:
    def __init__(self, walk: Reporter, destination: Any) -> None:
        self.walk = walk
        self.destination = destination

    def check_action(self, rule: RulePlan, fields: Fields) -> None:
        actions = getattr(self.destination, "actions", None)
        if not isinstance(actions, Mapping) or rule.action not in actions:
            return
        schema = actions[rule.action].payload_schema
        at = (*rule.path, "action")
        self.check_object(schema, schema, fields, f"action {rule.action!r}", at)

    def check_object(
        self,
        node: Any,
        root: Mapping[str, Any],
        fields: Fields,
        where: str,
        at: tuple[str | int, ...],
    ) -> None:
        schema = _resolve(node, root)
        props = schema.get("properties") or {}
        for name, (fp, ty) in fields.items():
            if name not in props:
                continue
            sub = _resolve(props[name], root)
            if fp.source == "object" and sub.get("properties"):
                inner = {s.name: (s, lookup(ty, s.name)[0]) for s in fp.object}
                self.check_object(sub, root, inner, f"{where} field {name!r}", (*fp.path, "object"))
                continue
            self.check_type(fp, ty, from_schema(sub, root), f"{where} field {name!r}")
            self.check_built(fp, ty, sub, root, f"{where} field {name!r}")
        for name in schema.get("required") or []:
            if name not in fields:
                self.walk.report(
                    at,
                    REQUIRED_UNSET,
                    f"{where} requires {name!r}, which this rule never sets; every item "
                    "would be dead-lettered at delivery",
                    "error",
                    f"add `{name}:` to the rule's fields",
                )
                continue
            fp, ty = fields[name]
            if ty.checked and ty.may_be_null and fp.if_null == "omit" and not fp.has_default:
                self.walk.report_expr(
                    fp,
                    REQUIRED_MAY_BE_NULL,
                    f"{where} requires {name!r}, and this may be null here: such items "
                    "may be dead-lettered at delivery",
                    "warning",
                    "add `required: true` (a per-item error), `if_null: skip` or a `default`",
                )

    def check_built(
        self, fp: FieldPlan, ty: Ty, sub: Mapping[str, Any], root: Mapping[str, Any], where: str
    ) -> None:
        """An object the mapping built elsewhere (a variable ``object:``, a multiselect),
        key by key against the destination's nested properties."""
        props = sub.get("properties") or {}
        shapes = ty.without_null().shapes
        if not props or not shapes or not all(shape.exact for shape in shapes):
            return
        for shape in shapes:
            for key, key_ty in (shape.declared() or {}).items():
                if key in props:
                    dest = from_schema(_resolve(props[key], root), root)
                    self.check_type(fp, key_ty, dest, f"{where} key {key!r}")

    def check_type(self, fp: FieldPlan, ty: Ty, dest: Ty, where: str) -> None:
        got = ty.without_null()
        if not got.checked:
            self.walk.unsure_about(fp)  # an error upstream: this source cannot say
            return
        if got.is_any or not got.kinds or dest.is_any:
            return
        fits = {k for k in got.kinds if _accepts(dest, k)}
        cast = f"`cast: {_cast_for(dest)}`" if _cast_for(dest) else "a conversion"
        if not fits:
            self.walk.report_expr(
                fp,
                NEVER_MATCHES,
                f"{where} expects {dest.without_null().describe()}, and this is "
                f"{got.describe()}: delivery would refuse every item",
                "error",
                f"convert it with {cast} or a function",
            )
            return
        if fits != set(got.kinds):
            self.walk.report_expr(
                fp,
                MAY_NOT_MATCH,
                f"{where} expects {dest.without_null().describe()}, and this may be "
                f"{got.describe()}: such items may be dead-lettered at delivery",
                "warning",
                f"convert it with {cast}",
            )
            return
        for kind in sorted(got.kinds & dest.known & got.known):
            allowed = {str(v) for v in dest.values if kind_of(v) == kind}
            mine = {str(v) for v in got.values if kind_of(v) == kind}
            wrong = sorted(mine - allowed)
            if wrong:
                severity = "error" if not (mine & allowed) else "warning"
                self.walk.report_expr(
                    fp,
                    NEVER_MATCHES if severity == "error" else MAY_NOT_MATCH,
                    f"{where} expects one of {', '.join(map(repr, sorted(allowed)))}"
                    f", and this {'is' if severity == 'error' else 'may be'} "
                    f"{', '.join(map(repr, wrong))}",
                    severity,
                    "map the value (`map:`) to one the destination accepts",
                )
                return


def _cast_for(dest: Ty) -> str:
    for kind in ("string", "integer", "number", "boolean"):
        if kind in dest.kinds:
            return kind
    return ""
