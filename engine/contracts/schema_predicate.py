"""A JSON Schema compiled to one plain Python function that says "certainly valid".

``compile_predicate(schema)`` returns ``f(instance) -> bool``: ``True`` only when the
instance is valid; ``False`` when it is not, *or* when the schema uses a keyword this
compiler leaves to a full validator (``oneOf``, ``not``, ``patternProperties`` ...) at a place the
instance reaches. A caller asks the full validator whenever the answer is ``False``, so the
predicate may be stricter than the schema but never more lenient:

* types are tested exactly (``type(v) is str``), so a subclass, a ``bool`` given for an
  integer or a float given for an integer are left to the full validator;
* ``number`` accepts finite floats only, and a bound compares false against NaN;
* ``enum`` and ``const`` compare type and value (``1`` is not ``true``);
* ``pattern`` is searched with Python's ``re`` and ``format`` asks the full validator's
  format checker, as the full validator does; the pattern that admits ASCII strings alone
  (``ASCII_PATTERN``) is ``str.isascii``, the same answer for a tenth of the cost;
* ``allOf`` checks each of its schemas on the value (a caller narrows a schema with it).

The generated code is one function with the checks inlined, property by property, so a
valid payload costs a fraction of a general validator's generic machinery: it is the fast
path of ``SchemaValidator.is_valid`` on every item of the delivery path.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

Predicate = Callable[[Any], bool]
Conforms = Callable[[Any, str], bool]
"""``conforms(instance, format)``, as the full validator's format checker answers it."""

_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "$defs",
        "definitions",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
    }
)
_HANDLED = frozenset(
    {
        "type",
        "enum",
        "const",
        "properties",
        "required",
        "additionalProperties",
        "minProperties",
        "maxProperties",
        "items",
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "pattern",
        "format",
        "propertyNames",
        "allOf",
    }
)
"""The keywords the predicate checks itself; any other sends the instance to the full
validator."""
_TYPES = {
    "string": "type({v}) is str",
    "object": "type({v}) is dict",
    "array": "type({v}) is list",
    "boolean": "({v} is True or {v} is False)",
    "null": "{v} is None",
    "integer": "type({v}) is int",
    "number": "(type({v}) is int or type({v}) is float and _finite({v}))",
}
_GUARDS = {
    "string": "type({v}) is str",
    "object": "type({v}) is dict",
    "array": "type({v}) is list",
}
_NUMBER_GUARD = "(type({v}) is int or type({v}) is float)"
ASCII_PATTERN = "^[\\x00-\\x7f]*$"
"""Strings of ASCII characters only, any length: the pattern ``str.isascii`` answers."""
_MAX_DEPTH = 16
_MAX_LINES = 4000


class _Emitter:
    def __init__(self, root: Mapping[str, Any], conforms: Conforms | None) -> None:
        self.root = root
        self.conforms = conforms
        self.lines: list[str] = []
        self.consts: dict[str, Any] = {"_finite": math.isfinite}
        self.names = 0

    def name(self, prefix: str) -> str:
        self.names += 1
        return f"{prefix}{self.names}"

    def const(self, value: Any) -> str:
        key = self.name("_c")
        self.consts[key] = value
        return key

    def fail(self, pad: str) -> None:
        self.lines.append(f"{pad}return False")

    def resolve(self, node: Any) -> Any:
        for _ in range(_MAX_DEPTH):
            if not (isinstance(node, Mapping) and isinstance(node.get("$ref"), str)):
                return node
            if len(node) > 1 or not node["$ref"].startswith("#"):
                return None  # a $ref beside other keywords, or to another document
            target: Any = self.root
            for part in node["$ref"][1:].split("/")[1:]:
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, Mapping) or part not in target:
                    return None
                target = target[part]
            node = target
        return None

    def emit(self, node: Any, v: str, pad: str, depth: int) -> None:
        """Lines that ``return False`` unless ``v`` is certainly valid against ``node``."""
        node = self.resolve(node)
        if node is True or node == {}:
            return
        if not isinstance(node, Mapping) or depth > _MAX_DEPTH:
            self.fail(pad)
            return
        keys = set(node) - _ANNOTATIONS
        if keys - _HANDLED or node.get("uniqueItems"):
            self.fail(pad)  # a keyword for the full validator
            return
        kinds = node.get("type")
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if kinds is not None:
            if not isinstance(kinds, list) or not kinds or any(k not in _TYPES for k in kinds):
                self.fail(pad)
                return
            test = " or ".join(_TYPES[k].format(v=v) for k in kinds)
            self.lines.append(f"{pad}if not ({test}):")
            self.fail(pad + "    ")
        only = kinds[0] if kinds is not None and len(kinds) == 1 else None
        self.emit_values(node, v, pad)
        self.emit_string(node, v, pad, only)
        self.emit_number(node, v, pad, only)
        self.emit_array(node, v, pad, only, depth)
        self.emit_object(node, v, pad, only, depth)
        if "allOf" in node:
            self.emit_all_of(node["allOf"], v, pad, depth)

    def emit_all_of(self, schemas: Any, v: str, pad: str, depth: int) -> None:
        if not isinstance(schemas, list) or not schemas:
            self.fail(pad)
            return
        for schema in schemas:
            self.emit(schema, v, pad, depth + 1)

    def guarded(self, kind: str, only: str | None, v: str, pad: str) -> str:
        """The indentation for checks that apply to one JSON type only."""
        if only == kind or (kind == "number" and only in ("integer", "number")):
            return pad
        guard = _NUMBER_GUARD if kind == "number" else _GUARDS[kind]
        self.lines.append(f"{pad}if {guard.format(v=v)}:")
        return pad + "    "

    def emit_values(self, node: Mapping[str, Any], v: str, pad: str) -> None:
        if "enum" not in node and "const" not in node:
            return
        allowed = node.get("enum", [node.get("const")])
        if ("enum" in node and "const" in node) or not isinstance(allowed, list) or not allowed:
            self.fail(pad)
            return
        if any(type(a) not in (str, int, float, bool) for a in allowed):
            self.fail(pad)  # structured or null members: the full validator compares them
            return
        if all(type(a) is str for a in allowed):
            members = self.const(frozenset(allowed))
            self.lines.append(f"{pad}if type({v}) is not str or {v} not in {members}:")
        else:
            pairs = self.const(frozenset((type(a), a) for a in allowed))
            scalar = self.const((str, int, float, bool))
            self.lines.append(
                f"{pad}if type({v}) not in {scalar} or (type({v}), {v}) not in {pairs}:"
            )
        self.fail(pad + "    ")

    def count(self, value: Any, pad: str) -> int | None:
        """A ``minLength``-style count, or ``None`` (and a failing line) when it is not one."""
        if type(value) is int and value >= 0:
            return value
        self.fail(pad)
        return None

    def sizes(self, node: Mapping[str, Any], low: str, high: str, v: str, pad: str) -> None:
        """``len(v)`` within ``node[low]`` and ``node[high]`` (each optional)."""
        for key, op in ((low, "<"), (high, ">")):
            if key in node:
                limit = self.count(node[key], pad)
                if limit is not None:
                    self.lines.append(f"{pad}if len({v}) {op} {limit}:")
                    self.fail(pad + "    ")

    def emit_string(self, node: Mapping[str, Any], v: str, pad: str, only: str | None) -> None:
        if "minLength" in node or "maxLength" in node:
            inner = self.guarded("string", only, v, pad)
            self.sizes(node, "minLength", "maxLength", v, inner)
        pattern = node.get("pattern")
        if pattern is not None:
            inner = self.guarded("string", only, v, pad)
            if pattern == ASCII_PATTERN:  # exactly the strings ``isascii`` accepts
                self.lines.append(f"{inner}if not {v}.isascii():")
                self.fail(inner + "    ")
            else:
                self.emit_pattern(pattern, v, inner)
        if "format" in node and self.conforms is not None:
            # Without a format checker a format is an annotation; with one, its answer.
            fmt = self.const(node["format"])
            self.lines.append(f"{pad}if not {self.const(self.conforms)}({v}, {fmt}):")
            self.fail(pad + "    ")

    def emit_pattern(self, pattern: Any, v: str, pad: str) -> None:
        try:
            compiled = re.compile(pattern) if isinstance(pattern, str) else None
        except re.error:
            compiled = None
        if compiled is None:
            self.fail(pad)
        else:  # unanchored, with Python's re: as the full validator searches
            self.lines.append(f"{pad}if {self.const(compiled)}.search({v}) is None:")
            self.fail(pad + "    ")

    def emit_number(self, node: Mapping[str, Any], v: str, pad: str, only: str | None) -> None:
        keywords = (
            ("minimum", ">="),
            ("maximum", "<="),
            ("exclusiveMinimum", ">"),
            ("exclusiveMaximum", "<"),
        )
        bounds: list[tuple[Any, str]] = [(node[k], op) for k, op in keywords if k in node]
        if not bounds:
            return
        inner = self.guarded("number", only, v, pad)
        for bound, op in bounds:
            if type(bound) not in (int, float) or not math.isfinite(bound):
                self.fail(inner)
                continue
            self.lines.append(f"{inner}if not ({v} {op} {bound!r}):")  # NaN fails
            self.fail(inner + "    ")

    def emit_array(
        self, node: Mapping[str, Any], v: str, pad: str, only: str | None, depth: int
    ) -> None:
        items = node.get("items")
        if "minItems" not in node and "maxItems" not in node and items is None:
            return
        inner = self.guarded("array", only, v, pad)
        self.sizes(node, "minItems", "maxItems", v, inner)
        if items is not None and items is not True and items != {}:
            item = self.name("_i")
            self.lines.append(f"{inner}for {item} in {v}:")
            self.emit(items, item, inner + "    ", depth + 1)

    def emit_object(
        self, node: Mapping[str, Any], v: str, pad: str, only: str | None, depth: int
    ) -> None:
        props = node.get("properties") or {}
        required = node.get("required") or []
        extra = node.get("additionalProperties", True)
        sized = "minProperties" in node or "maxProperties" in node
        names = node.get("propertyNames", True)
        if not (props or required or extra is not True or sized or names is not True):
            return
        if not isinstance(props, Mapping) or not isinstance(required, list):
            self.fail(pad)
            return
        inner = self.guarded("object", only, v, pad)
        self.sizes(node, "minProperties", "maxProperties", v, inner)
        if names is not True and names != {}:
            key = self.name("_n")
            self.lines.append(f"{inner}for {key} in {v}:")
            self.emit(names, key, inner + "    ", depth + 1)
        if any(type(name) is not str for name in required):
            self.fail(inner)
        for name in required:
            self.lines.append(f"{inner}if {name!r} not in {v}:")
            self.fail(inner + "    ")
        if extra is False:
            self.lines.append(f"{inner}if not {v}.keys() <= {self.const(frozenset(props))}:")
            self.fail(inner + "    ")
        elif extra is not True and extra != {}:
            value = self.name("_x")
            if props:
                key = self.name("_k")
                self.lines.append(f"{inner}for {key}, {value} in {v}.items():")
                self.lines.append(f"{inner}    if {key} not in {self.const(frozenset(props))}:")
                self.emit(extra, value, inner + "        ", depth + 1)
            else:  # every value is an additional one
                self.lines.append(f"{inner}for {value} in {v}.values():")
                self.emit(extra, value, inner + "    ", depth + 1)
        for name, sub in props.items():
            if self.resolve(sub) is True or self.resolve(sub) == {}:
                continue
            value = self.name("_p")
            if name in required:  # present: tested above
                self.lines.append(f"{inner}{value} = {v}[{name!r}]")
                self.emit(sub, value, inner, depth + 1)
                continue
            self.lines.append(f"{inner}if {name!r} in {v}:")
            self.lines.append(f"{inner}    {value} = {v}[{name!r}]")
            self.emit(sub, value, inner + "    ", depth + 1)


def compile_predicate(schema: Mapping[str, Any], conforms: Conforms | None = None) -> Predicate:
    """``f(instance)``: ``True`` only when ``instance`` is valid against ``schema``;
    ``conforms``: the format checker the full validator uses (none: formats annotate)."""
    emitter = _Emitter(schema, conforms)
    emitter.emit(schema, "v", "    ", 0)
    if len(emitter.lines) > _MAX_LINES:  # a schema too large to inline: ask the validator
        emitter.lines = ["    return False"]
    source = "\n".join(["def _valid(v):", *emitter.lines, "    return True", ""])
    namespace: dict[str, Any] = dict(emitter.consts)
    try:
        code = compile(source, "<schema predicate>", "exec")
    except (SyntaxError, RecursionError, MemoryError):  # nested too deep for Python
        code = compile("def _valid(v):\n    return False\n", "<schema predicate>", "exec")
    exec(code, namespace)
    predicate: Predicate = namespace["_valid"]
    return predicate
