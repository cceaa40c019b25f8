"""Abstract interpretation of a JMESPath AST: the type every expression may produce.

``Inferer(env, returns).infer(text, ast)`` walks the AST the planner parsed, starting from
the names in scope (``env``: ``doc`` typed by the source's JSON Schema, ``settings`` by the
mapping's declarations, loop names, variables, state names) and returns the expression's
``Ty``. On the way it records ``Finding``s: a path step no schema declares, a step that can
only give null, a comparison with a literal that can never be true. Each finding carries
the offset of the offending token inside the expression text (``expression_offsets``).

Functions give the types ``function_types`` knows: builtins' known results, plugin
functions' declared ``returns`` (passed in as ``returns``), anything else ``any``. Given
the functions' signatures (``signatures``: name -> jmespath signature), an argument none
of whose values its function takes is an error (E504, ``function_types.refused_arguments``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .expression_offsets import source_order, token_offsets
from .function_types import BUILTIN_RETURNS, refused_arguments
from .schema_errors import did_you_mean
from .typing_schema import (
    ANY,
    BOOLEAN,
    NOTHING,
    NULL,
    UNCHECKED,
    Ty,
    array_of,
    declared_keys,
    element,
    kind_of,
    lookup,
    object_of,
    of_value,
    union,
)

UNKNOWN_KEY = "E501"
ONLY_NULL = "E502"
NEVER_EQUAL = "E503"
ARGUMENT_NEVER = "E504"


@dataclass(frozen=True)
class Finding:
    """One problem inside an expression: where (offset in its text), code, message."""

    offset: int
    code: str
    message: str


class Inferer:
    """Infers expression types in one scope; findings accumulate in ``findings``."""

    def __init__(
        self,
        env: Mapping[str, Ty],
        returns: Mapping[str, Ty],
        signatures: Callable[[str], Sequence[Mapping[str, Any]] | None] | None = None,
    ) -> None:
        self.env = env
        self.returns = returns
        self.signatures = signatures
        self.findings: list[Finding] = []
        self.unsure: list[int] = []  # offsets this source could not check (upstream error)
        self._text = ""
        self._ast: dict[str, Any] = {}
        self._offsets: dict[int, int] | None = None

    def infer(self, text: str, ast: dict[str, Any]) -> Ty:
        self._text, self._ast, self._offsets = text, ast, None
        return self.walk(ast, None)

    def _offset(self, node: dict[str, Any]) -> int | None:
        """Where ``node``'s token starts; the text is tokenized only when a finding or an
        unsure step needs a position (most expressions have none)."""
        if self._offsets is None:
            self._offsets = token_offsets(self._text, self._ast)
        return self._offsets.get(id(node))

    def _unsure(self, node: dict[str, Any]) -> None:
        offset = self._offset(node)
        if offset is not None:
            self.unsure.append(offset)

    def _at(self, node: dict[str, Any], code: str, message: str) -> None:
        offset = self._offset(node)
        if offset is None:  # no token of its own (a path, a call): its first one
            found = (self._offset(n) for n in source_order(node))
            offset = next((o for o in found if o is not None), None)
        if offset is not None:
            self.findings.append(Finding(offset, code, message))

    # -- the walk: ``current`` is None at the expression's root (names come from env) ---------
    def walk(self, node: dict[str, Any], current: Ty | None) -> Ty:
        kind = node["type"]
        method = getattr(self, "_" + kind, None)
        if method is None:
            for child in node.get("children", []):
                if isinstance(child, dict):
                    self.walk(child, current)
            return ANY
        result: Ty = method(node, current)
        return result

    def _field(self, node: dict[str, Any], current: Ty | None) -> Ty:
        key = node["value"]
        if current is None:
            return self.env.get(key, UNCHECKED)
        if not current.checked:
            self._unsure(node)
        result, declared = lookup(current, key)
        if declared is False:
            hint = did_you_mean(key, declared_keys(current))
            self._at(
                node,
                UNKNOWN_KEY,
                f"unknown input key {key!r}: no source schema declares it here{hint}",
            )
            return UNCHECKED
        if result.only_null and current.checked and not current.only_null:
            self._at(
                node,
                ONLY_NULL,
                f"`.{key}` is always null here: the value is {current.describe()}, not an object",
            )
            return UNCHECKED
        return result

    def _subexpression(self, node: dict[str, Any], current: Ty | None) -> Ty:
        value = self.walk(node["children"][0], current)
        for child in node["children"][1:]:
            value = self.walk(child, value)
        return value

    def _index_expression(self, node: dict[str, Any], current: Ty | None) -> Ty:
        return self._subexpression(node, current)

    def _index(self, node: dict[str, Any], current: Ty | None) -> Ty:
        return self._array_step(node, current, element(_here(current)).with_null())

    def _slice(self, node: dict[str, Any], current: Ty | None) -> Ty:
        here = _here(current)
        return self._array_step(node, current, Ty(frozenset({"array"}), items=here.items))

    def _array_step(self, node: dict[str, Any], current: Ty | None, result: Ty) -> Ty:
        here = _here(current)
        if not here.checked:
            return UNCHECKED
        if "array" not in here.kinds:
            return NULL
        return result if here.kinds == {"array"} else result.with_null()

    def _identity(self, node: dict[str, Any], current: Ty | None) -> Ty:
        return _here(current)

    _current = _identity

    def _literal(self, node: dict[str, Any], current: Ty | None) -> Ty:
        return of_value(node["value"])

    def _flatten(self, node: dict[str, Any], current: Ty | None) -> Ty:
        inner = self.walk(node["children"][0], current)
        if not inner.checked:
            return UNCHECKED
        if "array" not in inner.kinds:
            return NULL
        items = element(inner)
        rest = items.replace(items.kinds - {"array"}, items.values, items.known)
        flat = union(*([element(items)] if "array" in items.kinds else []), rest)
        return Ty(frozenset({"array"}) | (inner.kinds & {"null"}), items=flat)

    def _projection(self, node: dict[str, Any], current: Ty | None) -> Ty:
        left = self.walk(node["children"][0], current)
        return self._project(left, element(left), node["children"][1])

    def _value_projection(self, node: dict[str, Any], current: Ty | None) -> Ty:
        left = self.walk(node["children"][0], current)
        if not left.checked:
            return UNCHECKED
        if "object" not in left.kinds:
            return NULL
        as_array = Ty(frozenset({"array"}) | ({"null"} if left.kinds != {"object"} else set()))
        return self._project(as_array, ANY, node["children"][1])

    def _filter_projection(self, node: dict[str, Any], current: Ty | None) -> Ty:
        left_node, right, condition = node["children"]
        left = self.walk(left_node, current)
        item = element(left)
        if left.checked and "array" in left.kinds and item.checked:
            self.walk(condition, item)
        return self._project(left, item, right)

    def _project(self, left: Ty, item: Ty, right: dict[str, Any]) -> Ty:
        if not left.checked:
            return UNCHECKED
        if "array" not in left.kinds:
            return NULL
        each = self.walk(right, item).without_null() if item.kinds else NOTHING
        result = Ty(frozenset({"array"}), items=each)
        return result if left.kinds == {"array"} else result.with_null()

    def _pipe(self, node: dict[str, Any], current: Ty | None) -> Ty:
        left = self.walk(node["children"][0], current)
        return self.walk(node["children"][1], left)

    def _or_expression(self, node: dict[str, Any], current: Ty | None) -> Ty:
        left = self.walk(node["children"][0], current)
        right = self.walk(node["children"][1], current)
        if left.checked and not _falsy_part(left).kinds:
            return left
        return union(_truthy_part(left), right)

    def _and_expression(self, node: dict[str, Any], current: Ty | None) -> Ty:
        left = self.walk(node["children"][0], current)
        right = self.walk(node["children"][1], current)
        if left.checked and not _truthy_part(left).kinds:
            return _falsy_part(left)
        return union(_falsy_part(left), right)

    def _not_expression(self, node: dict[str, Any], current: Ty | None) -> Ty:
        self.walk(node["children"][0], current)
        return BOOLEAN

    def _comparator(self, node: dict[str, Any], current: Ty | None) -> Ty:
        left_node, right_node = node["children"]
        left = self.walk(left_node, current)
        right = self.walk(right_node, current)
        if node["value"] in ("eq", "ne"):
            verdict = "never true" if node["value"] == "eq" else "always true"
            self._check_equal(left, right_node, verdict)
            self._check_equal(right, left_node, verdict)
            a, b = _single_string(left), _single_string(right)
            if a is not None and b is not None:  # both known: fold (e.g. a `const` type)
                return of_value((a == b) == (node["value"] == "eq"))
            return BOOLEAN
        return BOOLEAN.with_null()

    def _check_equal(self, side: Ty, literal: dict[str, Any], verdict: str) -> None:
        """``side == 'x'`` can never hold when ``side`` is an enum without ``'x'`` (or is
        never of the literal's kind)."""
        if literal["type"] != "literal" or not side.checked or side.is_any or not side.kinds:
            if not side.checked and literal["type"] == "literal":
                self._unsure(literal)
            return
        value = literal["value"]
        kind = kind_of(value)
        if kind in ("array", "object"):
            return
        numeric = {"integer", "number"}
        fits = kind in side.kinds or (kind in numeric and bool(side.kinds & numeric))
        if fits and kind not in side.known:
            self._check_hint(side, literal, verdict)
            return
        if fits and value in side.values:
            return
        choices = sorted(str(v) for v in side.values if v is not None)
        if fits and choices:
            hint = did_you_mean(str(value), choices)
            what = f"one of {', '.join(map(repr, choices))}{hint}"
        else:
            what = side.describe()
        self._at(literal, NEVER_EQUAL, f"{verdict}: {value!r} is compared with {what}")

    def _check_hint(self, side: Ty, literal: dict[str, Any], verdict: str) -> None:
        """Against an open enum, a literal close to a known value (but not one) is a typo."""
        value = literal["value"]
        if not isinstance(value, str) or not side.hints or value in side.hints:
            return
        hint = did_you_mean(value, [str(v) for v in side.hints])
        if hint:
            self._at(
                literal,
                NEVER_EQUAL,
                f"{verdict}: {value!r} is not a value the source documents here{hint}",
            )

    def _multi_select_list(self, node: dict[str, Any], current: Ty | None) -> Ty:
        here = _here(current)
        items = [self.walk(child, current) for child in node["children"]]
        result = array_of(union(*items) if items else NOTHING)
        return result.with_null() if current is not None and here.may_be_null else result

    def _multi_select_dict(self, node: dict[str, Any], current: Ty | None) -> Ty:
        here = _here(current)
        props = {
            pair["value"]: self.walk(pair["children"][0], current) for pair in node["children"]
        }
        result = object_of(props, exact=True)
        return result.with_null() if current is not None and here.may_be_null else result

    def _function_expression(self, node: dict[str, Any], current: Ty | None) -> Ty:
        args = [self.walk(child, current) for child in node["children"]]
        name = node["value"]
        signature = self.signatures(name) if self.signatures is not None else None
        for place, message in refused_arguments(name, signature, node["children"], args):
            self._at(node["children"][place], ARGUMENT_NEVER, message)
        if name in BUILTIN_RETURNS:
            return BUILTIN_RETURNS[name](args)
        if name == "if_else" and len(args) == 3:
            return union(args[1], args[2])
        return self.returns.get(name, ANY)

    def _expref(self, node: dict[str, Any], current: Ty | None) -> Ty:
        return ANY


def _here(current: Ty | None) -> Ty:
    """What ``@`` is: the current value, or at the root the scope object (anything)."""
    return ANY if current is None else current


def _single_string(ty: Ty) -> str | None:
    """The one string ``ty`` can be, if that is all it can be."""
    if ty.checked and ty.kinds == {"string"} and "string" in ty.known and len(ty.values) == 1:
        (value,) = ty.values
        return str(value)
    return None


def is_falsy(ty: Ty) -> bool:
    """``ty`` can never be truthy (a ``when`` that never holds)."""
    return ty.checked and not _truthy_part(ty).kinds


def _truthy_part(ty: Ty) -> Ty:
    """What ``ty`` can be when it is truthy (null, false and "" never are)."""
    values = ty.values - {None, False, ""}
    kinds = frozenset(
        k
        for k in ty.kinds
        if k != "null" and (k not in ty.known or any(kind_of(v) == k for v in values))
    )
    return ty.replace(kinds, values, ty.known)


def _falsy_part(ty: Ty) -> Ty:
    """What ``ty`` can be when it is falsy (what ``a && b`` gives when ``a`` is falsy)."""
    falsy: dict[str, Any] = {"null": None, "boolean": False, "string": ""}
    kinds = frozenset(
        k
        for k in ty.kinds & {"null", "boolean", "string", "array", "object"}
        if k not in ty.known or falsy.get(k, 0) in ty.values
    )
    values = frozenset(falsy[k] for k in kinds if k in falsy)
    return ty.replace(kinds, values, frozenset(falsy) & kinds)
